#!/usr/bin/env bash
# piuparts (Debian 12's) on the .debs: install/purge of the new version, and upgrade
# from the previous version served from a local apt-ftparchive repository that is
# bind-mounted into piuparts' chroot (distro-policy.md: piuparts -d bookworm -m MIRROR
# --no-eatmydata). The bookworm base tarball is cached with the test roots.
# usage: piuparts-cycle.sh --dist DIR --dist-new DIR [--instance gnuhealth]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=../roots/recipes/common.sh
. "$(dirname "$0")/../roots/recipes/common.sh"
DIST="" DIST_NEW="" I=gnuhealth
while [ $# -gt 0 ]; do
  case $1 in
    --dist) DIST=$2; shift 2 ;;
    --dist-new) DIST_NEW=$2; shift 2 ;;
    --instance) I=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ ! -d "$DIST" ] || [ ! -d "$DIST_NEW" ]; then echo "usage: $0 --dist DIR --dist-new DIR" >&2; exit 2; fi
cycle_start piuparts
MIRROR=$(debian_mirror)
# Keyed by piuparts' version: the tarball only depends on the suite and the tool.
BASETGZ=$ROOTS_CACHE/piuparts-bookworm-$(dpkg-query -W -f='${Version}' piuparts).tar.gz
NEW=()

do_prepare() {
  mkdir -p "$ROOTS_CACHE" "$WORK/repo" "$WORK/new"
  local p
  for p in wsgid "$I-wsgid"; do
    cp "$(pick_file "$DIST" "${p}_*.deb" deb12)" "$WORK/repo/"
    cp "$(pick_file "$DIST_NEW" "${p}_*.deb" deb12)" "$WORK/new/"
  done
  (cd "$WORK/repo" && apt-ftparchive packages . >Packages && apt-ftparchive release . >Release)
  for p in "$WORK"/new/*.deb; do NEW+=("$p"); done
}

do_piuparts() {
  # Test 1: install + purge of the new debs; test 2: the previous version from the
  # local repository (apt), upgraded to the new debs, then purged. Without a cached
  # base tarball this run debootstraps one and saves it (-s) for the next runs.
  local base=(-b "$BASETGZ") lk
  exec {lk}>"$ROOTS_CACHE/piuparts.lock"
  flock "$lk"
  if [ ! -f "$BASETGZ" ]; then base=(-s "$BASETGZ.tmp"); fi
  piuparts -d bookworm -m "$MIRROR" --no-eatmydata "${base[@]}" \
    --bindmount "$WORK/repo" --extra-repo "deb [trusted=yes] file://$WORK/repo ./" \
    "${NEW[@]}" >"$WORK/piuparts.log" 2>&1 || { grep -E 'FAIL|ERROR' "$WORK/piuparts.log" | head -40; tail -40 "$WORK/piuparts.log"; return 1; }
  if [ -f "$BASETGZ.tmp" ]; then mv "$BASETGZ.tmp" "$BASETGZ"; fi
  exec {lk}>&-
  grep -E 'PASS|upgrad' "$WORK/piuparts.log" | sed 's/^/  /' | tail -12
  expect "piuparts: PASS: All tests." grep -q 'PASS: All tests' "$WORK/piuparts.log"
  expect "the upgrade from the previous version was tested" grep -q "PASS: Installation, upgrade and purging tests" "$WORK/piuparts.log"
}

step prepare do_prepare
step piuparts do_piuparts
