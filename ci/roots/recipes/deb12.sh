# shellcheck shell=bash
# Debian 12 (bookworm), debootstrap minbase, from the host's mirror.
build_root() {
  local r=$1 mirror
  mirror=$(debian_mirror)
  debootstrap --variant=minbase bookworm "$r" "$mirror"
  dev_nodes "$r"
  policy_rc_d "$r"
  resolv_conf "$r"
  apt_clean "$r"
}
