#!/bin/sh
# Makes the fuzz seeds: 256 KiB ext images (mke2fs 1.47) with a small file,
# a 2000-line file, a symbolic link, a directory and a sparse file.
set -e
cd "$(dirname "$0")"
src=$(mktemp -d)
trap 'rm -rf "$src" seed.img' EXIT
echo hello > "$src/a"
seq -f 'line %g' 2000 > "$src/b"
ln -s a "$src/l"
mkdir "$src/d" && echo x > "$src/d/y"
truncate -s 300000 "$src/sp" && printf zz >> "$src/sp"
make() { # name type options...
  name=$1 type=$2; shift 2
  rm -f seed.img && truncate -s 256K seed.img
  mkfs."$type" -q -F -N 32 -b 1024 -E root_owner=0:0 "$@" -d "$src" seed.img
  gzip -9nc seed.img > "$name.img.gz"
}
make ext2-blockmap ext2
make ext4-extents ext4 -O ^has_journal
make ext4-inline ext4 -O ^has_journal,inline_data
make ext4-blockmap-32bit ext4 -O ^has_journal,^extents,^64bit
