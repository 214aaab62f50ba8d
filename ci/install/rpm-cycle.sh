#!/usr/bin/env bash
# RPM install cycle in a SUSE or RHEL stand-in root (ci/roots/recipes/{suse156,rhel9}.sh):
# the HOST's zypper (SUSE) or rpm (RHEL, as dnf would call it) with --root, a local
# rpm-md repo (createrepo_c) holding our rpms and the file-less stand-ins
# (rpm-standins.sh). Steps: install, nginx afterwards (its user joins the group via
# %triggerin), reinstall, upgrade (edited ini kept, .rpmnew), remove.
# Debian's adduser, deb-systemd-helper and dpkg are failing stubs in these roots.
#
# usage: rpm-cycle.sh --root suse156|rhel9 --family LABEL --dist DIR --dist-new DIR
#          [--tool zypper|rpm] [--instances "gnuhealth"] [--backend wsgid|uwsgi] [--tag "suse rpm"]
#          [--distro suse|rhel] [--unknown-id]
# --distro: the family the scriptlets must detect at install time; its facts in
# distros/<distro>.toml (nologin path, web user) are what the accounts must show.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT_NAME="" LABEL="" DIST="" DIST_NEW="" TOOL=zypper INSTANCES="gnuhealth" BACKEND=wsgid TAG="" DISTRO="" UNKNOWN_ID=""
while [ $# -gt 0 ]; do
  case $1 in
    --root) ROOT_NAME=$2; shift 2 ;;
    --family) LABEL=$2; shift 2 ;;
    --dist) DIST=$2; shift 2 ;;
    --dist-new) DIST_NEW=$2; shift 2 ;;
    --tool) TOOL=$2; shift 2 ;;
    --instances) INSTANCES=$2; shift 2 ;;
    --backend) BACKEND=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --distro) DISTRO=$2; shift 2 ;;
    --unknown-id) UNKNOWN_ID=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$ROOT_NAME" ] || [ -z "$LABEL" ] || [ ! -d "$DIST" ] || [ ! -d "$DIST_NEW" ]; then
  echo "usage: $0 --root NAME --family LABEL --dist DIR --dist-new DIR [...]" >&2
  exit 2
fi
read -r -a INST <<<"$INSTANCES"
GROUP=uwsginginx
WEB_USER=nginx
NOLOGIN=""
if [ -n "$DISTRO" ]; then
  NOLOGIN=$(sed -n 's/^nologin *= *"\(.*\)"/\1/p' "$INSTALL_HERE/../../distros/$DISTRO.toml")
  WEB_USER=$(sed -n 's/^web_user *= *"\(.*\)"/\1/p' "$INSTALL_HERE/../../distros/$DISTRO.toml")
fi
DBPATH=/usr/lib/sysimage/rpm
UNITDIR=/usr/lib/systemd/system

cycle_start "$LABEL"
PKGS=()
for i in "${INST[@]}"; do PKGS+=("$i-$BACKEND"); done
[ "$BACKEND" != wsgid ] || PKGS=(wsgid "${PKGS[@]}")
REPO_DIR=$WORK/repo

# Debian's rpm warns "use Alien instead" on every call: drop that line only.
no_alien() { grep -v 'use Alien' || true; }
rpm_r() { rpm --root "$R" --dbpath "$DBPATH" "$@"; }
zyp() { zypper --root "$R" --non-interactive --no-color "$@"; }
rpms_of() { # rpms_of DIR: our rpm files of one version
  local p f
  for p in "${PKGS[@]}"; do
    f=$(pick_file "$1" "${p}-[0-9]*.rpm" "$TAG") || return 1
    echo "$f"
  done
}
ini_of() { echo "$R/etc/wsgid/$1.ini"; }
wants_link() { echo "$R/etc/systemd/system/multi-user.target.wants/$1-wsgi.service"; }
is_enabled() { chroot "$R" /usr/bin/systemctl.real is-enabled "$1-wsgi.service" 2>/dev/null || true; }

do_prepare() {
  root_prepare "$ROOT_NAME"
  # rpm runs scriptlets with its own PATH: wrap the real systemctl in place.
  standin_wrap /usr/bin/systemctl
  mkdir -p "$REPO_DIR" "$WORK/v1" "$WORK/v2"
  local f list
  list=$(rpms_of "$DIST")
  for f in $list; do cp "$f" "$WORK/v1/"; done
  list=$(rpms_of "$DIST_NEW")
  for f in $list; do cp "$f" "$WORK/v2/"; done
  # shellcheck disable=SC2046
  bash "$INSTALL_HERE/rpm-standins.sh" "$REPO_DIR" "$WORK"/v1/*.rpm "$WORK"/v2/*.rpm
  cp "$WORK"/v1/*.rpm "$REPO_DIR/"
  createrepo_c -q "$REPO_DIR"
  if [ "$TOOL" = zypper ]; then
    zyp addrepo --no-gpgcheck "dir:$REPO_DIR" local >/dev/null
    zyp refresh >/dev/null
  fi
  expect "Debian's adduser is a failing stub here" sh -c "! chroot '$R' adduser --help >/dev/null 2>&1"
  expect "no www-data in this root" sh -c "! chroot '$R' getent passwd www-data"
  grep -E '^(ID|ID_LIKE|VERSION_ID)=' "$R/etc/os-release" | sed 's/^/  /'
}

record_calls() {
  calls_take >"$WORK/calls-$1"
  sed 's/^/  call: /' "$WORK/calls-$1"
}

check_common() { # check_common WEB_USER_EXPECTED(yes|no) [disabled]
  local i p
  for p in "${PKGS[@]}"; do expect "$p installed" rpm_r -q "$p" >/dev/null; done
  if [ "$BACKEND" = wsgid ]; then
    expect "/usr/bin/wsgid shipped" test -x "$R/usr/bin/wsgid"
    expect "/usr/lib/wsgid/wsgid_py.abi3.so shipped" test -f "$R/usr/lib/wsgid/wsgid_py.abi3.so"
  fi
  for i in "${INST[@]}"; do
    expect "system user $i (uid < 1000)" test "$(chroot "$R" id -u "$i")" -lt 1000
    expect "$i has a nologin shell" sh -c "chroot '$R' getent passwd $i | cut -d: -f7 | grep -q nologin"
    if [ -n "$NOLOGIN" ]; then
      expect "$i's shell is $DISTRO's $NOLOGIN (the scriptlet detected $DISTRO)" \
        test "$(chroot "$R" getent passwd "$i" | cut -d: -f7)" = "$NOLOGIN"
    fi
    expect "group $GROUP lists $i" has_member "$GROUP" "$i"
    expect "no duplicate members in $GROUP" test "$(group_members "$GROUP" | uniq -d | wc -l)" -eq 0
    expect "unit in $UNITDIR" test -f "$R$UNITDIR/$i-wsgi.service"
    expect "ini /etc/wsgid/$i.ini in place" test -f "$(ini_of "$i")"
    expect "ini is %config(noreplace)" sh -c "rpm --root '$R' --dbpath $DBPATH -q --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' $i-$BACKEND | grep -q '^cn /etc/wsgid/$i.ini\$'"
    if [ "${2:-}" = disabled ]; then
      expect "the admin's disable survived (is-enabled: $(is_enabled "$i"))" test "$(is_enabled "$i")" = disabled
    else
      expect "enabled through the vendor preset (is-enabled: $(is_enabled "$i"))" test "$(is_enabled "$i")" = enabled
    fi
    expect "a vendor preset file names the unit" sh -c "grep -rqs 'enable $i-wsgi.service' '$R/usr/lib/systemd/system-preset'"
  done
  if [ "$1" = yes ]; then
    expect "group $GROUP lists $WEB_USER" has_member "$GROUP" "$WEB_USER"
  fi
  expect "www-data was not created" sh -c "! chroot '$R' getent passwd www-data"
}

do_install() {
  if [ "$TOOL" = zypper ]; then
    zyp install "${PKGS[@]}" 2>&1 | tee "$WORK/install.out"
  else
    rpm_r -Uvh "$REPO_DIR"/base-standin-*.rpm "$WORK"/v1/*.rpm 2>&1 | no_alien | tee "$WORK/install.out"
  fi
  record_calls install
  if [ -n "$UNKNOWN_ID" ]; then
    local id
    id=$(sed -n 's/^ID=//p' "$R/etc/os-release" | tr -d '"')
    expect "a clear message names the unknown ID '$id'" grep -qiE "(unknown|unsupported|not recogni[sz]ed).*$id" "$WORK/install.out"
    grep -iE "$id" "$WORK/install.out" | sed 's/^/  message: /'
  fi
  check_common no
  expect "no $WEB_USER yet: not in $GROUP" sh -c "! chroot '$R' getent passwd $WEB_USER"
}

do_nginx() {
  if [ "$TOOL" = zypper ]; then zyp install nginx; else rpm_r -Uvh "$REPO_DIR"/nginx-*.rpm 2>&1 | no_alien; fi
  record_calls nginx
  expect "$WEB_USER created by the nginx package" chroot "$R" getent passwd "$WEB_USER" >/dev/null
  check_common yes
  expect "%triggerin -- nginx is declared" sh -c "rpm --root '$R' --dbpath $DBPATH -q --triggers ${PKGS[-1]} | grep -q 'triggerin.*nginx'"
}

# The admin's choice: systemctl disable before a reinstall/upgrade must survive it
# (presets apply on first install only: %service_add_post, %systemd_post "$1 -eq 1").
admin_disable() {
  local i
  for i in "${INST[@]}"; do chroot "$R" /usr/bin/systemctl.real disable "$i-wsgi.service" 2>&1 | sed 's/^/  admin: /'; done
}
admin_enable() {
  local i
  for i in "${INST[@]}"; do chroot "$R" /usr/bin/systemctl.real enable "$i-wsgi.service" 2>&1 | sed 's/^/  admin: /'; done
}

do_reinstall() {
  admin_disable
  if [ "$TOOL" = zypper ]; then zyp install -f "${PKGS[@]}"; else rpm_r -Uvh --replacepkgs "$WORK"/v1/*.rpm 2>&1 | no_alien; fi
  record_calls reinstall
  check_common yes disabled
  admin_enable
}

do_upgrade() {
  local i old new
  for i in "${INST[@]}"; do
    echo "# local edit kept across upgrades (install test)" >>"$(ini_of "$i")"
    cp "$(ini_of "$i")" "$WORK/edited-$i.ini"
  done
  old=$(rpm_r -q --qf '%{VERSION}-%{RELEASE}' "${PKGS[0]}")
  admin_disable
  if [ "$TOOL" = zypper ]; then
    cp "$WORK"/v2/*.rpm "$REPO_DIR/"
    createrepo_c -q --update "$REPO_DIR"
    zyp refresh >/dev/null
    zyp update
  else
    rpm_r -Uvh "$WORK"/v2/*.rpm 2>&1 | no_alien
  fi
  record_calls upgrade
  new=$(rpm_r -q --qf '%{VERSION}-%{RELEASE}' "${PKGS[0]}")
  echo "  version: $old -> $new"
  expect "version changed" test "$old" != "$new"
  check_common yes disabled
  admin_enable
  check_common yes
  for i in "${INST[@]}"; do
    expect "edited ini kept" cmp -s "$WORK/edited-$i.ini" "$(ini_of "$i")"
    expect "new packaged ini beside it as .rpmnew" test -f "$(ini_of "$i").rpmnew"
  done
}

do_remove() {
  local i
  for i in "${INST[@]}"; do mkdir -p "$R/opt/$i"; echo data >"$R/opt/$i/keep-me"; done
  if [ "$TOOL" = zypper ]; then zyp remove "${PKGS[@]}"; else rpm_r -e "${PKGS[@]}" 2>&1 | no_alien; fi
  record_calls remove
  for i in "${INST[@]}"; do
    expect "unit file gone" test ! -e "$R$UNITDIR/$i-wsgi.service"
    expect "not enabled any more (no wants symlink)" test ! -L "$(wants_link "$i")"
    expect "vendor preset gone" sh -c "! grep -rqs '$i-wsgi.service' '$R/usr/lib/systemd/system-preset'"
    expect "account $i kept" chroot "$R" getent passwd "$i" >/dev/null
    expect "app data kept" test -f "$R/opt/$i/keep-me"
    echo "  left in /etc/wsgid (rpm keeps modified config as .rpmsave/.rpmnew):" \
      "$(cd "$R/etc" && find wsgid -type f 2>/dev/null | tr '\n' ' ')"
  done
  for p in "${PKGS[@]}"; do expect "$p erased" sh -c "! rpm --root '$R' --dbpath $DBPATH -q $p >/dev/null"; done
}

step prepare do_prepare
step install do_install
step nginx-after do_nginx
step reinstall do_reinstall
step upgrade do_upgrade
step remove do_remove
