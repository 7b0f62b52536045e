#!/usr/bin/env bash
# Times 1,000 sequential HEADs and 1,000 HEADs with 64 in flight through Coffer's S3 client against a local moto.
# Usage: scripts/bench/s3-heads.sh [COUNT] [CONCURRENCY]. Builds in release mode. Not part of `make test`.
# DELAY_MS=10 makes the server sleep that long before each request, as a round trip to real S3 would cost
# (moto itself answers in about 2 ms on loopback and, being one Python process, caps the parallel rate).
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-1000}
concurrency=${2:-64}
swift build -c release --product coffer-s3-bench >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 scripts/s3server.py -p "$port" --delay-ms "${DELAY_MS:-0}" --watch-parent >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
python3 - "$port" "$count" <<'PY'
import sys, boto3
from concurrent.futures import ThreadPoolExecutor
port, count = sys.argv[1], int(sys.argv[2])
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench")
s3.create_bucket(Bucket="bench")
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda i: s3.put_object(Bucket="bench", Key=f"obj/{i}", Body=b"x" * 100), range(count)))
PY
echo "moto $(python3 -c 'import moto; print(moto.__version__)') on 127.0.0.1:$port, $(nproc) cores, added latency ${DELAY_MS:-0} ms"
"$(swift build -c release --show-bin-path)/coffer-s3-bench" "http://127.0.0.1:$port" bench obj/ "$count" "$concurrency"
