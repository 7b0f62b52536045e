#!/usr/bin/env bash
# `make run`: start the local S3 server, create a demo bucket with a few objects, and show Coffer using it.
#   scripts/run-demo.sh        start (idempotent)
#   scripts/run-demo.sh stop   stop the local S3 server
set -euo pipefail
cd "$(dirname "$0")/.."
port=${COFFER_S3_PORT:-5000}
endpoint="http://127.0.0.1:$port"
bucket=${COFFER_DEMO_BUCKET:-demo}

if [ "${1:-}" = "stop" ]; then
  bash scripts/local-s3.sh stop
  exit 0
fi

bash scripts/local-s3.sh start
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1
python3 - "$endpoint" "$bucket" <<'PY'
import sys, boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint)
if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="README.txt", Body=b"Hello from Coffer's demo bucket.\n")
s3.put_object(Bucket=bucket, Key="docs/report 2026.txt", Body=b"A file with a space in its name.\n")
s3.put_object(Bucket=bucket, Key="docs/", Body=b"", ContentType="application/x-directory",
              Metadata={"mode": "16877"})
s3.put_object(Bucket=bucket, Key="photos/cat.jpg", Body=bytes(range(256)) * 64, ContentType="image/jpeg")
PY
coffer=$(swift build --show-bin-path)/coffer
echo
echo "== coffer check s3://$bucket --endpoint-url $endpoint"
"$coffer" check "s3://$bucket" --endpoint-url "$endpoint"
echo
echo "== coffer ls s3://$bucket/ --endpoint-url $endpoint"
"$coffer" ls "s3://$bucket/" --endpoint-url "$endpoint"
cat <<EOF

The local S3 server runs at $endpoint with bucket '$bucket' (any access key works; requests are logged in .coffer/requests.tsv).
Try:
  export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
  $coffer ls s3://$bucket/docs/ --endpoint-url $endpoint
  $coffer check s3://no-such-bucket --endpoint-url $endpoint     # fails fast with a message saying what to fix
  aws --endpoint-url $endpoint s3 cp ./README.md s3://$bucket/    # any S3 tool works against it
Mounting the bucket (coffer mount) is the next milestone; see README.md.
Stop the server with: make stop
EOF
