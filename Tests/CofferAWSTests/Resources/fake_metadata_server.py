#!/usr/bin/env python3
"""A fake EC2 instance metadata service (IMDSv2) and ECS container credentials endpoint for Coffer's tests.

Listens on 127.0.0.1 only. Serves:
  PUT  /latest/api/token                          IMDSv2 session token; needs X-aws-ec2-metadata-token-ttl-seconds
                                                  (1..21600), else 400.
  GET  /latest/meta-data/iam/security-credentials/        the role name      } need a valid
  GET  /latest/meta-data/iam/security-credentials/ROLE    credentials JSON   } X-aws-ec2-metadata-token, else 401
  GET  ECS_PATH (default /v2/credentials/task)    credentials JSON; needs `Authorization: ECS_TOKEN` when
                                                  --ecs-token is given, else 401.
Each credentials document is new: AccessKeyId ASIAFAKE<serial>, Expiration = now + expiry seconds (ISO 8601).

Test control (JSON):
  GET  /__stats    request counts: {"token": n, "role": n, "credentials": n, "ecs": n, "unauthorized": n, ...}
  POST /__config   {"expiry_seconds": n, "invalidate_tokens": true, "reject_tokens": bool, "role": "name" or "",
                    "fail_next": n (answer 500 to the next n credential requests), "ecs_token": "..."}
Exits when the process that started it goes away (--watch-parent), or on SIGTERM.
"""
import argparse
import json
import os
import secrets
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.expiry_seconds = args.expiry_seconds
        self.role = args.role
        self.ecs_path = args.ecs_path
        self.ecs_token = args.ecs_token
        self.tokens = {}  # token -> expiry (monotonic)
        self.reject_tokens = False
        self.fail_next = 0
        self.serial = 0
        self.counts = {"token": 0, "role": 0, "credentials": 0, "ecs": 0, "unauthorized": 0, "bad_request": 0,
                       "failed": 0}

    def count(self, name):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def credentials(self):
        with self.lock:
            self.serial += 1
            serial = self.serial
            expiry = self.expiry_seconds
        expiration = datetime.now(timezone.utc) + timedelta(seconds=expiry)
        return {
            "Code": "Success",
            "LastUpdated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Type": "AWS-HMAC",
            "AccessKeyId": "ASIAFAKE%08d" % serial,
            "SecretAccessKey": "fake-secret-%d" % serial,
            "Token": "fake-session-token-%d" % serial,
            "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body=b"", content_type="text/plain"):
            if isinstance(body, str):
                body = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def read_body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def valid_token(self):
            token = self.headers.get("X-aws-ec2-metadata-token")
            with state.lock:
                if state.reject_tokens or token is None:
                    return False
                expiry = state.tokens.get(token)
                return expiry is not None and expiry > time.monotonic()

        def do_PUT(self):
            self.read_body()
            if self.path != "/latest/api/token":
                return self.reply(404, "not found")
            state.count("token")
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            try:
                ttl = int(ttl)
            except (TypeError, ValueError):
                ttl = 0
            if not 1 <= ttl <= 21600:
                state.count("bad_request")
                return self.reply(400, "missing or invalid X-aws-ec2-metadata-token-ttl-seconds")
            token = secrets.token_urlsafe(24)
            with state.lock:
                state.tokens[token] = time.monotonic() + ttl
            self.send_response(200)
            self.send_header("X-aws-ec2-metadata-token-ttl-seconds", str(ttl))
            self.send_header("Content-Length", str(len(token)))
            self.end_headers()
            self.wfile.write(token.encode())

        def do_GET(self):
            prefix = "/latest/meta-data/iam/security-credentials/"
            if self.path == "/__stats":
                with state.lock:
                    body = json.dumps(state.counts)
                return self.reply(200, body, "application/json")
            if self.path.startswith(prefix):
                if not self.valid_token():
                    state.count("unauthorized")
                    return self.reply(401, "")
                name = self.path[len(prefix):]
                with state.lock:
                    role = state.role
                if name == "":
                    state.count("role")
                    if not role:
                        return self.reply(404, "not found")
                    return self.reply(200, role)
                state.count("credentials")
                if name != role:
                    return self.reply(404, "not found")
                return self.serve_credentials()
            if self.path == state.ecs_path:
                state.count("ecs")
                with state.lock:
                    expected = state.ecs_token
                if expected is not None and self.headers.get("Authorization") != expected:
                    state.count("unauthorized")
                    return self.reply(401, json.dumps({"message": "invalid authorization token"}), "application/json")
                return self.serve_credentials()
            return self.reply(404, "not found")

        def serve_credentials(self):
            with state.lock:
                failing = state.fail_next > 0
                if failing:
                    state.fail_next -= 1
            if failing:
                state.count("failed")
                return self.reply(500, "injected failure")
            return self.reply(200, json.dumps(state.credentials()), "application/json")

        def do_POST(self):
            body = self.read_body()
            if self.path != "/__config":
                return self.reply(404, "not found")
            config = json.loads(body or b"{}")
            with state.lock:
                if "expiry_seconds" in config:
                    state.expiry_seconds = int(config["expiry_seconds"])
                if config.get("invalidate_tokens"):
                    state.tokens.clear()
                if "reject_tokens" in config:
                    state.reject_tokens = bool(config["reject_tokens"])
                if "role" in config:
                    state.role = config["role"]
                if "fail_next" in config:
                    state.fail_next = int(config["fail_next"])
                if "ecs_token" in config:
                    state.ecs_token = config["ecs_token"]
            return self.reply(200, "{}", "application/json")

    return Handler


def watch_parent(parent):
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--role", default="coffer-test-role")
    parser.add_argument("--expiry-seconds", type=int, default=3600)
    parser.add_argument("--ecs-path", default="/v2/credentials/task")
    parser.add_argument("--ecs-token")
    parser.add_argument("--watch-parent", action="store_true")
    args = parser.parse_args()
    # A child inherits its parent thread's signal mask; Swift test threads block SIGTERM. Let it through.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.watch_parent:
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(State(args)))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
