#!/bin/sh
# The Coffer image's entrypoint: mounts $COFFER_SOURCE on $COFFER_MOUNTPOINT in the foreground with
# $COFFER_OPTIONS, as ExecStart of scripts/systemd/coffer@.service does. Arguments are added to the command line
# (compose `command: [--log-level, debug]`).
#
# exec makes coffer the container's main process, the one `docker stop` signals: on SIGTERM it uploads everything
# pending, unmounts and exits (docs/semantics.md, Durability). It needs no init process in front of it: it blocks
# SIGTERM and reads it through a signalfd, which works as PID 1 too.
set -eu

: "${COFFER_SOURCE:?set COFFER_SOURCE to s3://BUCKET[/PREFIX/]}"
: "${COFFER_MOUNTPOINT:=/mnt/shared/attachments}"
: "${COFFER_OPTIONS:=}"

# A dead mount left by a killed container ("Transport endpoint is not connected") would make the mount refuse the
# directory, as ExecStartPre of the unit deals with; with rshared propagation the detach reaches the host and the
# applications' containers too. Only a FUSE mount: the bind mount underneath must stay (as root, fusermount3 -u
# would detach any mount there).
if awk -v m="$COFFER_MOUNTPOINT" '$2 == m && $3 ~ /^fuse/ { found = 1 } END { exit !found }' /proc/self/mounts; then
  fusermount3 -u -z "$COFFER_MOUNTPOINT" || true
fi
mkdir -p "$COFFER_MOUNTPOINT"

# COFFER_OPTIONS is split into words (like the unit's $COFFER_OPTIONS) but never globbed.
set -f
# shellcheck disable=SC2086
exec coffer mount "$COFFER_SOURCE" "$COFFER_MOUNTPOINT" --foreground $COFFER_OPTIONS "$@"
