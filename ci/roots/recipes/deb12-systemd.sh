# shellcheck shell=bash
# parent: deb12
# Debian 12 + systemd (offline systemctl enable/preset/is-enabled), base of the rpm stand-ins.
build_root() {
  apt_in_root "$1" update
  apt_in_root "$1" install systemd
  apt_clean "$1"
}
