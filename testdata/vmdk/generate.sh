#!/usr/bin/env bash
# Regenerates the committed VMDK fixtures from one deterministic raw disk,
# with independent writers: qemu-img (every subformat it writes, and a
# two-link chain with -b plus qemu-io writes) and python3-vmdkstream
# (VMware's streamOptimized layout). SHA256SUMS records the sha256 of the
# raw disk each fixture must read as (computed by qemu-img convert -O raw,
# and, for the conversions, equal to the pattern's own sha256).
#
# Run from the repository root:  bash testdata/vmdk/generate.sh
set -euo pipefail
cd "$(dirname "$0")"
out=samples
rm -rf "$out" && mkdir -p "$out/qemu" "$out/vmdkstream" "$out/chain"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# 512 KiB + 3.5 KiB: not a whole number of 64 KiB grains (partial last grain).
size=527872
(cd ../.. && go run ./vmdk/vmdktest/mkpattern -size $size -seed 1 -o "$tmp/pattern.raw")
rawsum=$(sha256sum "$tmp/pattern.raw" | cut -d' ' -f1)

for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat streamOptimized; do
  qemu-img convert -f raw -O vmdk -o subformat=$sub "$tmp/pattern.raw" "$out/qemu/$sub.vmdk"
done
/usr/bin/python3 -c 'import sys, VMDKstream; VMDKstream.convert_to_stream(sys.argv[1], sys.argv[2])' \
  "$tmp/pattern.raw" "$out/vmdkstream/streamOptimized.vmdk"

# Tiny mostly-zero disks in the stream layouts: small fuzz seeds.
mkdir -p "$out/tiny"
truncate -s 200704 "$tmp/tiny.raw"   # 196 KiB: three full grains and a partial one
printf 'first grain' | dd of="$tmp/tiny.raw" conv=notrunc status=none
printf 'third grain, straddling' | dd of="$tmp/tiny.raw" bs=1 seek=131060 conv=notrunc status=none
printf 'last' | dd of="$tmp/tiny.raw" bs=1 seek=200700 conv=notrunc status=none
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$tmp/tiny.raw" "$out/tiny/qemu-stream.vmdk"
/usr/bin/python3 -c 'import sys, VMDKstream; VMDKstream.convert_to_stream(sys.argv[1], sys.argv[2])' \
  "$tmp/tiny.raw" "$out/tiny/vmdkstream.vmdk"

# A hosted chain: base plus a child with writes, a zeroed grain (zeroed_grain=on)
# and a write that straddles a grain boundary.
qemu-img convert -f raw -O vmdk "$tmp/pattern.raw" "$out/chain/base.vmdk"
qemu-img create -q -f vmdk -o zeroed_grain=on -b base.vmdk -F vmdk "$out/chain/child.vmdk"
qemu-io -f vmdk -c 'write -P 0x55 65536 4096' -c 'write -z 131072 65536' -c 'write -P 0x66 262000 5000' "$out/chain/child.vmdk" >/dev/null

: > SHA256SUMS
for f in $(cd "$out" && ls qemu/*.vmdk vmdkstream/*.vmdk tiny/*.vmdk chain/child.vmdk | grep -v -e '-flat.vmdk' -e '-s00[0-9].vmdk' -e '-f00[0-9].vmdk'); do
  sum=$(qemu-img convert -f vmdk -O raw "$out/$f" "$tmp/check.raw" && sha256sum "$tmp/check.raw" | cut -d' ' -f1)
  case $f in chain/*|tiny/*) ;; *) [ "$sum" = "$rawsum" ] || { echo "$f: qemu-img reads $sum, pattern is $rawsum" >&2; exit 1; };; esac
  echo "$sum  $f" >> SHA256SUMS
done
cat SHA256SUMS
du -sh "$out"
