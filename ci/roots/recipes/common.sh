# shellcheck shell=bash
# Helpers shared by the root recipes (hashed into every root's cache key).

# The Debian mirror the host's apt sources already use (deb822 .sources or one-line
# .list): the first "deb" URI whose suites include bookworm. WSGI_PACK_DEBIAN_MIRROR
# overrides it. Never hard-coded, so no host name lives in the repository.
debian_mirror() {
  if [ -n "${WSGI_PACK_DEBIAN_MIRROR:-}" ]; then echo "$WSGI_PACK_DEBIAN_MIRROR"; return; fi
  local m=""
  shopt -s nullglob
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    m=$(awk 'BEGIN{RS=""; FS="\n"}
      { t=""; u=""; s="";
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) t=$i; else if ($i ~ /^URIs:/) u=$i; else if ($i ~ /^Suites:/) s=$i }
        if (t ~ /[ \t]deb([ \t]|$)/ && s ~ /[ \t]bookworm([ \t]|$)/) {
          sub(/^URIs:[ \t]*/, "", u); split(u, a, /[ \t]+/); print a[1]; exit } }' "$f")
    [ -z "$m" ] || break
  done
  if [ -z "$m" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      m=$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i+1) == "bookworm") { print $i; exit } }' "$f")
      [ -z "$m" ] || break
    done
  fi
  shopt -u nullglob
  [ -n "$m" ] || { echo "no Debian mirror for bookworm in the host's apt sources" >&2; return 1; }
  echo "$m"
}

RECIPE_MOUNTS=()
recipe_cleanup() {
  local i
  for ((i = ${#RECIPE_MOUNTS[@]} - 1; i >= 0; i--)); do
    if mountpoint -q "${RECIPE_MOUNTS[$i]}"; then
      umount "${RECIPE_MOUNTS[$i]}" 2>/dev/null || umount -l "${RECIPE_MOUNTS[$i]}" || true
    fi
  done
  RECIPE_MOUNTS=()
}
recipe_mount_proc() {
  mkdir -p "$1/proc"
  mountpoint -q "$1/proc" || { mount -t proc proc "$1/proc"; RECIPE_MOUNTS+=("$1/proc"); }
}

# Runs a command inside the root with a clean, predictable environment.
in_root() {
  local r=$1; shift
  chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

apt_in_root() {
  local r=$1; shift
  recipe_mount_proc "$r"
  in_root "$r" apt-get -q -y -o Dpkg::Use-Pty=0 --no-install-recommends "$@"
}

# Services must never start inside a test root (invoke-rc.d honours policy-rc.d).
policy_rc_d() {
  printf '#!/bin/sh\n# test root: never start services\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
  chmod 0755 "$1/usr/sbin/policy-rc.d"
}

# Device nodes apt, dpkg and python need (debootstrap makes them; be sure for all).
dev_nodes() {
  local r=$1 n
  mkdir -p "$r/dev"
  local major minor
  while read -r n major minor; do
    [ -c "$r/dev/$n" ] || { rm -f "$r/dev/$n"; mknod -m 0666 "$r/dev/$n" c "$major" "$minor"; }
  done <<'NODES'
null 1 3
zero 1 5
full 1 7
random 1 8
urandom 1 9
tty 5 0
NODES
  mkdir -p "$r/dev/shm" "$r/dev/pts"; chmod 1777 "$r/dev/shm"
}

resolv_conf() {
  rm -f "$1/etc/resolv.conf"
  cp -L /etc/resolv.conf "$1/etc/resolv.conf"
}

# Replaces /usr/lib/os-release with the given text; /etc/os-release is a relative
# symlink to it, as on Debian and openSUSE.
set_os_release() {
  local r=$1 text=$2
  mkdir -p "$r/usr/lib"
  rm -f "$r/usr/lib/os-release" "$r/etc/os-release"
  printf '%s\n' "$text" >"$r/usr/lib/os-release"
  ln -s ../usr/lib/os-release "$r/etc/os-release"
}

# Replaces a program inside the root by a stub that fails loudly, so that no Debian
# code path can pass in a SUSE/RHEL stand-in.
stub_failing() {
  local r=$1 p
  shift
  for p in "$@"; do
    [ -e "$r$p" ] || [ -L "$r$p" ] || continue
    rm -f "$r$p"
    printf '#!/bin/sh\necho "stand-in root: %s must not be called on this family ($*)" >&2\nexit 1\n' \
      "$p" >"$r$p"
    chmod 0755 "$r$p"
  done
}

apt_clean() {
  in_root "$1" apt-get clean
  rm -rf "$1"/var/log/apt/* "$1"/tmp/* 2>/dev/null || true
}

# The part of the SUSE and RHEL stand-ins that is not os-release (distro-policy.md B2).
rpm_standin_common() {
  local r=$1
  in_root "$r" userdel www-data
  if in_root "$r" getent group www-data >/dev/null; then in_root "$r" groupdel www-data; fi
  mkdir -p "$r/usr/lib/systemd/system-preset"
  printf 'disable *\n' >"$r/usr/lib/systemd/system-preset/99-default-disable.preset"
  mkdir -p "$r/usr/lib/sysimage/rpm"
  rpm --root "$r" --dbpath /usr/lib/sysimage/rpm --initdb
  stub_failing "$r" /usr/sbin/adduser /usr/sbin/addgroup /usr/sbin/deluser /usr/sbin/delgroup \
    /usr/bin/deb-systemd-helper /usr/bin/deb-systemd-invoke /usr/bin/dpkg
}
