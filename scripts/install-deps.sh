#!/usr/bin/env bash
# Installs every Debian and PyPI package that Coffer's build, tests, demo and benchmarks need.
# Idempotent: quiet and fast when everything is already present.
set -euo pipefail

APT_PACKAGES=(
  fuse3 libfuse3-dev libcurl4-openssl-dev libssl-dev pkgconf
  rsync attr curl ca-certificates python3 python3-pip psmisc
  s3fs rclone fio time
)
PIP_PACKAGES=(
  "moto[server]" boto3 awscli s3cmd aws-encryption-sdk aws-encryption-sdk-cli
)

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
pip_missing=()
for p in "${PIP_PACKAGES[@]}"; do
  name=${p%%[*}
  if ! "$PYTHON" -m pip show "$name" >/dev/null 2>&1; then pip_missing+=("$p"); fi
done
# moto[server] needs flask; pip show moto succeeds without the extra, so check flask too.
if ! "$PYTHON" -c 'import flask, flask_cors' >/dev/null 2>&1; then pip_missing+=("moto[server]"); fi
if [ ${#pip_missing[@]} -gt 0 ]; then
  echo "install-deps: installing PyPI packages: ${pip_missing[*]}"
  "$PYTHON" -m pip install -q --disable-pip-version-check "${pip_missing[@]}" 2>&1 | grep -v -i "running pip as the 'root' user" || true
fi

if ! command -v moto_server >/dev/null 2>&1; then
  echo "install-deps: moto_server is not on PATH after installing moto[server]" >&2
  exit 1
fi
