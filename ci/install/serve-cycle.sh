#!/usr/bin/env bash
# Serving check inside a Debian 12 root (ci/roots/recipes/deb12-serve.sh: nginx-light,
# trytond 7.0 in /opt/gnuhealth/venv): install our packages, create the app's SQLite
# database as the app user, start the INSTALLED unit's ExecStart with its User, Group
# (+ the user's supplementary groups, as systemd does) and Environment, start nginx
# with workers as www-data and uwsgi_pass (proxy_pass for gunicorn, which speaks HTTP)
# to the instance socket, and POST a JSON-RPC common.server.version through nginx.
# Every started process group is killed on exit.
#
# usage: serve-cycle.sh --family LABEL --dist DIR [--backend wsgid|uwsgi|gunicorn] [--instance gnuhealth]
#          [--migration] [--root deb12-serve] [--python 3.11]
# --root: the cached root to serve in (deb13-serve: Debian 13, Python 3.13;
# deb12-gunicorn: gunicorn in the app's virtualenv).
# --python: the app's python3 must be this version (one wsgid package for every target).
# --migration: the root is first seeded as a hand/Ansible install left it (a normal
# user with uid 1000 and a home under /home, a non-system socket group with the web
# user, the app in /opt); our packages must adopt it and serve with those accounts.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

LABEL="" DIST="" BACKEND=wsgid I=gnuhealth ROOT_NAME=deb12-serve MIGRATION="" PYTHON=""
while [ $# -gt 0 ]; do
  case $1 in
    --family) LABEL=$2; shift 2 ;;
    --dist) DIST=$2; shift 2 ;;
    --backend) BACKEND=$2; shift 2 ;;
    --instance) I=$2; shift 2 ;;
    --root) ROOT_NAME=$2; shift 2 ;;
    --python) PYTHON=$2; shift 2 ;;
    --migration) MIGRATION=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$LABEL" ] || [ ! -d "$DIST" ]; then echo "usage: $0 --family LABEL --dist DIR [...]" >&2; exit 2; fi
GROUP=uwsginginx
UNIT=$I-wsgi.service
PGIDS=()
SIGS=()
stop_all() {
  local g n i
  for i in "${!PGIDS[@]}"; do kill -"${SIGS[$i]}" -- "-${PGIDS[$i]}" 2>/dev/null || true; done
  for g in "${PGIDS[@]}"; do
    for ((n = 0; n < 100; n++)); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$g" 2>/dev/null || true
  done
  PGIDS=()
  SIGS=()
}
cycle_start "$LABEL"
CLEANUP_HOOKS+=(stop_all)

apt_r() {
  in_r apt-get -q -y -o Dpkg::Use-Pty=0 --no-install-recommends "$@"
}
unit_file() {
  local d
  for d in /lib/systemd/system /usr/lib/systemd/system; do
    if [ -f "$R$d/$UNIT" ]; then echo "$R$d/$UNIT"; return; fi
  done
  return 1
}
unit_key() { sed -n "s/^$1=//p" "$(unit_file)"; }

do_prepare() {
  root_prepare "$ROOT_NAME"
  mkdir -p "$R/tmp/debs"
  local p
  for p in $([ "$BACKEND" = wsgid ] && echo wsgid) "$I-$BACKEND"; do
    cp "$(pick_file "$DIST" "${p}_*.deb" deb12)" "$R/tmp/debs/"
  done
  apt_r update >/dev/null
}

do_seed() {
  in_r groupadd -g 1001 "$GROUP"
  in_r useradd -m -u 1000 -d "/home/$I" -s /bin/bash -G "$GROUP" "$I"
  in_r usermod -a -G "$GROUP" www-data
  in_r getent passwd "$I" >"$WORK/seed.passwd"
  in_r getent group "$GROUP" | cut -d: -f1-3 >"$WORK/seed.group"
  cat "$WORK/seed.passwd" "$WORK/seed.group" | sed 's/^/  seeded: /'
}

do_install() {
  local debs=() f
  for f in "$R"/tmp/debs/*.deb; do debs+=("/tmp/debs/$(basename "$f")"); done
  apt_r install "${debs[@]}"
  expect "unit $UNIT installed" test -n "$(unit_file)"
  if [ -n "$MIGRATION" ]; then
    expect "user $I adopted as it was (uid 1000, /home/$I)" test "$(in_r getent passwd "$I")" = "$(cat "$WORK/seed.passwd")"
    expect "group $GROUP adopted (same gid)" test "$(in_r getent group "$GROUP" | cut -d: -f1-3)" = "$(cat "$WORK/seed.group")"
  fi
  expect "group $GROUP lists $I and www-data" sh -c "chroot '$R' getent group $GROUP | cut -d: -f4 | tr , '\n' | grep -qx $I && chroot '$R' getent group $GROUP | cut -d: -f4 | tr , '\n' | grep -qx www-data"
}

# Environment of the service: the unit's Environment= lines, then the ini's env = lines.
# The service's environment: the unit's Environment= and the instance's env entries
# (the ini's `env =` lines, or gunicorn's raw_env list, which gunicorn also applies).
service_env() {
  unit_key Environment | tr ' ' '\n' | sed 's/^"//; s/"$//' | sed '/^$/d'
  if [ -f "$R/etc/wsgid/$I.ini" ]; then
    sed -n 's/^[[:space:]]*env[[:space:]]*=[[:space:]]*//p' "$R/etc/wsgid/$I.ini"
  else
    sed -n '/^raw_env = \[/,/^\]/s/^[[:space:]]*"\(.*=.*\)",$/\1/p' "$R/etc/wsgid/$I.gunicorn.conf.py"
  fi
}

do_database() {
  local conf user
  user=$(unit_key User)
  conf=$(service_env | sed -n 's/^TRYTOND_CONFIG=//p' | tail -n1)
  if [ -z "$conf" ]; then
    echo "  the ini names no TRYTOND_CONFIG: using /etc/wsgid/$I-trytond.conf via a drop-in environment"
    conf=/etc/wsgid/$I-trytond.conf
    if [ -f "$R/etc/wsgid/$I.ini" ]; then
      echo "env = TRYTOND_CONFIG=$conf" >>"$R/etc/wsgid/$I.ini"
    else
      sed -i "s|^raw_env = \[\$|&\n    \"TRYTOND_CONFIG=$conf\",|" "$R/etc/wsgid/$I.gunicorn.conf.py"
    fi
  fi
  echo "  trytond config: $conf"
  mkdir -p "$R$(dirname "$conf")" "$R/opt/$I/db"
  if [ ! -f "$R$conf" ]; then
    printf '[database]\nuri = sqlite://\npath = /opt/%s/db\n' "$I" >"$R$conf"
  fi
  chroot "$R" chown "$user" "/opt/$I/db"
  # The app's logging config, as a GNU Health install provides it (to stderr: journal).
  local logconf
  logconf=$(service_env | sed -n 's/^TRYTOND_LOGGING_CONFIG=//p' | tail -n1)
  if [ -n "$logconf" ] && [ ! -f "$R$logconf" ]; then
    echo "  trytond logging config: $logconf"
    mkdir -p "$R$(dirname "$logconf")"
    cat >"$R$logconf" <<'LOG'
[formatters]
keys=simple
[handlers]
keys=stderr
[loggers]
keys=root
[formatter_simple]
format=%(asctime)s %(levelname)s %(name)s %(message)s
[handler_stderr]
class=StreamHandler
formatter=simple
args=(sys.stderr,)
[logger_root]
level=WARNING
handlers=stderr
LOG
  fi
  echo admin >"$R/opt/$I/db/.passfile"
  # Real steps as the app user (runuser, as the maintainer scripts drop privileges);
  # trytond's SQLite backend opens an existing file only.
  chroot "$R" runuser -u "$user" -- touch "/opt/$I/db/health.sqlite"
  chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TRYTONPASSFILE="/opt/$I/db/.passfile" \
    runuser -u "$user" -- /opt/gnuhealth/venv/bin/trytond-admin -c "$conf" -d health --all --email admin@example.invalid >"$WORK/admin.out" 2>&1 ||
    { tail -20 "$WORK/admin.out"; return 1; }
  expect "SQLite database created by trytond-admin as $user" test -f "$R/opt/$I/db/health.sqlite"
}

do_start_app() {
  local exec_start user group rdir sdir groups envs=() line
  exec_start=$(unit_key ExecStart | head -n1 | sed 's/^[-@+!:]*//')
  user=$(unit_key User); group=$(unit_key Group)
  rdir=$(unit_key RuntimeDirectory | awk '{print $1}')
  sdir=$(unit_key StateDirectory | awk '{print $1}')
  echo "  installed unit: ExecStart=$exec_start User=$user Group=$group RuntimeDirectory=$rdir StateDirectory=$sdir"
  expect "unit names ExecStart, User and Group" test -n "$exec_start" -a -n "$user" -a -n "$group"
  local cond
  for cond in $(unit_key ConditionPathExists | sed 's/^!//'); do
    expect "ConditionPathExists=$cond holds in the root (else systemd would skip the start)" test -e "$R$cond"
  done
  # What systemd would create for the service.
  if [ -n "$rdir" ]; then install -d -m 0755 "$R/run/$rdir"; chroot "$R" chown "$user:$group" "/run/$rdir"; fi
  if [ -n "$sdir" ]; then install -d -m 0755 "$R/var/lib/$sdir"; chroot "$R" chown "$user:$group" "/var/lib/$sdir"; fi
  while IFS= read -r line; do envs+=("$line"); done < <(service_env)
  groups=$(chroot "$R" id -Gn "$user" | tr ' ' ',')
  echo "  supplementary groups of $user: $groups"
  # shellcheck disable=SC2086
  setsid chroot --userspec="$user:$group" --groups="$groups" "$R" /usr/bin/env -i \
    PATH=/usr/local/bin:/usr/bin:/bin HOME=/ LANG=C.UTF-8 "${envs[@]}" $exec_start \
    >"$WORK/app.log" 2>&1 &
  PGIDS+=("$!")
  # Stopped with the unit's KillSignal= (uWSGI's master reloads on SIGTERM).
  local sig
  sig=$(unit_key KillSignal | sed 's/^SIG//')
  SIGS+=("${sig:-TERM}")
  echo "  stop signal: ${SIGS[-1]} (the unit's KillSignal=, default SIGTERM)"
  # Ready once the socket is there with its final mode and group (gunicorn binds first
  # and hands the socket to the group in its when_ready hook).
  local sock=/run/$I-wsgi/$I.sock n
  for ((n = 0; n < 300; n++)); do
    [ -S "$R$sock" ] && [ "$(chroot "$R" stat -c '%a %G' "$sock" 2>/dev/null)" = "660 $GROUP" ] && break
    kill -0 "$!" 2>/dev/null || { echo "  the app exited:"; tail -30 "$WORK/app.log"; return 1; }
    sleep 0.1
  done
  expect "socket $sock appeared" test -S "$R$sock"
  expect "socket mode 0660, group $GROUP ($(chroot "$R" stat -c '%a %G' "$sock" 2>/dev/null))" \
    test "$(chroot "$R" stat -c '%a %G' "$sock")" = "660 $GROUP"
}

do_nginx() {
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$R/etc/nginx/wsgi-pack-test.conf" <<CONF
user www-data;
daemon off;
worker_processes 1;
pid /run/nginx-wsgi-pack-test.pid;
error_log /var/log/nginx/wsgi-pack-test.error.log;
events { worker_connections 64; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$PORT;
    location / {
$(if [ "$BACKEND" = gunicorn ]; then
  echo "      proxy_pass http://unix:/run/$I-wsgi/$I.sock:;"
else
  echo "      include /etc/nginx/uwsgi_params;"
  echo "      uwsgi_pass unix:/run/$I-wsgi/$I.sock;"
fi)
    }
  }
}
CONF
  chroot "$R" nginx -t -c /etc/nginx/wsgi-pack-test.conf
  setsid chroot "$R" nginx -c /etc/nginx/wsgi-pack-test.conf >"$WORK/nginx.log" 2>&1 &
  PGIDS+=("$!")
  SIGS+=(QUIT)
  local n
  for ((n = 0; n < 100; n++)); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
  done
  expect "nginx workers run as www-data" sh -c "ps -o user= --ppid \$(cat '$R/run/nginx-wsgi-pack-test.pid') | grep -qx www-data"
}

do_request() {
  local want got pyver
  pyver=$(chroot "$R" /opt/gnuhealth/venv/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  echo "  the app's python3: $pyver"
  if [ -n "$PYTHON" ]; then expect "the app runs on Python $PYTHON" test "$pyver" = "$PYTHON"; fi
  want=$(chroot "$R" /opt/gnuhealth/venv/bin/python3 -c 'import trytond; print(trytond.__version__)')
  got=$(curl -sS --max-time 30 -H 'Content-Type: application/json' \
    --data '{"id": 1, "method": "common.server.version", "params": []}' "http://127.0.0.1:$PORT/")
  echo "  answer: $got"
  expect "JSON-RPC common.server.version answers $want" \
    python3 -c 'import json, sys; a = json.loads(sys.argv[1]); sys.exit(0 if a.get("result") == sys.argv[2] and a.get("id") == 1 else 1)' "$got" "$want"
}

do_stop() {
  # The app first, with the unit's KillSignal=: it must exit by itself (systemd's
  # TimeoutStopSec would SIGKILL it otherwise; 10 s here).
  local g=${PGIDS[0]} n
  kill -"${SIGS[0]}" -- "-$g"
  for ((n = 0; n < 100; n++)); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.1; done
  expect "the server exited on SIG${SIGS[0]} within 10 s" sh -c "! kill -0 -- -$g 2>/dev/null"
  stop_all
  expect "no process of the root left" sh -c "! ls -l /proc/[0-9]*/root 2>/dev/null | grep -q ' -> $R\$'"
}

step prepare do_prepare
if [ -n "$MIGRATION" ]; then step seed do_seed; fi
step install do_install
step database do_database
step start-app do_start_app
step nginx do_nginx
step request do_request
step stop do_stop
