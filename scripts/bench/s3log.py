"""Reads the per-request TSV log that `scripts/s3server.py --log` writes and counts requests by S3 operation type.

Columns: t_start, seconds, method, path, query, copy (x-amz-copy-source sent: 0/1), range, request bytes, status,
response bytes. The driver remembers the log's size before and after a workload and classifies the lines between.
"""
import os
from urllib.parse import parse_qs

TYPES = ["GET", "HEAD", "LIST", "PUT", "COPY", "DELETE", "MPU", "OTHER"]
_BUCKET_SUBRESOURCES = ("location", "acl", "policy", "versioning", "tagging", "cors", "lifecycle", "encryption",
                        "website", "logging", "notification", "replication", "ownershipControls", "publicAccessBlock",
                        "object-lock", "requestPayment", "accelerate", "uploads")


def classify(method, path, query, copy):
    """One of TYPES. MPU covers initiate, UploadPart, UploadPartCopy, complete, abort and ListParts."""
    parts = path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    q = parse_qs(query, keep_blank_values=True)
    if "uploadId" in q or "uploads" in q:
        return "MPU" if has_key else "OTHER"
    if method == "HEAD":
        return "HEAD"
    if method == "GET":
        if not has_key:
            return "OTHER" if any(k in q for k in _BUCKET_SUBRESOURCES) else "LIST"
        return "OTHER" if ("acl" in q or "tagging" in q or "attributes" in q) else "GET"
    if method == "PUT":
        if not has_key or "acl" in q or "tagging" in q:
            return "OTHER"
        return "COPY" if copy else "PUT"
    if method == "POST":
        return "DELETE" if "delete" in q else "OTHER"  # DeleteObjects (multi-delete) counts as one DELETE request
    if method == "DELETE":
        return "DELETE" if has_key else "OTHER"
    return "OTHER"


class RequestLog:
    def __init__(self, path):
        self.path = path

    def size(self):
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def rows(self, start, end):
        if end <= start:
            return []
        with open(self.path, "rb") as f:
            f.seek(start)
            data = f.read(end - start).decode("utf-8", "replace")
        rows = []
        for line in data.splitlines():
            p = line.split("\t")
            if len(p) < 10:
                continue
            try:
                rows.append({"t": float(p[0]), "dur": float(p[1]), "method": p[2], "path": p[3], "query": p[4],
                             "copy": p[5] == "1", "range": p[6], "up": int(p[7] or 0),
                             "status": int(p[8]) if p[8].isdigit() else 0, "down": int(p[9] or 0)})
            except ValueError:
                continue
        return rows


def summarize(rows):
    """Counts by type plus details: multipart parts, ranged GETs, 4xx/5xx, bytes, time inside Complete."""
    counts = {t: 0 for t in TYPES}
    detail = {"mpu_parts": 0, "mpu_copy_parts": 0, "ranged_gets": 0, "status_4xx": 0, "status_5xx": 0,
              "complete_s": 0.0}
    up = down = 0
    for r in rows:
        t = classify(r["method"], r["path"], r["query"], r["copy"])
        counts[t] += 1
        if t == "MPU" and r["method"] == "PUT":
            detail["mpu_copy_parts" if r["copy"] else "mpu_parts"] += 1
        if t == "MPU" and r["method"] == "POST" and "uploadId" in r["query"]:
            detail["complete_s"] += r["dur"]
        if t == "GET" and r["range"]:
            detail["ranged_gets"] += 1
        if 400 <= r["status"] < 500:
            detail["status_4xx"] += 1
        elif r["status"] >= 500:
            detail["status_5xx"] += 1
        if r["method"] in ("PUT", "POST") and not r["copy"]:
            up += r["up"]
        if r["method"] == "GET":
            down += r["down"]
    counts["TOTAL"] = len(rows)
    detail["mib_up"] = up / (1 << 20)
    detail["mib_down"] = down / (1 << 20)
    return counts, detail
