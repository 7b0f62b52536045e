#!/usr/bin/env bash
# The build stage of examples/compose/Dockerfile run directly on this machine (Debian 12 with the Swift toolchain;
# no container runtime needed), then the runtime stage's check: every shared library the binary needs, and every
# command the image runs, must come from a Debian package that debian:bookworm-slim plus the runtime stage's
# apt-get install provides. Exits non-zero, saying what is wrong, when the binary does not build or something
# would be missing in the image.
#
#   examples/compose/build-steps.sh                     # build, then check the runtime stage
#   examples/compose/build-steps.sh --check-binary PATH # only check the runtime stage for another binary
#
# COFFER_CONTAINER_SCRATCH: the build directory (default .build/container-example: its own, so that the build
# neither waits for nor replaces the checkout's .build). COFFER_RUNTIME_PACKAGES: the runtime stage's packages
# instead of the Dockerfile's (the tests drop one to see the check fail).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

# The Dockerfile's, word for word (Tests/CofferMountTests/ContainerExampleTests.swift compares them).
SWIFT_VERSION=6.3.1                 # FROM swift:6.3.1-bookworm
DEBIAN_CODENAME=bookworm            # FROM swift:6.3.1-bookworm, FROM debian:bookworm-slim
BUILD_PACKAGES=(libfuse3-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev pkgconf)
SWIFT_BUILD=(swift build -c release --product coffer --static-swift-stdlib)
RUNTIME_PACKAGES=(fuse3 libcurl4 libssl3 libsqlite3-0 ca-certificates)
# What the image runs besides coffer: the entrypoint (sh, awk, mkdir, fusermount3), the healthcheck (awk, stat),
# the Dockerfile's check (ldd, grep) and the fallback of `coffer unmount` (umount).
RUNTIME_COMMANDS=(sh awk mkdir fusermount3 stat ldd grep umount)

if [ -n "${COFFER_RUNTIME_PACKAGES:-}" ]; then
  read -r -a RUNTIME_PACKAGES <<< "$COFFER_RUNTIME_PACKAGES"
fi
SCRATCH="${COFFER_CONTAINER_SCRATCH:-$ROOT/.build/container-example}"

fail() { echo "build-steps: FAILED: $*" >&2; exit 1; }

echo "== platform"
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
[ "$codename" = "$DEBIAN_CODENAME" ] \
  || fail "this machine is Debian '${codename:-?}', the Dockerfile's stages are $DEBIAN_CODENAME: the package check would not hold"
echo "ok: Debian $codename ($(dpkg --print-architecture)), as the Dockerfile's stages"

binary=""
if [ "${1:-}" = "--check-binary" ]; then
  binary="${2:?--check-binary needs a path}"
  [ -x "$binary" ] || fail "$binary is not an executable"
  echo "== build skipped: checking $binary"
else
  swift_version="$(swift --version 2>&1 | sed -n 's/.*Swift version \([0-9.]*\).*/\1/p' | head -n 1)"
  [ "$swift_version" = "$SWIFT_VERSION" ] \
    || fail "swift here is ${swift_version:-missing}, the Dockerfile builds with swift:$SWIFT_VERSION-$DEBIAN_CODENAME"
  echo "ok: Swift $swift_version, as the image swift:$SWIFT_VERSION-$DEBIAN_CODENAME"

  echo "== build stage: apt packages"
  missing=()
  for package in "${BUILD_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  echo "ok: build packages installed: ${BUILD_PACKAGES[*]}"

  echo "== build stage: ${SWIFT_BUILD[*]}"
  echo "(in $ROOT, with --scratch-path $SCRATCH)"
  cd "$ROOT"
  started=$SECONDS
  "${SWIFT_BUILD[@]}" --scratch-path "$SCRATCH" || fail "swift build failed"
  binary="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/coffer"
  [ -x "$binary" ] || fail "the build reported success but $binary is missing"
  echo "ok: coffer built in $((SECONDS - started)) s: $binary ($(du -m "$binary" | cut -f1) MiB)"
fi

echo "== runtime stage: debian:$DEBIAN_CODENAME-slim + ${RUNTIME_PACKAGES[*]}"
# The Dockerfile's check, here: no library the loader cannot find.
ldd_output="$(ldd "$binary")" || fail "ldd $binary failed: $ldd_output"
if grep "not found" <<< "$ldd_output"; then fail "ldd: shared libraries not found"; fi
echo "ok: ldd finds every library on this machine"
echo "needed by the binary itself: $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"

# apt's view of bookworm is needed for the package closure below.
if [ -z "$(apt-cache show --no-all-versions apt 2>/dev/null)" ]; then apt-get update -qq; fi

commands=()
for command in "${RUNTIME_COMMANDS[@]}"; do
  path="$(command -v "$command")" || fail "$command is not installed here, so its package cannot be checked"
  commands+=("$path")
done

# Which package each file comes from here (dpkg -S), and whether the runtime stage installs that package:
# debian:bookworm-slim is debootstrap's minbase (every Essential or Priority: required package, and apt), to which
# the runtime stage's apt-get install --no-install-recommends adds its packages with their Depends and
# Pre-Depends.
python3 - "$binary" "${RUNTIME_PACKAGES[*]}" "${commands[@]}" <<'PY'
import os, re, subprocess, sys

binary, runtime_packages, commands = sys.argv[1], sys.argv[2].split(), sys.argv[3:]

records, provides = {}, {}
for block in subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True).stdout.split("\n\n"):
    fields, key = {}, None
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    name = fields.get("Package")
    if not name or name in records:
        continue
    records[name] = fields
    for provided in fields.get("Provides", "").split(","):
        provided = re.split(r"[\s(:]", provided.strip())[0]
        if provided:
            provides.setdefault(provided, []).append(name)

unknown = [p for p in runtime_packages if p not in records]
if unknown:
    sys.exit(f"build-steps: FAILED: apt knows no package {' '.join(unknown)} (a runtime stage package)")

def dependencies(name):
    fields = records[name]
    text = ", ".join(v for v in (fields.get("Pre-Depends"), fields.get("Depends")) if v)
    for group in filter(None, (g.strip() for g in text.split(","))):
        yield [re.split(r"[\s(:]", alternative.strip())[0] for alternative in group.split("|")]

def closure(roots):
    chosen, todo, roots = set(), list(roots), set(roots)
    while todo:
        name = todo.pop()
        if name in chosen:
            continue
        chosen.add(name)
        for alternatives in dependencies(name):
            candidates = [a for a in alternatives if a in records] + \
                [p for a in alternatives for p in provides.get(a, [])]
            if not candidates or any(c in chosen or c in roots for c in candidates):
                continue
            # As apt: the first alternative that is a real package, else the first package providing one.
            todo.append(candidates[0])
    return chosen

# debootstrap merges /usr itself and installs usr-is-merged (which then stands for "usrmerge | usr-is-merged").
base_roots = [n for n, f in records.items()
              if f.get("Priority") == "required" or f.get("Essential") == "yes"] + ["apt", "usr-is-merged"]
base = closure(base_roots)
stage = closure(base_roots + runtime_packages)
print(f"runtime stage: {len(stage)} packages ({len(base)} of debian:bookworm-slim, "
      f"{len(stage) - len(base)} from {' '.join(runtime_packages)} and their dependencies)")

def owner(path):
    candidates = {path, os.path.realpath(path)}
    for p in list(candidates):
        candidates.add(p[4:] if p.startswith("/usr/") else "/usr" + p)
    for p in sorted(candidates):
        result = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        for line in result.stdout.splitlines():
            package, _, owned = line.partition(": ")
            if owned == p and not line.startswith("diversion"):
                return package.split(":")[0]
    return None

libraries = []
for line in subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    match = re.match(r"\s*(\S+)(?: => (\S+))? \(0x", line)
    if match and (match.group(2) or match.group(1)).startswith("/"):
        libraries.append((match.group(1), match.group(2) or match.group(1)))

problems = []
def check(what, path):
    package = owner(path)
    if package is None:
        problems.append(f"{what} ({path}) is not from any Debian package: the runtime stage would not have it")
    elif package not in stage:
        problems.append(f"{what} ({path}) comes from {package}, which the runtime stage does not install")
    else:
        where = "debian:bookworm-slim" if package in base else "apt-get install"
        print(f"  {what:24} {package:24} ({where})")

print(f"shared libraries ({len(libraries)}, with those of the libraries):")
for name, path in libraries:
    check(os.path.basename(name), path)
print(f"commands ({len(commands)}):")
for path in commands:
    check(os.path.basename(path), path)
for problem in problems:
    print("missing: " + problem)
if problems:
    sys.exit(f"build-steps: FAILED: {len(problems)} file(s) the image would lack")
print(f"ok: all {len(libraries)} shared libraries and {len(commands)} commands come from packages of the runtime stage")
PY

echo "build-steps: all checks passed"
