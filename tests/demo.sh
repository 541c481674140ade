#!/usr/bin/env bash
# demo.sh [KILN] — kiln end to end, as a user would try it: a busybox base image made here from
# busybox-static (an OCI layout, named busybox:local in kiln's image index), a two-stage build of
# examples/hello with `kiln build -t hello`, a rebuild that is all cache hits, the image as
# `kiln images` and `kiln inspect` show it, its files written out with -o type=local and its
# command run from them with chroot. Then what lies under it: the tree store and the lazy
# mounts. Needs root, /dev/fuse, overlayfs and runc or crun (what .ci/install-deps installs).
set -euo pipefail
KILN=${1:-build/cli/kiln}
KILN=$(realpath "$KILN")
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/tests/lib-busybox.sh"
w=$(mktemp -d "${TMPDIR:-/tmp}/kiln-demo.XXXXXX")
export KILN_ROOT=$w/store
cleanup() {
	for m in "$w/mnt-image" "$w/mnt-tree" "$w/mnt-dir" "$w/mnt-git"; do
		grep -q " $m " /proc/self/mounts && "$KILN" umount "$m"
	done
	rm -rf "$w"
}
trap cleanup EXIT
kiln() { "$KILN" "$@"; }

echo "== a base image made here: busybox-static in an OCI layout, named busybox:local"
busybox_layout "$w/busybox" "$w"
kiln tag "oci-layout://$w/busybox:latest" busybox:local
kiln images

echo
echo "== examples/hello/Dockerfile"
cat "$here/examples/hello/Dockerfile"

echo
echo "== kiln build -t hello examples/hello"
kiln build --progress plain -t hello "$here/examples/hello"

echo
echo "== the same build again: every step is a cache hit"
start=$(date +%s%N)
kiln build --progress plain -t hello "$here/examples/hello" 2>&1 | grep -E 'CACHED|^#[0-9]+ \[' | head -20
echo "(rebuilt in $(( ($(date +%s%N) - start) / 1000000 )) ms)"

echo
echo "== kiln images; kiln inspect hello: its config, history and layers"
kiln images
kiln inspect hello | jq '.[0] | {Id, Entrypoint: .config.Entrypoint, Cmd: .config.Cmd,
	Env: .config.Env, history: [.history[] | .created_by], layers: [.Layers[].Tree]}'

echo
echo "== its files: kiln build -o type=local,dest=rootfs (the same build, from the cache)"
kiln build -q -o "type=local,dest=$w/rootfs" "$here/examples/hello" >/dev/null
ls -l "$w/rootfs/usr/local/bin"
cat "$w/rootfs/usr/local/share/hello/info"

echo
echo "== its command run: the image's Entrypoint + Cmd, in its Env, chrooted into its files"
mapfile -t envs < <(kiln inspect hello | jq -r '.[0].config.Env[]')
mapfile -t cmd < <(kiln inspect hello | jq -r '.[0].config | (.Entrypoint // []) + (.Cmd // []) | .[]')
env -i "${envs[@]}" chroot "$w/rootfs" "${cmd[@]}"

echo
echo "== and mounted lazily: kiln mount hello DIR (nothing copied; bytes read on first use)"
mkdir -p "$w/mnt-image"
kiln mount hello "$w/mnt-image"
ls "$w/mnt-image/usr/local/bin"
kiln umount "$w/mnt-image"

echo
echo "== under it: any directory as a content-addressed tree (kiln tree import / ls / export)"
mkdir -p "$w/ctx/src"
printf 'int main(void) { return 0; }\n' >"$w/ctx/src/main.c"
ln -s src/main.c "$w/ctx/link"
id=$(kiln tree import "$w/ctx")
echo "$id"
kiln tree ls -r "$id"
kiln tree export "$id" "$w/out"
diff -r --no-dereference "$w/ctx" "$w/out" && echo "exported back identical"

echo
echo "== a git ref mounted lazily (tree from git objects, blobs read on first use)"
git init -q -b main "$w/repo"
cp -a "$w/ctx/." "$w/repo/"
git -C "$w/repo" add -A
git -C "$w/repo" -c user.name=demo -c user.email=demo@example.com commit -qm demo
git -C "$w/repo" tag v1
mkdir -p "$w/mnt-git"
kiln mount "$w/repo#v1" "$w/mnt-git"
cat "$w/mnt-git/src/main.c"
kiln umount "$w/mnt-git"

echo
echo "== the store: what the build cache and the sources use"
kiln du -q
echo "demo done"
