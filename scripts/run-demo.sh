#!/usr/bin/env bash
# `make run`: start the local S3 server, create a demo bucket with a few objects, mount it with Coffer.
#   scripts/run-demo.sh [MOUNTPOINT]   start (default ./mnt); idempotent
#   scripts/run-demo.sh stop           unmount and stop the local S3 server
set -euo pipefail
cd "$(dirname "$0")/.."
port=${COFFER_S3_PORT:-5000}
endpoint="http://127.0.0.1:$port"
bucket=${COFFER_DEMO_BUCKET:-demo}
state=${COFFER_STATE_DIR:-$PWD/.coffer}
mnt_file="$state/demo-mountpoint"
coffer=$(swift build --show-bin-path)/coffer
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

if [ "${1:-}" = "stop" ]; then
  if [ -f "$mnt_file" ]; then
    mnt=$(cat "$mnt_file")
    if mountpoint -q "$mnt"; then "$coffer" unmount "$mnt" && echo "unmounted $mnt"; fi
    rm -f "$mnt_file"
  fi
  bash scripts/local-s3.sh stop
  exit 0
fi

mnt=$(realpath -m "${1:-${MOUNTPOINT:-./mnt}}")
mkdir -p "$state"
bash scripts/local-s3.sh start
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

if mountpoint -q "$mnt"; then
  echo "already mounted: $mnt"
else
  mkdir -p "$mnt"
  "$coffer" mount "s3://$bucket" "$mnt" --endpoint-url "$endpoint" --cache-dir "$state/cache" \
    --log-file "$state/coffer.log"
  echo "$mnt" > "$mnt_file"
fi

cat <<EOF

Coffer has mounted s3://$bucket (local S3 server at $endpoint) on:
  $mnt

Try:
  ls -l $mnt
  cat "$mnt/docs/report 2026.txt"
  echo hello > $mnt/hello.txt && aws --endpoint-url $endpoint s3 cp s3://$bucket/hello.txt -
  rsync -a /etc/default/ $mnt/backup/
  $coffer check s3://no-such-bucket --endpoint-url $endpoint   # fails fast, saying what to fix
(aws needs: export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo)

Encrypted files (docs/encryption.md): mount a prefix with a key of your own:
  $coffer keygen $state/demo.key
  mkdir -p $state/secret && $coffer mount s3://$bucket/secret/ $state/secret --endpoint-url $endpoint \\
      --encryption-key-file $state/demo.key
  echo classified > $state/secret/note.txt && cat $state/secret/note.txt
  aws --endpoint-url $endpoint s3 cp s3://$bucket/secret/note.txt - | od -c | head -3   # ciphertext in S3
  $coffer unmount $state/secret

Logs: $state/coffer.log; S3 requests: $state/requests.tsv
Stop with: make stop   (unmounts, uploads pending writes first, stops the S3 server)
EOF
