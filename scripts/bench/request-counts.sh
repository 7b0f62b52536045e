#!/usr/bin/env bash
# Counts the S3 requests Coffer makes for metadata operations, from a local moto server's request log:
#   `ls -l` of a directory of N objects uploaded with boto3 (no metadata, no markers), one `stat` of an uncached
#   name, a second `rsync -a` of a tree that has not changed, and `ls -l` and `rsync -a` again after a remount with
#   the same cache directory (the metadata cache). Request counts do not depend on machine noise.
# Usage: scripts/bench/request-counts.sh [N]   (default 2000). Builds the debug binary. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-2000}
swift build --product coffer >/dev/null
coffer=$(swift build --show-bin-path)/coffer
work=$(mktemp -d /tmp/coffer-counts-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log="$work/requests.tsv"
python3 scripts/s3server.py -p "$port" --log "$log" --watch-parent >/dev/null 2>&1 &
server=$!
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_EC2_METADATA_DISABLED=true
cleanup() {
  mountpoint -q "$work/mnt" && { fusermount3 -u "$work/mnt" || umount -l "$work/mnt"; }
  kill $server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
python3 - "$port" "$count" <<'PY'
import sys, boto3
from concurrent.futures import ThreadPoolExecutor
port, count = sys.argv[1], int(sys.argv[2])
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
s3.create_bucket(Bucket="counts")
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda i: s3.put_object(Bucket="counts", Key=f"many/file-{i:05d}.txt", Body=b"x" * 100), range(count)))
PY
mkdir -p "$work/mnt" "$work/tree"
for d in 1 2 3; do mkdir -p "$work/tree/d$d"; for f in $(seq 1 50); do echo "$d $f" > "$work/tree/d$d/f$f"; done; done
"$coffer" mount s3://counts "$work/mnt" --endpoint-url "http://127.0.0.1:$port" --cache-dir "$work/cache" \
  --log-file "$work/coffer.log"

summary() {  # method counts, COPY separately, and LIST (GET on the bucket with list-type)
  awk -F'\t' '{ k = $3; if ($6 == "1") k = "COPY"; else if ($3 == "GET" && $5 ~ /list-type/) k = "LIST";
                n[k]++ } END { s = ""; for (k in n) s = s k "=" n[k] " "; print s }' "$log"
}
: > "$log"; ls -l "$work/mnt/many" > /dev/null
echo "ls -l of $count objects (cold):       $(summary)"
: > "$log"; stat "$work/mnt/many/file-00007.txt" > /dev/null
echo "stat of a name already listed:        $(summary)"
sleep 1.1; : > "$log"; stat "$work/mnt/not-yet-seen.txt" > /dev/null 2>&1 || true
echo "lookup of an uncached name:           $(summary)"
rsync -a "$work/tree/" "$work/mnt/tree/"
sleep 3; : > "$log"; rsync -a "$work/tree/" "$work/mnt/tree/"
echo "second rsync -a of 150 files, 4 dirs: $(summary)"
"$coffer" unmount "$work/mnt"
"$coffer" mount s3://counts "$work/mnt" --endpoint-url "http://127.0.0.1:$port" --cache-dir "$work/cache" \
  --log-file "$work/coffer.log"
: > "$log"; ls -l "$work/mnt/many" > /dev/null
echo "ls -l of $count objects, remounted:   $(summary)"
: > "$log"; rsync -a "$work/tree/" "$work/mnt/tree/"
echo "rsync -a again, remounted:            $(summary)"
