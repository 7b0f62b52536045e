#!/usr/bin/env python3
"""report.py RUNDIR: renders a run of bench.py (meta.json + results.jsonl) as markdown (docs/benchmarks.md)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3log import TYPES  # noqa: E402
from systems import BASELINE, ORDER, SYSTEMS, display_command  # noqa: E402

# workload id -> (how its figure is shown: "rate" = amount per second, "time" = seconds; description template)
WORKLOADS = {
    "write": ("rate", "sequential write, {big_mib} MiB (`dd bs=1M conv=fsync`)"),
    "read": ("rate", "cold sequential read, {big_mib} MiB (`dd bs=1M`)"),
    "randread": ("rate", "random 4 KiB reads, QD1 (fio psync, 8 MiB in 2048 reads, cold)"),
    "read-warm": ("rate", "the same `dd` after a remount keeping the cache directory of an earlier read, disk cache "
                          "on (Coffer `--data-cache-mib 1024`; s3fs-tuned and rclone-full have theirs on anyway)"),
    "create": ("rate", "create {creates} files of 4 KiB (one process)"),
    "ls": ("time", "`ls -l` of {ls_entries} objects uploaded with boto3, cold"),
    "ls-warm": ("time", "the same `ls -l` after a remount keeping the cache directory of an earlier one"),
    "rsync": ("rate", "`rsync -a` of {tree_files} files, {tree_mib} MiB"),
    "rsync-again": ("time", "the same `rsync -a` again after a remount (nothing changed)"),
    "rsync-warm": ("time", "`rsync -a` again after a remount keeping the first rsync's cache directory"),
    "mv-file": ("time", "`mv` of a {mv_file_mib} MiB file"),
    "mv-dir": ("time", "`mv` of a directory of {mv_dir_files} files"),
}
SHORT = {"write": "write", "read": "read", "randread": "random read", "read-warm": "read, warm remount",
         "create": "create", "ls": "ls -l",
         "ls-warm": "ls -l, warm remount", "rsync": "rsync", "rsync-again": "rsync again",
         "rsync-warm": "rsync again, warm remount", "mv-file": "mv file", "mv-dir": "mv dir"}


def load(rundir):
    meta = json.load(open(os.path.join(rundir, "meta.json")))
    rows = []
    path = os.path.join(rundir, "results.jsonl")
    if os.path.exists(path):
        for line in open(path):
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    return meta, rows


def fmt(x, digits=None):
    if x is None:
        return "–"
    if digits is None:
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return f"{x:,.{digits}f}"


def problems(r):
    """What makes a row not a clean measurement (shown next to its figures)."""
    out = []
    if r.get("error") and not r.get("n"):
        return [f"FAILED: {r['error'][:160]}"]
    c = r.get("checks") or {}
    wl = r["workload"]
    if r.get("timeouts"):
        out.append(f"{r['timeouts']} of {r['n']} timed out")
    for f in r.get("failures") or []:
        out.append(f"failed ({f[:120]})")
    if wl == "write" and c.get("s3_size_ok") is False:
        out.append(f"object in S3 has size {c.get('s3_size')}")
    if wl in ("read", "read-warm") and c.get("content_matches") is False:
        out.append("the bytes read differ from the bytes written")
    if wl in ("read", "read-warm") and any(x is not None and x != c.get("bytes_read", [None])[0] for x in c.get("bytes_read", [])):
        out.append(f"bytes read {c['bytes_read']}")
    if wl == "create" and c.get("files_created") != c.get("objects_in_s3"):
        out.append(f"{c.get('files_created')} files created, {c.get('objects_in_s3')} objects in S3")
    if wl == "create" and c.get("note"):
        out.append(c["note"])
    if wl in ("ls", "ls-warm") and any(x != str(c.get("expected")) for x in c.get("ls_lines", [])):
        out.append(f"ls printed {c.get('ls_lines')} lines, expected {c.get('expected')}")
    if wl == "rsync" and c.get("objects_in_s3") is not None and c.get("objects_in_s3") < c.get("files", 0):
        out.append(f"{c['objects_in_s3']} of {c['files']} objects in S3")
    if wl in ("rsync-again", "rsync-warm") and c.get("files_transferred"):
        out.append(f"re-sent {c['files_transferred']} files")
    if wl in ("rsync-again", "rsync-warm") and c.get("note"):
        out.append(c["note"])
    if wl == "mv-dir" and (c.get("objects_at_new_name") != c.get("files") or c.get("left_at_old_name")):
        out.append(f"{c.get('objects_at_new_name')} objects at the new name, {c.get('left_at_old_name')} left")
    if wl == "mv-file" and c.get("left_at_old_name"):
        out.append("the old name still exists")
    if r.get("unmount_requests"):
        out.append(f"{r['unmount_requests']} requests only at unmount")
    return out


def figure(r, kind):
    """(value, unit, comparable rate) of a row: rate rows show the rate, time rows the median durable seconds."""
    if not r or r.get("rate") is None:
        return None, None, None
    if kind == "time":
        if r["fs"] == "ceiling":
            return r["median_s"], "s", r["rate"]
        return r["durable_med"], "s", r["rate"]
    return r["rate"], r["unit"], r["rate"]


class Run:
    def __init__(self, rundir):
        self.meta, rows = load(rundir)
        self.rows = {}
        self.ceil = {}
        for r in rows:
            mode = r.get("mode", "lat0")
            if r["fs"] == "ceiling":
                if r.get("rate"):
                    self.ceil.setdefault((mode, r["workload"]), []).append(r)
            else:
                self.rows[(mode, r["fs"], r["workload"])] = r
        self.modes = self.meta.get("modes", ["lat0"])

    def systems(self, mode):
        listed = self.meta.get("systems_by_mode", {}).get(mode, ORDER)
        return [s for s in ORDER if s in listed] + [s for s in listed if s not in ORDER]

    def workloads(self, mode):
        listed = self.meta.get("workloads_by_mode", {}).get(mode, list(WORKLOADS))
        return [w for w in WORKLOADS if w in listed]

    def settings(self, mode):
        return self.meta.get("settings_by_mode", {}).get(mode, {})

    def describe(self, mode, wl):
        try:
            return WORKLOADS[wl][1].format(**self.settings(mode))
        except (KeyError, IndexError):
            return WORKLOADS[wl][1]

    def best_ceiling(self, mode, wl):
        c = self.ceil.get((mode, wl))
        return max(c, key=lambda r: r["rate"]) if c else None

    def ratio(self, mode, fs, wl):
        """fs's speed over s3fs-default's (>1: faster), from the rates (same amounts)."""
        r, base = self.rows.get((mode, fs, wl)), self.rows.get((mode, BASELINE, wl))
        if not r or not base or not r.get("rate") or not base.get("rate"):
            return None
        return r["rate"] / base["rate"]

    def of_ceiling(self, mode, fs, wl):
        r, c = self.rows.get((mode, fs, wl)), self.best_ceiling(mode, wl)
        if not r or not c or not r.get("rate"):
            return None
        return r["rate"] / c["rate"]


def cell(run, mode, fs, wl):
    kind = WORKLOADS[wl][0]
    r = run.rows.get((mode, fs, wl))
    if r is None:
        return "not run"
    v, unit, _ = figure(r, kind)
    bad = problems(r)
    if v is None:
        return "**" + (bad[0] if bad else "failed") + "**"
    text = f"{fmt(v)} {unit}"
    if fs != BASELINE:
        x = run.ratio(mode, fs, wl)
        if x is not None:
            text += f" ({x:.2f}×)"
    if bad:
        text += " ⚠"
    return text


def render(rundir):
    run = Run(rundir)
    m = run.meta
    out = []
    w = out.append
    quick = m.get("profile") == "quick"
    w("# Benchmarks: Coffer, s3fs and rclone mount on one local S3 server\n")
    w(f"Generated by `{'QUICK=1 ' if quick else ''}make bench` (`scripts/bench/`) on {m.get('date')}; profile "
      f"**{m.get('profile')}**, {fmt(m.get('duration_s', 0) / 60, 1)} minutes. Every filesystem ran against the same "
      "moto S3 server on loopback, started fresh with an empty bucket for each filesystem. The claims are the "
      "**ratios** and the **request counts**; the absolute figures hold only for this machine and this server "
      "(moto, one Python process, is the bottleneck for most workloads — see *Method*).\n")
    if quick:
        w("> This is a QUICK run (small sizes, one repetition, three filesystems). The full table comes from "
          "`make bench` without QUICK.\n")
    w("Ratios in parentheses are speed relative to s3fs with default options: **2.00× = twice as fast as "
      "s3fs-default**, 0.50× = half as fast. Times (s) are medians of the durable time: from the start of the "
      "command until the last S3 request it caused had been answered, so asynchronous write-back is included. "
      "⚠ marks a result with a problem; see *Problems* below the tables.\n")

    for mode in run.modes:
        systems = run.systems(mode)
        wls = run.workloads(mode)
        if not wls:
            continue
        lat = mode != "lat0"
        title = (f"Latency mode: {m.get('delay_ms', 10):g} ms added to every S3 request" if lat
                 else "No added latency")
        w(f"\n## {title} ({mode})\n")
        if lat:
            w("The S3 server sleeps before answering each request, as a round trip from EC2 to S3 would cost "
              "(this kernel has no `netem`). The reads and the metadata and small-file workloads are repeated here, "
              "once each (each command capped at 150 s, fio's random reads at 30 s: a peer that did not finish shows "
              "the rate of what it did by then): " + "; ".join(f"{SHORT[x]}: {run.describe(mode, x)}"
                                                                   for x in wls) + ".\n")
        w("| workload | " + " | ".join(systems) + " | ceiling (boto3) |")
        w("|---|" + "---|" * (len(systems) + 1))
        for wl in wls:
            c = run.best_ceiling(mode, wl)
            cv = figure(c, WORKLOADS[wl][0])
            ctext = f"{fmt(cv[0])} {cv[1]}" if c else "–"
            w(f"| {SHORT[wl]}: {run.describe(mode, wl)} | " + " | ".join(cell(run, mode, fs, wl) for fs in systems)
              + f" | {ctext} |")

        if "coffer" in systems:
            w(f"\n### Coffer against s3fs and the ceiling ({mode})\n")
            w("Requests per item = requests per file (per entry for ls, per rename for mv, per MiB for write and "
              "read). % of ceiling above 100% means the filesystem beat the boto3 client (caching, or fewer requests "
              "than the ceiling's recipe).\n")
            w("| workload | Coffer | × s3fs-default | % of ceiling | best peer | Coffer requests | "
              "s3fs-default requests | requests per item, Coffer / s3fs-default | Coffer peak RSS |")
            w("|---|---|---|---|---|---|---|---|---|")
            for wl in wls:
                r = run.rows.get((mode, "coffer", wl))
                base = run.rows.get((mode, BASELINE, wl))
                v = figure(r, WORKLOADS[wl][0]) if r else (None, None, None)
                x = run.ratio(mode, "coffer", wl)
                pc = run.of_ceiling(mode, "coffer", wl)
                peers = [(fs, run.rows.get((mode, fs, wl))) for fs in systems if fs != "coffer"]
                peers = [(fs, p) for fs, p in peers if p and p.get("rate") and not problems(p)]
                best = max(peers, key=lambda fp: fp[1]["rate"], default=None)
                best_t = "–"
                if best:
                    bv = figure(best[1], WORKLOADS[wl][0])
                    best_t = f"{best[0]} {fmt(bv[0])} {bv[1]}"
                w(f"| {SHORT[wl]} | {(fmt(v[0]) + ' ' + v[1]) if v[0] is not None else cell(run, mode, 'coffer', wl)}"
                  f"{' ⚠' if r and problems(r) and v[0] is not None else ''} | {fmt(x) + '×' if x else '–'} | "
                  f"{fmt(100 * pc, 0) + '%' if pc else '–'} | {best_t} | {reqs(r)} | {reqs(base)} | "
                  f"{per_item(run, mode, r)} / {per_item(run, mode, base)} | "
                  f"{fmt(r.get('peak_rss_mib'), 0) + ' MiB' if r and r.get('peak_rss_mib') else '–'} |")

        w(f"\n### S3 requests by type ({mode})\n")
        w("Counted from the server's request log; the median over repetitions. MPU = multipart "
          "(initiate, parts, part copies, complete, abort); DELETE includes multi-object deletes (one request each). "
          "Request counts do not depend on machine noise: for metadata workloads they are the figure to compare. "
          "MiB down counts every GET response, LIST responses included.\n")
        w("| workload | fs | " + " | ".join(TYPES) + " | total | 4xx | MiB up / down |")
        w("|---|---|" + "---|" * (len(TYPES) + 3))
        for wl in wls:
            for fs in systems:
                r = run.rows.get((mode, fs, wl))
                if not r or not r.get("req"):
                    continue
                q, d = r["req"], r["detail"]
                w(f"| {SHORT[wl]} | {fs} | " + " | ".join(fmt(q.get(t), 0) for t in TYPES)
                  + f" | **{fmt(q.get('TOTAL'), 0)}** | {fmt(d.get('status_4xx'), 0)} | "
                  f"{fmt(d.get('mib_up'), 0)} / {fmt(d.get('mib_down'), 0)} |")

        writes = [wl for wl in ("write", "create", "rsync", "mv-file", "mv-dir") if wl in wls]
        if writes:
            w(f"\n### Write-back: what the application saw vs. when the data was in S3 ({mode})\n")
            w("App = wall time of the command (dd, the create loop, rsync, mv). Durable = until the last S3 "
              "request the workload caused. A filesystem that acknowledges before uploading shows app ≪ durable: "
              "its data is not in S3 when the application is told it was written.\n")
            w("| workload | " + " | ".join(f"{fs} app / durable" for fs in systems) + " |")
            w("|---|" + "---|" * len(systems))
            for wl in writes:
                cells = []
                for fs in systems:
                    r = run.rows.get((mode, fs, wl))
                    if not r or r.get("app_med") is None:
                        cells.append("–")
                        continue
                    a, d = r["app_med"], r["durable_med"]
                    mark = " **(acknowledged early)**" if d > a + 1.0 and d > 1.5 * a else ""
                    cells.append(f"{fmt(a)} / {fmt(d)} s{mark}")
                w(f"| {SHORT[wl]} | " + " | ".join(cells) + " |")

        reads = [wl for wl in ("read", "randread", "read-warm") if wl in wls]
        if reads:
            w(f"\n### Read path: GETs, bytes downloaded per byte read, peak RSS ({mode})\n")
            w("Per filesystem: GET requests, MiB downloaded (every GET response) per MiB the application read, and "
              "the FUSE process's peak RSS. A random read reads 8 MiB in 2048 reads of 4 KiB; the sequential reads "
              "read the whole file once per repetition.\n")
            w("| workload | " + " | ".join(systems) + " |")
            w("|---|" + "---|" * len(systems))
            for wl in reads:
                cells = []
                for fs in systems:
                    r = run.rows.get((mode, fs, wl))
                    if not r or not r.get("req"):
                        cells.append("–")
                        continue
                    read_mib = 8 if wl == "randread" else run.settings(mode).get("big_mib")
                    down = r["detail"].get("mib_down")
                    ratio = f"{down / read_mib:.2f}" if down is not None and read_mib else "–"
                    rss = f"{fmt(r.get('peak_rss_mib'), 0)} MiB" if r.get("peak_rss_mib") else "–"
                    cells.append(f"{fmt(r['req'].get('GET'), 0)} GETs, {ratio} down/read, {rss}")
                w(f"| {SHORT[wl]} | " + " | ".join(cells) + " |")

        w(f"\n### Peak RSS of the FUSE process, MiB ({mode})\n")
        w("Maximum resident set size over the life of each mount (`/usr/bin/time -v`), the largest over the "
          "mounts of the workload.\n")
        w("| workload | " + " | ".join(systems) + " |")
        w("|---|" + "---|" * len(systems))
        for wl in wls:
            vals = []
            for fs in systems:
                r = run.rows.get((mode, fs, wl))
                vals.append(fmt(r.get("peak_rss_mib"), 0) if r and r.get("peak_rss_mib") else "–")
            w(f"| {SHORT[wl]} | " + " | ".join(vals) + " |")

        w(f"\n### Details ({mode})\n")
        w("Seconds are min / median / max over the repetitions (n). CPU: seconds used by the FUSE process and by "
          "the S3 server during the workload (median); busy = cores in use on the whole machine.\n")
        w("| workload | fs | n | app s | durable s | rate | CPU FUSE / server s | busy | notes |")
        w("|---|---|---|---|---|---|---|---|---|")
        for wl in wls:
            for fs in systems:
                r = run.rows.get((mode, fs, wl))
                if not r:
                    continue
                if not r.get("n"):
                    w(f"| {SHORT[wl]} | {fs} | 0 | | | | | | FAILED: {r.get('error', '')[:200]} |")
                    continue
                notes = []
                c = r.get("checks") or {}
                if "fio" in c:
                    lat_ = [f"{x['lat_ms_mean']:.2f}" for x in c["fio"] if "lat_ms_mean" in x]
                    if lat_:
                        notes.append("mean read latency " + " / ".join(lat_) + " ms")
                if r["detail"].get("complete_s", 0) > 0.5:
                    notes.append(f"{r['detail']['complete_s']:.1f} s inside moto's CompleteMultipartUpload")
                if r["detail"].get("mpu_parts"):
                    notes.append(f"{r['detail']['mpu_parts']:g} parts")
                if r["detail"].get("mpu_copy_parts"):
                    notes.append(f"{r['detail']['mpu_copy_parts']:g} part copies")
                if r["detail"].get("ranged_gets"):
                    notes.append(f"{r['detail']['ranged_gets']:g} ranged GETs")
                if "files_transferred" in c:
                    notes.append(f"rsync transferred {c['files_transferred']}")
                notes += problems(r)
                w(f"| {SHORT[wl]} | {fs} | {r['n']} | {mmm(r['app'])} | {mmm(r['durable'])} | "
                  f"{fmt(r['rate']) + ' ' + r['unit'] if r.get('rate') else '–'} | "
                  f"{fmt(r.get('cpu_fs_s'))} / {fmt(r.get('cpu_server_s'))} | {fmt(r.get('machine_busy_cores'))} | "
                  f"{'; '.join(notes)} |")

        cl = [(wl, c) for wl in wls for c in run.ceil.get((mode, wl), [])]
        if cl:
            w(f"\n### Ceiling: boto3 straight to the same server ({mode})\n")
            w("| for workload | what | n | seconds min / med / max | rate | server CPU (cores) |")
            w("|---|---|---|---|---|---|")
            for wl, c in cl:
                w(f"| {SHORT[wl]} | {c['name']} | {c['n']} | {mmm(c['seconds'])} | {fmt(c['rate'])} {c['unit']} | "
                  f"{fmt(c.get('server_cpu'))} |")

    slow = behind(run)
    if slow:
        w("\n## Where Coffer is behind\n")
        w("Workloads where Coffer is below 0.8× s3fs-default or below half the fastest peer, or its peak RSS is over "
          "200 MiB:\n")
        for text in slow:
            w(f"- {text}")
        w("")

    bad = [(mode, r) for (mode, fs, wl), r in run.rows.items() if problems(r)]
    w("\n## Problems\n")
    if not bad:
        w("None: every workload finished, and every check passed (sizes in S3, bytes read back, `ls` line counts, "
          "files transferred, objects after renames).\n")
    else:
        for mode, r in sorted(bad, key=lambda x: (x[0], ORDER.index(x[1]["fs"]) if x[1]["fs"] in ORDER else 99)):
            w(f"- {mode}, **{r['fs']}**, {SHORT.get(r['workload'], r['workload'])}: " + "; ".join(problems(r))
              + (f" (requests: {reqs(r)})" if r.get("req") else ""))
        w("")

    w("\n## Setup\n")
    for note in m.get("notes", []):
        w(f"- **Note.** {note}")
    mc = m.get("machine", {})
    w(f"- Machine: {mc.get('cpu')}, {mc.get('cores')} cores, {mc.get('memory')}, Linux {mc.get('kernel')}; "
      f"load average at the start {' '.join(mc.get('loadavg_start', []))}, at the end "
      f"{' '.join(m.get('loadavg_end', []))}. Other work on the machine shows up in the *busy* column.")
    v = m.get("versions", {})
    w(f"- Coffer {v.get('coffer')}")
    w(f"- s3fs-fuse: {v.get('s3fs')} (Debian {v.get('s3fs_package')}); rclone: {v.get('rclone')} "
      f"(Debian {v.get('rclone_package')}); fuse3 {v.get('fuse3')}")
    w(f"- Server: moto {v.get('moto')} (werkzeug {v.get('werkzeug')}, Flask {v.get('flask')}) through "
      "`scripts/s3server.py --log --fast-range --null-version`, on 127.0.0.1; Python "
      f"{v.get('python')}; client tools: {v.get('fio')}, {v.get('rsync')}, boto3 {v.get('boto3')}")
    for mode in run.modes:
        s = run.settings(mode)
        if s:
            w(f"- Sizes ({mode}): " + ", ".join(f"{k}={s[k]}" for k in sorted(s) if k not in ("timeout",))
              + f"; every command capped at {s.get('timeout')} s")
    w("\nMount commands (`$CACHEDIR` is a new empty directory for every mount, deleted after it):\n")
    w("| fs | options | command |")
    w("|---|---|---|")
    shown = []
    for mode in run.modes:
        shown += [s for s in run.systems(mode) if s not in shown]
    for fs in shown:
        if fs in SYSTEMS:
            w(f"| {fs} | {SYSTEMS[fs]['options']} | `{display_command(fs)}` |")
    w(METHOD)
    return "\n".join(out) + "\n"


def per_item(run, mode, r):
    """Requests per file / entry / rename / MiB of a row."""
    if not r or not r.get("req") or not r["req"].get("TOTAL"):
        return "–"
    s = run.settings(mode)
    items = {"write": s.get("big_mib"), "read": s.get("big_mib"), "read-warm": s.get("big_mib"), "randread": 2048,
             "create": r.get("amount"),
             "ls": s.get("ls_entries"), "ls-warm": s.get("ls_entries"), "rsync": s.get("tree_files"),
             "rsync-again": s.get("tree_files"), "rsync-warm": s.get("tree_files"),
             "mv-file": 1, "mv-dir": s.get("mv_dir_files")}.get(r["workload"])
    return fmt(r["req"]["TOTAL"] / items, 2 if r["req"]["TOTAL"] / items < 10 else 1) if items else "–"


def behind(run):
    """Workloads where Coffer is well behind s3fs-default or the best peer."""
    out = []
    for mode in run.modes:
        for wl in run.workloads(mode):
            r = run.rows.get((mode, "coffer", wl))
            if not r or not r.get("rate"):
                continue
            x = run.ratio(mode, "coffer", wl)
            peers = [(fs, run.rows.get((mode, fs, wl))) for fs in run.systems(mode) if fs != "coffer"]
            peers = [(fs, p) for fs, p in peers if p and p.get("rate") and not problems(p)]
            best = max(peers, key=lambda fp: fp[1]["rate"], default=None)
            vs_best = r["rate"] / best[1]["rate"] if best else None
            if (x is not None and x < 0.8) or (vs_best is not None and vs_best < 0.5):
                text = f"{mode}, {SHORT[wl]}: Coffer {fmt(x) + '× s3fs-default' if x else ''}"
                if best and best[0] != BASELINE:
                    text += f", {fmt(vs_best)}× {best[0]} (the fastest peer)"
                text += f"; requests: Coffer {reqs(r)}, s3fs-default {reqs(run.rows.get((mode, BASELINE, wl)))}"
                if r["detail"].get("mib_down", 0) >= 1:
                    text += f"; Coffer downloaded {fmt(r['detail']['mib_down'], 0)} MiB"
                if r.get("peak_rss_mib"):
                    text += f"; peak RSS {fmt(r['peak_rss_mib'], 0)} MiB"
                out.append(text)
    for mode in run.modes:
        for wl in run.workloads(mode):
            r, base = run.rows.get((mode, "coffer", wl)), run.rows.get((mode, BASELINE, wl))
            if r and base and (r.get("peak_rss_mib") or 0) > 200 and base.get("peak_rss_mib"):
                out.append(f"{mode}, {SHORT[wl]}: Coffer's peak RSS {fmt(r['peak_rss_mib'], 0)} MiB, s3fs-default's "
                           f"{fmt(base['peak_rss_mib'], 0)} MiB")
    return out


def reqs(r):
    """Compact request counts: total (type counts)."""
    if not r or not r.get("req"):
        return "–"
    q = r["req"]
    parts = [f"{fmt(q[t], 0)} {t}" for t in TYPES if q.get(t)]
    return f"{fmt(q.get('TOTAL'), 0)}" + (f" ({', '.join(parts)})" if parts else "")


def mmm(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–"
    xs = sorted(xs)
    if len(xs) == 1:
        return fmt(xs[0])
    return f"{fmt(xs[0])} / {fmt(xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2)}" \
           f" / {fmt(xs[-1])}"


METHOD = """
## Method

- **One server per filesystem.** `scripts/bench/bench.py` starts `scripts/s3server.py` (moto's S3 app on
  werkzeug's threaded server) on a free loopback port for each filesystem and mode, so every filesystem starts with
  an empty bucket and an empty request log. The server logs one line per request (method, path, query, whether
  `x-amz-copy-source` was sent, Range, bytes, status, duration); the driver remembers the log's size before and
  after each command and counts the lines in between by type.
- **Two server options matter.** `--fast-range`: stock moto 5.2.1 copies the whole object for every ranged GET
  (a 4 KiB read of a 256 MiB object took ~150 ms), which would measure moto instead of the filesystems; with it a
  ranged GET reads only its range. `--null-version`: rclone sends `versionId=null` after multipart uploads, which
  S3 accepts and moto refuses.
- **Cold caches.** Every workload mounts with a new, empty cache directory and unmounts at the end; reads happen
  on a fresh mount after the write's mount is gone. The -warm rows are the exception: they remount keeping the
  cache directory of an earlier mount (for read-warm, one unmeasured read filled it), as an operator's restart
  would; the kernel's page cache is empty on every new mount. The local source file is in the page cache, so writes measure
  the mount, not the disk.
- **Done = durable.** After each command the driver waits until the request log has been quiet for the
  filesystem's settle time (1.5 s; 7 s for rclone-full, whose write-back starts 5 s after close), and takes the
  end of the last request as the durable time. Rates use the durable time. Requests made only during unmount
  are reported as a problem.
- **Bucket contents.** Before create, ls, rsync and mv the bucket is emptied except for the large file (moto's
  LIST is O(objects in the bucket)). The `ls` objects are uploaded with boto3: no metadata, no directory marker.
- **Ceiling.** boto3 directly against a fresh server of the same kind: multipart PUT (8 MiB parts, 8 threads),
  ranged GETs (8 MiB, 8 threads) and one streaming GET, 4 KiB ranged GETs one at a time, 4 KiB PUTs one at a time
  and with 16 threads, LIST (and LIST + HEAD each), the rsync tree's files PUT one at a time and with 16 threads,
  CopyObject + DeleteObject. The best of each is the ceiling. The client is Python too and shares the two cores
  with the server, so for small requests it is what one Python client reaches, not a hard bound — filesystems
  can beat it on requests per second.
- **The server is the bottleneck** for nearly everything but sequential reads: moto is one Python process (one
  core under the GIL) and spends a few ms of CPU per request; its CompleteMultipartUpload copies the whole
  object. At zero added latency, a metadata workload's time is roughly its request count times that cost, which
  is why request counts are shown everywhere. Against real S3 the seconds would differ; the request counts carry
  over.
- **Large file: 512 MiB, not 1 GiB.** moto stores at about 100 MiB/s at best (the ceiling's multipart PUT), and
  its CompleteMultipartUpload copies the whole object again; 3 writes, 3 reads and 2 random-read runs of 1 GiB on
  each of five filesystems would add about 4 minutes and lengthen the full run by a third. Run
  `scripts/bench/run.sh --big-mib 1024` for the 1 GiB figures.
- **Peak RSS** comes from `/usr/bin/time -v` wrapped around each mount command (the maximum over the mount's life).

Run it: `make bench` (about 65 minutes) or `QUICK=1 make bench` (under 5 minutes; prints its report and keeps
it under the run directory instead of replacing this page). Options and raw results: `scripts/bench/run.sh -h`;
every run keeps `results.jsonl`, `meta.json`, the request logs and the mount logs under
`/var/tmp/coffer-bench/runs/`. Re-render this page from a run with
`python3 scripts/bench/report.py /var/tmp/coffer-bench/runs/RUN > docs/benchmarks.md`.
"""


if __name__ == "__main__":
    sys.stdout.write(render(sys.argv[1]))
