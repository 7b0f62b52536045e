#!/usr/bin/env bash
# Runs Coffer's local S3 server (moto) on 127.0.0.1 for the demo and manual testing.
#   scripts/local-s3.sh start|stop|status
# Environment: COFFER_S3_PORT (default 5000), COFFER_STATE_DIR (default ./.coffer).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=${COFFER_S3_PORT:-5000}
state=${COFFER_STATE_DIR:-$here/../.coffer}
pidfile=$state/s3server.pid
logfile=$state/s3server.log
mkdir -p "$state"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
answers() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" ; }

case "${1:-}" in
  start)
    if running; then echo "local S3 already running: http://127.0.0.1:$port (pid $(cat "$pidfile"))"; exit 0; fi
    if answers; then echo "port $port is taken by another process; set COFFER_S3_PORT" >&2; exit 1; fi
    nohup python3 "$here/s3server.py" -H 127.0.0.1 -p "$port" --log "$state/requests.tsv" >"$logfile" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if answers; then echo "local S3 running: http://127.0.0.1:$port (pid $(cat "$pidfile"))"; exit 0; fi
      if ! running; then break; fi
      sleep 0.1
    done
    echo "local S3 did not start; see $logfile" >&2
    tail -5 "$logfile" >&2 || true
    exit 1
    ;;
  stop)
    if running; then
      pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" || true
      echo "local S3 stopped"
    else
      echo "local S3 not running"
    fi
    rm -f "$pidfile"
    ;;
  status)
    if running; then echo "running: http://127.0.0.1:$port (pid $(cat "$pidfile"))"; else echo "stopped"; exit 3; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
