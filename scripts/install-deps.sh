#!/usr/bin/env bash
# Installs every Debian and PyPI package that Coffer's build, tests, demo and benchmarks need.
# Idempotent: quiet and fast when everything is already present.
set -euo pipefail

APT_PACKAGES=(
  fuse3 libfuse3-dev libcurl4-openssl-dev libssl-dev pkgconf
  rsync attr curl ca-certificates python3 python3-pip psmisc
  s3fs rclone fio time libsqlite3-dev util-linux systemd binutils
)
# PyPI packages, pinned: scripts/requirements.txt.
REQUIREMENTS="$(dirname "$0")/requirements.txt"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
# Every pinned requirement must be installed at exactly its version (extras such as [server] are checked through
# the packages they pull in, which are pinned too).
installed=$("$PYTHON" -m pip freeze --disable-pip-version-check 2>/dev/null | tr '[:upper:]' '[:lower:]' | tr '_' '-')
pip_missing=()
while read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  pin=$(printf '%s' "${line%%#*}" | sed 's/\[[^]]*\]//' | tr '[:upper:]' '[:lower:]' | tr '_' '-' | tr -d ' ')
  if ! printf '%s\n' "$installed" | grep -qx -- "$pin"; then pip_missing+=("$pin"); fi
done < "$REQUIREMENTS"
if [ ${#pip_missing[@]} -gt 0 ]; then
  echo "install-deps: installing pinned PyPI packages (scripts/requirements.txt): ${pip_missing[*]}"
  "$PYTHON" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" 2>&1 \
    | grep -v -i "running pip as the 'root' user" || true
fi

if ! command -v moto_server >/dev/null 2>&1; then
  echo "install-deps: moto_server is not on PATH after installing moto[server]" >&2
  exit 1
fi
