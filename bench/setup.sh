#!/usr/bin/env bash
# Prerequisites of the benchmarks: the anchors (uWSGI, granian, nfpm), wrk, nginx, gcc
# (bench/trivial_responder.c for --ceiling), strace (--strace), linux-perf (--perf), and a
# venv with trytond. Idempotent.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
need=()
for p in wrk nginx-light uwsgi uwsgi-plugin-python3 python3-venv gcc strace linux-perf; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then apt-get update -qq; apt-get install -y -qq --no-install-recommends "${need[@]}"; fi
if [ ! -x "$HERE/.venv/bin/python3" ]; then
  /usr/bin/python3 -m venv "$HERE/.venv"
fi
if [ ! -x "$HERE/.venv/bin/granian" ] || [ ! -x "$HERE/.venv/bin/gunicorn" ]; then
  "$HERE/.venv/bin/python3" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"
fi
