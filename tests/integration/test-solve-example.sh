#!/usr/bin/env bash
# kiln solve of docs/examples/build.json: a local context, a busybox image, file actions, two
# RUN steps with bind, cache and tmpfs mounts, a diff and a merge; the result checked through
# kiln mount, then a no-op re-solve that reports every vertex cached.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
need_fuse
need_cmd runc busybox jq

W=$T/work
mkdir -p "$W/ctx/src"
printf 'alpha\n' >"$W/ctx/src/a.txt"
printf 'beta\n' >"$W/ctx/src/b.txt"
printf 'noise\n' >"$W/ctx/debug.log"
printf 'setting=1\n' >"$W/ctx/extra.conf"
# a busybox image with every applet (the shared fixture links only a few)
make_rootfs_busybox "$T/rootfs"
busybox_link_applets "$T/rootfs"
make_layer_tar "$T/rootfs" "$T/layer.tar.gz"
make_oci_layout "$W/busybox" latest "$T/layer.tar.gz"
cd "$W"

kiln solve --progress plain --local context=ctx "$KILN_SOURCE_DIR/docs/examples/build.json" \
	>"$T/id" 2>"$T/log" || fail "solve failed: $(cat "$T/log")"
id=$(cat "$T/id")
[[ $id == sha256:* ]] || fail "solve printed '$id'"
grep -q '^#[0-9]* \[app 2/3\] RUN cat' "$T/log" || fail "no vertex line: $(cat "$T/log")"
grep -q ' built$' "$T/log" || fail "the step's output is not in the log: $(cat "$T/log")"
ok "the example solves"

M=$T/mnt
mkdir -p "$M"
kiln mount "$id" "$M" || fail "kiln mount $id"
track_mount "$M"
[ "$(cat "$M/out.txt")" = "$(printf 'alpha\nbeta')" ] || fail "out.txt: $(cat "$M/out.txt")"
[ "$(cat "$M/etc/extra.conf")" = "setting=1" ] || fail "the bind mount of the context"
[ "$(cat "$M/runs-seen")" = 1 ] || fail "the cache mount: runs-seen $(cat "$M/runs-seen")"
[ "$(cat "$M/opt/tool")" = tool ] || fail "the merged diff's /opt/tool"
[ "$(cat "$M/app/VERSION")" = 1.0 ] || fail "mkfile /app/VERSION"
[ "$(readlink "$M/app/current")" = /app/src ] || fail "symlink /app/current"
[ -e "$M/app/src/debug.log" ] && fail "an excluded file was copied"
[ -e "$M/ctx" ] && [ -n "$(ls -A "$M/ctx")" ] && fail "the bind mount left files in the result"
[ -x "$M/bin/busybox" ] || fail "the base image is not in the result"
umount "$M"
ok "the result holds what every op made"

kiln solve --progress plain --local context=ctx "$KILN_SOURCE_DIR/docs/examples/build.json" \
	>"$T/id2" 2>"$T/log2" || fail "re-solve failed: $(cat "$T/log2")"
[ "$(cat "$T/id2")" = "$id" ] || fail "the re-solve gave another tree"
# distinct vertices: BuildKit's plain lines name a vertex again when its output comes back to it
n=$(grep -o '^#[0-9]* \[' "$T/log2" | sort -u | wc -l)
c=$(grep -c '^#[0-9]* CACHED$' "$T/log2")
[ "$n" = 7 ] && [ "$c" = 7 ] || fail "re-solve: $c of $n vertices cached: $(cat "$T/log2")"
ok "a no-op re-solve reports every vertex cached"
