# shellcheck shell=bash
# parent: deb12-systemd
# openSUSE Leap 15.6 stand-in (distro-policy.md B2): Leap os-release, no www-data,
# "disable *" preset, rpmdb in /usr/lib/sysimage/rpm, Debian's account and service
# helpers replaced by failing stubs. rpm and zypper are the HOST's, used with --root.
build_root() {
  local r=$1
  set_os_release "$r" 'NAME="openSUSE Leap"
VERSION="15.6"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.6"
PRETTY_NAME="openSUSE Leap 15.6"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:leap:15.6"'
  rpm_standin_common "$r"
}

