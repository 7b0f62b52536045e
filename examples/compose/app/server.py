"""A stand-in for the application of docker-compose.yml: keeps its attachments in a directory that Coffer mounts.

GET /NAME returns a file (GET / lists the directory); PUT /NAME stores the request body as that file.

    python3 server.py /srv/attachments [PORT]
"""
import functools
import http.server
import os
import signal
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "/srv/attachments"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_PUT(self):
        path = self.translate_path(self.path)  # inside ROOT: ".." and absolute parts are dropped
        remaining = int(self.headers.get("Content-Length", "0"))
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as file:
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    file.write(chunk)
                    remaining -= len(chunk)
        except OSError as error:
            self.send_error(500, str(error))
            return
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


# As a container's main process (PID 1) it must handle SIGTERM itself, or `docker stop` waits and kills it.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
server = http.server.ThreadingHTTPServer(("", PORT), functools.partial(Handler, directory=ROOT))
print(f"serving {ROOT} on port {PORT}", flush=True)
server.serve_forever()
