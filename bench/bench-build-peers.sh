#!/usr/bin/env bash
# bench-build-peers.sh [OUTFILE] — the cross-check of bench-build.sh: the same comparison (kiln
# build against BuildKit in Debian's dockerd 20.10 and buildah, the shared 3-stage build over
# 2000 files + 50 MB, a cache mount, COPY --from; a no-op over a 20k-file context) run by the
# shared peer script ../shared/bench/peers.sh, with kiln's build as KILN_BUILD. Not standalone:
# bench-build.sh is the benchmark of record; this one checks its figures against the shared
# harness. kiln uses a store of its own under $W; its cold case starts from an empty cache,
# cache mounts and context stat caches (the base image kept named, as dockerd keeps its loaded
# base). Needs root, docker.io, buildah, hyperfine, skopeo, umoci, runc/crun, busybox-static.
# KILN defaults to build/cli/kiln; PEERS to ../shared/bench/peers.sh next to the checkout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=$(realpath "${KILN:-$here/../build/cli/kiln}")
PEERS=${PEERS:-$here/../../shared/bench/peers.sh}
[ -x "$PEERS" ] || [ -f "$PEERS" ] || { echo "bench-build-peers: no $PEERS" >&2; exit 1; }
for c in docker dockerd buildah hyperfine skopeo umoci; do
	command -v "$c" >/dev/null || { echo "bench-build-peers: needs $c" >&2; exit 1; }
done
export W=${W:-/tmp/peerbench}
export KILN_ROOT=$W/kiln-root
export KILN
# the build each tool runs, kept by name as the others do (a plain word list: peers.sh runs it
# unquoted)
export KILN_BUILD="$KILN build -q -t kb-out ."
# the base image of peers.sh's layout, named as the Dockerfile has it
export KILN_PREP='"$KILN" tag "oci-layout://$W/base/layout:base" kbase/busybox:latest >/dev/null'
# a cold build: no cache records, no built image, no cache mounts
export KILN_CLEAN='"$KILN" rmi kb-out >/dev/null 2>&1; "$KILN" prune --all >/dev/null; rm -rf "$KILN_ROOT/cache-mounts" "$KILN_ROOT/ctxsrc"'
bash "$PEERS" "${1:-$W/results.md}"
