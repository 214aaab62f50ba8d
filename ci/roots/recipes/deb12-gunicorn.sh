# shellcheck shell=bash
# parent: deb12-serve
# Debian 12 serving root for the gunicorn backend: gunicorn installed into the app's
# virtualenv, as GNU Health's gunicorn instructions do (the gnuhealth-gunicorn unit
# runs /opt/gnuhealth/venv/bin/gunicorn).
build_root() {
  local r=$1
  cp -L "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$r/tmp/host-ca.crt"
  in_root "$r" /opt/gnuhealth/venv/bin/pip install -q --disable-pip-version-check \
    --cert /tmp/host-ca.crt 'gunicorn>=23,<28'
  rm -f "$r/tmp/host-ca.crt"
  rm -rf "$r/root/.cache"
}
