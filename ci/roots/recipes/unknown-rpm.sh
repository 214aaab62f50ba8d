# shellcheck shell=bash
# parent: deb12-systemd
# An rpm stand-in (as suse156.sh) whose os-release names no known family: the .rpm's
# scriptlets must say so and take the portable path.
build_root() {
  set_os_release "$1" 'NAME="Acme Linux"
ID=acme
VERSION_ID="1"
PRETTY_NAME="Acme Linux 1"'
  rpm_standin_common "$1"
}
