#!/usr/bin/env bash
# Facts about the built packages that no root can prove:
#  rpm-deps: every name an rpm of ours Requires is a real Leap package name (leap-packages.txt)
#  glibc:    the highest GLIBC_x.y symbol version in the shipped ELF files (objdump -T)
#            is not newer than the oldest supported release's glibc (glibc-floor.txt)
# usage: package-facts.sh --dist DIR
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
DIST=""
while [ $# -gt 0 ]; do
  case $1 in --dist) DIST=$2; shift 2 ;; *) echo "unknown argument $1" >&2; exit 2 ;; esac
done
[ -d "$DIST" ] || { echo "usage: $0 --dist DIR" >&2; exit 2; }
DIST=$(cd "$DIST" && pwd)
cycle_start package-facts

do_rpm_deps() {
  local r n ours bad=0 count=0
  shopt -s nullglob
  local rpms=("$DIST"/*.rpm)
  shopt -u nullglob
  expect "rpms in $DIST" test "${#rpms[@]}" -gt 0
  # Names and capabilities our own rpms provide (user(), group() from sysusers, config()).
  ours=$(for r in "${rpms[@]}"; do rpm -qp --qf '%{NAME}\n' "$r"; rpm -qp --provides "$r"; done 2>/dev/null |
    awk '{ print $1 }' | sort -u)
  while read -r n; do
    [ -n "$n" ] || continue
    count=$((count + 1))
    if grep -qx "$n" <<<"$ours"; then continue; fi
    case $n in config\(*) continue ;; esac
    if awk -v n="$n" '$1 == n { f = 1 } END { exit !f }' "$INSTALL_HERE/leap-packages.txt"; then
      echo "  ok: $n is a Leap package name"
    else
      echo "  CHECK FAILED: $n is not in ci/install/leap-packages.txt"; bad=1
    fi
  done < <(for r in "${rpms[@]}"; do rpm -qp --requires "$r" 2>/dev/null; done | awk '{print $1}' | grep -v '^rpmlib(' | sort -u)
  echo "  $count required names checked"
  return "$bad"
}

do_glibc() {
  local x f max floor rel
  x=$WORK/x
  mkdir -p "$x"
  for f in "$DIST"/*.deb; do dpkg-deb -x "$f" "$x/deb"; done
  # Debian's rpm2cpio exits 1 after writing a complete archive; cpio checks the archive.
  for f in "$DIST"/*.rpm; do (mkdir -p "$x/rpm" && cd "$x/rpm" && { rpm2cpio "$f" || true; } | cpio -idm --quiet); done
  max=$(find "$x" -type f -exec sh -c 'head -c4 "$1" | grep -q "ELF" && objdump -T "$1"' _ {} \; 2>/dev/null |
    grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n1)
  expect "ELF files with GLIBC symbols found" test -n "$max"
  read -r rel floor < <(awk '!/^#/ && NF { print $1, $2 }' "$INSTALL_HERE/glibc-floor.txt" | sort -k2,2V | head -n1)
  echo "  highest symbol version: GLIBC_$max; oldest supported: $rel with $floor"
  expect "GLIBC_$max <= $floor ($rel)" test "$(printf '%s\n%s\n' "$max" "$floor" | sort -V | tail -n1)" = "$floor"
}

step rpm-deps do_rpm_deps
step glibc do_glibc
