# shellcheck shell=bash
# parent: deb12
# Debian 12 for the serving checks: nginx, python3-venv and the app (trytond 7.0 in
# /opt/gnuhealth/venv, as GNU Health installs it). uWSGI is only downloaded: the
# gnuhealth-uwsgi package's own dependencies must install it.
build_root() {
  local r=$1
  apt_in_root "$r" update
  apt_in_root "$r" install python3-venv nginx-light
  apt_in_root "$r" install --download-only uwsgi uwsgi-plugin-python3
  in_root "$r" python3 -m venv /opt/gnuhealth/venv
  # pip verifies TLS with the host's CA bundle (the host may sit behind a TLS proxy).
  cp -L "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$r/tmp/host-ca.crt"
  in_root "$r" /opt/gnuhealth/venv/bin/pip install -q --disable-pip-version-check \
    --cert /tmp/host-ca.crt 'trytond>=7.0,<7.1'
  rm -f "$r/tmp/host-ca.crt"
  rm -rf "$r/root/.cache" "$r"/var/log/apt/*
}
