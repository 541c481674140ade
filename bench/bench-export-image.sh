#!/usr/bin/env bash
# bench-export-image.sh [FILES] — re-export and re-push of an unchanged image: after a first
# export of a FILES-file tree (default 20000, bench/gen-tree.sh, plus its four 64 MiB files) as
# one gzip layer, times (median of 5) a re-export to the same OCI layout directory, a re-push
# to a docker-registry on loopback, and a re-export as an OCI tar against `tar -cf` of the
# layout it holds: wall and CPU time of the whole process, and of export_run alone.
# Uses build/tests/export-harness (export_run) until `kiln build --output` drives it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
kiln=$top/build/cli/kiln
harness=$top/build/tests/export-harness
n=${1:-20000}
[ -x "$harness" ] || { echo "build first: meson setup build && ninja -C build" >&2; exit 1; }
w=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-export.XXXXXX")
reg_pid=
trap '[ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$w"' EXIT
export KILN_ROOT=$w/root

bash "$here/gen-tree.sh" "$w/tree" "$n"
tree=$("$kiln" tree import "$w/tree")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$w/registry"
cat >"$w/registry.yml" <<EOC
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $w/registry
http:
  addr: 127.0.0.1:$port
EOC
docker-registry serve "$w/registry.yml" >"$w/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

# One run: prints "wall cpu export_run-wall export_run-cpu" in ms: the whole process (perf
# stat's task-clock, or /usr/bin/time's 10 ms ticks without perf) and export_run alone (the
# harness's own clocks).
timed() {
	local t0 t1 cpu
	t0=$(date +%s%N)
	if command -v perf >/dev/null; then
		perf stat -x, -e task-clock -o "$w/perf" "$@" >/dev/null 2>"$w/err" || { cat "$w/err" >&2; exit 1; }
		cpu=$(awk -F, '/task-clock/ {printf "%.1f", $1}' "$w/perf")
	else
		/usr/bin/time -f '%U %S' -o "$w/time" "$@" >/dev/null 2>"$w/err" || { cat "$w/err" >&2; exit 1; }
		cpu=$(awk '{printf "%.1f", ($1 + $2) * 1000}' "$w/time")
	fi
	t1=$(date +%s%N)
	printf '%.1f %s %s\n' "$(((t1 - t0) / 100000))e-1" "$cpu" \
		"$(awk '/^export_run/ {print $2, $5; f=1} END {if (!f) print "- -"}' "$w/err")"
}
# Median of 5 runs: "wall own" in ms.
median5() {
	for _ in 1 2 3 4 5; do timed "$@"; done | sort -n -k1 | sed -n 3p
}

spec_dir="type=oci,dest=$w/layout,tar=false,name=bench:1"
spec_push="type=image,name=127.0.0.1:$port/bench:1,push=true"
first=$(timed "$harness" --tree "$tree" "$spec_dir")
"$harness" --tree "$tree" "$spec_push" >/dev/null 2>&1
grep -q 'made 0' <("$harness" --tree "$tree" "$spec_dir" 2>&1) || { echo "re-export compressed" >&2; exit 1; }
redir=$(median5 "$harness" --tree "$tree" "$spec_dir")
repush=$(median5 "$harness" --tree "$tree" "$spec_push")
tarbase=$(median5 tar -C "$w/layout" -cf "$w/base.tar" .)
retar=$(median5 "$harness" --tree "$tree" "type=oci,dest=$w/out.tar,name=bench:1")
size=$(du -sb "$w/layout/blobs" | cut -f1)

printf 'tree: %s files, layout blobs %s MB\n' "$n" "$((size / 1000000))"
printf '%-36s %10s %10s %12s %12s\n' run "wall ms" "cpu ms" "export wall" "export cpu"
printf '%-36s %10s %10s %12s %12s\n' "first export (gzip, layout dir)" $first
printf '%-36s %10s %10s %12s %12s\n' "re-export, same layout dir" $redir
printf '%-36s %10s %10s %12s %12s\n' "re-push, same registry" $repush
printf '%-36s %10s %10s %12s %12s\n' "tar -cf of the layout (baseline)" $tarbase
printf '%-36s %10s %10s %12s %12s\n' "re-export as an OCI tar" $retar
