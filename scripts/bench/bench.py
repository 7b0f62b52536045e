#!/usr/bin/env python3
"""Coffer's benchmark driver: Coffer, s3fs and rclone mount side by side on one local S3 server (moto).

For every mode (lat0: no added latency; lat10: every S3 request costs 10 ms more) it measures the ceiling (boto3
straight to the server), then for every filesystem starts a fresh server with a fresh bucket and runs the
workloads. Each workload mounts (fresh, empty cache directory; the -warm ones keep the one of the mount before), runs one command, waits until the S3 request log has
been quiet for the filesystem's settle time, and unmounts; read workloads remount so they start cold. A row per
(filesystem, mode, workload) goes to results.jsonl: app-visible and durable seconds per repetition, the rate, S3
requests by type (median over repetitions), the FUSE process's peak RSS and CPU, and checks of the result.

Workloads (ids used everywhere, including the ceiling):
  write        dd a BIG_MIB file of random bytes into the mount, bs=1M conv=fsync
  read         cold dd of that file to /dev/null after a remount
  read-warm    the same dd after a remount that keeps the cache directory of an earlier read, with the
               filesystem's disk cache on where it has one that is off by default (SYSTEMS "disk_cache")
  randread     fio, 4 KiB random reads at queue depth 1 (psync), 8 MiB in all, on that file, cold
  create       one process creates CREATES files of 4 KiB (open, write, close) in a new directory
  ls           `ls -l` of a directory of LS_ENTRIES objects uploaded with boto3 (no metadata, no directory marker)
  ls-warm      the same `ls -l` after a remount that keeps the cache directory of an earlier `ls -l`
  rsync        `rsync -a` of a tree of small files plus a few 4 MiB ones into the mount
  rsync-again  the same rsync after a remount, nothing changed (expect 0 files transferred)
  rsync-warm   rsync-again after a remount that keeps the cache directory of the first rsync's mount
  mv-file      mv of a MV_FILE_MIB file made through the mount, on a fresh mount
  mv-dir       mv of a directory of MV_DIR_FILES files of 4 KiB made through the mount, on a fresh mount
Peak RSS of the FUSE process comes from /usr/bin/time -v around each mount command.

Usage: bench.py [--profile full|quick] [--systems a,b] [--modes lat0,lat10] [--workloads ...] [--big-mib N]
                [--out DIR] [--doc PATH]
"""
import argparse
import atexit
import concurrent.futures as cf
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import ceiling  # noqa: E402
import s3log  # noqa: E402
from systems import ORDER, SYSTEMS  # noqa: E402

MiB = 1 << 20
KEY, SECRET = "bench", "bench"
CLK = os.sysconf("SC_CLK_TCK")
LAT0_WORKLOADS = ["write", "read", "randread", "read-warm", "create", "ls", "ls-warm", "rsync", "rsync-again",
                  "rsync-warm", "mv-file", "mv-dir"]
LAT_WORKLOADS = ["read", "randread", "read-warm", "create", "ls", "ls-warm", "rsync", "rsync-again", "rsync-warm"]

PROFILES = {
    # About 65 minutes on 2 cores. 512 MiB, not 1 GiB: moto takes 15-25 s per 1 GiB write (its
    # CompleteMultipartUpload alone copies the whole object), which with 3 repetitions x 5 filesystems would eat
    # half the budget. The latency mode runs the reads once each, and create and rsync at the full sizes (2000
    # files, the 1004-file tree: the sizes the write-back targets are set at), each command capped at 150 s
    # (fio at 30 s): the slow peers report the rate of what they finished by then.
    "full": dict(big_mib=512, reps=3, reps_randread=2, reps_ls=3, reps_mv=2, creates=2000, ls_entries=2000,
                 tree=(10, 10, 10, 4), mv_file_mib=100, mv_dir_files=200, timeout=300, ceiling_reps=3,
                 ceiling_randreads=1000, systems=ORDER, modes=["lat0", "lat10"],
                 lat=dict(reps=1, reps_randread=1, reps_ls=1, creates=2000, ls_entries=2000, tree=(10, 10, 10, 4), ceiling_reps=1, timeout=150,
                          ceiling_randreads=200)),
    # Under 5 minutes: every workload at a small size, one repetition, three filesystems.
    "quick": dict(big_mib=64, reps=1, reps_randread=1, reps_ls=1, reps_mv=1, creates=300, ls_entries=500,
                  tree=(3, 3, 10, 1), mv_file_mib=20, mv_dir_files=50, timeout=90, ceiling_reps=1,
                  ceiling_randreads=300, systems=["coffer", "s3fs-default", "rclone-off"], modes=["lat0", "lat10"],
                  lat=dict(systems=["coffer", "s3fs-default"], creates=100, ls_entries=500, tree=(2, 2, 10, 0),
                           ceiling_randreads=100)),
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid):
    """CPU seconds (user + system, all threads) of a live process, else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, ValueError, IndexError):
        return None


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / CLK


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def is_mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ------------------------------------------------------------------------------------------------- S3 server ---
class Server:
    """scripts/s3server.py on a free loopback port: per-request log, ranged GETs that read only their range."""

    def __init__(self, rundir, name, delay_ms):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.logpath = os.path.join(rundir, f"{name}.s3log.tsv")
        self.delay_ms = delay_ms
        self.proc = None
        self.log = s3log.RequestLog(self.logpath)

    def __enter__(self):
        cmd = [sys.executable, os.path.join(REPO, "scripts", "s3server.py"), "-p", str(self.port), "--log",
               self.logpath, "--watch-parent", "--fast-range", "--null-version"]
        if self.delay_ms:
            cmd += ["--delay-ms", str(self.delay_ms)]
        self.proc = subprocess.Popen(cmd, stdout=open(self.logpath + ".out", "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        SERVERS.add(self.proc)
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError(f"S3 server exited; see {self.logpath}.out")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        raise RuntimeError("S3 server did not start")

    def __exit__(self, *exc):
        stop_server(self.proc)

    @property
    def pid(self):
        return self.proc.pid


SERVERS = set()
MOUNTS = set()


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    SERVERS.discard(proc)


def emergency_cleanup():
    for mnt in list(MOUNTS):
        if is_mounted(mnt):
            subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
    for proc in list(SERVERS):
        stop_server(proc)


# ------------------------------------------------------------------------------------------------ filesystem ---
class Mount:
    """One mount of one filesystem: fresh cache dir (or `warm_cache`, kept as it is and left behind), foreground
    process under /usr/bin/time -v, unmount on exit."""

    def __init__(self, bench, name, warm_cache=None, extra_args=()):
        self.b = bench
        self.name = name
        self.extra_args = list(extra_args)
        self.seq = bench.next_seq()
        self.mnt = os.path.join(bench.rundir, "mnt", name)
        self.warm = warm_cache is not None
        self.cachedir = warm_cache or os.path.join(bench.rundir, "cache", f"{name}-{self.seq}")
        self.rssfile = os.path.join(bench.rundir, "rss", f"{name}-{self.seq}.txt")
        self.pid = None
        self.peak_rss_mib = None
        self.unmount_requests = None

    def __enter__(self):
        os.makedirs(self.mnt, exist_ok=True)
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], capture_output=True)
        if not self.warm:
            shutil.rmtree(self.cachedir, ignore_errors=True)
        os.makedirs(self.cachedir, exist_ok=True)
        os.makedirs(os.path.dirname(self.rssfile), exist_ok=True)
        if SYSTEMS[self.name].get("encrypted") and not os.path.exists(self.b.keyfile):
            subprocess.run([self.b.coffer, "keygen", self.b.keyfile], check=True, capture_output=True)
        ctx = {"coffer": self.b.coffer, "endpoint": self.b.server.endpoint, "bucket": self.b.bucket,
               "mountpoint": self.mnt, "cachedir": self.cachedir, "passwd": self.b.passwd, "key": KEY,
               "secret": SECRET, "keyfile": self.b.keyfile}
        argv, extra_env = SYSTEMS[self.name]["command"](ctx)
        argv = argv + self.extra_args
        env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
        for k, v in extra_env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        self.mountlog = os.path.join(self.b.rundir, f"{self.b.mode}-{self.name}.mount.log")
        out = open(self.mountlog, "a")
        out.write(f"--- mount {self.seq} at {time.ctime()}: {' '.join(argv)}\n")
        out.flush()
        MOUNTS.add(self.mnt)
        self.proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", self.rssfile, *argv], env=env, stdout=out,
                                     stderr=out, stdin=subprocess.DEVNULL, start_new_session=True, cwd="/")
        t0 = time.monotonic()
        while not is_mounted(self.mnt):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: mount command exited with {self.proc.returncode}; see "
                                   f"{self.mountlog}")
            if time.monotonic() - t0 > 60:
                self._stop()
                raise RuntimeError(f"{self.name}: no mount after 60 s; see {self.mountlog}")
            time.sleep(0.05)
        for _ in range(100):  # the process under /usr/bin/time is the FUSE process
            try:
                with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
                if kids:
                    self.pid = kids[0]
                    break
            except OSError:
                pass
            time.sleep(0.05)
        for _ in range(100):
            try:
                os.listdir(self.mnt)
                break
            except OSError:
                time.sleep(0.1)
        self.b.current_mount = self
        return self

    def __exit__(self, *exc):
        self.b.current_mount = None
        before = self.b.server.log.size()
        self._stop()
        after = self.b.server.log.size()
        self.unmount_requests = s3log.summarize(self.b.server.log.rows(before, after))[0]["TOTAL"]
        try:
            text = open(self.rssfile).read()
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
            self.peak_rss_mib = int(m.group(1)) / 1024 if m else None
        except OSError:
            pass
        if not self.warm:
            shutil.rmtree(self.cachedir, ignore_errors=True)
        MOUNTS.discard(self.mnt)
        self.b.mount_done(self)

    def _stop(self):
        for _ in range(40):
            if not is_mounted(self.mnt):
                break
            r = subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True, text=True)
            if r.returncode == 0:
                break
            time.sleep(0.5)
        else:
            log(f"{self.name}: unmount failed ({r.stderr.strip()}), detaching lazily")
            subprocess.run(["fusermount3", "-uz", self.mnt], capture_output=True)
        try:
            self.proc.wait(120)  # a filesystem may finish uploads before it exits
        except subprocess.TimeoutExpired:
            log(f"{self.name}: FUSE process still running 120 s after unmount: SIGTERM")
            for pid in (self.pid, self.proc.pid):
                if pid and alive(pid):
                    os.kill(pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                for pid in (self.pid, self.proc.pid):
                    if pid and alive(pid):
                        os.kill(pid, signal.SIGKILL)
                self.proc.wait()


# ------------------------------------------------------------------------------------------------- the bench ---
class Bench:
    def __init__(self, args, profile, rundir, data):
        self.a = args
        self.p = profile
        self.rundir = rundir
        self.data = data
        self.coffer = args.coffer
        self.bucket = "bench"
        self.passwd = os.path.join(rundir, "passwd-s3fs")
        with open(self.passwd, "w") as f:
            f.write(f"{KEY}:{SECRET}\n")
        os.chmod(self.passwd, 0o600)
        # The local key of the encrypted Coffer system (coffer-enc), made the way an operator makes one, when used.
        self.keyfile = os.path.join(rundir, "coffer.key")
        self.results = os.path.join(rundir, "results.jsonl")
        self.seq = 0
        self.mode = None
        self.server = None
        self.current_mount = None
        self.mounts_in_workload = []

    def next_seq(self):
        self.seq += 1
        return self.seq

    def mount_done(self, m):
        self.mounts_in_workload.append(m)

    def mount(self, name, warm_cache=None, extra_args=()):
        return Mount(self, name, warm_cache, extra_args)

    def warm_cache(self, name, workload):
        """A cache directory kept across the mounts of one workload (the -warm rows), emptied first."""
        path = os.path.join(self.rundir, "cache", f"{name}-{workload}-warm")
        shutil.rmtree(path, ignore_errors=True)
        return path

    def emit(self, row):
        row.setdefault("mode", self.mode)
        with open(self.results, "a") as f:
            f.write(json.dumps(row) + "\n")

    def s3(self):
        return ceiling.client(self.server.endpoint, KEY, SECRET)

    # -- one measured command on the current mount
    def measure(self, name, cmd, timeout=None):
        timeout = timeout or self.p["timeout"]
        m = self.current_mount
        log_ = self.server.log
        off0 = log_.size()
        fs0, srv0, busy0 = proc_cpu(m.pid) if m else None, proc_cpu(self.server.pid), machine_busy()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall0 = time.time()
        t0 = time.monotonic()
        p = subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
                             start_new_session=True)
        timed_out = False
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                out, err = p.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                # stuck inside the filesystem (uninterruptible): kill the FUSE process, which fails its requests
                log(f"  {name}: the command hangs in the filesystem; killing the FUSE process")
                if m and m.pid and alive(m.pid):
                    os.kill(m.pid, signal.SIGKILL)
                subprocess.run(["fusermount3", "-uz", m.mnt] if m else ["true"], capture_output=True)
                try:
                    out, err = p.communicate(timeout=20)
                except subprocess.TimeoutExpired:
                    out, err = "", "the command could not be stopped"
            out, err = out or "", err or ""
        app = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        off1 = self.settle(name)
        rows = log_.rows(off0, off1)
        last_end = max((r["t"] + r["dur"] for r in rows), default=wall0)
        durable = max(app, last_end - wall0)
        span = max(time.monotonic() - t0, 1e-6)
        fs1, srv1, busy1 = proc_cpu(m.pid) if m else None, proc_cpu(self.server.pid), machine_busy()
        counts, detail = s3log.summarize(rows)
        res = {"app": app, "durable": durable, "rc": p.returncode if not timed_out else None,
               "timed_out": timed_out, "stdout": out, "stderr": err[-2000:], "req": counts, "detail": detail,
               "cpu_fs_s": (fs1 - fs0) if (fs0 is not None and fs1 is not None) else None,
               "cpu_server_s": (srv1 - srv0) if (srv0 is not None and srv1 is not None) else None,
               "cpu_client_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
               "machine_busy_cores": (busy1 - busy0) / span}
        if timed_out:
            log(f"  {name}: TIMEOUT after {timeout} s")
        elif p.returncode != 0:
            log(f"  {name}: exit {p.returncode}: {err.strip()[-300:]}")
        return res

    def settle(self, name):
        """Waits until the S3 log has been quiet for the filesystem's settle time; returns the log size then."""
        quiet = SYSTEMS[name]["settle"] if name in SYSTEMS else 1.0
        last, changed, start = self.server.log.size(), time.monotonic(), time.monotonic()
        while True:
            time.sleep(0.1)
            size, now = self.server.log.size(), time.monotonic()
            if size != last:
                last, changed = size, now
            elif now - changed >= quiet:
                return size
            if now - start > 300:
                log("  S3 traffic did not stop within 300 s; counting what came so far")
                return size

    def row(self, name, workload, runs, amount, unit, checks=None, rate_override=None):
        """Aggregates repetitions into one result row."""
        mounts, self.mounts_in_workload = self.mounts_in_workload, []
        ok = [r for r in runs if not r["timed_out"] and r["rc"] == 0]
        use = ok or runs
        durable = [r["durable"] for r in use]
        med = median(durable)
        rate = rate_override if rate_override is not None else (amount / med if (amount and med) else None)
        req = {k: median([r["req"][k] for r in use]) for k in s3log.TYPES + ["TOTAL"]} if use else {}
        detail = {k: median([r["detail"][k] for r in use]) for k in use[0]["detail"]} if use else {}
        row = {"fs": name, "workload": workload, "n": len(runs), "ok": len(ok),
               "app": [r["app"] for r in runs], "durable": [r["durable"] for r in runs],
               "app_med": median([r["app"] for r in use]), "durable_med": med, "amount": amount, "unit": unit,
               "rate": rate if ok else None, "req": req, "detail": detail,
               "cpu_fs_s": median([r["cpu_fs_s"] for r in use]), "cpu_server_s": median([r["cpu_server_s"] for r in use]),
               "cpu_client_s": median([r["cpu_client_s"] for r in use]),
               "machine_busy_cores": median([r["machine_busy_cores"] for r in use]),
               "peak_rss_mib": max([m.peak_rss_mib for m in mounts if m.peak_rss_mib] or [0]) or None,
               "unmount_requests": max([m.unmount_requests or 0 for m in mounts] or [0]),
               "timeouts": sum(r["timed_out"] for r in runs),
               "failures": [f"exit {r['rc']}: {r['stderr'].strip()[-200:]}" for r in runs
                            if not r["timed_out"] and r["rc"] != 0],
               "checks": checks or {}}
        if not ok:
            row["error"] = "timed out" if row["timeouts"] else "command failed"
        self.emit(row)
        rate_s = f"{rate:.1f} {unit}" if (rate and ok) else "-"
        log(f"  {name:12} {workload:12} app {row['app_med']:.2f} s durable {med:.2f} s  {rate_s:>16}  "
            f"requests {req.get('TOTAL')}  {json.dumps(checks or {})[:160]}")
        return row

    def clean(self, keep=("big.bin",)):
        """Deletes every object but `keep` (moto's LIST is O(objects in the bucket))."""
        s3 = self.s3()
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"] not in keep]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]],
                                                           "Quiet": True})

    def count(self, prefix):
        """Objects under prefix, not counting directory markers (keys ending in /)."""
        n = 0
        for page in self.s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            n += sum(1 for o in page.get("Contents", []) if not o["Key"].endswith("/"))
        return n

    def size_of(self, key):
        try:
            return self.s3().head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except Exception as e:  # noqa: BLE001
            return f"missing ({type(e).__name__})"


# ------------------------------------------------------------------------------------------------- workloads ---
def wl_write(b, name):
    runs = []
    for _ in range(b.p["reps"]):
        b.s3().delete_object(Bucket=b.bucket, Key="big.bin")
        with b.mount(name) as m:
            runs.append(b.measure(name, f"dd if={b.data['big']} of={m.mnt}/big.bin bs=1M conv=fsync status=none"))
    size = b.size_of("big.bin")
    plain = b.p["big_mib"] * MiB
    if SYSTEMS[name].get("encrypted"):
        # An AWS Encryption SDK message: a header of a few hundred bytes, 32 bytes per 64 KiB frame, 40 at the end.
        ok = isinstance(size, int) and plain + (plain // 65536) * 32 + 40 < size < plain + (plain // 65536) * 32 + 4096
    else:
        ok = size == plain
    b.row(name, "write", runs, b.p["big_mib"], "MiB/s", {"s3_size_ok": ok, "s3_size": size})


def dd_reads(b, name, warm=None, extra=()):
    """The measured cold reads of the big file, one per fresh mount: (runs, bytes read by each, whether the last
    mount's bytes match the file written)."""
    runs, got, same = [], [], None
    for i in range(b.p["reps"]):
        with b.mount(name, warm, extra) as m:
            r = b.measure(name, f"dd if={m.mnt}/big.bin of=/dev/null bs=1M")
            found = re.search(r"^(\d+) bytes", r["stderr"], re.M)
            got.append(int(found.group(1)) if found else None)
            runs.append(r)
            if i == b.p["reps"] - 1:  # not measured: the bytes are the ones written
                same = subprocess.run(["cmp", "-s", b.data["big"], f"{m.mnt}/big.bin"]).returncode == 0
    return runs, got, same


def wl_read(b, name):
    runs, got, same = dd_reads(b, name)
    b.row(name, "read", runs, b.p["big_mib"], "MiB/s", {"bytes_read": got, "content_matches": same})


def wl_read_warm(b, name):
    """One unmeasured cold read fills the cache directory; each measured read runs on a fresh mount keeping it."""
    extra = SYSTEMS[name].get("disk_cache", [])
    warm = b.warm_cache(name, "read")
    with b.mount(name, warm, extra) as m:
        b.measure(name, f"dd if={m.mnt}/big.bin of=/dev/null bs=1M")
    b.mounts_in_workload = []
    runs, got, same = dd_reads(b, name, warm, extra)
    b.row(name, "read-warm", runs, b.p["big_mib"], "MiB/s",
          {"bytes_read": got, "content_matches": same, "options": " ".join(extra)})
    shutil.rmtree(warm, ignore_errors=True)


def wl_randread(b, name):
    runs, fio = [], []
    for i in range(b.p["reps_randread"]):
        with b.mount(name) as m:
            r = b.measure(name, f"fio --name=randread --filename={m.mnt}/big.bin --readonly --rw=randread --bs=4k "
                                f"--size={b.p['big_mib']}m --io_size=8m --runtime=30 --ioengine=psync --iodepth=1 "
                                f"--invalidate=1 --randrepeat=0 --randseed={1000 + i} --output-format=json")
            try:
                j, _ = json.JSONDecoder().raw_decode(r["stdout"][r["stdout"].index("{"):])
                rd = j["jobs"][0]["read"]
                fio.append({"iops": rd["iops"], "ios": rd["total_ios"], "lat_ms_mean": rd["clat_ns"]["mean"] / 1e6,
                            "lat_ms_p99": rd["clat_ns"].get("percentile", {}).get("99.000000", 0) / 1e6})
            except (ValueError, KeyError, IndexError) as e:
                fio.append({"error": str(e)[:200]})
            runs.append(r)
    iops = median([x.get("iops") for x in fio])
    b.row(name, "randread", runs, None, "ops/s", {"fio": fio}, rate_override=iops)


def wl_create(b, name):
    b.clean()
    n = b.p["creates"]
    with b.mount(name) as m:
        r = b.measure(name, f"python3 {HERE}/mkfiles.py {m.mnt}/create {n} 4096 {b.p['timeout'] - 30}")
    made = int(r["stdout"].strip()) if r["stdout"].strip().isdigit() else 0
    checks = {"files_created": made, "objects_in_s3": b.count("create/")}
    if 0 < made < n:
        checks["note"] = f"stopped after {b.p['timeout'] - 30} s: {made} of {n} files; rate from those"
    b.row(name, "create", [r], made or n, "files/s", checks)


def wl_ls(b, name, workloads):
    b.clean()
    n = b.p["ls_entries"]
    s3 = b.s3()
    body = os.urandom(4096)
    with cf.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=b.bucket, Key=f"lsdir/obj{i:05d}", Body=body), range(n)))
    def ls(m, runs, lines):
        r = b.measure(name, f"ls -l {m.mnt}/lsdir | wc -l")
        lines.append(r["stdout"].strip())
        if lines[-1] != str(n + 1):
            r["rc"] = r["rc"] if r["rc"] else 99  # a listing that misses entries does not count
        runs.append(r)

    if "ls" in workloads:
        runs, lines = [], []
        for _ in range(b.p["reps_ls"]):
            with b.mount(name) as m:
                ls(m, runs, lines)
        b.row(name, "ls", runs, n, "entries/s", {"ls_lines": lines, "expected": n + 1})
    if "ls-warm" in workloads:
        # One cold ls -l fills the cache directory; each measured one runs on a fresh mount that keeps it.
        warm = b.warm_cache(name, "ls")
        with b.mount(name, warm) as m:
            ls(m, [], [])
        b.mounts_in_workload = []
        runs, lines = [], []
        for _ in range(b.p["reps_ls"]):
            with b.mount(name, warm) as m:
                ls(m, runs, lines)
        b.row(name, "ls-warm", runs, n, "entries/s", {"ls_lines": lines, "expected": n + 1})
        shutil.rmtree(warm, ignore_errors=True)


def wl_rsync(b, name, workloads):
    b.clean()
    tree = b.data["tree"]
    files = b.data["tree_count"]

    def transferred(r):
        found = re.search(r"Number of regular files transferred: ([\d,]+)", r["stdout"])
        return int(found.group(1).replace(",", "")) if found else None

    # The first rsync's cache directory is kept for rsync-warm (it changes nothing about the first rsync).
    warm = b.warm_cache(name, "rsync")
    with b.mount(name, warm) as m:
        r1 = b.measure(name, f"rsync -a --stats {tree}/ {m.mnt}/rsync/")
    b.row(name, "rsync", [r1], files, "files/s",
          {"files_transferred": transferred(r1), "objects_in_s3": b.count("rsync/"), "files": files,
           "tree_mib": round(b.data["tree_mib"], 1)})
    for workload, cache in (("rsync-again", None), ("rsync-warm", warm)):
        if workload not in workloads:
            continue
        b.mounts_in_workload = []
        with b.mount(name, cache) as m:
            r2 = b.measure(name, f"rsync -a --stats {tree}/ {m.mnt}/rsync/")
        checks = {"files_transferred": transferred(r2)}
        if r1["timed_out"]:
            checks["note"] = "the first rsync timed out, so this one finished its work: not a no-change run"
        b.row(name, workload, [r2], files, "files/s", checks)
    shutil.rmtree(warm, ignore_errors=True)


def wl_mv(b, name, which):
    b.clean()
    mib, n = b.p["mv_file_mib"], b.p["mv_dir_files"]
    with b.mount(name) as m:
        setup = b.measure(name, f"mkdir -p {m.mnt}/mv && dd if={b.data['big']} of={m.mnt}/mv/file-A bs=1M count={mib} "
                                f"conv=fsync status=none && python3 {HERE}/mkfiles.py {m.mnt}/mv/dir-A {n} 4096")
    b.mounts_in_workload = []
    if setup["rc"] != 0:
        raise RuntimeError(f"setup through the mount failed: {setup['stderr'][-300:]}")
    names = ["A", "B"]
    runs = {"mv-file": [], "mv-dir": []}
    for wl in which:
        for i in range(b.p["reps_mv"]):
            src, dst = names[i % 2], names[(i + 1) % 2]
            path = "file" if wl == "mv-file" else "dir"
            with b.mount(name) as m:
                runs[wl].append(b.measure(name, f"mv {m.mnt}/mv/{path}-{src} {m.mnt}/mv/{path}-{dst}"))
        last, old = names[b.p["reps_mv"] % 2], names[(b.p["reps_mv"] + 1) % 2]
        if wl == "mv-file":
            checks = {"s3_size_at_new_name": b.size_of(f"mv/file-{last}"), "left_at_old_name": b.count(f"mv/file-{old}")}
        else:
            checks = {"objects_at_new_name": b.count(f"mv/dir-{last}/"), "left_at_old_name": b.count(f"mv/dir-{old}/"),
                      "files": n}
        b.row(name, wl, runs[wl], 1, "renames/s", checks)


def run_filesystem(b, name, workloads):
    log(f"{b.mode}: {name}")
    with Server(b.rundir, f"{b.mode}-{name}", b.a.delay_ms if b.mode != "lat0" else 0) as server:
        b.server = server
        b.s3().create_bucket(Bucket=b.bucket)
        if any(w in workloads for w in ("read", "randread", "read-warm")) and "write" not in workloads:
            b.s3().upload_file(b.data["big"], b.bucket, "big.bin")
        steps = [("write", wl_write), ("read", wl_read), ("randread", wl_randread), ("read-warm", wl_read_warm),
                 ("create", wl_create)]
        for wl, fn in steps:
            if wl in ("read", "randread", "read-warm") and wl in workloads:
                ensure_big_object(b, name)
            if wl in workloads:
                guarded(b, name, wl, lambda: fn(b, name))
        if "ls" in workloads or "ls-warm" in workloads:
            guarded(b, name, "ls", lambda: wl_ls(b, name, workloads))
        if "rsync" in workloads:
            guarded(b, name, "rsync", lambda: wl_rsync(b, name, workloads))
        mv = [w for w in ("mv-file", "mv-dir") if w in workloads]
        if mv:
            guarded(b, name, "+".join(mv), lambda: wl_mv(b, name, mv))
        b.server = None


def ensure_big_object(b, name):
    """The reads need the file the write workload stored. A filesystem that acknowledges before uploading may not have
    stored it when its write was measured (its row then shows the problem); the reads get it from boto3 instead."""
    size = b.size_of("big.bin")
    if size != b.p["big_mib"] * MiB and not SYSTEMS[name].get("encrypted"):
        log(f"  {name}: big.bin is {size} after the write workload; uploading it with boto3 for the reads")
        b.s3().upload_file(b.data["big"], b.bucket, "big.bin")


def guarded(b, name, wl, fn):
    b.mounts_in_workload = []
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        log(f"  {name} {wl} FAILED: {e!r}")
        b.emit({"fs": name, "workload": wl, "error": repr(e)[:500]})
        if b.current_mount is not None and is_mounted(b.current_mount.mnt):
            subprocess.run(["fusermount3", "-uz", b.current_mount.mnt], capture_output=True)


def run_ceiling(b, workloads):
    log(f"{b.mode}: ceiling (boto3 straight to the server)")
    with Server(b.rundir, f"{b.mode}-ceiling", b.a.delay_ms if b.mode != "lat0" else 0) as server:
        b.server = server
        s3 = b.s3()
        s3.create_bucket(Bucket=b.bucket)

        def emit(row):
            b.emit(row)
            log(f"  ceiling      {row['workload']:12} {row['median_s']:.2f} s  {row['rate']:.1f} {row['unit']}  "
                f"({row['name']})")
        try:
            ceiling.run(s3, b.bucket, dict(b.p, tree_files=b.data["tree_files"]), set(workloads), emit,
                        lambda: proc_cpu(server.pid) or 0.0)
        except Exception as e:  # noqa: BLE001
            log(f"  ceiling FAILED: {e!r}")
            b.emit({"fs": "ceiling", "workload": "?", "error": repr(e)[:500]})
        b.server = None


# ------------------------------------------------------------------------------------------------- test data ---
def prepare_data(root, big_mib, tree_spec):
    os.makedirs(root, exist_ok=True)
    big = os.path.join(root, f"random-{big_mib}MiB.bin")
    if not os.path.exists(big) or os.path.getsize(big) != big_mib * MiB:
        log(f"writing {big}")
        with open(big + ".tmp", "wb") as f:
            for _ in range(big_mib):
                f.write(os.urandom(MiB))
        os.rename(big + ".tmp", big)
    subprocess.run(["cat", big], stdout=subprocess.DEVNULL)  # into the page cache: writes measure the mount only
    a, c, n, nbig = tree_spec
    tree = os.path.join(root, f"tree-{a}x{c}x{n}+{nbig}")
    if not os.path.exists(tree + ".done"):
        log(f"writing {tree}")
        shutil.rmtree(tree, ignore_errors=True)
        rnd = random.Random(5)
        for i in range(a):
            for j in range(c):
                d = os.path.join(tree, f"dir{i}", f"sub{j}")
                os.makedirs(d)
                for k in range(n):
                    with open(os.path.join(d, f"file{k}.txt"), "wb") as f:
                        f.write(rnd.randbytes(rnd.randint(1024, 16384)))
        if nbig:
            os.makedirs(os.path.join(tree, "big"))
        for i in range(nbig):
            with open(os.path.join(tree, "big", f"blob{i}.bin"), "wb") as f:
                f.write(rnd.randbytes(4 * MiB))
        for d, dirs, files in os.walk(tree):  # fixed mtimes: every run copies an identical tree
            for x in dirs + files:
                os.utime(os.path.join(d, x), (1700000000, 1700000000))
        os.utime(tree, (1700000000, 1700000000))
        open(tree + ".done", "w").close()
    files = []
    for d, dirs, names in os.walk(tree):
        dirs.sort()
        for x in sorted(names):
            path = os.path.join(d, x)
            files.append((os.path.relpath(path, tree), open(path, "rb").read()))
    return {"big": big, "tree": tree, "tree_files": files, "tree_count": len(files),
            "tree_mib": sum(len(x[1]) for x in files) / MiB}


# ---------------------------------------------------------------------------------------------------- meta ---
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def collect_meta(args, profile):
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    mem = sh("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo")
    pyver = platform.python_version()
    import importlib.metadata as md

    def ver(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return "?"

    dirty = sh(f"git -C {REPO} status --porcelain -- Sources Package.swift Package.resolved")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"), "argv": sys.argv, "profile": args.profile,
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(),
                    "loadavg_start": open("/proc/loadavg").read().split()[:3]},
        "versions": {
            "coffer": (sh(f"git -C {REPO} rev-parse --short HEAD") or "?") + (" + uncommitted changes" if dirty else "")
            + f", release build ({sh('swift --version 2>&1 | head -1')})",
            "s3fs": sh("s3fs --version 2>&1 | head -1"),
            "s3fs_package": sh("dpkg-query -W -f='${Version}' s3fs"),
            "rclone": sh("rclone version 2>&1 | head -1"),
            "rclone_package": sh("dpkg-query -W -f='${Version}' rclone"),
            "fuse3": sh("dpkg-query -W -f='${Version}' fuse3"),
            "fio": sh("fio --version"), "rsync": sh("rsync --version | head -1"),
            "moto": ver("moto"), "werkzeug": ver("werkzeug"), "flask": ver("flask"), "boto3": ver("boto3"),
            "python": pyver},
        "profile_settings": {k: v for k, v in profile.items() if k != "lat"},
        "latency_settings": profile.get("lat", {}),
        "delay_ms": args.delay_ms,
    }


# ---------------------------------------------------------------------------------------------------- main ---
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--systems", default="", help="comma list (default: the profile's)")
    ap.add_argument("--modes", default="", help="lat0,lat10 (default: the profile's)")
    ap.add_argument("--workloads", default="", help="comma list for lat0 (default: all)")
    ap.add_argument("--lat-workloads", default=",".join(LAT_WORKLOADS))
    ap.add_argument("--delay-ms", type=float, default=10.0, help="added per-request latency of the latency mode")
    ap.add_argument("--big-mib", type=int, default=0)
    ap.add_argument("--no-ceiling", action="store_true")
    ap.add_argument("--coffer", default=os.path.join(REPO, ".build-bench", "release", "coffer"))
    ap.add_argument("--work", default=os.environ.get("BENCH_WORK", "/var/tmp/coffer-bench"))
    ap.add_argument("--doc", default="", help="write the markdown report here as well")
    args = ap.parse_args()

    args.coffer = os.path.abspath(args.coffer)
    profile = dict(PROFILES[args.profile])
    if args.big_mib:
        profile["big_mib"] = args.big_mib
    if args.systems:
        profile["systems"] = args.systems.split(",")
    unknown = [s for s in profile["systems"] if s not in SYSTEMS]
    if unknown:
        sys.exit(f"unknown filesystem(s) {unknown}; known: {', '.join(SYSTEMS)}")
    modes = args.modes.split(",") if args.modes else profile["modes"]
    lat_mode = f"lat{args.delay_ms:g}"
    modes = [lat_mode if m.startswith("lat") and m != "lat0" else m for m in modes]
    workloads = args.workloads.split(",") if args.workloads else LAT0_WORKLOADS
    lat_workloads = args.lat_workloads.split(",") if args.lat_workloads else []

    stamp = time.strftime("%Y%m%d-%H%M%S")
    rundir = os.path.join(args.work, "runs", f"{stamp}-{args.profile}")
    os.makedirs(rundir)
    atexit.register(emergency_cleanup)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt("SIGTERM")))
    log(f"results in {rundir}")
    started = time.monotonic()
    meta = collect_meta(args, profile)
    meta["modes"] = modes
    with open(os.path.join(rundir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)

    try:
        for mode in modes:
            p = dict(profile)
            wls = workloads
            if mode != "lat0":
                p.update(profile.get("lat", {}))
                wls = lat_workloads
            if args.systems:
                p["systems"] = args.systems.split(",")
            data = prepare_data(os.path.join(args.work, "data"), p["big_mib"], p["tree"])
            b = Bench(args, p, rundir, data)
            b.mode = mode
            meta.setdefault("systems_by_mode", {})[mode] = p["systems"]
            meta.setdefault("workloads_by_mode", {})[mode] = wls
            meta.setdefault("settings_by_mode", {})[mode] = {k: v for k, v in p.items() if k not in ("lat", "systems", "modes")}
            meta["settings_by_mode"][mode]["tree_files"] = data["tree_count"]
            meta["settings_by_mode"][mode]["tree_mib"] = round(data["tree_mib"], 1)
            if not args.no_ceiling:
                run_ceiling(b, wls)
            for name in p["systems"]:
                run_filesystem(b, name, wls)
    except KeyboardInterrupt:
        log("interrupted")
        raise
    finally:
        emergency_cleanup()
        meta["duration_s"] = time.monotonic() - started
        meta["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        with open(os.path.join(rundir, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        log(f"took {meta['duration_s'] / 60:.1f} min")

    import report
    text = report.render(rundir)
    with open(os.path.join(rundir, "benchmarks.md"), "w") as f:
        f.write(text)
    if args.doc:
        with open(args.doc, "w") as f:
            f.write(text)
        log(f"wrote {args.doc}")
    print(text)


if __name__ == "__main__":
    main()
