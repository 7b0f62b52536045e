#!/usr/bin/env bash
# `make bench`: Coffer, s3fs (default and tuned) and rclone mount (--vfs-cache-mode off and full) side by side on one
# local S3 server, plus the ceiling (boto3 straight to the server), with and without 10 ms of added latency per
# request. Writes docs/benchmarks.md. Needs root (FUSE mounts) and /dev/fuse. Not part of `make test`.
#
#   make bench                  full set, about 65 minutes; replaces docs/benchmarks.md
#   QUICK=1 make bench          every workload at small sizes, 3 filesystems, under 5 minutes; prints the report
#                               (kept in the run directory) and leaves docs/benchmarks.md alone
#   BENCH_ARGS="--systems coffer,s3fs-default --modes lat0" make bench      a subset (see below)
#   scripts/bench/run.sh [bench.py options]                                 the same without make
#
# bench.py options: --systems coffer,s3fs-default,s3fs-tuned,rclone-off,rclone-full  --modes lat0,lat10
#   --workloads write,read,randread,read-warm,create,ls,ls-warm,rsync,rsync-again,rsync-warm,mv-file,mv-dir  --lat-workloads ...
#   --delay-ms 10  --big-mib N  --no-ceiling  --doc PATH  --work DIR (default /var/tmp/coffer-bench, or BENCH_WORK)
# A run with other options than the full defaults writes docs/benchmarks.md only if given --doc.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then echo "bench: needs root (FUSE mounts, s3fs and rclone as root)" >&2; exit 1; fi
if [ ! -c /dev/fuse ]; then echo "bench: /dev/fuse is missing" >&2; exit 1; fi

for tool in s3fs rclone fio rsync fusermount3 /usr/bin/time; do
  if ! command -v "$tool" >/dev/null 2>&1; then bash scripts/install-deps.sh; break; fi
done
python3 -c 'import moto, boto3, flask' 2>/dev/null || bash scripts/install-deps.sh

echo "bench: building coffer (release, .build-bench)" >&2
swift build -c release --product coffer --scratch-path .build-bench 2>&1 | tail -n 3 >&2
coffer="$repo/.build-bench/release/coffer"
[ -x "$coffer" ] || { echo "bench: $coffer was not built" >&2; exit 1; }

work=${BENCH_WORK:-/var/tmp/coffer-bench}
mkdir -p "$work/runs"
# Whatever happens to the driver, no mount of ours stays behind (its S3 servers exit with it: --watch-parent).
cleanup() {
  while read -r _ _ _ _ mnt _; do
    case "$mnt" in "$work"/runs/*/mnt/*) fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true ;; esac
  done < /proc/self/mountinfo
}
trap cleanup EXIT
trap 'exit 130' INT TERM

args=(--coffer "$coffer" --work "$work")
if [ -n "${QUICK:-}" ] && [ "${QUICK}" != "0" ]; then
  args+=(--profile quick)
else
  args+=(--profile full)
  # Only the default full run replaces the published table.
  if [ -z "${BENCH_ARGS:-}" ] && [ $# -eq 0 ]; then args+=(--doc "$repo/docs/benchmarks.md"); fi
fi
# shellcheck disable=SC2206
extra=(${BENCH_ARGS:-})
python3 -u scripts/bench/bench.py "${args[@]}" "${extra[@]}" "$@"
