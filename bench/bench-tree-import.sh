#!/usr/bin/env bash
# bench-tree-import.sh [FILES] — `kiln tree import` of a generated tree against
# `tar -c | sha256sum` of the same tree, both with warm caches, in the same run.
# Prints seconds for each and the ratio; needs a built kiln (KILN, default build/cli/kiln).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/cli/kiln}
n=${1:-100000}
w=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
trap 'rm -rf "$w"' EXIT

"$here/gen-tree.sh" "$w/tree" "$n"
du -sh --apparent-size "$w/tree" | sed 's/^/tree size: /'
tar -cf - -C "$w" tree >/dev/null # warm the page cache for both contenders

secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $s" | bc -l; }
baseline=$(secs bash -c "tar -cf - -C '$w' tree | sha256sum")
first=$(secs "$KILN" --root "$w/store" tree import "$w/tree")
again=$(secs "$KILN" --root "$w/store" tree import "$w/tree")
printf 'tar -c | sha256sum      %6.2f s\n' "$baseline"
printf 'kiln tree import (new)  %6.2f s  (%.2fx the baseline)\n' "$first" "$(echo "$first / $baseline" | bc -l)"
printf 'kiln tree import (again)%6.2f s  (%.2fx the baseline)\n' "$again" "$(echo "$again / $baseline" | bc -l)"
