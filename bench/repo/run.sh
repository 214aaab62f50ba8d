#!/usr/bin/env bash
# Repository publishing bench: N generated packages (.deb and .rpm, 20-200 KiB
# incompressible payloads, so hashing counts) published from scratch, then one package
# added to the N-package repository, by
#   wsgi-pack publish (apt + rpm-md, signed InRelease/Release.gpg/repomd.xml.asc), and
#   the anchor pipeline doing the same work: apt-ftparchive packages (--db cache) + gzip
#   + xz + by-hash copies + apt-ftparchive release + gpg --clearsign/--detach-sign, and
#   createrepo_c (--update) + gpg --detach-sign of repomd.xml; and
#   reprepro includedeb (apt side only, signs with gpg).
# The rpm inputs are signed by the repository key, as a pipeline that signs at build
# time (rpmsign, or the rpm crate's signer) hands them over; wsgi-pack verifies each
# signature and publishes such rpms as they are, the anchor (createrepo_c) checks none.
# Both sides leave the package files where they are: wsgi-pack hard-links them into its
# pool (timed), the anchor's staging hard-links them (untimed).
# Interleaved runs; medians, min-max, ratios wsgi-pack / anchor.
#   usage: bash bench/repo/run.sh [RUNS] [N]        (default 5 runs, 2000 packages)
# Installs createrepo-c, reprepro, apt-utils, xz-utils and gnupg with apt-get if missing
# (bench only; CI does not run this). Inputs are generated once into
# ${WSGI_PACK_BENCH_CACHE:-/var/tmp/wsgi-pack-bench-repo}.
set -euo pipefail
RUNS=${1:-5}
N=${2:-2000}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
need=()
command -v createrepo_c >/dev/null || need+=(createrepo-c)
command -v reprepro >/dev/null || need+=(reprepro)
command -v apt-ftparchive >/dev/null || need+=(apt-utils)
command -v xz >/dev/null || need+=(xz-utils)
command -v gpg >/dev/null || need+=(gnupg)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
(cd "$REPO" && cargo build -q --release -p wsgi-pack --bin wsgi-pack --example repo-bench-gen)
# WSGI_PACK_BIN: another wsgi-pack binary to measure (e.g. an older build, for before/after).
WP=${WSGI_PACK_BIN:-$REPO/target/release/wsgi-pack}
GEN=$REPO/target/release/examples/repo-bench-gen

CACHE=${WSGI_PACK_BENCH_CACHE:-/var/tmp/wsgi-pack-bench-repo}/$N-$(sha256sum "$REPO/bench/repo/gen.rs" | cut -c1-12)
export GNUPGHOME=$CACHE/gnupg
if [ ! -f "$CACHE/.complete" ]; then
  rm -rf "$CACHE"; mkdir -p "$GNUPGHOME"; chmod 700 "$GNUPGHOME"
  echo "bench: generating the RSA 4096 key and $N+1 packages of each format into $CACHE" >&2
  gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "wsgi-pack bench <bench@example.invalid>" rsa4096 sign never
  gpg --batch --armor --pinentry-mode loopback --passphrase '' --export-secret-keys >"$CACHE/key.asc"
  "$GEN" "$CACHE/gen" "$N" "$CACHE/key.asc"
  "$GEN" "$CACHE/extra" 1 "$CACHE/key.asc" "$N"
  touch "$CACHE/.complete"
fi
FPR=$(gpg --with-colons --list-secret-keys | awk -F: '/^fpr/ { print $10; exit }')
trap 'gpgconf --kill all; rm -rf "$WORK"' EXIT
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/wsgi-pack-bench-repo.XXXXXX")
# The previous run's trees are moved aside, not deleted, until the bench ends: on ext4
# without a journal (this machine's root) the inode allocator skips every inode deleted
# in the last 60-300 s, one lookup each (fs/ext4/ialloc.c, recently_deleted()), so
# deleting 2000 directories right before a timed run made each of the next run's new
# directories cost a scan past them (up to 1 s of kernel time for wsgi-pack's and
# reprepro's pool directories; the anchor's flat pool makes none). A real publish from
# scratch does not follow a mass deletion.
TRASH=$WORK/trash
mkdir -p "$TRASH"
aside() { [ ! -e "$1" ] || mv "$1" "$(mktemp -u "$TRASH/x.XXXXXX")"; }
EXTRA_DEB=$(ls "$CACHE"/extra/deb/*.deb)
EXTRA_RPM=$(ls "$CACHE"/extra/rpm/*.rpm)
BYTES=$(du -sb "$CACHE/gen" | cut -f1)

# --- the anchor pipeline (run inside $1 = repository root with apt/pool and rpm/)
anchor_publish() {
  local r=$1 d c f h
  d=$r/apt/dists/stable
  mkdir -p "$d/main/binary-amd64"
  (cd "$r/apt" && apt-ftparchive -q --db "$r/ftparchive.db" packages pool/main >"$d/main/binary-amd64/Packages")
  c=$d/main/binary-amd64
  gzip -6 -k -f "$c/Packages"
  xz -6 -k -f "$c/Packages"
  mkdir -p "$c/by-hash/SHA256"
  for f in Packages Packages.gz Packages.xz; do
    h=$(sha256sum "$c/$f" | cut -d' ' -f1)
    ln -f "$c/$f" "$c/by-hash/SHA256/$h"
  done
  apt-ftparchive -q -o APT::FTPArchive::Release::Origin=anchor -o APT::FTPArchive::Release::Suite=stable \
    -o APT::FTPArchive::Release::Codename=stable -o APT::FTPArchive::Release::Architectures=amd64 \
    -o APT::FTPArchive::Release::Components=main -o APT::FTPArchive::Release::Acquire-By-Hash=yes \
    release "$d" >"$r/Release.tmp"
  mv "$r/Release.tmp" "$d/Release"
  gpg --batch --yes --quiet --digest-algo SHA512 --clearsign -o "$d/InRelease" "$d/Release"
  gpg --batch --yes --quiet --digest-algo SHA512 --armor --detach-sign -o "$d/Release.gpg" "$d/Release"
  if [ -d "$r/rpm/repodata" ]; then
    createrepo_c -q --update "$r/rpm"
  else
    createrepo_c -q "$r/rpm"
  fi
  gpg --batch --yes --quiet --digest-algo SHA512 --armor --detach-sign -o "$r/rpm/repodata/repomd.xml.asc" "$r/rpm/repodata/repomd.xml"
}
anchor_stage() { # anchor_stage ROOT: the packages in place (hard links, as wsgi-pack does)
  aside "$1"; mkdir -p "$1/apt/pool/main" "$1/rpm"
  cp -al "$CACHE/gen/deb/." "$1/apt/pool/main/"
  cp -al "$CACHE/gen/rpm/." "$1/rpm/"
}
reprepro_conf() {
  aside "$1"; mkdir -p "$1/conf"
  cat >"$1/conf/distributions" <<CONF
Codename: stable
Suite: stable
Architectures: amd64
Components: main
SignWith: $FPR
CONF
  printf 'export never\n' >/dev/null
}

now() { date +%s.%N; }
declare -A T
timed() { # timed KEY COMMAND...
  local key=$1 t0 t1; shift
  t0=$(now); "$@" >/dev/null 2>&1 || { echo "bench: $key failed: $*" >&2; "$@"; exit 1; }; t1=$(now)
  T[$key]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') "
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# Warm-up (page cache, gpg-agent), untimed.
cat "$CACHE"/gen/deb/* "$CACHE"/gen/rpm/* >/dev/null
gpg --batch --quiet --clearsign -o /dev/null /dev/null 2>/dev/null || true

for ((i = 1; i <= RUNS; i++)); do
  aside "$WORK/wp"
  timed "wp scratch" "$WP" publish -q --repo "$WORK/wp" --dist "$CACHE/gen/deb" --dist "$CACHE/gen/rpm" --key "$CACHE/key.asc"
  timed "wp add1" "$WP" publish -q --repo "$WORK/wp" --dist "$EXTRA_DEB" --dist "$EXTRA_RPM" --key "$CACHE/key.asc"

  anchor_stage "$WORK/an"
  timed "an scratch" anchor_publish "$WORK/an"
  cp -al "$EXTRA_DEB" "$WORK/an/apt/pool/main/"; cp -al "$EXTRA_RPM" "$WORK/an/rpm/"
  timed "an add1" anchor_publish "$WORK/an"

  reprepro_conf "$WORK/rr"
  timed "rr scratch" reprepro -s -b "$WORK/rr" includedeb stable "$CACHE"/gen/deb/*.deb
  timed "rr add1" reprepro -s -b "$WORK/rr" includedeb stable "$EXTRA_DEB"
done

# Sanity: the same packages on both sides.
wp_n=$(grep -c '^Package:' "$WORK/wp/apt/dists/stable/main/binary-amd64/Packages")
an_n=$(grep -c '^Package:' "$WORK/an/apt/dists/stable/main/binary-amd64/Packages")
wp_r=$(zcat "$WORK"/wp/rpm/repodata/*-primary.xml.gz | grep -c '<package ')
an_r=$(zcat "$WORK"/an/rpm/repodata/*-primary.xml.gz | grep -c '<package ')
[ "$wp_n" = "$an_n" ] && [ "$wp_r" = "$an_r" ] || { echo "bench: package counts differ: apt $wp_n/$an_n rpm $wp_r/$an_r" >&2; exit 1; }

stats() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END {
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f %.3f", m, v[1], v[NR] }'; }
echo "packages: $N .deb + $N .rpm ($BYTES bytes); runs: $RUNS (interleaved); $(nproc) cores; load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wsgi-pack: $WP"
echo "tools: $(createrepo_c --version | head -1); apt-ftparchive $(dpkg-query -W -f='${Version}' apt-utils); reprepro $(dpkg-query -W -f='${Version}' reprepro); $(gpg --version | head -1)"
printf '%-8s %24s %24s %24s %10s %10s\n' case "wsgi-pack s (med min-max)" "anchor s (med min-max)" "reprepro s (med min-max)" "wp/anchor" "wp/reprepro"
for c in scratch add1; do
  read -r wm wl wh <<<"$(echo "${T[wp $c]}" | stats)"
  read -r am al ah <<<"$(echo "${T[an $c]}" | stats)"
  read -r rm rl rh <<<"$(echo "${T[rr $c]}" | stats)"
  printf '%-8s %8s (%s-%s) %8s (%s-%s) %8s (%s-%s) %10s %10s\n' "$c" "$wm" "$wl" "$wh" "$am" "$al" "$ah" "$rm" "$rl" "$rh" \
    "$(awk -v a="$wm" -v b="$am" 'BEGIN { printf "%.2f", a / b }')" "$(awk -v a="$wm" -v b="$rm" 'BEGIN { printf "%.2f", a / b }')"
done
echo "(reprepro does the apt side only; the anchor and wsgi-pack do apt + rpm-md)"
