#!/usr/bin/env python3
"""Coffer's local S3 server: moto's server app (S3, IAM, STS, KMS) on a loopback port, with extras for tests.

Same app as `moto_server`, plus:
  --log FILE        append one TSV line per request: t_start, seconds, method, path, query, copy(0/1), range,
                    request bytes, status, response bytes, x-amz-request-payer. Tests and benchmarks count S3
                    requests from it.
  --delay-ms N      sleep N ms before each request (emulates the round trip to real S3; loopback has no netem).
  --watch-parent    exit when the process that started us goes away, so a crashed test leaves no server behind.
  --auth-actions N  sets INITIAL_NO_AUTH_ACTION_COUNT=N: the first N requests are unauthenticated (create IAM
                    users then); every later request must carry a valid SigV4 signature and pass IAM policies.
  --fast-range      ranged GETs read only their range (stock moto 5.2.1 copies the whole object for every ranged
                    GET, so a 4 KiB read of a 1 GiB object costs a 1 GiB copy); ranges over 1 MiB are streamed in
                    1 MiB chunks, so a client that drops an open-ended `bytes=N-` GET pays only for what was sent.
  --null-version    accept `versionId=null` in query strings (S3 does, for the current version of an object in an
                    unversioned bucket; moto answers 400). rclone sends it on the HEAD after a multipart upload.
  --fault-file F    while file F exists, answer requests with an S3 error instead of serving them. Each line of F is
                    `STATUS [TEXT]`: a request whose path or query contains TEXT (every request when there is none)
                    gets STATUS (503 SlowDown, 500 InternalError) with S3's error body; STATUS `reset` instead
                    drops the connection without an answer (an empty reply, then a TCP reset). Tests create and remove F to
                    simulate an outage of part of a bucket while other tests use the same server.
  --seeding         accept `POST /_coffer/seed` with a JSON body {"bucket": B, "prefix": P, "count": N, "body": S}:
                    stores N objects P00000000 ... with body S straight into moto's backend (a few seconds for
                    20,000 objects, where 20,000 PUTs take minutes). Not an S3 API: tests use it to fill a
                    directory before measuring what the mount sends; those requests are logged as usual.

Signature checks use the request URI exactly as it arrived. Stock moto 5.2.1 verifies signatures against the URL
as werkzeug re-quotes it, so correctly signed requests whose key or query holds characters such as + & ! ( ) *
, : ; = @ ' / (in a query value) or any non-ASCII character fail with SignatureDoesNotMatch, even from boto3.
"""
import argparse
import logging
import os
import signal
import socket
import struct
import sys
import threading
import time


_current = threading.local()


def verify_signatures_on_raw_uri():
    """Makes moto's SigV4 check see the path and query exactly as the client sent and signed them."""
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate(self, iam_request_cls, resource="*"):
        raw = getattr(_current, "raw_uri", None)
        if not raw:
            return original(self, iam_request_cls, resource)
        saved = self.uri
        self.uri = "http://raw" + raw
        try:
            return original(self, iam_request_cls, resource)
        finally:
            self.uri = saved

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate


class _KeyBytes:
    """Stands in for FakeKey.value while a ranged GET runs: moto only takes len() of it and slices it once."""

    CHUNK = 1 << 20

    def __init__(self, key, start=0, stop=None):
        self.key = key
        self.start = start
        self.stop = key.size if stop is None else stop

    def __len__(self):
        return max(0, self.stop - self.start)

    def __bool__(self):
        return len(self) > 0

    def _read(self, offset, count):
        with self.key.lock:
            self.key._value_buffer.seek(offset)
            return self.key._value_buffer.read(count)

    def __getitem__(self, index):
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("only contiguous slices of an object's bytes are supported")
        lo, hi, _ = index.indices(len(self))
        lo, hi = self.start + lo, self.start + max(lo, hi)
        if hi - lo <= self.CHUNK:
            return self._read(lo, hi - lo)
        return _KeyBytes(self.key, lo, hi)

    def __iter__(self):  # werkzeug sends an iterable body chunk by chunk
        offset = self.start
        while offset < self.stop:
            try:
                chunk = self._read(offset, min(self.CHUNK, self.stop - offset))
            except ValueError:  # the object was overwritten or deleted meanwhile and its buffer closed
                return
            if not chunk:
                return
            offset += len(chunk)
            yield chunk


def serve_ranges_lazily():
    """--fast-range: during a GET that carries a Range header, FakeKey.value is a lazy view of the object."""
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    lazy = threading.local()
    stock_value = FakeKey.value

    def value(self):
        if getattr(lazy, "on", False):
            return _KeyBytes(self)
        return stock_value.fget(self)

    FakeKey.value = property(value, stock_value.fset)
    stock_get_object = S3Response.get_object

    def get_object(self):
        lazy.on = bool((self.headers.get("range") or "").strip()) and "partNumber" not in (self.querystring or {})
        try:
            return stock_get_object(self)
        finally:
            lazy.on = False

    S3Response.get_object = get_object


FAULT_CODES = {500: ("InternalError", "We encountered an internal error. Please try again."),
               503: ("SlowDown", "Please reduce your request rate.")}


def injected_fault(path, environ):
    """The status a request gets from the fault file ("reset" to drop the connection), or None to serve it."""
    if not path:
        return None
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    target = environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")
    for line in lines:
        parts = line.strip().split(None, 1)
        if not parts or not (parts[0].isdigit() or parts[0] == "reset"):
            continue
        if len(parts) == 1 or parts[1] in target or parts[1] in environ.get("RAW_URI", ""):
            return parts[0] if parts[0] == "reset" else int(parts[0])
    return None


class RequestLog:
    """WSGI middleware: optional delay, then one log line per request once its response is sent."""

    def __init__(self, app, path, delay_s, null_version=False, fault_file=None, seeding=False):
        self.app = app
        self.seeding = seeding
        self.delay_s = delay_s
        self.null_version = null_version
        self.fault_file = fault_file
        self.lock = threading.Lock()
        self.out = open(path, "a", buffering=1) if path else None

    def _write(self, fields):
        if self.out is None:
            return
        line = "\t".join(str(x).replace("\t", "\\t").replace("\n", "\\n") for x in fields)
        with self.lock:
            self.out.write(line + "\n")

    def __call__(self, environ, start_response):
        if self.seeding and environ.get("PATH_INFO") == "/_coffer/seed" and environ.get("REQUEST_METHOD") == "POST":
            return seed(environ, start_response)
        started = time.time()
        _current.raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if self.delay_s:
            time.sleep(self.delay_s)
        query = environ.get("QUERY_STRING", "")
        if self.null_version and "versionId=null" in query:
            environ["QUERY_STRING"] = "&".join(p for p in query.split("&") if p != "versionId=null")
        fields = [
            environ.get("REQUEST_METHOD", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            1 if environ.get("HTTP_X_AMZ_COPY_SOURCE") else 0,
            environ.get("HTTP_RANGE", ""),
            environ.get("CONTENT_LENGTH") or "0",
        ]
        payer = environ.get("HTTP_X_AMZ_REQUEST_PAYER", "")
        status = ["?"]

        def recording_start_response(line, headers, exc_info=None):
            status[0] = line.split(" ", 1)[0]
            return start_response(line, headers, exc_info)

        fault = injected_fault(self.fault_file, environ)
        if fault == "reset":
            # Drop the connection with no answer: shutdown ends both directions at once (the server's own file
            # objects still hold the socket, so close() alone would leave it open), and SO_LINGER with a zero
            # timeout makes the server's final close a TCP RST. The client sees an empty reply or a reset.
            connection = environ.get("werkzeug.socket")
            if connection is not None:
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                connection.shutdown(socket.SHUT_RDWR)
            self._write([f"{started:.6f}", f"{time.time() - started:.6f}", *fields, "000", 0, payer])
            raise ConnectionResetError("injected connection reset")
        if fault is not None:
            code, message = FAULT_CODES.get(fault, ("InternalError", "Injected fault."))
            payload = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                       f"<Message>{message}</Message><RequestId>injected</RequestId></Error>").encode()
            reason = {500: "Internal Server Error", 503: "Service Unavailable"}.get(fault, "Error")
            recording_start_response(f"{fault} {reason}", [("Content-Type", "application/xml"),
                                                           ("Content-Length", str(len(payload)))])
            # Read what the client sent, so the connection can carry its next request.
            remaining = int(environ.get("CONTENT_LENGTH") or 0)
            while remaining > 0:
                chunk = environ["wsgi.input"].read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            body = [payload] if environ.get("REQUEST_METHOD") != "HEAD" else []
        else:
            body = self.app(environ, recording_start_response)
        log = self

        class Body:
            sent = 0

            def __iter__(self):
                for chunk in body:
                    self.sent += len(chunk)
                    yield chunk

            def close(self):
                try:
                    if hasattr(body, "close"):
                        body.close()
                finally:
                    log._write([f"{started:.6f}", f"{time.time() - started:.6f}", *fields, status[0], self.sent, payer])

        return Body()


def seed(environ, start_response):
    """`POST /_coffer/seed`: many objects at once, straight into moto's backend (see --seeding)."""
    import json
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    try:
        request = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        body = request.get("body", "").encode()
        for i in range(int(request["count"])):
            backend.put_object(request["bucket"], f"{request['prefix']}{i:08d}", body)
    except Exception as error:  # noqa: BLE001 - the test sees the reason
        message = f"seeding failed: {error!r}\n".encode()
        start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", str(len(message)))])
        return [message]
    start_response("204 No Content", [])
    return []


def watch_parent():
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--log")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--watch-parent", action="store_true")
    parser.add_argument("--auth-actions", type=int)
    parser.add_argument("--fast-range", action="store_true")
    parser.add_argument("--null-version", action="store_true")
    parser.add_argument("--fault-file")
    parser.add_argument("--seeding", action="store_true")
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        sys.exit("s3server: refusing to listen on a non-loopback address")
    if args.auth_actions is not None:
        os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(args.auth_actions)
    os.environ.setdefault("MOTO_PORT", str(args.port))

    from werkzeug.serving import run_simple
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    verify_signatures_on_raw_uri()
    if args.fast_range:
        serve_ranges_lazily()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # A parent that started us from a thread with SIGTERM blocked would otherwise be unable to stop us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.watch_parent:
        threading.Thread(target=watch_parent, daemon=True).start()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, RequestLog(app, args.log, args.delay_ms / 1000.0, args.null_version,
                                                args.fault_file, args.seeding), threaded=True)


if __name__ == "__main__":
    main()
