# shellcheck shell=bash
# parent: deb12
# A Debian 12 root whose os-release says Ubuntu 24.04 (values: distro-policy.md A4).
build_root() {
  set_os_release "$1" 'PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble'
}
