#!/usr/bin/env bash
# bench-export-image.sh [FILES] — rebuild, re-export and re-push of an unchanged image: after a
# first `kiln build` of a Dockerfile copying a FILES-file tree (default 20000, bench/gen-tree.sh,
# plus its four 64 MiB files) into one gzip layer, exported to an OCI layout directory, times
# (median of 5) the same build re-exported to that directory, `kiln push` of the -t image to a
# docker-registry on loopback again, the build pushing it again (-o type=registry), and a
# re-export as an OCI tar against `tar -cf` of the layout it holds: wall and CPU time of the
# whole process, and the export step's own time from the progress log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
kiln=$top/build/cli/kiln
n=${1:-20000}
[ -x "$kiln" ] || { echo "build first: meson setup build && ninja -C build" >&2; exit 1; }
w=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-export.XXXXXX")
reg_pid=
trap '[ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$w"' EXIT
export KILN_ROOT=$w/root

bash "$here/gen-tree.sh" "$w/ctx/tree" "$n"
printf 'FROM scratch\nCOPY tree/ /\n' >"$w/ctx/Dockerfile"
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

# One run: prints "wall cpu export-wall" in ms: the whole process (perf stat's task-clock, or
# /usr/bin/time's 10 ms ticks without perf) and the export steps (their DONE times in the plain
# progress log, 0.1 s steps; "-" for kiln push, which shows none).
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
		"$(awk '/^#[0-9]+ exporting to / {v[$1] = 1} ($1 in v) && $2 == "DONE" {sub("s$", "", $3); t += $3 * 1000; f = 1} END {if (f) printf "%.0f\n", t; else print "-"}' "$w/err")"
}
# Median of 5 runs.
median5() {
	for _ in 1 2 3 4 5; do timed "$@"; done | sort -n -k1 | sed -n 3p
}
# (perf and time run programs, not shell functions: build is spelled out)
build=("$kiln" build --progress plain)

out_dir="type=oci,dest=$w/layout,tar=false,name=bench:1"
reg=127.0.0.1:$port/bench:1
first=$(timed "${build[@]}" -t bench:1 -o "$out_dir" "$w/ctx")
"$kiln" push bench:1 "$reg" >/dev/null
"${build[@]}" -o "$out_dir" --metadata-file "$w/md.json" "$w/ctx" >/dev/null 2>&1
[ "$(jq -r '."kiln.layers_made"' "$w/md.json")" = 0 ] || { echo "the re-export compressed" >&2; exit 1; }
redir=$(median5 "${build[@]}" -o "$out_dir" "$w/ctx")
repush=$(median5 "$kiln" push bench:1 "$reg")
rebuildpush=$(median5 "${build[@]}" -o "type=registry,name=$reg" "$w/ctx")
tarbase=$(median5 tar -C "$w/layout" -cf "$w/base.tar" .)
retar=$(median5 "${build[@]}" -o "type=oci,dest=$w/out.tar,name=bench:1" "$w/ctx")
size=$(du -sb "$w/layout/blobs" | cut -f1)

printf 'tree: %s files, layout blobs %s MB\n' "$n" "$((size / 1000000))"
printf '%-40s %10s %10s %12s\n' run "wall ms" "cpu ms" "export ms"
printf '%-40s %10s %10s %12s\n' "first build -t + -o (gzip, layout dir)" $first
printf '%-40s %10s %10s %12s\n' "rebuild, re-export to the layout dir" $redir
printf '%-40s %10s %10s %12s\n' "kiln push again, same registry" $repush
printf '%-40s %10s %10s %12s\n' "rebuild, -o type=registry again" $rebuildpush
printf '%-40s %10s %10s %12s\n' "tar -cf of the layout (baseline)" $tarbase
printf '%-40s %10s %10s %12s\n' "rebuild, re-export as an OCI tar" $retar
