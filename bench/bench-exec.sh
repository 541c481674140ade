#!/usr/bin/env bash
# bench-exec.sh — a `RUN true` step (exec_run) against the runtime's own `run` of a prepared
# bundle plus one overlay mount, for runc and crun, in one run (build/bench/bench-exec).
#
#   sudo bash bench/bench-exec.sh [ITERATIONS]
#
# The rootfs is busybox (busybox-static) with its applets; the store lives in $BENCH_DIR
# (default /var/tmp/kiln-bench-exec, on disk, as a build's store would be). Each iteration runs
# one step and one baseline round, alternating, so both see the same machine; the medians and
# their ratio are printed (target: ratio ≤ 1.5).
set -euo pipefail

n=${1:-30}
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH_EXEC:-$here/build/bench/bench-exec}
B=${BENCH_DIR:-/var/tmp/kiln-bench-exec}
[ "$(id -u)" = 0 ] || { echo "run as root (mounts, containers)" >&2; exit 77; }
[ -x "$BENCH" ] || { echo "no bench-exec at $BENCH; build first" >&2; exit 1; }

rm -rf "$B"
mkdir -p "$B/rootfs/bin" "$B/rootfs/etc" "$B/rootfs/tmp"
cp /bin/busybox "$B/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$B/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$B/rootfs/etc/passwd"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2
for rt in runc crun; do
	"$BENCH" "$B/store" "$B/rootfs" "$rt" "$n"
done
rm -rf "$B"
