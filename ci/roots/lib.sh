# shellcheck shell=bash
# Test-root cache: builds each root from its recipe once, keyed by a hash of the recipe
# text, and hands out private copies. Sourced by ci/roots/root.sh and ci/install/*.sh.
#
# Layout under $ROOTS_CACHE (default /var/cache/wsgi-pack-roots):
#   NAME-KEY/        the root (never modified after it is complete)
#   NAME-KEY.ok      written last: the root is complete
#   NAME.lock        flock while a root of that name is built
# KEY = sha256 of recipes/common.sh + recipes/NAME.sh (+ the parent's KEY), so editing
# a recipe rebuilds that root and every root built on it; older keys are deleted.

ROOTS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOTS_CACHE=${WSGI_PACK_ROOTS_CACHE:-/var/cache/wsgi-pack-roots}

# The parent root named by a recipe (empty for a bootstrap recipe).
root_parent() {
  sed -n 's/^# parent: *//p' "$ROOTS_HERE/recipes/$1.sh"
}

root_key() {
  local name=$1 parent
  [ -f "$ROOTS_HERE/recipes/$name.sh" ] || { echo "no recipe ci/roots/recipes/$name.sh" >&2; return 1; }
  parent=$(root_parent "$name")
  {
    cat "$ROOTS_HERE/recipes/common.sh" "$ROOTS_HERE/recipes/$name.sh"
    if [ -n "$parent" ]; then root_key "$parent"; fi
  } | sha256sum | cut -c1-16
}

# Prints the path of the cached root NAME, building it (and its parents) when missing.
# A failure to build is an error, never a skip.
root_ensure() {
  local name=$1 key dir parent lockfd tmp t0
  key=$(root_key "$name")
  dir=$ROOTS_CACHE/$name-$key
  mkdir -p "$ROOTS_CACHE"
  if [ -f "$dir.ok" ]; then echo "$dir"; return 0; fi
  parent=$(root_parent "$name")
  if [ -n "$parent" ]; then root_ensure "$parent" >/dev/null; fi
  exec {lockfd}>"$ROOTS_CACHE/$name.lock"
  flock "$lockfd"
  if [ ! -f "$dir.ok" ]; then
    t0=$(date +%s.%N)
    echo "roots: building $name ($key)" >&2
    tmp=$ROOTS_CACHE/.tmp-$name-$key-$$
    rm -rf "$tmp"
    if [ -n "$parent" ]; then
      cp -a --reflink=auto "$(root_ensure "$parent")" "$tmp"
    fi
    if ! bash "$ROOTS_HERE/recipes/run.sh" "$name" "$tmp" >&2; then
      echo "roots: FAILED to build $name" >&2
      rm -rf --one-file-system "$tmp"
      exec {lockfd}>&-
      return 1
    fi
    # Drop older builds of the same name: they can never be used again.
    local old
    for old in "$ROOTS_CACHE/$name"-*; do
      case $old in "$dir"|*.ok|*.lock) continue ;; esac
      [ -d "$old" ] || continue
      rm -f "$old.ok"; rm -rf --one-file-system "$old"
    done
    mv "$tmp" "$dir"
    touch "$dir.ok"
    echo "roots: built $name in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s" >&2
  fi
  exec {lockfd}>&-
  echo "$dir"
}

# Copies the cached root NAME to DEST (which must not exist) for one test.
root_copy() {
  local name=$1 dest=$2 src
  src=$(root_ensure "$name")
  [ ! -e "$dest" ] || { echo "root_copy: $dest exists" >&2; return 1; }
  mkdir -p "$(dirname "$dest")"
  cp -a --reflink=auto "$src" "$dest"
}

# --- mounts: every mount is recorded and undone by root_umount_all (call it from a trap)
ROOT_MOUNTS=()
root_mount_proc() {
  local r=$1
  mkdir -p "$r/proc"
  mount -t proc proc "$r/proc"
  ROOT_MOUNTS+=("$r/proc")
}
root_umount_all() {
  local i m
  for ((i = ${#ROOT_MOUNTS[@]} - 1; i >= 0; i--)); do
    m=${ROOT_MOUNTS[$i]}
    if mountpoint -q "$m"; then umount "$m" 2>/dev/null || umount -l "$m" || true; fi
  done
  ROOT_MOUNTS=()
}
