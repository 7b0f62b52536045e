#!/usr/bin/env python3
"""Signs requests with botocore's SigV4 signers, for SigV4BotocoreTests.swift.

Usage: botocore_sign.py IN.json OUT.json

IN.json:  {"accessKeyId": ..., "secretAccessKey": ...,
           "requests": [{"id": str, "service": "s3" | other, "region": str, "epoch": int (UTC seconds),
                         "method": str, "url": str (wire form), "headers": [[name, value], ...],
                         "sessionToken": str | null, "unsignedPayload": bool, "bodyBase64": str}]}
OUT.json: {"botocoreVersion": str,
           "results": [{"id": str, "authorization": str, "canonicalRequest": str, "headers": [[name, value], ...]}]}

service "s3" uses botocore.auth.S3SigV4Auth (path used as given, X-Amz-Content-SHA256 set); any other service uses
botocore.auth.SigV4Auth (path normalized and encoded again). The URL is passed to botocore exactly as given. The
clock is fixed per request by replacing botocore.auth.get_current_datetime, which SigV4Auth.add_auth reads.
Payload: "unsignedPayload" sets the S3 client config payload_signing_enabled=False (botocore then signs
UNSIGNED-PAYLOAD); otherwise botocore hashes the body itself.
"""
import base64
import datetime
import json
import sys

import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials


class RecordingMixin:
    """Keeps the canonical request botocore computed while signing."""

    last_canonical_request = None

    def canonical_request(self, request):
        result = super().canonical_request(request)
        self.last_canonical_request = result
        return result


class RecordingS3SigV4Auth(RecordingMixin, botocore.auth.S3SigV4Auth):
    pass


class RecordingSigV4Auth(RecordingMixin, botocore.auth.SigV4Auth):
    pass


def sign(spec, access_key, secret_key):
    credentials = Credentials(access_key, secret_key, spec.get("sessionToken"))
    auth_class = RecordingS3SigV4Auth if spec["service"] == "s3" else RecordingSigV4Auth
    auth = auth_class(credentials, spec["service"], spec["region"])

    body = base64.b64decode(spec.get("bodyBase64", ""))
    request = AWSRequest(method=spec["method"], url=spec["url"], data=body)
    for name, value in spec["headers"]:
        request.headers[name] = value  # HTTPHeaders appends: repeated names are kept, in order
    if spec["service"] == "s3":
        request.context["client_config"] = Config(s3={"payload_signing_enabled": not spec["unsignedPayload"]})

    fixed = datetime.datetime.fromtimestamp(spec["epoch"], datetime.timezone.utc).replace(tzinfo=None)
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *args, **kwargs: fixed
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original

    return {
        "id": spec["id"],
        "authorization": request.headers["Authorization"],
        "canonicalRequest": auth.last_canonical_request,
        "headers": [[name, value] for name, value in request.headers.items()],
    }


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: botocore_sign.py IN.json OUT.json")
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    results = [sign(r, spec["accessKeyId"], spec["secretAccessKey"]) for r in spec["requests"]]
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump({"botocoreVersion": botocore.__version__, "results": results}, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
