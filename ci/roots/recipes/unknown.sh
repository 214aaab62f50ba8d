# shellcheck shell=bash
# parent: deb12
# A Debian 12 root whose os-release names no known family (no ID_LIKE either).
build_root() {
  set_os_release "$1" 'NAME="Acme Linux"
ID=acme
VERSION_ID="1"
PRETTY_NAME="Acme Linux 1"'
}
