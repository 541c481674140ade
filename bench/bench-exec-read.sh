#!/usr/bin/env bash
# bench-exec-read.sh — a RUN step reading a 1 GiB file of its base image cold, against the same
# read on the host, in one run.
#
#   sudo bash bench/bench-exec-read.sh [MIB]
#
# The base image is an OCI layout of busybox plus an uncompressed layer holding /big (MIB MiB of
# random bytes, default 1024); the first solve resolves it, which ingests /big into the store
# with a verification record, so no read below hashes it. Then, ROUNDS times (default 5),
# alternating: the page, dentry and inode caches dropped (echo 3 > /proc/sys/vm/drop_caches) and
# `busybox cat big > /dev/null` on the host copy of the file; the caches dropped and a solve of
# `RUN cat /big > /dev/null` (ignore_cache: it runs every time), timed inside the step by
# /proc/uptime (10 ms steps) and as a whole step. Prints every round, the medians and the
# ratio host time / step time (1.0 = as fast as the host; target >= 0.6). Data and store live in
# $BENCH_DIR (default /var/tmp/kiln-bench-exec-read, kept between runs). RUNTIME (default runc).
# PASSTHROUGH=1 solves with --passthrough (the steps read verified blobs by FUSE passthrough).
set -euo pipefail
mib=${1:-1024}
rounds=${ROUNDS:-5}
runtime=${RUNTIME:-runc}
here=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$here/build/cli/kiln}
B=${BENCH_DIR:-/var/tmp/kiln-bench-exec-read}
[ "$(id -u)" = 0 ] || { echo "run as root (drop_caches, RUN steps)" >&2; exit 77; }
[ -x "$KILN" ] || { echo "no kiln at $KILN; build first or set KILN" >&2; exit 1; }
command -v jq >/dev/null && [ -x /bin/busybox ] || { echo "needs jq and busybox-static" >&2; exit 1; }
export KILN_ROOT=$B/root
T=$B/tmp # make_oci_layout's scratch
mkdir -p "$T"
. "$here/tests/integration/lib-image.sh"

if [ ! -f "$B/img/index.json" ] || [ "$(stat -c %s "$B/data/big" 2>/dev/null)" != $((mib << 20)) ]; then
	rm -rf "$B"
	mkdir -p "$B/data" "$B/big-root" "$T"
	make_rootfs_busybox "$B/rootfs"
	for a in $(/bin/busybox --list); do
		[ -e "$B/rootfs/bin/$a" ] || ln -s busybox "$B/rootfs/bin/$a"
	done
	make_layer_tar "$B/rootfs" "$B/base.tar.gz"
	head -c $((mib << 20)) /dev/urandom >"$B/data/big"
	ln "$B/data/big" "$B/big-root/big"
	make_layer_tar "$B/big-root" "$B/big.tar"
	make_oci_layout "$B/img" latest "$B/base.tar.gz" "$B/big.tar"
	rm -f "$B/big.tar"
fi
cd "$B"
# a step over the image: ARGS its command (sh -c), ignore_cache so that it runs each time
graph() {
	jq -n --arg c "$1" '{version: 1, vertices: [
	 {id: "img", source: {type: "image", ref: "oci-layout://img:latest"}},
	 {id: "run", name: "[s 1/1] RUN read", inputs: ["img"], ignore_cache: true,
	  exec: {args: ["/bin/sh", "-c", $c]}}], result: "run"}'
}
graph 'read a _ </proc/uptime; cat /big >/dev/null; read b _ </proc/uptime; echo "readms=$(( (${b%.*}${b#*.} - ${a%.*}${a#*.}) * 10 ))"' >read.json
graph 'true' >true.json
"$KILN" solve ${PASSTHROUGH:+--passthrough} --progress plain --runtime "$runtime" true.json >/dev/null 2>"$T/first.log" ||
	{ echo "the first solve failed: $(cat "$T/first.log")" >&2; exit 1; }

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
: >"$T/host" && : >"$T/step" && : >"$T/whole" && : >"$T/true"
echo "round  host-cat-ms  step-cat-ms  whole-step-ms  RUN-true-ms"
for i in $(seq "$rounds"); do
	drop
	t=$(date +%s%N)
	/bin/busybox cat "$B/data/big" >/dev/null
	host=$(ms "$t")
	t=$(date +%s%N)
	"$KILN" solve ${PASSTHROUGH:+--passthrough} --progress plain --runtime "$runtime" true.json >/dev/null 2>"$T/log"
	tru=$(ms "$t")
	drop
	t=$(date +%s%N)
	"$KILN" solve ${PASSTHROUGH:+--passthrough} --progress plain --runtime "$runtime" read.json >/dev/null 2>"$T/log"
	whole=$(ms "$t")
	step=$(sed -n 's/.*readms=\([0-9]*\).*/\1/p' "$T/log")
	[ -n "$step" ] || { echo "no timing in: $(cat "$T/log")" >&2; exit 1; }
	echo "$host" >>"$T/host" && echo "$step" >>"$T/step"
	echo "$whole" >>"$T/whole" && echo "$tru" >>"$T/true"
	printf '%5d  %11d  %11d  %13d  %11d\n' "$i" "$host" "$step" "$whole" "$tru"
done
h=$(median <"$T/host") s=$(median <"$T/step") w=$(median <"$T/whole") tr=$(median <"$T/true")
echo "medians: host $h ms, in the step $s ms, whole step $w ms, RUN true $tr ms"
echo "ratio host/step: $(echo "scale=2; $h / $s" | bc) (in-step timing), $(echo "scale=2; $h / ($w - $tr)" | bc) (whole step minus RUN true)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
