#!/usr/bin/env bash
# Runs one recipe: ci/roots/recipes/run.sh NAME ROOT. The recipe defines build_root ROOT;
# a derived recipe gets ROOT already filled with a copy of its parent.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
name=$1 root=$2
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"
# shellcheck disable=SC1090
. "$HERE/$name.sh"
trap recipe_cleanup EXIT
build_root "$root"
