#!/bin/sh
# Makes the kernel's crash images (run as root: a loop mount): 4 MiB,
# 1 KiB-block ext3 and ext4 (metadata_csum: journal csum v3, 64-bit tags)
# with a 1 MiB journal, files written and fsync'd (a commit, nothing
# written back in place) and a directory deleted (revoke records), the
# image copied while mounted (NAME.img.gz, FuzzOpen's seeds) and its
# journal file, inode 8 (NAME.jnl.gz, FuzzJournal's).
set -e
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'umount "$work/mnt" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/mnt"
make() { # name type options...
  name=$1 type=$2; shift 2
  rm -f "$work/fs.img" && truncate -s 4M "$work/fs.img"
  mkfs."$type" -q -F -b 1024 -J size=1 "$@" "$work/fs.img"
  mount -o loop,commit=600 -t "$type" "$work/fs.img" "$work/mnt"
  mkdir -p "$work/mnt/d/e"
  seq 1 3000 > "$work/mnt/d/e/numbers"
  printf '\300\073\071\230 starts with the journal magic' > "$work/mnt/magic"
  python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$work/mnt/magic"
  rm -r "$work/mnt/d/e"
  echo after > "$work/mnt/d/after"
  python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$work/mnt/d/after"
  cp "$work/fs.img" "$work/crash.img"
  umount "$work/mnt"
  debugfs -R "dump <8> $work/journal" "$work/crash.img"
  gzip -9nc "$work/journal" > "$name.jnl.gz"
  gzip -9nc "$work/crash.img" > "$name.img.gz"
}
make ext3-1k ext3
make ext4-1k-csum ext4 -O metadata_csum,64bit
