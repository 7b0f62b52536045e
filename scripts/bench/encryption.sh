#!/usr/bin/env bash
# Encryption benchmark: the cipher's throughput on one thread (coffer-crypto-bench), then a 256 MiB file written,
# read and randomly read through Coffer with --encryption-key-file and without, on one local S3 server, in the
# same run (bench.py systems coffer-enc and coffer; results table in the run directory, printed at the end).
# Needs root (FUSE) and /dev/fuse. Not part of `make test`.
#
#   scripts/bench/encryption.sh            256 MiB, 3 repetitions
#   BIG_MIB=64 scripts/bench/encryption.sh a quicker run
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
if [ "$(id -u)" -ne 0 ]; then echo "encryption bench: needs root (FUSE mounts)" >&2; exit 1; fi
python3 -c 'import moto, boto3, flask' 2>/dev/null || bash scripts/install-deps.sh

echo "encryption bench: building (release, .build-bench)" >&2
swift build -c release --product coffer --scratch-path .build-bench 2>&1 | tail -n 1 >&2
swift build -c release --product coffer-crypto-bench --scratch-path .build-bench 2>&1 | tail -n 1 >&2

echo "== cipher throughput (release, one thread)"
"$repo/.build-bench/release/coffer-crypto-bench" 256 5 "${BENCH_WORK:-/var/tmp}"

echo
echo "== through the mount: ${BIG_MIB:-256} MiB, coffer with and without encryption"
BENCH_ARGS="--systems coffer,coffer-enc --modes lat0 --workloads write,read,randread --big-mib ${BIG_MIB:-256} --no-ceiling" \
  bash scripts/bench/run.sh "$@"
