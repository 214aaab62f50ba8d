#!/usr/bin/env bash
# The project's test command (README): installs what is missing, then runs every test.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash ci/prereqs.sh
export WSGID_TEST_VENV=${WSGID_TEST_VENV:-$ROOT/target/test-venv}
status=0
cargo test --workspace --release --no-fail-fast -- --test-threads=2 || status=$?
# Fuzzing (issue 5): each cargo-fuzz target for 20 s on its seed corpus; a crash fails.
bash server/fuzz/run.sh 20 || status=$?
exit "$status"
