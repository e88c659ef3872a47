#!/usr/bin/env bash
# Compares vmfsrecover export with the peer tools on the same bytes in the
# same run, at the issue's size (2 GiB): local export vs cp, FTP export to a
# loopback vsftpd vs curl -T. The ratios are the x-cp and x-curl columns
# (1.0 = as fast). Needs cp, curl and vsftpd; about 8 GiB of free space in
# $TMPDIR. Usage: recover/export/testdata/bench.sh [size-in-MiB]
set -euo pipefail
cd "$(dirname "$0")/../../.."
export EXPORT_BENCH_MB="${1:-2048}"
exec go test -run '^$' -bench 'ExportVs' -benchtime 1x -count 3 ./recover/export
