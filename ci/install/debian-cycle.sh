#!/usr/bin/env bash
# Debian-family install cycle in a private copy of a cached root (no systemd running):
# install, reinstall, upgrade (edited ini kept), remove, purge; optionally seeded as a
# hand/Ansible install first (--migration). Service handling is checked through
# logging stand-ins for systemctl and deb-systemd-invoke (first on PATH, with a fake
# /run/systemd/system) and a logging wrapper around the real deb-systemd-helper; the
# recorded calls must equal debhelper 13.11.4's generated sequence (distro-policy.md A1,
# /usr/share/debhelper/autoscripts/{postinst-systemd-enable,postinst-systemd-restart,
# prerm-systemd-restart,postrm-systemd-reload-only,postrm-systemd}).
#
# usage: debian-cycle.sh --root NAME --family LABEL --dist DIR --dist-new DIR
#          [--tag deb12] [--instances "gnuhealth thalamus"] [--backend wsgid|uwsgi]
#          [--migration] [--unknown-id]
# --unknown-id: the root's os-release names no known family; the install must say so
# clearly (naming the ID) and take the portable path (accounts and group still made).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

ROOT_NAME="" LABEL="" DIST="" DIST_NEW="" TAG="" INSTANCES="gnuhealth" BACKEND=wsgid MIGRATION="" UNKNOWN_ID=""
while [ $# -gt 0 ]; do
  case $1 in
    --root) ROOT_NAME=$2; shift 2 ;;
    --family) LABEL=$2; shift 2 ;;
    --dist) DIST=$2; shift 2 ;;
    --dist-new) DIST_NEW=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --instances) INSTANCES=$2; shift 2 ;;
    --backend) BACKEND=$2; shift 2 ;;
    --migration) MIGRATION=1; shift ;;
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
WEB_USER=www-data

cycle_start "$LABEL"

# Packages of one version, in install order, as paths inside the root.
PKGS=()
for i in "${INST[@]}"; do PKGS+=("$i-$BACKEND"); done
[ "$BACKEND" != wsgid ] || PKGS=(wsgid "${PKGS[@]}")
debs_of() { # debs_of v1|v2
  local p f
  for p in "${PKGS[@]}"; do
    f=$(pick_file "$R/tmp/debs/$1" "${p}_*.deb" "$TAG") || return 1
    echo "/tmp/debs/$1/$(basename "$f")"
  done
}

unit_dir_of() { # where the installed unit lives
  local d
  for d in /lib/systemd/system /usr/lib/systemd/system; do
    if [ -f "$R$d/$1-wsgi.service" ]; then echo "$d"; return; fi
  done
  return 1
}
wants_link() { echo "$R/etc/systemd/system/multi-user.target.wants/$1-wsgi.service"; }
ini_of() { echo "$R/etc/wsgid/$1.ini"; }

# Calls of one step made by one instance package, for the comparison with debhelper.
# deb-systemd-helper's "unmask" is left out (debhelper marks it "remove in trixie+1"),
# and so are calls made by deb-systemd-helper itself ("[via ...]").
calls_of() { # calls_of FILE INSTANCE
  local u="$2-wsgi.service"
  awk -v pkg="$2-$BACKEND" -v u="$u" '$1 == pkg && ($0 ~ (" " u "( |$)") || $0 ~ /daemon-reload/) && $0 !~ / unmask / && $0 !~ /\[via / { $1 = ""; sub(/^ /, ""); print }' "$1"
}
expect_calls() { # expect_calls STEPNAME FILE INSTANCE (expected lines on stdin)
  local want got
  want=$(sed "s/@U@/$3-wsgi.service/g")
  got=$(calls_of "$2" "$3")
  if [ "$want" = "$got" ]; then
    echo "  ok: $1: service calls of $3-$BACKEND match debhelper"
  else
    echo "  CHECK FAILED: $1: service calls of $3-$BACKEND differ from debhelper"
    diff <(echo "$want") <(echo "$got") | sed 's/^/    /' || true
    return 1
  fi
}
record_calls() { # record_calls STEP: this step's calls into $WORK/calls-STEP, and the log
  calls_take >"$WORK/calls-$1"
  sed 's/^/  call: /' "$WORK/calls-$1"
}
# apt sets the PATH of maintainer scripts from DPkg::Path (default without /usr/local).
apt_r() {
  in_r apt-get -q -y -o Dpkg::Use-Pty=0 -o DPkg::Path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --no-install-recommends "$@"
}

do_prepare() {
  root_prepare "$ROOT_NAME"
  standins_log systemctl deb-systemd-invoke
  standins_exec deb-systemd-helper
  mkdir -p "$R/run/systemd/system" "$R/tmp/debs/v1" "$R/tmp/debs/v2"
  cp "$DIST"/*.deb "$R/tmp/debs/v1/"
  cp "$DIST_NEW"/*.deb "$R/tmp/debs/v2/"
  apt_r update >/dev/null
  for i in "${INST[@]}"; do mkdir -p "$R/opt/$i"; echo "app data" >"$R/opt/$i/keep-me"; done
  expect "os-release ID is as the root says" grep -q '^ID=' "$R/etc/os-release"
  grep -E '^(ID|ID_LIKE|VERSION_ID)=' "$R/etc/os-release" | sed 's/^/  /'
}

do_seed() {
  # What a hand install or the Ansible role leaves (docs/migration.md): a normal user
  # with a home under /home, a non-system group, the old unit in /etc/systemd/system.
  in_r groupadd -g 1001 "$GROUP"
  in_r useradd -m -u 1000 -d /home/gnuhealth -s /bin/bash -G "$GROUP" gnuhealth
  in_r usermod -a -G "$GROUP" "$WEB_USER"
  mkdir -p "$R/opt/gnuhealth/etc"
  printf '[uwsgi]\nsocket = /opt/gnuhealth/var/run/gnuhealth.sckt\n' >"$R/opt/gnuhealth/etc/uwsgi_trytond.ini"
  cat >"$R/etc/systemd/system/gnuhealth.service" <<'UNIT'
[Unit]
Description=GNU Health (deployed by the Ansible uwsgi role)
[Service]
User=gnuhealth
Group=gnuhealth
ExecStart=/opt/gnuhealth/venv/bin/uwsgi --ini /opt/gnuhealth/etc/uwsgi_trytond.ini
[Install]
WantedBy=multi-user.target
UNIT
  mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
  ln -s /etc/systemd/system/gnuhealth.service "$R/etc/systemd/system/multi-user.target.wants/gnuhealth.service"
  sha256sum "$R/etc/systemd/system/gnuhealth.service" "$R/opt/gnuhealth/etc/uwsgi_trytond.ini" >"$WORK/seed.sha256"
  in_r getent passwd gnuhealth >"$WORK/seed.passwd"
  in_r getent group "$GROUP" | cut -d: -f1-3 >"$WORK/seed.group"
}

check_installed() { # check_installed STEP [disabled]: "disabled" when the admin disabled the unit
  local i p u ud st
  for p in "${PKGS[@]}"; do
    expect "$p is installed" sh -c "chroot '$R' dpkg-query -W -f='\${Status}' $p | grep -qx 'install ok installed'"
  done
  if [ "$BACKEND" = wsgid ]; then
    expect "/usr/bin/wsgid shipped" test -x "$R/usr/bin/wsgid"
    expect "/usr/lib/wsgid/wsgid_py.abi3.so shipped" test -f "$R/usr/lib/wsgid/wsgid_py.abi3.so"
  fi
  for i in "${INST[@]}"; do
    expect "user $i exists" in_r getent passwd "$i" >/dev/null
    expect "group $GROUP lists $i" has_member "$GROUP" "$i"
    if [ -z "$UNKNOWN_ID" ]; then expect "group $GROUP lists $WEB_USER" has_member "$GROUP" "$WEB_USER"; fi
    expect "no duplicate members in $GROUP" test "$(group_members "$GROUP" | uniq -d | wc -l)" -eq 0
    ud=$(unit_dir_of "$i") || { echo "  CHECK FAILED: no unit $i-wsgi.service installed"; return 1; }
    u=$R$ud/$i-wsgi.service
    echo "  unit: $ud/$i-wsgi.service"
    if [ "${2:-}" = disabled ]; then
      expect "the admin's disable survived (no multi-user.target.wants symlink)" test ! -L "$(wants_link "$i")"
    else
      expect "unit enabled (multi-user.target.wants symlink)" test -L "$(wants_link "$i")"
      expect "enable symlink resolves to the unit" test "$(readlink "$(wants_link "$i")")" = "$ud/$i-wsgi.service"
    fi
    expect "ini /etc/wsgid/$i.ini in place" test -f "$(ini_of "$i")"
    expect "ini is a conffile of $i-$BACKEND" sh -c "chroot '$R' dpkg-query -W -f='\${Conffiles}' $i-$BACKEND | grep -q ' /etc/wsgid/$i.ini '"
    expect "unit runs as User=$i" grep -qx "User=$i" "$u"
    # shellcheck disable=SC2016
    chroot "$R" dpkg-query -W -f='${Conffiles}\n' "$i-$BACKEND" | awk 'NF { print $1 }' >>"$WORK/conffiles"
    st=$(sed -n 's/^StateDirectory=//p' "$u" | awk '{print $1}')
    [ -z "$st" ] || echo "$st" >"$WORK/statedir-$i"
    if [ -z "$MIGRATION" ] || [ "$i" != gnuhealth ]; then
      expect "$i is a system user (uid < 1000)" test "$(in_r id -u "$i")" -lt 1000
      expect "$i has a nologin shell" sh -c "chroot '$R' getent passwd $i | cut -d: -f7 | grep -q nologin"
    fi
  done
}

do_install() {
  local f i id debs
  debs=$(debs_of v1)
  # shellcheck disable=SC2086
  apt_r install $debs 2>&1 | tee "$WORK/install.out"
  if [ -n "$UNKNOWN_ID" ]; then
    id=$(sed -n 's/^ID=//p' "$R/etc/os-release" | tr -d '"')
    expect "a clear message names the unknown ID '$id'" grep -qiE "(unknown|unsupported|not recogni[sz]ed).*$id|$id.*(unknown|unsupported|not recogni[sz]ed)" "$WORK/install.out"
    grep -iE "$id" "$WORK/install.out" | sed 's/^/  message: /'
  fi
  record_calls install
  f=$WORK/calls-install
  check_installed install
  if [ -z "$UNKNOWN_ID" ] && [ -z "$MIGRATION" ]; then
    # www-data joined the socket group on this install: nginx reloaded once, so its new
    # workers carry the group (the calls of all instance packages together).
    expect "nginx reloaded once as $WEB_USER joined $GROUP" \
      test "$(grep -c 'postinst: deb-systemd-invoke try-reload-or-restart nginx.service' "$f")" -eq 1
  fi
  for i in "${INST[@]}"; do
    expect_calls install "$f" "$i" <<'CALLS'
postinst: deb-systemd-helper --quiet was-enabled @U@
postinst: deb-systemd-helper enable @U@
postinst: systemctl --system daemon-reload
postinst: deb-systemd-invoke start @U@
CALLS
  done
}

restart_calls() {
  cat <<'CALLS'
postinst: deb-systemd-helper --quiet was-enabled @U@
postinst: deb-systemd-helper enable @U@
postinst: systemctl --system daemon-reload
postinst: deb-systemd-invoke restart @U@
CALLS
}

do_reinstall() {
  # The admin disabled the unit (removing the wants symlink is what "systemctl disable"
  # does; no systemd runs here): a reinstall must keep it disabled (debhelper's was-enabled ->
  # update-state path), then the admin enables it again.
  local f i debs
  local links=()
  for i in "${INST[@]}"; do links+=("$(readlink "$(wants_link "$i")")"); rm "$(wants_link "$i")"; done
  calls_take >/dev/null
  debs=$(debs_of v1)
  # shellcheck disable=SC2086
  apt_r install --reinstall $debs
  record_calls reinstall
  f=$WORK/calls-reinstall
  check_installed reinstall disabled
  expect "no nginx reload when $WEB_USER already was a member" \
    sh -c "! grep -q 'try-reload-or-restart nginx.service' '$f'"
  for i in "${INST[@]}"; do
    expect_calls reinstall "$f" "$i" <<'CALLS'
postinst: deb-systemd-helper --quiet was-enabled @U@
postinst: deb-systemd-helper update-state @U@
postinst: systemctl --system daemon-reload
postinst: deb-systemd-invoke restart @U@
CALLS
  done
  local n=0
  for i in "${INST[@]}"; do ln -s "${links[$n]}" "$(wants_link "$i")"; n=$((n + 1)); done
  calls_take >/dev/null
  check_installed reinstall
}

do_upgrade() {
  local i f st old debs
  debs=$(debs_of v2)
  for i in "${INST[@]}"; do
    echo "# local edit kept across upgrades (install test)" >>"$(ini_of "$i")"
    cp "$(ini_of "$i")" "$WORK/edited-$i.ini"
    if [ -f "$WORK/statedir-$i" ]; then
      st=$(cat "$WORK/statedir-$i"); mkdir -p "$R/var/lib/$st"; echo data >"$R/var/lib/$st/keep-me"
    fi
  done
  # shellcheck disable=SC2016
  old=$(chroot "$R" dpkg-query -W -f='${Version}' "${PKGS[0]}")
  # shellcheck disable=SC2086
  apt_r install -o Dpkg::Options::=--force-confold $debs
  record_calls upgrade
  f=$WORK/calls-upgrade
  local new
  # shellcheck disable=SC2016
  new=$(chroot "$R" dpkg-query -W -f='${Version}' "${PKGS[0]}")
  echo "  version: $old -> $new"
  expect "version changed" test "$old" != "$new"
  check_installed upgrade
  for i in "${INST[@]}"; do
    expect "edited ini kept" cmp -s "$WORK/edited-$i.ini" "$(ini_of "$i")"
    expect "new packaged ini beside it as .dpkg-dist" test -f "$(ini_of "$i").dpkg-dist"
    restart_calls | expect_calls upgrade "$f" "$i"
  done
}

do_remove() {
  local i f ipk=()
  for i in "${INST[@]}"; do ipk+=("$i-$BACKEND"); done
  apt_r remove "${ipk[@]}"
  record_calls remove
  f=$WORK/calls-remove
  for i in "${INST[@]}"; do
    expect "$i-$BACKEND in state config-files" sh -c "chroot '$R' dpkg-query -W -f='\${Status}' $i-$BACKEND | grep -qx 'deinstall ok config-files'"
    expect "unit file gone" sh -c "! ls '$R'/lib/systemd/system/$i-wsgi.service '$R'/usr/lib/systemd/system/$i-wsgi.service 2>/dev/null"
    expect "no enabled unit left (no symlink, or one to a removed file)" sh -c "! test -e '$(wants_link "$i")'"
    expect "ini kept until purge (conffile)" test -f "$(ini_of "$i")"
    expect_calls remove "$f" "$i" <<'CALLS'
prerm: deb-systemd-invoke stop @U@
postrm: systemctl --system daemon-reload
CALLS
  done
}

do_purge() {
  local i f st
  apt_r purge "${PKGS[@]}"
  record_calls purge
  f=$WORK/calls-purge
  for i in "${INST[@]}"; do
    expect "no config of ours left (/etc/wsgid/$i.ini*)" sh -c "! ls '$R'/etc/wsgid/$i.ini* 2>/dev/null"
    expect "enable symlink gone" sh -c "! test -L '$(wants_link "$i")'"
    expect "no deb-systemd-helper state left" sh -c "! grep -rqs '$i-wsgi' '$R/var/lib/systemd/deb-systemd-helper-enabled'"
    expect "account $i kept" in_r getent passwd "$i" >/dev/null
    expect "app data kept (/opt/$i)" test -f "$R/opt/$i/keep-me"
    if [ -f "$WORK/statedir-$i" ]; then
      st=$(cat "$WORK/statedir-$i")
      expect "state directory data kept (/var/lib/$st)" test -f "$R/var/lib/$st/keep-me"
    fi
    expect_calls purge "$f" "$i" <<'CALLS'
postrm: deb-systemd-helper purge @U@
CALLS
  done
  expect "group $GROUP kept" in_r getent group "$GROUP" >/dev/null
  local c left=""
  while read -r c; do
    for f in "$R$c" "$R$c.dpkg-dist" "$R$c.dpkg-old" "$R$c.dpkg-new"; do [ ! -e "$f" ] || left="$left ${f#"$R"}"; done
  done < <(sort -u "$WORK/conffiles")
  echo "  conffiles of ours: $(sort -u "$WORK/conffiles" | tr '\n' ' ')"
  expect "purge left none of our conffiles (nor .dpkg-dist/-old/-new)${left:+: left$left}" test -z "$left"
}

do_migration_checks() {
  expect "old unit and old ini untouched" sh -c "cd / && sha256sum --quiet -c '$WORK/seed.sha256'"
  expect "old unit still enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/gnuhealth.service"
  expect "user gnuhealth adopted as it was (uid 1000, /home/gnuhealth, bash)" \
    test "$(in_r getent passwd gnuhealth)" = "$(cat "$WORK/seed.passwd")"
  expect "group $GROUP adopted (same gid)" test "$(in_r getent group "$GROUP" | cut -d: -f1-3)" = "$(cat "$WORK/seed.group")"
  expect "no second gnuhealth/uwsginginx entry" sh -c "test \$(grep -c '^gnuhealth:' '$R/etc/passwd') -eq 1 && test \$(grep -c '^$GROUP:' '$R/etc/group') -eq 1"
  expect "new unit has another name than the old one" test -L "$(wants_link gnuhealth)"
}

step prepare do_prepare
if [ -n "$MIGRATION" ]; then
  step seed do_seed
  step install do_install
  step migration do_migration_checks
  step upgrade do_upgrade
  step migration-after-upgrade do_migration_checks
else
  step install do_install
  step reinstall do_reinstall
  step upgrade do_upgrade
  step remove do_remove
  step purge do_purge
fi
