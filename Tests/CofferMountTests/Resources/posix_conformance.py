#!/usr/bin/env python3
"""POSIX conformance tables, pjdfstest style, run on a directory of a Coffer mount through the kernel.

    posix_conformance.py DIR root        every case for the superuser (DIR must be empty)
    posix_conformance.py DIR prepare     as root: the fixtures the unprivileged cases need
    posix_conformance.py DIR user        as an unprivileged user (uid 65534), on the prepared DIR
    posix_conformance.py --markdown      the table for docs/semantics.md (both roles)

Each case is an operation, the result expected (`ok` or an errno name) and what stat must show afterwards. The
run prints one line per case that did not go as expected and exits 1 if there was any; the markdown table is
generated from the same cases, so the documentation says what the tests check.
"""
import ctypes
import errno
import os
import socket
import stat
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
OTHER_UID, OTHER_GID = 1234, 5678
USER = 65534


def renameat2(old, new, flags):
    if libc.renameat2(-100, old.encode(), -100, new.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def make(kind, path):
    if kind == "file":
        with open(path, "w") as f:
            f.write("data")
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "symlink":
        os.symlink("target", path)
    elif kind == "FIFO":
        os.mkfifo(path)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.close()
    elif kind == "char device":
        os.mknod(path, stat.S_IFCHR | 0o644, os.makedev(1, 3))
    elif kind == "block device":
        os.mknod(path, stat.S_IFBLK | 0o644, os.makedev(7, 0))


TYPE_TEST = {"file": stat.S_ISREG, "directory": stat.S_ISDIR, "symlink": stat.S_ISLNK, "FIFO": stat.S_ISFIFO,
             "socket": stat.S_ISSOCK, "char device": stat.S_ISCHR, "block device": stat.S_ISBLK}
KINDS = list(TYPE_TEST)


class Case:
    def __init__(self, role, operation, expected, run, check=None, linux=None):
        self.role, self.operation, self.expected, self.run, self.check, self.linux = \
            role, operation, expected, run, check, linux


def cases():
    c = []

    def add(role, operation, expected, run, check=None, linux=None):
        c.append(Case(role, operation, expected, run, check, linux))

    # Every create operation x every file type, then chmod, chown and utimensat on it.
    for kind in KINDS:
        n = "t-" + kind.replace(" ", "-")
        add("root", f"create a {kind}", "ok", lambda n=n, k=kind: make(k, n),
            lambda n=n, k=kind: TYPE_TEST[k](os.lstat(n).st_mode) or f"st_mode {oct(os.lstat(n).st_mode)}")
        if kind != "symlink":
            def chmod_case(n=n):
                before = os.lstat(n).st_ctime_ns
                time.sleep(0.01)
                os.chmod(n, 0o751)
                if os.lstat(n).st_ctime_ns <= before:
                    raise AssertionError("ctime did not advance")
            add("root", f"chmod 751 of a {kind}: mode set, ctime advances", "ok", chmod_case,
                lambda n=n: stat.S_IMODE(os.lstat(n).st_mode) == 0o751 or oct(os.lstat(n).st_mode))
        def chown_case(n=n):
            before = os.lstat(n).st_ctime_ns
            time.sleep(0.01)
            os.lchown(n, OTHER_UID, OTHER_GID)
            after = os.lstat(n)
            if after.st_ctime_ns <= before:
                raise AssertionError("ctime did not advance")
        add("root", f"chown {OTHER_UID}:{OTHER_GID} of a {kind}: owner set, ctime advances", "ok", chown_case,
            lambda n=n: (os.lstat(n).st_uid, os.lstat(n).st_gid) == (OTHER_UID, OTHER_GID) or "owner not set")
        def omit_case(n=n):
            atime = os.lstat(n).st_atime_ns
            # UTIME_OMIT for atime: Python has no UTIME_OMIT, so set the atime it already has.
            os.utime(n, ns=(atime, 1_500_000_000_123_456_789), follow_symlinks=False)
        add("root", f"utimensat of a {kind}: explicit mtime to the nanosecond", "ok", omit_case,
            lambda n=n: os.lstat(n).st_mtime_ns == 1_500_000_000_123_456_789 or os.lstat(n).st_mtime_ns)
        if kind != "symlink":
            add("root", f"utimensat UTIME_NOW of a {kind}", "ok", lambda n=n: os.utime(n, None),
                lambda n=n: abs(os.lstat(n).st_mtime - time.time()) < 30 or os.lstat(n).st_mtime)

    # Renames over each type.
    def prep(*pairs):
        for kind, name in pairs:
            make(kind, name)
            if kind == "directory" and name.endswith("full"):
                make("file", name + "/x")
    add("root", "rename file over file (target replaced)", "ok",
        lambda: (prep(("file", "r1"), ("file", "r2")), open("r1", "w").write("new"), os.rename("r1", "r2")),
        lambda: open("r2").read() == "new" and not os.path.exists("r1") or "wrong contents")
    add("root", "rename directory over empty directory", "ok",
        lambda: (prep(("directory", "rd1"), ("directory", "rd2")), make("file", "rd1/f"), os.rename("rd1", "rd2")),
        lambda: os.listdir("rd2") == ["f"] or os.listdir("rd2"))
    add("root", "rename directory over non-empty directory", "ENOTEMPTY",
        lambda: (prep(("directory", "rd3"), ("directory", "rd4full")), os.rename("rd3", "rd4full")))
    add("root", "rename file over directory", "EISDIR",
        lambda: (prep(("file", "rf1"), ("directory", "rf2")), os.rename("rf1", "rf2")))
    add("root", "rename directory over file", "ENOTDIR",
        lambda: (prep(("directory", "rf3"), ("file", "rf4")), os.rename("rf3", "rf4")))
    def rename_across():
        prep(("directory", "ra"), ("directory", "rb"), ("file", "ra/f"))
        before = os.lstat("ra/f").st_ctime_ns
        time.sleep(0.01)
        os.rename("ra/f", "rb/f")
        if os.lstat("rb/f").st_ctime_ns <= before:
            raise AssertionError("ctime did not advance")
    add("root", "rename across directories: ctime of the file advances", "ok", rename_across,
        lambda: os.path.exists("rb/f") and not os.path.exists("ra/f") or "not moved")
    add("root", "rename a directory into its own subdirectory", "EINVAL",
        lambda: (prep(("directory", "rs")), os.mkdir("rs/sub"), os.rename("rs", "rs/sub/rs")))
    for kind in ["symlink", "FIFO", "socket", "char device"]:
        n = "rn-" + kind.replace(" ", "-")
        add("root", f"rename a {kind} over a file", "ok",
            lambda n=n, k=kind: (make(k, n), make("file", n + ".target"), os.rename(n, n + ".target")),
            lambda n=n, k=kind: TYPE_TEST[k](os.lstat(n + ".target").st_mode) or "type lost")
    add("root", "renameat2 RENAME_NOREPLACE onto an existing name", "EEXIST",
        lambda: (prep(("file", "nr1"), ("file", "nr2")), renameat2("nr1", "nr2", RENAME_NOREPLACE)))
    add("root", "renameat2 RENAME_EXCHANGE", "EINVAL",
        lambda: (prep(("file", "ex1"), ("file", "ex2")), renameat2("ex1", "ex2", RENAME_EXCHANGE)),
        linux="ok (S3 cannot swap two keys atomically)")

    # unlink, rmdir, names and paths.
    add("root", "unlink of a directory", "EISDIR", lambda: (prep(("directory", "u1")), os.unlink("u1")))
    add("root", "rmdir of a file", "ENOTDIR", lambda: (prep(("file", "u2")), os.rmdir("u2")))
    add("root", "rmdir of a non-empty directory", "ENOTEMPTY", lambda: (prep(("directory", "u3full")), os.rmdir("u3full")))
    add("root", "create a 255-byte name", "ok", lambda: make("file", "n" * 255))
    add("root", "create a 256-byte name", "ENAMETOOLONG", lambda: make("file", "n" * 256))
    add("root", "mkdir of a 256-byte name", "ENAMETOOLONG", lambda: os.mkdir("d" * 256))
    add("root", "unlink of a missing name", "ENOENT", lambda: os.unlink("missing"))
    add("root", "stat through a missing directory", "ENOENT", lambda: os.lstat("missing/x"))
    add("root", "stat through a file", "ENOTDIR", lambda: (prep(("file", "p1")), os.lstat("p1/x")))
    add("root", "mkdir of an existing name", "EEXIST", lambda: (prep(("file", "p2")), os.mkdir("p2")))
    add("root", "mkdir in a missing directory", "ENOENT", lambda: os.mkdir("missing/d"))
    add("root", "hard link", "EPERM", lambda: (prep(("file", "h1")), os.link("h1", "h2")),
        linux="ok (S3 cannot give one object two names)")
    add("root", "directory link count", "ok", lambda: (prep(("directory", "lc")), os.mkdir("lc/sub")),
        lambda: os.lstat("lc").st_nlink == 2 or os.lstat("lc").st_nlink,
        linux="3 with one subdirectory (Coffer always shows 2: counting subdirectories would cost a LIST)")
    add("root", "truncate of a FIFO", "EINVAL", lambda: (make("FIFO", "tf"), os.truncate("tf", 0)))

    # open(2) flags.
    add("root", "O_CREAT|O_EXCL of an existing name", "EEXIST",
        lambda: (prep(("file", "o1")), os.close(os.open("o1", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))))
    add("root", "O_CREAT|O_RDONLY of a new name: an empty file", "ok",
        lambda: os.close(os.open("o2-empty", os.O_CREAT | os.O_RDONLY, 0o644)),
        lambda: os.lstat("o2-empty").st_size == 0 or os.lstat("o2-empty").st_size)
    add("root", "O_RDONLY|O_TRUNC of a file with data: truncated", "ok",
        lambda: (prep(("file", "o3")), os.close(os.open("o3", os.O_RDONLY | os.O_TRUNC))),
        lambda: os.lstat("o3").st_size == 0 or os.lstat("o3").st_size)
    add("root", "O_WRONLY of a directory", "EISDIR", lambda: (prep(("directory", "o4")), os.open("o4", os.O_WRONLY)))
    add("root", "O_DIRECTORY of a file", "ENOTDIR",
        lambda: (prep(("file", "o5")), os.open("o5", os.O_RDONLY | os.O_DIRECTORY)))
    add("root", "O_NOFOLLOW of a symlink", "ELOOP",
        lambda: (make("symlink", "o6"), os.open("o6", os.O_RDONLY | os.O_NOFOLLOW)))
    def write_read_only():
        prep(("file", "o7"))
        fd = os.open("o7", os.O_RDONLY)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
    add("root", "write(2) on an O_RDONLY descriptor", "EBADF", write_read_only)
    def ftruncate_read_only():
        prep(("file", "o8"))
        fd = os.open("o8", os.O_RDONLY)
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)
    add("root", "ftruncate(2) on an O_RDONLY descriptor", "EINVAL", ftruncate_read_only)

    # As an unprivileged user (uid 65534) on files and directories root made (see prepare()).
    def opener(path, flags):
        return lambda: os.close(os.open(path, flags))
    add("user", "read a root-owned 0644 file", "ok", opener("rootfile", os.O_RDONLY))
    add("user", "open a root-owned 0644 file for writing", "EACCES", opener("rootfile", os.O_WRONLY))
    add("user", "O_RDONLY|O_TRUNC of a root-owned 0644 file", "EACCES", opener("rootfile", os.O_RDONLY | os.O_TRUNC))
    add("user", "read a root-owned 0600 file", "EACCES", opener("secret", os.O_RDONLY))
    add("user", "create a file in a root-owned 0755 directory", "EACCES", lambda: make("file", "rodir/mine"))
    add("user", "mkdir in a root-owned 0755 directory", "EACCES", lambda: os.mkdir("rodir/mine"))
    add("user", "unlink a file in a root-owned 0755 directory", "EACCES", lambda: os.unlink("rodir/file"))
    add("user", "rename a file out of a root-owned 0755 directory", "EACCES",
        lambda: os.rename("rodir/file", "open/stolen"))
    add("user", "chmod of a root-owned file", "EPERM", lambda: os.chmod("rootfile", 0o666))
    add("user", "chown of a root-owned file to oneself", "EPERM", lambda: os.chown("rootfile", USER, USER))
    add("user", "utimensat with explicit times of a root-owned file", "EPERM",
        lambda: os.utime("rootfile", (1, 1)))
    add("user", "utimensat UTIME_NOW of a root-owned 0644 file", "EACCES", lambda: os.utime("rootfile", None))
    add("user", "utimensat UTIME_NOW of a root-owned 0666 file", "ok", lambda: os.utime("open/shared", None))
    add("user", "create a file in a 0777 directory: owned by the creator", "ok", lambda: make("file", "open/mine"),
        lambda: (os.lstat("open/mine").st_uid, os.lstat("open/mine").st_gid) == (USER, USER) or "wrong owner")
    add("user", "chmod 600 of one's own file", "ok", lambda: os.chmod("open/mine", 0o600),
        lambda: stat.S_IMODE(os.lstat("open/mine").st_mode) == 0o600 or "mode not set")
    add("user", "chown of one's own file to root", "EPERM", lambda: os.chown("open/mine", 0, -1))
    add("user", "chgrp of one's own file to a group one is not in", "EPERM", lambda: os.chown("open/mine", -1, 0))
    add("user", "mkfifo in a 0777 directory", "ok", lambda: make("FIFO", "open/fifo"),
        lambda: stat.S_ISFIFO(os.lstat("open/fifo").st_mode) or "not a FIFO")
    add("user", "mknod of a character device", "EPERM", lambda: make("char device", "open/dev"))
    add("user", "unlink another user's file in a sticky 1777 directory", "EPERM", lambda: os.unlink("sticky/rootowned"))
    add("user", "rename another user's file in a sticky 1777 directory", "EPERM",
        lambda: os.rename("sticky/rootowned", "sticky/moved"))
    add("user", "unlink one's own file in a sticky 1777 directory", "ok",
        lambda: (make("file", "sticky/own"), os.unlink("sticky/own")))
    return c


def prepare():
    def write(path, text, mode):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
    write("rootfile", "root data", 0o644)
    write("secret", "secret", 0o600)
    for directory, mode in [("rodir", 0o755), ("open", 0o777), ("sticky", 0o1777)]:
        os.mkdir(directory)
        os.chmod(directory, mode)
    write("rodir/file", "x", 0o644)
    write("open/shared", "x", 0o666)
    write("sticky/rootowned", "x", 0o666)


def run(role):
    failures = 0
    for case in [c for c in cases() if c.role == role]:
        got = "ok"
        try:
            case.run()
        except OSError as e:
            got = errno.errorcode.get(e.errno, str(e.errno))
        except AssertionError as e:
            got = f"assertion: {e}"
        detail = ""
        if got == "ok" and case.expected == "ok" and case.check:
            result = case.check()
            if result is not True:
                got, detail = "wrong result", f" ({result})"
        if got != case.expected:
            failures += 1
            print(f"{case.operation}: expected {case.expected}, got {got}{detail}")
    return failures


def markdown():
    lines = ["| as | operation | result | Linux on a local disk, where it differs |", "|---|---|---|---|"]
    for case in cases():
        operation = case.operation.replace("|", "\\|")  # a pipe would end the table cell
        lines.append(f"| {case.role} | {operation} | {'ok' if case.expected == 'ok' else '`' + case.expected + '`'}"
                     f" | {case.linux or ''} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        sys.stdout.write(markdown())
        sys.exit(0)
    directory, role = sys.argv[1], sys.argv[2]
    os.chdir(directory)
    os.umask(0o022)
    if role == "prepare":
        prepare()
        sys.exit(0)
    sys.exit(1 if run(role) else 0)
