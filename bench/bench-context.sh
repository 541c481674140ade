#!/usr/bin/env bash
# bench-context.sh [FILES] — `kiln context hash` of a generated context (gen-tree.sh: FILES small
# files, default 20000, plus 4 large ones): the first scan (empty store, every file hashed)
# against a rescan after one file changed (stat cache: that file alone hashed), in the same run
# with a warm page cache. Prints the medians and their ratio; the target is ≥ 20×.
# Needs a kiln with `context hash` (KILN, default build/cli/kiln); RUNS rescans (default 7).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/cli/kiln}
n=${1:-20000}
runs=${RUNS:-7}
w=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
trap 'rm -rf "$w"' EXIT

"$here/gen-tree.sh" "$w/ctx" "$n"
du -sh --apparent-size "$w/ctx" | sed 's/^/context size: /'
echo "files: $(find "$w/ctx" -type f | wc -l)"
find "$w/ctx" -type f -print0 | xargs -0 cat >/dev/null # warm the page cache

# secs KILN-ARGS...: the command's wall-clock seconds, then the scan's own (--stats scan_ms)
secs() {
	local s=$EPOCHREALTIME ms
	ms=$("$@" --stats "$w/ctx" 2>&1 >/dev/null | awk '$1 == "scan_ms" { print $2 }')
	echo "$(echo "$EPOCHREALTIME - $s" | bc -l) $(echo "$ms / 1000" | bc -l)"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

firsts=()
for i in 1 2 3; do
	firsts+=("$(secs "$KILN" --root "$w/store$i" context hash)")
done
first=$(printf '%s\n' "${firsts[@]}" | cut -d' ' -f1 | median)
first_in=$(printf '%s\n' "${firsts[@]}" | cut -d' ' -f2 | median)

files=("$w"/ctx/d000/s00*/file-0000*.txt)
rescans=()
for ((i = 0; i < runs; i++)); do
	printf 'changed %d\n' "$i" >>"${files[i]}"
	sleep 0.05 # past the coarse clock tick of the change, as any real edit is
	rescans+=("$(secs "$KILN" --root "$w/store3" context hash)")
done
rescan=$(printf '%s\n' "${rescans[@]}" | cut -d' ' -f1 | median)
rescan_in=$(printf '%s\n' "${rescans[@]}" | cut -d' ' -f2 | median)
printf 'changed\n' >>"${files[runs]}"
sleep 0.05
"$KILN" --root "$w/store3" context hash --stats "$w/ctx" 2>&1 >/dev/null | grep '^hashed ' |
	tr '\n' ' ' | sed 's/^/rescan after one change: /; s/ $/\n/'

# The floor: one stat per entry and nothing else, as GNU find does it (one thread).
floors=()
for i in 1 2 3; do
	s=$EPOCHREALTIME
	find "$w/ctx" -printf '%s %T@ %C@ %i\n' >/dev/null
	floors+=("$(echo "$EPOCHREALTIME - $s" | bc -l)")
done
floor=$(printf '%s\n' "${floors[@]}" | median)

printf '                              command   scan alone (--stats scan_ms)\n'
printf 'first scan (empty store)      %7.3f s  %7.3f s\n' "$first" "$first_in"
printf 'rescan after one file changed %7.3f s  %7.3f s\n' "$rescan" "$rescan_in"
printf 'ratio                         %7.1fx  %7.1fx (target >= 20x)\n' \
	"$(echo "$first / $rescan" | bc -l)" "$(echo "$first_in / $rescan_in" | bc -l)"
printf 'find -printf (stat walk only) %7.3f s: first scan / this = %.1fx\n' "$floor" \
	"$(echo "$first / $floor" | bc -l)"
