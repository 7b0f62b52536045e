"""The ceiling: the same byte volumes and operation counts moved with boto3 straight to the same S3 server, no FUSE.

Each measurement is named after the filesystem workload it bounds (see bench.py): write, read, randread, create,
ls, ls-warm, rsync, rsync-again, rsync-warm, mv-file, mv-dir. Caveat: the client is Python too and shares the two cores with the server,
so for small requests this "ceiling" is what one Python process achieves, not a hard bound.
"""
import concurrent.futures as cf
import os
import random
import statistics
import time

import boto3
from botocore.config import Config

MiB = 1 << 20


def client(endpoint, key, secret, pool=64):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=pool,
                      retries={"max_attempts": 3, "mode": "standard"},
                      request_checksum_calculation="when_required", response_checksum_validation="when_required",
                      connect_timeout=10, read_timeout=300))


def _drain(body):
    n = 0
    while True:
        chunk = body.read(MiB)
        if not chunk:
            return n
        n += len(chunk)


def run(s3, bucket, p, which, emit, cpu_probe):
    """p: the profile (big_mib, creates, ls_entries, tree files, mv sizes, reps). emit(row) per measurement."""
    size = p["big_mib"] * MiB
    part = 8 * MiB
    threads = 8
    reps = p["ceiling_reps"]

    def measure(name, workload, fn, amount, unit, how, setup=None):
        if workload not in which:
            return
        times = []
        cpu0 = cpu_probe()
        for i in range(reps):
            if setup:
                setup(i)
            t0 = time.monotonic()
            fn(i)
            times.append(time.monotonic() - t0)
        cpu1 = cpu_probe()
        med = statistics.median(times)
        emit({"fs": "ceiling", "workload": workload, "name": name, "how": how, "n": len(times), "seconds": times,
              "median_s": med, "amount": amount, "unit": unit, "rate": amount / med,
              "server_cpu": (cpu1 - cpu0) / max(sum(times), 1e-9)})

    block = os.urandom(part)
    big = "ceiling/big.bin"

    def put_big(_):
        upload = s3.create_multipart_upload(Bucket=bucket, Key=big)["UploadId"]
        count = (size + part - 1) // part

        def one(i):
            body = block[:min(part, size - i * part)]
            return {"PartNumber": i + 1,
                    "ETag": s3.upload_part(Bucket=bucket, Key=big, UploadId=upload, PartNumber=i + 1, Body=body)["ETag"]}

        with cf.ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(one, range(count)))
        s3.complete_multipart_upload(Bucket=bucket, Key=big, UploadId=upload, MultipartUpload={"Parts": parts})

    measure("multipart PUT, 8 MiB parts x 8 threads", "write", put_big, p["big_mib"], "MiB/s", "boto3")
    if "write" not in which and any(w in which for w in ("read", "randread")):
        put_big(0)

    def get_big(_):
        def one(i):
            lo = i * part
            body = s3.get_object(Bucket=bucket, Key=big, Range=f"bytes={lo}-{min(size, lo + part) - 1}")["Body"]
            return _drain(body)

        with cf.ThreadPoolExecutor(threads) as pool:
            assert sum(pool.map(one, range((size + part - 1) // part))) == size

    measure("ranged GETs, 8 MiB x 8 threads", "read", get_big, p["big_mib"], "MiB/s", "boto3")
    measure("one streaming GET", "read", lambda _: _drain(s3.get_object(Bucket=bucket, Key=big)["Body"]),
            p["big_mib"], "MiB/s", "boto3")

    ops = p["ceiling_randreads"]

    def randread(i):
        rnd = random.Random(i)
        for _ in range(ops):
            o = rnd.randrange(0, size // 4096) * 4096
            assert len(s3.get_object(Bucket=bucket, Key=big, Range=f"bytes={o}-{o + 4095}")["Body"].read()) == 4096

    measure(f"{ops} ranged 4 KiB GETs, one at a time", "randread", randread, ops, "ops/s", "boto3")

    small = os.urandom(4096)
    n = p["creates"]

    def puts(prefix, threads_):
        def fn(i):
            with cf.ThreadPoolExecutor(threads_) as pool:
                list(pool.map(lambda j: s3.put_object(Bucket=bucket, Key=f"{prefix}{i}/f{j:05d}", Body=small),
                              range(n)))
        return fn

    measure(f"{n} x 4 KiB PUT, one at a time", "create", puts("ceiling/put1-", 1), n, "files/s", "boto3")
    measure(f"{n} x 4 KiB PUT, 16 threads", "create", puts("ceiling/put16-", 16), n, "files/s", "boto3")

    n = p["ls_entries"]
    lsdir = "ceiling/ls/"
    if "ls" in which or "ls-warm" in which:
        with cf.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda j: s3.put_object(Bucket=bucket, Key=f"{lsdir}obj{j:05d}", Body=small), range(n)))

    def ls(_):
        got = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=lsdir, Delimiter="/"):
            got += page.get("KeyCount", 0)
        assert got == n, got

    def ls_head(_):
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=lsdir, Delimiter="/"):
            keys += [o["Key"] for o in page.get("Contents", [])]
        with cf.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: s3.head_object(Bucket=bucket, Key=k), keys))

    measure(f"LIST of {n} keys", "ls", ls, n, "entries/s", "boto3")
    measure(f"LIST + HEAD of each of {n}, 16 threads", "ls", ls_head, n, "entries/s", "boto3")
    if "ls-warm" in which:
        measure(f"LIST of {n} keys (what a client that remembers the metadata needs)", "ls-warm", ls, n,
                "entries/s", "boto3")

    tree = p["tree_files"]  # [(relative path, bytes)]

    def upload_tree(i):
        for rel, data in tree:
            s3.put_object(Bucket=bucket, Key=f"ceiling/tree{i}/{rel}", Body=data)

    def upload_tree16(i):
        with cf.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda f: s3.put_object(Bucket=bucket, Key=f"ceiling/tree16-{i}/{f[0]}", Body=f[1]), tree))

    measure(f"PUT of the {len(tree)} tree files, one at a time", "rsync", upload_tree, len(tree), "files/s", "boto3")
    measure(f"PUT of the {len(tree)} tree files, 16 threads", "rsync", upload_tree16, len(tree), "files/s", "boto3")
    if ("rsync-again" in which or "rsync-warm" in which) and "rsync" not in which:
        upload_tree(0)

    def list_tree(_):
        got = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="ceiling/tree0/"):
            got += page.get("KeyCount", 0)
        assert got == len(tree), got

    measure(f"LIST of the {len(tree)} tree keys (no HEAD)", "rsync-again", list_tree, len(tree), "files/s", "boto3")
    if "rsync-warm" in which:
        measure(f"LIST of the {len(tree)} tree keys (no HEAD)", "rsync-warm", list_tree, len(tree), "files/s", "boto3")

    fkey = "ceiling/mv-file"
    if "mv-file" in which:
        s3.put_object(Bucket=bucket, Key=f"{fkey}0", Body=os.urandom(p["mv_file_mib"] * MiB))

    def mv_file(i):
        src, dst = f"{fkey}{i}", f"{fkey}{i + 1}"
        if p["mv_file_mib"] * MiB > 5 * 1024 * MiB:
            raise RuntimeError("CopyObject is limited to 5 GiB")
        s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": src})
        s3.delete_object(Bucket=bucket, Key=src)

    measure(f"CopyObject + DeleteObject of {p['mv_file_mib']} MiB", "mv-file", mv_file, 1, "renames/s", "boto3")

    n = p["mv_dir_files"]
    dkey = "ceiling/mv-dir"
    if "mv-dir" in which:
        with cf.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda j: s3.put_object(Bucket=bucket, Key=f"{dkey}0/f{j:05d}", Body=small), range(n)))

    def mv_dir(i):
        def one(j):
            s3.copy_object(Bucket=bucket, Key=f"{dkey}{i + 1}/f{j:05d}",
                           CopySource={"Bucket": bucket, "Key": f"{dkey}{i}/f{j:05d}"})
            s3.delete_object(Bucket=bucket, Key=f"{dkey}{i}/f{j:05d}")

        with cf.ThreadPoolExecutor(16) as pool:
            list(pool.map(one, range(n)))

    measure(f"{n} x (CopyObject + DeleteObject), 16 threads", "mv-dir", mv_dir, 1, "renames/s", "boto3")
