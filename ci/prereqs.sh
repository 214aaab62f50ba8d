#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine (as root).
# Idempotent: a second run only checks. Each area appends what it needs to the lists
# below; nothing else in the tests installs system packages.
set -euo pipefail

APT_PACKAGES=(
  # build
  build-essential pkg-config python3-dev python3-venv
  # packaging checks (wsgi-pack)
  dpkg-dev lintian rpm rpmlint shellcheck systemd fakeroot xz-utils zstd
  # serving checks (wsgid)
  nginx-light uwsgi uwsgi-plugin-python3 curl wrk openssl iproute2 procps
  # install cycles
  debootstrap mmdebstrap zypper createrepo-c piuparts apt-utils gnupg rsync cpio binutils rpm2cpio
  # repositories (issue 6): dnf reads the published rpm-md repository (tests/repo_rpm.rs)
  dnf
  # reproducibility test (wsgi-pack): clones of the repository
  git
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "prereqs: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The distribution's nginx must not stay running on the host: tests start their own.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl stop nginx 2>/dev/null || true
fi

# Python environment for the server tests: real apps (Flask, trytond on SQLite).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${WSGID_TEST_VENV:-$ROOT/target/test-venv}
STAMP=$VENV/.wsgi-pack-requirements
REQS=$ROOT/ci/test-requirements.txt
if [ ! -x "$VENV/bin/python3" ] || ! cmp -s "$REQS" "$STAMP"; then
  echo "prereqs: creating $VENV"
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  cp "$REQS" "$STAMP"
fi
