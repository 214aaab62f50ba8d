# shellcheck shell=bash
# Install-cycle harness: timed steps, checks, a private root copy with /proc mounted,
# logging stand-ins, and guaranteed cleanup. Sourced by ci/install/*-cycle.sh.
#
# Output contract (parsed by tests/install_*.rs):
#   STEP family=F step=S result=ok|FAIL seconds=T
#   STEPS family=F ran=N ok=M
#   CYCLE family=F result=ok|FAIL
# shellcheck source-path=SCRIPTDIR source=../roots/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../roots/lib.sh"
INSTALL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

FAMILY=${FAMILY:-unknown}
STEPS_RAN=0
STEPS_OK=0
CURRENT_STEP=""
STEP_T0=""
WORK=""
R=""
CLEANUP_HOOKS=()

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# step NAME FUNCTION [ARGS...]: runs one timed step; a failure ends the cycle.
step() {
  local name=$1; shift
  CURRENT_STEP=$name
  STEP_T0=$(now)
  STEPS_RAN=$((STEPS_RAN + 1))
  echo "--- $FAMILY: $name"
  "$@"
  echo "STEP family=$FAMILY step=$name result=ok seconds=$(elapsed "$STEP_T0")"
  STEPS_OK=$((STEPS_OK + 1))
  CURRENT_STEP=""
}

# expect DESCRIPTION COMMAND...: one check inside a step.
expect() {
  local what=$1; shift
  if "$@"; then
    echo "  ok: $what"
  else
    echo "  CHECK FAILED: $what (command: $*)"
    return 1
  fi
}

cycle_finish() {
  local rc=$?
  set +e
  if [ -n "$CURRENT_STEP" ]; then
    echo "STEP family=$FAMILY step=$CURRENT_STEP result=FAIL seconds=$(elapsed "$STEP_T0")"
  fi
  local i
  for ((i = ${#CLEANUP_HOOKS[@]} - 1; i >= 0; i--)); do ${CLEANUP_HOOKS[$i]}; done
  root_umount_all
  if [ -n "$WORK" ] && [ -d "$WORK" ] && [ -z "${KEEP_WORK:-}" ]; then
    rm -rf --one-file-system "$WORK"
  fi
  echo "STEPS family=$FAMILY ran=$STEPS_RAN ok=$STEPS_OK"
  if [ "$rc" -eq 0 ] && [ -z "$CURRENT_STEP" ]; then
    echo "CYCLE family=$FAMILY result=ok"
  else
    echo "CYCLE family=$FAMILY result=FAIL"
    [ "$rc" -ne 0 ] || rc=1
  fi
  exit "$rc"
}

# Call once at the top of a cycle: sets WORK (temp dir) and the EXIT trap.
cycle_start() {
  FAMILY=$1
  WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/wsgi-pack-$FAMILY.XXXXXX")
  R=$WORK/root
  trap cycle_finish EXIT
  trap 'exit 130' INT TERM
}

# A private copy of the cached root NAME at $R, with /proc mounted.
root_prepare() {
  root_copy "$1" "$R"
  root_mount_proc "$R"
}

# Runs a command inside the root. PATH puts /usr/local/sbin first (the stand-ins).
in_r() {
  chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# Stand-ins first on PATH (dpkg keeps the caller's PATH for maintainer scripts):
# standins_log NAME... record the call and succeed (systemd is not running here);
# standins_exec NAME... record the call and run the real program.
standins_log() {
  local n
  for n in "$@"; do install -m 0755 "$INSTALL_HERE/standins/log-call" "$R/usr/local/sbin/$n"; done
}
standins_exec() {
  local n
  for n in "$@"; do install -m 0755 "$INSTALL_HERE/standins/log-exec" "$R/usr/local/sbin/$n"; done
}
# Wraps a real program in place, keeping it as PATH.real (rpm fixes the scriptlets' PATH).
standin_wrap() {
  local p
  for p in "$@"; do
    [ -e "$R$p.real" ] || mv "$R$p" "$R$p.real"
    install -m 0755 "$INSTALL_HERE/standins/log-exec" "$R$p"
  done
}
calls_take() {
  local log=$R/var/log/wsgi-pack-calls.log
  if [ -f "$log" ]; then cat "$log"; : >"$log"; fi
}

# The single file in DIR matching a glob; with several, the single one whose name
# contains the first of TAGS (space-separated, in order of preference) that picks one.
pick_file() {
  local dir=$1 glob=$2 tags=${3:-} f t
  local all=() tagged
  shopt -s nullglob
  for f in "$dir"/$glob; do all+=("$f"); done
  shopt -u nullglob
  if [ "${#all[@]}" -eq 1 ]; then echo "${all[0]}"; return; fi
  for t in $tags; do
    tagged=()
    for f in "${all[@]}"; do
      if [[ $(basename "$f") == *"$t"* ]]; then tagged+=("$f"); fi
    done
    if [ "${#tagged[@]}" -eq 1 ]; then echo "${tagged[0]}"; return; fi
  done
  echo "pick_file: expected one $glob (preferring '$tags') in $dir, found: ${all[*]:-none}" >&2
  return 1
}

# Members of a group inside the root, one per line, sorted.
group_members() {
  in_r getent group "$1" | cut -d: -f4 | tr ',' '\n' | sed '/^$/d' | sort
}
has_member() { group_members "$1" | grep -qx "$2"; }
