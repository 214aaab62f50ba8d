#!/usr/bin/env bash
# Runs every cargo-fuzz target of wsgid for DURATION seconds each (CI: ci/test.sh).
#
#   bash server/fuzz/run.sh [DURATION]      (default 20)
#
# Installs cargo-fuzz if missing (cargo install), builds the targets with the stable
# toolchain (RUSTC_BOOTSTRAP=1: cargo-fuzz passes nightly-only flags), runs each one on a
# temporary copy of its committed seed corpus (server/fuzz/corpus/<target>/ is never
# modified), prints libFuzzer's final `#N DONE cov: .. ft: ..` line per target and exits
# non-zero if any target crashed, hung or failed to run. A crashing input is kept in
# server/fuzz/artifacts/<target>/ (not committed; add it to the corpus with the fix).
set -euo pipefail
DURATION=${1:-20}
case $DURATION in '' | *[!0-9]*) echo "usage: $0 [DURATION-SECONDS]" >&2; exit 2 ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
export RUSTC_BOOTSTRAP=1
TARGETS=(uwsgi_packet http_request ini)
# -a: debug assertions and overflow checks in wsgid too.
FLAGS=(-a)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
cargo fuzz build "${FLAGS[@]}"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failed=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$WORK/$t" "artifacts/$t"
  cp -r "corpus/$t/." "$WORK/$t/"
  log=$WORK/$t.log
  rc=0
  cargo fuzz run "${FLAGS[@]}" "$t" "$WORK/$t" -- \
    -max_total_time="$DURATION" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$HERE/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$rc" -ne 0 ] || [ -z "$done_line" ]; then
    echo "fuzz: $t FAILED (exit $rc); the end of its log:"
    tail -n 40 "$log"
    failed+=("$t")
  else
    echo "fuzz: $t ok, ${DURATION}s, ${execs:-?} executions: $done_line"
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashes or failures in: ${failed[*]} (inputs in $HERE/artifacts/)"
  exit 1
fi
