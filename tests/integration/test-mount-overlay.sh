#!/usr/bin/env bash
# A kiln mount works as an overlayfs lower directory, the way RUN steps use it: writes, deletes
# and renames land in the upper directory, the tree underneath stays untouched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mount.sh"
need_fuse
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "needs overlayfs"

src=$T/src
mkdir -p "$src/etc" "$src/usr/bin" "$src/dir"
printf 'root:x:0:0\n' >"$src/etc/passwd"
printf 'keep\n' >"$src/etc/keep"
printf 'gone\n' >"$src/etc/gone"
printf 'old name\n' >"$src/etc/old-name"
printf 'in dir\n' >"$src/dir/f"
head -c 1000000 /dev/urandom >"$src/usr/bin/tool"
chmod 755 "$src/usr/bin/tool"
id=$(kiln tree import "$src")
mount_bg "$id" "$T/lower"

mkdir -p "$T/upper" "$T/work" "$T/merged"
track_mount "$T/merged"
mount -t overlay overlay -o "lowerdir=$T/lower,upperdir=$T/upper,workdir=$T/work" "$T/merged" ||
	fail "mounting overlayfs over the kiln mount failed"

cmp -s "$src/usr/bin/tool" "$T/merged/usr/bin/tool" || fail "merged view reads wrong bytes"
printf 'new\n' >"$T/merged/etc/new"
printf 'appended\n' >>"$T/merged/etc/passwd"
rm "$T/merged/etc/gone"
mv "$T/merged/etc/old-name" "$T/merged/etc/new-name"
mv "$T/merged/dir" "$T/merged/dir-renamed"
chmod 700 "$T/merged/usr/bin/tool"

[ "$(cat "$T/merged/etc/new")" = new ] || fail "new file not visible"
[ "$(cat "$T/merged/etc/passwd")" = $'root:x:0:0\nappended' ] || fail "modified file wrong"
[ -e "$T/merged/etc/gone" ] && fail "deleted file still visible"
[ "$(cat "$T/merged/etc/new-name")" = 'old name' ] || fail "renamed file wrong"
[ -e "$T/merged/etc/old-name" ] && fail "renamed file still visible under its old name"
[ "$(cat "$T/merged/dir-renamed/f")" = 'in dir' ] || fail "renamed directory wrong"
[ -e "$T/merged/dir" ] && fail "renamed directory still visible under its old name"
[ "$(stat -c %a "$T/merged/usr/bin/tool")" = 700 ] || fail "chmod not visible"
[ "$(cat "$T/merged/etc/keep")" = keep ] || fail "untouched file wrong"
ok "write, delete, rename and chmod work in the merged view"

[ -c "$T/upper/etc/gone" ] || fail "no whiteout for the deleted file in the upper dir"
[ -f "$T/upper/etc/new" ] || fail "new file not in the upper dir"
umount "$T/merged"
same_tree "$src" "$T/lower"
ok "the tree under the overlay is unchanged"

# A server killed under an overlay leaves two dead mounts: the overlay still answers statfs from
# its upper directory, yet its lower is gone. kiln umount clears the overlay, then the kiln mount.
mkdir -p "$T/upper2" "$T/work2"
mount -t overlay overlay -o "lowerdir=$T/lower,upperdir=$T/upper2,workdir=$T/work2" "$T/merged" ||
	fail "mounting overlayfs over the kiln mount failed"
cmp -s "$src/etc/keep" "$T/merged/etc/keep" || fail "merged view reads wrong bytes"
pid=$(mount_pid "$T/lower")
[ -n "$pid" ] || fail "no server process for $T/lower"
kill -9 "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
stat -f "$T/merged" >/dev/null || fail "the overlay stopped answering statfs"
kiln umount "$T/merged" 2>"$T/err" || fail "kiln umount of a dead overlay failed: $(cat "$T/err")"
grep -q "removed a mount at '$T/merged' left behind" "$T/err" || fail "no message: $(cat "$T/err")"
grep -q " $T/merged " /proc/self/mounts && fail "kiln umount left the overlay over a dead mount"
kiln umount "$T/lower" 2>"$T/err" || fail "kiln umount of the dead mount failed: $(cat "$T/err")"
grep -q " $T/lower " /proc/self/mounts && fail "kiln umount left the dead kiln mount"
ok "an overlay on a killed server's mount is cleaned up, then the mount itself"
