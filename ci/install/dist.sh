#!/usr/bin/env bash
# Builds the packages the install cycles use, once per input: OUT/KEY/v1 from the tree as it
# is, OUT/KEY/v2 from a temporary copy whose packaging/*.toml versions are one patch level
# higher (and whose gnuhealth/thalamus harakiri differs by one, so the packaged ini
# changes and an edited ini must come out as .dpkg-dist/.rpmnew).
#
# usage: dist.sh OUT [WSGI_PACK_BINARY]     (binary default: cargo run --release --)
# Prints OUT/KEY (with v1/ and v2/), KEY = hash of the binary, this script and
# packaging/, distros/, templates/. A finished KEY directory is never modified, so
# concurrent test runs with other inputs cannot pull packages away from each other;
# other KEY directories older than a day are deleted.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$1
BIN=${2:-}
mkdir -p "$OUT"
exec {lock}>"$OUT/.lock"
flock "$lock"

run_builder() { # run_builder TREE OUTDIR
  if [ -n "$BIN" ]; then
    (cd "$1" && "$BIN" build --out "$2")
  else
    (cd "$1" && cargo run -q --release -- build --out "$2")
  fi
}

key=$( {
  if [ -n "$BIN" ]; then sha256sum "$BIN"; fi
  cat "$0"
  (cd "$REPO" && find packaging distros templates -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum)
} | sha256sum | cut -c1-16)
find "$OUT" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
DEST=$OUT/$key
if [ -f "$DEST/.complete" ]; then echo "$DEST"; exit 0; fi
rm -rf "$DEST"
mkdir -p "$DEST"

echo "dist: building v1" >&2
run_builder "$REPO" "$DEST/v1" >&2

echo "dist: building v2 (bumped copy)" >&2
tree=$(mktemp -d "${TMPDIR:-/var/tmp}/wsgi-pack-v2.XXXXXX")
trap 'rm -rf "$tree"' EXIT
rsync -a --exclude /target --exclude /dist --exclude /.git "$REPO/" "$tree/"
# Same target directory: the copy reuses the compiled server instead of rebuilding it.
ln -s "$REPO/target" "$tree/target"
for f in "$tree"/packaging/*.toml; do
  awk '
    !done && /^version[ \t]*=[ \t]*"[^"]*"/ {
      match($0, /"[^"]*"/); v = substr($0, RSTART + 1, RLENGTH - 2)
      n = split(v, p, "."); p[n] = p[n] + 1; v = p[1]; for (i = 2; i <= n; i++) v = v "." p[i]
      print "version = \"" v "\""; done = 1; next }
    /^harakiri[ \t]*=[ \t]*[0-9]+/ { split($0, h, "="); print "harakiri = " (h[2] + 1); next }
    { print }' "$f" >"$f.new"
  mv "$f.new" "$f"
done
run_builder "$tree" "$DEST/v2" >&2
touch "$DEST/.complete"
echo "$DEST"
