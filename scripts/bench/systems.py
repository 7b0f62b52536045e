"""The filesystems under test: how to mount each one, and how long its write-back may lag behind close().

Every mount command runs in the foreground (the driver owns the process) and gets a fresh, empty cache directory,
so a remount is cold. `ctx` holds: coffer (binary), endpoint, bucket, mountpoint, cachedir, passwd (s3fs's
credentials file), key/secret. `settle` is how long the S3 log must stay quiet before a workload counts as done:
it must exceed any write-back delay of the filesystem.
"""


def coffer(ctx):
    return [ctx["coffer"], "mount", f"s3://{ctx['bucket']}", ctx["mountpoint"], "--foreground",
            "--endpoint-url", ctx["endpoint"], "--path-style", "--region", "us-east-1",
            "--cache-dir", ctx["cachedir"]], {"AWS_EC2_METADATA_DISABLED": "true"}


def coffer_encrypted(ctx):
    argv, env = coffer(ctx)
    return argv + ["--encryption-key-file", ctx["keyfile"]], env


def _s3fs(*extra):
    def command(ctx):
        return ["s3fs", ctx["bucket"], ctx["mountpoint"], "-f",
                "-o", f"url={ctx['endpoint']}", "-o", "use_path_request_style", "-o", "endpoint=us-east-1",
                "-o", f"passwd_file={ctx['passwd']}",
                *[x.format(**ctx) for x in extra]], {}
    return command


def _rclone(mode):
    def command(ctx):
        env = {"RCLONE_CONFIG_BENCH_TYPE": "s3", "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
               "RCLONE_CONFIG_BENCH_ENDPOINT": ctx["endpoint"], "RCLONE_CONFIG_BENCH_REGION": "us-east-1",
               "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": ctx["key"], "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": ctx["secret"],
               "RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE": "true",
               # rclone 1.60 refuses a plain-http endpoint when AWS_CA_BUNDLE is set ("unsupported transport")
               "AWS_CA_BUNDLE": None}
        return ["rclone", "mount", f"bench:{ctx['bucket']}", ctx["mountpoint"], "--vfs-cache-mode", mode,
                "--cache-dir", ctx["cachedir"], "--config", "/dev/null"], env
    return command


S3FS_TUNED = ["-o", "parallel_count=16", "-o", "multipart_size=32", "-o", "multireq_max=32",
              "-o", "max_stat_cache_size=400000", "-o", "stat_cache_expire=3600", "-o", "enable_noobj_cache",
              "-o", "use_cache={cachedir}"]

SYSTEMS = {
    "coffer": {
        "command": coffer, "settle": 4.0, "binary": "coffer",
        "options": "defaults: metadata TTL 1 s, write-back 1.5 s after the last close (PUT up to 16 MiB, else multipart, 8 parts in flight)",
        # The disk cache is off by default; read-warm turns it on (as s3fs-tuned's use_cache and rclone-full's
        # VFS cache are on in their rows).
        "disk_cache": ["--data-cache-mib", "1024"],
    },
    "coffer-enc": {
        "command": coffer_encrypted, "settle": 4.0, "binary": "coffer", "encrypted": True,
        "options": "coffer's defaults plus --encryption-key-file (AES-256-GCM, ESDK v2 messages, 64 KiB frames); "
                   "not in the default set: scripts/bench/encryption.sh compares it with coffer",
    },
    "s3fs-default": {
        "command": _s3fs(), "settle": 1.5, "binary": "s3fs",
        "options": "defaults: parallel_count=5, multipart_size=10 (MiB), multireq_max=20, stat cache 100000 entries "
                   "for 900 s, no use_cache",
    },
    "s3fs-tuned": {
        "command": _s3fs(*S3FS_TUNED), "settle": 1.5, "binary": "s3fs",
        "options": "parallel_count=16, multipart_size=32, multireq_max=32, max_stat_cache_size=400000, "
                   "stat_cache_expire=3600, enable_noobj_cache, use_cache=(fresh dir per mount)",
    },
    "rclone-off": {
        "command": _rclone("off"), "settle": 1.5, "binary": "rclone",
        "options": "--vfs-cache-mode off; defaults otherwise (buffer 16M, chunk 5M, 4 upload threads, "
                   "dir-cache-time 5m)",
    },
    "rclone-full": {
        "command": _rclone("full"), "settle": 7.0, "binary": "rclone",
        "options": "--vfs-cache-mode full, default --vfs-write-back 5s: close() returns before the upload",
    },
}

ORDER = ["coffer", "s3fs-default", "s3fs-tuned", "rclone-off", "rclone-full"]
BASELINE = "s3fs-default"  # ratios are stated against s3fs with its defaults


def display_command(name):
    """The mount command with placeholders, for docs/benchmarks.md."""
    ctx = {"coffer": "coffer", "endpoint": "$ENDPOINT", "bucket": "$BUCKET", "mountpoint": "$MNT",
           "cachedir": "$CACHEDIR", "passwd": "$PASSWD_FILE", "key": "$KEY", "secret": "$SECRET",
           "keyfile": "$KEY_FILE"}
    argv, env = SYSTEMS[name]["command"](ctx)
    envs = " ".join(f"{k}={v}" for k, v in env.items() if v is not None)
    return (envs + " " if envs else "") + " ".join(argv)
