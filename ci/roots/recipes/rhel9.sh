# shellcheck shell=bash
# parent: deb12-systemd
# RHEL 9 stand-in: as the SUSE one (suse156.sh) with RHEL's os-release (distro-policy.md A4).
build_root() {
  local r=$1
  set_os_release "$r" 'NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"'
  rpm_standin_common "$r"
}
