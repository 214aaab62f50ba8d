#!/usr/bin/env bash
# Test roots: ci/roots/root.sh ensure NAME      -> prints the cached root, builds it if missing
#             ci/roots/root.sh copy NAME DEST   -> a private copy for one test
#             ci/roots/root.sh key NAME | list
# Recipes live in ci/roots/recipes/NAME.sh. A root that cannot be built is an error.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cmd=${1:-}
case $cmd in
  ensure) root_ensure "$2" ;;
  copy) root_copy "$2" "$3" ;;
  key) root_key "$2" ;;
  list) for f in "$ROOTS_HERE"/recipes/*.sh; do
          n=$(basename "$f" .sh)
          case $n in common|run) continue ;; esac
          echo "$n $(root_key "$n")"
        done ;;
  *) echo "usage: $0 ensure NAME | copy NAME DEST | key NAME | list" >&2; exit 2 ;;
esac
