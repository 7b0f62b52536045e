#!/bin/sh
# The Coffer image's healthcheck: healthy while a live Coffer mount serves $COFFER_MOUNTPOINT, that is while the
# kernel lists a fuse.coffer mount there (the directory underneath, on a volume, does not count) and it answers (a
# dead mount fails stat with "Transport endpoint is not connected"; a hung one runs into the healthcheck's timeout).
mountpoint="${1:-${COFFER_MOUNTPOINT:-/mnt/shared/attachments}}"
if ! awk -v m="$mountpoint" '$5 == m && / - fuse\.coffer / { found = 1 } END { exit !found }' /proc/self/mountinfo; then
  echo "no Coffer mount at $mountpoint"
  exit 1
fi
stat -t "$mountpoint" >/dev/null || exit 1
echo "Coffer mount at $mountpoint"
