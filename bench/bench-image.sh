#!/usr/bin/env bash
# bench-image.sh [MB] — mount a ~MB (default 200) zstd:chunked image from a docker-registry on
# 127.0.0.1 and read one small file: bytes the registry sent (from its access log) against the
# layer size, plus the time to mount and read. Also times a tar+gzip pull of the same image and a
# `skopeo copy` of it (the baseline: every byte). Needs root, FUSE, skopeo, docker-registry, and
# a kiln whose mount takes docker-image:// sources (KILN, default build/cli/kiln).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/cli/kiln}
mb=${1:-200}
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
export KILN_ROOT=$T/root
_mounts=() _pids=()
cleanup() {
	set +e
	for m in "${_mounts[@]}"; do "$KILN" umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	for p in "${_pids[@]}"; do kill "$p" && wait "$p"; done 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
track_mount() { _mounts+=("$1"); }
track_pid() { _pids+=("$1"); }
need_cmd() { :; }
skip() { echo "cannot run: $*" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$here/../tests/integration/lib-image.sh"

secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $s" | bc -l; }
sent_since() { # bytes the registry sent after log line $1
	tail -n +"$(($1 + 1))" "$REGISTRY_LOG" | grep -o 'http.response.written=[0-9]*' |
		cut -d= -f2 | awk '{s += $1} END {print s + 0}'
}

# A rootfs of MB one-MiB files of random (incompressible) bytes, and one small file.
mkdir -p "$T/rootfs/data" "$T/rootfs/etc"
for i in $(seq 1 "$mb"); do head -c 1048576 /dev/urandom >"$T/rootfs/data/blob-$i"; done
echo "hello from kiln" >"$T/rootfs/etc/motd"
make_layer_tar "$T/rootfs" "$T/layer.tar"
make_layer_tar "$T/rootfs" "$T/layer.tar.gz"
make_oci_layout "$T/plain" latest "$T/layer.tar"
make_oci_layout "$T/gzip" latest "$T/layer.tar.gz"
start_registry
# gzip first: skopeo's blob info cache would otherwise reuse the zstd:chunked blob for it.
skopeo copy --quiet --dest-tls-verify=false "oci:$T/gzip:latest" "docker://$REGISTRY/big:gzip"
skopeo copy --quiet --dest-tls-verify=false --dest-compress-format zstd:chunked \
	"oci:$T/plain:latest" "docker://$REGISTRY/big:zstd"
man=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://$REGISTRY/v2/big/manifests/zstd")
size=$(jq '[.layers[].size] | add' <<<"$man")
echo "zstd:chunked layer: $size bytes"

m=$T/mnt
mkdir -p "$m"
mark=$(wc -l <"$REGISTRY_LOG")
t_mount=$(secs "$KILN" mount "docker-image://$REGISTRY/big:zstd" "$m")
track_mount "$m"
t_read=$(secs cat "$m/etc/motd")
[ "$(cat "$m/etc/motd")" = "hello from kiln" ] || fail "etc/motd"
sent=$(sent_since "$mark")
mark=$(wc -l <"$REGISTRY_LOG")
t_big=$(secs cat "$m/data/blob-1")
sent_big=$(sent_since "$mark")
"$KILN" umount "$m"

t_skopeo=$(secs skopeo copy --quiet --src-tls-verify=false "docker://$REGISTRY/big:gzip" "oci:$T/copy:x")
s=$EPOCHREALTIME
"$KILN" pull "docker-image://$REGISTRY/big:gzip" >/dev/null || fail "kiln pull"
t_pull=$(echo "$EPOCHREALTIME - $s" | bc -l)

printf 'mount (manifest, config, TOC)   %8.3f s\n' "$t_mount"
printf 'first read of etc/motd          %8.3f s\n' "$t_read"
printf 'bytes sent for mount + motd     %8d of %d (%.3f%% of the image; target < 2%%)\n' \
	"$sent" "$size" "$(echo "100 * $sent / $size" | bc -l)"
printf 'first read of a 1 MiB file      %8.3f s, %d bytes sent\n' "$t_big" "$sent_big"
printf 'skopeo copy (gzip, every byte)  %8.3f s\n' "$t_skopeo"
printf 'kiln pull (gzip, every byte)    %8.3f s  (%.2fx skopeo)\n' "$t_pull" \
	"$(echo "$t_pull / $t_skopeo" | bc -l)"
