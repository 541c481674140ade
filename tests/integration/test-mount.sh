#!/usr/bin/env bash
# kiln mount shows a tree (by id, or a local directory scanned lazily as a build context, so
# .dockerignore applies) exactly as the source:
# bytes, types, modes, owners, sizes, mtimes, xattrs, link targets, hardlinks sharing an inode.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mount.sh"
need_fuse
need_cmd getfattr setfattr mknod

src=$T/src
make_fixture "$src"
id=$(kiln tree import "$src")

mount_bg "$id" "$T/by-id"
same_tree "$src" "$T/by-id"
[ "$(stat -c %i "$T/by-id/hard-a")" = "$(stat -c %i "$T/by-id/dir with spaces/hard-c")" ] ||
	fail "hardlinks hard-a and hard-c have different inodes"
[ "$(stat -c %h "$T/by-id/hard-b")" = 3 ] || fail "hard-b link count is not 3"
[ "$(ls "$T/by-id/many" | wc -l)" = 300 ] || fail "a 300-entry directory (many readdir replies) lists wrong"
ok "a tree id mount equals its source (bytes, metadata, xattrs, links, hardlinks)"

# Inode numbers survive the kernel forgetting everything.
ino1=$(stat -c %i "$T/by-id/many/file-with-a-longish-name-7")
echo 2 >/proc/sys/vm/drop_caches
[ "$(stat -c %i "$T/by-id/many/file-with-a-longish-name-7")" = "$ino1" ] ||
	fail "inode number changed after the kernel dropped its caches"
cmp -s "$src/random.bin" "$T/by-id/random.bin" || fail "content differs after dropping caches"
ok "inode numbers are stable for the life of the mount"

# Store content is verified once per content, not once per read.
verified=$(mount_stat "$T/by-id" verified)
nfiles=$(find "$src" -type f -size +0 -printf '%i\n' | sort -u | wc -l)
[ "$verified" -le "$nfiles" ] || fail "verified $verified blobs for $nfiles contents"
[ "$(mount_stat "$T/by-id" failed)" = 0 ] || fail "some reads failed"
ok "each store blob verified at most once ($verified for $nfiles contents)"

# A local directory: scanned at mount time without reading content, then read lazily.
mount_bg "$src" "$T/local"
[ "$(mount_stat "$T/local" fetched)" = 0 ] || fail "mounting read file contents"
same_tree "$src" "$T/local"
[ "$(mount_stat "$T/local" fetched)" = "$nfiles" ] ||
	fail "fetched $(mount_stat "$T/local" fetched) contents, expected $nfiles"
ok "a local directory mount equals its source and fetched each content once"

# A local directory is scanned as a build context: .dockerignore applies, xattrs still show.
ctx=$T/ctx
mkdir -p "$ctx/secret-dir" "$ctx/kept"
printf 'kept\n' >"$ctx/kept/file"
printf 'secret\n' >"$ctx/secret"
printf 'also secret\n' >"$ctx/secret-dir/key"
printf 'secret\nsecret-dir\n' >"$ctx/.dockerignore"
setfattr -n user.kiln -v ctxvalue "$ctx/kept/file"
setfattr -n user.dir -v dirvalue "$ctx/kept"
mount_bg "$ctx" "$T/ctx-mnt"
[ -e "$T/ctx-mnt/secret" ] && fail "a path in .dockerignore is shown"
[ -e "$T/ctx-mnt/secret-dir" ] && fail "a directory in .dockerignore is shown"
[ "$(cat "$T/ctx-mnt/kept/file")" = kept ] || fail "a kept file reads wrong"
[ "$(getfattr --only-values -n user.kiln "$T/ctx-mnt/kept/file")" = ctxvalue ] ||
	fail "a file's xattr is not shown through a local directory mount"
[ "$(getfattr --only-values -n user.dir "$T/ctx-mnt/kept")" = dirvalue ] ||
	fail "a directory's xattr is not shown through a local directory mount"
ok "a local directory mount applies .dockerignore and shows xattrs"

# Symlink targets, readlink and statfs straight from the mount.
[ "$(readlink "$T/by-id/link-dangling")" = /nonexistent/target ] || fail "readlink differs"
stat -f "$T/by-id" >/dev/null || fail "statfs failed"
touch "$T/by-id/new" 2>/dev/null && fail "a write to the read-only mount succeeded"
ok "read-only, statfs and readlink work"

kiln umount "$T/by-id" || fail "kiln umount failed"
grep -q " $T/by-id " /proc/self/mounts && fail "still mounted after kiln umount"
ok "kiln umount unmounts"

# More files held by the kernel than the server may keep fds open: reads still work.
mkdir -p "$T/lowfd"
(ulimit -n 160 && kiln mount --log "$T/lowfd.log" "$id" "$T/lowfd") || fail "mount with a low fd limit failed"
track_mount "$T/lowfd"
for f in "$T/lowfd/many/"*; do cat "$f"; done >"$T/many.out" || fail "reads failed under a low fd limit: $(cat "$T/lowfd.log")"
[ "$(wc -l <"$T/many.out")" = 300 ] || fail "wrong bytes under a low fd limit"
ok "reading more files than the fd limit allows keeping open works"
