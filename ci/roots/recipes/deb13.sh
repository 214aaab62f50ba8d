# shellcheck shell=bash
# Debian 13 (trixie), mmdebstrap minbase (no adduser in it: packages must depend on it).
build_root() {
  local r=$1 mirror
  mirror=$(debian_mirror)
  mmdebstrap --variant=minbase --mode=root trixie "$r" "deb $mirror trixie main"
  dev_nodes "$r"
  policy_rc_d "$r"
  resolv_conf "$r"
  apt_in_root "$r" update
  apt_clean "$r"
}
