#!/usr/bin/env bash
# demo.sh [KILN] — what kiln does today, end to end, on an example made here: import a directory
# into the store as a content-addressed tree, list it, export it back, and mount both the tree
# and the live directory lazily through FUSE (root and /dev/fuse needed for the mounts).
set -euo pipefail
KILN=${1:-build/cli/kiln}
KILN=$(realpath "$KILN")
w=$(mktemp -d "${TMPDIR:-/tmp}/kiln-demo.XXXXXX")
export KILN_ROOT=$w/store
cleanup() {
	for m in "$w/mnt-tree" "$w/mnt-dir" "$w/mnt-git"; do
		grep -q " $m " /proc/self/mounts && "$KILN" umount "$m"
	done
	rm -rf "$w"
}
trap cleanup EXIT

echo "== an example build context"
mkdir -p "$w/ctx/src" "$w/ctx/bin"
printf 'FROM scratch\nCOPY . /app\n' >"$w/ctx/Dockerfile"
printf 'int main(void) { return 0; }\n' >"$w/ctx/src/main.c"
printf '#!/bin/sh\necho hello from kiln\n' >"$w/ctx/bin/hello" && chmod 755 "$w/ctx/bin/hello"
ln -s bin/hello "$w/ctx/run"

echo "== kiln tree import (content goes into the store, the tree id names the snapshot)"
id=$("$KILN" tree import "$w/ctx")
echo "$id"
"$KILN" tree ls -r "$id"
"$KILN" store du

echo "== kiln tree export, compared with the original"
"$KILN" tree export "$id" "$w/out"
diff -r --no-dereference "$w/ctx" "$w/out" && echo "identical"

mkdir -p "$w/mnt-tree" "$w/mnt-dir"
echo "== kiln mount TREE-ID (served from the store through FUSE)"
"$KILN" mount "$id" "$w/mnt-tree"
ls -l "$w/mnt-tree"
"$w/mnt-tree/run"
"$KILN" umount "$w/mnt-tree"

echo "== kiln mount DIR (scanned, metadata only; bytes read from the directory on first read)"
"$KILN" mount "$w/ctx" "$w/mnt-dir"
cat "$w/mnt-dir/src/main.c"
"$KILN" umount "$w/mnt-dir"

echo "== kiln mount REPO#TAG (a git ref: tree from git objects, blobs read on first use)"
git init -q -b main "$w/repo"
cp -a "$w/ctx/." "$w/repo/"
git -C "$w/repo" add -A
git -C "$w/repo" -c user.name=demo -c user.email=demo@example.invalid commit -qm "first"
git -C "$w/repo" tag v1
mkdir -p "$w/mnt-git"
"$KILN" mount "$w/repo#v1" "$w/mnt-git"
ls -l "$w/mnt-git"
"$w/mnt-git/run"
"$KILN" umount "$w/mnt-git"
echo "== done"
