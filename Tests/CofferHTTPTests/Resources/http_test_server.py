#!/usr/bin/env python3
"""A loopback HTTP(S) server for CurlTransport tests.

Usage: http_test_server.py PORT [--tls CERT KEY]
Paths:
  /echo            answers JSON: method, path, headers, body length and SHA-256 of the request body
  /bytes/N         answers N deterministic bytes (byte i = i % 251)
  /hang            reads the request, then sends nothing until the client gives up
  /reset           closes the connection without answering
  /status/N        answers status N with a short body
  /connections     answers how many TCP connections the server has accepted so far
Exits when its parent process dies.
"""
import hashlib
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

connections = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        global connections
        with lock:
            connections += 1
        super().setup()

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        digest = hashlib.sha256()
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
        return length - remaining, digest.hexdigest()

    def _send(self, status, body, content_type="application/octet-stream"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        count, sha = self._body()
        path = self.path
        if path.startswith("/echo"):
            info = {"method": self.command, "path": path, "headers": {k.lower(): v for k, v in self.headers.items()},
                    "length": count, "sha256": sha}
            self._send(200, json.dumps(info).encode(), "application/json")
        elif path.startswith("/bytes/"):
            n = int(path.split("/")[2])
            self._send(200, bytes(i % 251 for i in range(n)))
        elif path.startswith("/hang"):
            time.sleep(30)
        elif path.startswith("/reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            self.close_connection = True
        elif path.startswith("/status/"):
            self._send(int(path.split("/")[2]), b"<Error><Code>Test</Code></Error>", "application/xml")
        elif path.startswith("/connections"):
            with lock:
                self._send(200, str(connections).encode(), "text/plain")
        else:
            self._send(404, b"not found")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    if len(sys.argv) >= 5 and sys.argv[2] == "--tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
