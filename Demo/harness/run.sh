#!/bin/bash
# Runs the WardKit demo suite: builds ward (the repository's debug build) and `swift test` here.
#
#   Demo/harness/run.sh    as root, sandboxes run as the user 'warddemo' (created if missing);
#                          as anyone else, as you.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
swift build --package-path "$repo" --product ward >&2
export WARD_BIN="$repo/.build/debug/ward"
cd "$here"
exec swift test "$@"
