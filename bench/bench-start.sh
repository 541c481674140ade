#!/usr/bin/env bash
# bench-start.sh [RUNS] — what a kiln process costs before it does anything: `kiln --version`
# and a no-op `kiln build` of examples/hello (every step a cache hit), each under
# `perf stat -r RUNS` (default 50 for --version, 20 for the build), with the shared objects
# loaded (`ldd | wc -l`), the dynamic loader's own statistics (LD_DEBUG=statistics) and the load
# average before and after. The base image is tests/demo.sh's: busybox-static in an OCI layout,
# named busybox:local. Needs root, /dev/fuse, overlayfs, runc or crun, busybox-static, jq, perf
# (linux-perf, bench-only); a built kiln (KILN, default build/cli/kiln).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
KILN=$(realpath "${KILN:-$here/build/cli/kiln}")
RUNS=${1:-50}
BUILD_RUNS=${BUILD_RUNS:-20}
. "$here/tests/lib-busybox.sh"
command -v perf >/dev/null || { echo "bench-start: needs perf (apt-get install linux-perf)" >&2; exit 1; }
w=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-start.XXXXXX")
export KILN_ROOT=$w/store
trap 'rm -rf "$w"' EXIT

busybox_layout "$w/busybox" "$w"
"$KILN" tag "oci-layout://$w/busybox:latest" busybox:local >/dev/null
"$KILN" build --progress plain -t hello "$here/examples/hello" >/dev/null 2>&1

echo "kiln: $KILN ($(ldd "$KILN" | wc -l) shared objects, ldd)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
LD_DEBUG=statistics "$KILN" --version 2>&1 >/dev/null | grep -E 'total startup|relocations:|load objects' |
	sed 's/^ *[0-9]*:[[:space:]]*//' | head -4
echo "== perf stat -r $RUNS kiln --version"
perf stat -r "$RUNS" -e task-clock,page-faults "$KILN" --version 2>&1 >/dev/null |
	grep -E 'task-clock|page-faults|elapsed'
echo "== perf stat -r $BUILD_RUNS kiln build -t hello examples/hello (no-op)"
perf stat -r "$BUILD_RUNS" -e task-clock,page-faults \
	"$KILN" build --progress plain -t hello "$here/examples/hello" 2>&1 >/dev/null |
	grep -E 'task-clock|page-faults|elapsed'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
