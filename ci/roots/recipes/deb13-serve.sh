# shellcheck shell=bash
# parent: deb13
# Debian 13 for the serving check on Python 3.13 (issue 3: one wsgid package works with
# each target's own python3): nginx, python3-venv and trytond 7.0 in /opt/gnuhealth/venv,
# as GNU Health installs it. Debian 13 has no nginx-light any more: plain nginx.
build_root() {
  local r=$1
  apt_in_root "$r" update
  apt_in_root "$r" install python3-venv nginx
  in_root "$r" python3 -m venv /opt/gnuhealth/venv
  # pip verifies TLS with the host's CA bundle (the host may sit behind a TLS proxy).
  cp -L "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$r/tmp/host-ca.crt"
  in_root "$r" /opt/gnuhealth/venv/bin/pip install -q --disable-pip-version-check \
    --cert /tmp/host-ca.crt 'trytond>=7.0,<7.1'
  rm -f "$r/tmp/host-ca.crt"
  rm -rf "$r/root/.cache" "$r"/var/log/apt/*
}
