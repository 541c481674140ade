#!/usr/bin/env bash
# The mount's life cycle: failures before the mount is ready are reported with a non-zero status;
# SIGINT/SIGTERM unmount cleanly; a mount left by a server killed with SIGKILL is cleaned up by
# the next kiln mount or kiln umount on that path.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mount.sh"
need_fuse

src=$T/src
mkdir -p "$src" "$T/m"
printf 'hello\n' >"$src/a"
id=$(kiln tree import "$src")
track_mount "$T/m"

expect_fail 1 'is not in the store' kiln mount sha256:$(printf '%064d' 0) "$T/m"
expect_fail 1 'mount point' kiln mount "$id" "$T/missing"
expect_fail 1 'neither a tree id nor a directory' kiln mount "$src/a" "$T/m"
expect_fail 1 "mount point '$src/a': Not a directory" kiln mount "$id" "$src/a"
expect_fail 2 'expected a source and a mount point' kiln mount "$id"
expect_fail 2 "^kiln: mount: option '--log' needs an argument$" kiln mount --log
[ "$(wc -l <"$T/err")" = 2 ] && grep -qx "Try 'kiln mount --help'." "$T/err" ||
	fail "a usage error is not one message and a hint: $(cat "$T/err")"
expect_fail 2 "^kiln: mount: unknown option '--bogus'$" kiln mount --bogus "$id" "$T/m"
expect_fail 1 'not a kiln mount' kiln umount "$T/m"
[ "$(wc -l <"$T/err")" = 1 ] || fail "a failure is reported more than once: $(cat "$T/err")"
grep -q " $T/m " /proc/self/mounts && fail "a failed mount left a mount behind"
ok "failures before the mount is ready exit non-zero with the reason"

kiln mount "$id" "$T/m"
expect_fail 1 'already a kiln mount' kiln mount "$id" "$T/m"
ok "mounting twice on one path is refused"

for sig in TERM INT; do
	pid=$(mount_pid "$T/m")
	[ -n "$pid" ] || fail "no server process for $T/m"
	kill -"$sig" "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	grep -q " $T/m " /proc/self/mounts && fail "SIG$sig left the mount behind"
	[ -z "$(ls -A "$T/m")" ] || fail "the mount point is not empty after SIG$sig"
	kiln mount "$id" "$T/m"
done
ok "SIGTERM and SIGINT unmount cleanly"

# Foreground mode serves until signalled, then returns 0.
kiln umount "$T/m"
"$KILN" mount -f "$id" "$T/m" 2>"$T/fg.err" &
fg=$!
track_pid "$fg"
for _ in $(seq 100); do grep -q " $T/m " /proc/self/mounts && break; sleep 0.05; done
[ "$(cat "$T/m/a")" = hello ] || fail "foreground mount does not serve"
kill -INT "$fg"
wait "$fg" || fail "kiln mount -f exited $? after SIGINT"
grep -q " $T/m " /proc/self/mounts && fail "kiln mount -f left the mount behind"
ok "kiln mount -f serves in the foreground and exits 0 on SIGINT"

kiln mount "$id" "$T/m"
kill -9 "$(mount_pid "$T/m")"
sleep 0.1
ls "$T/m" >/dev/null 2>&1 && fail "a dead mount still answers"
kiln mount "$id" "$T/m" 2>"$T/err" || fail "kiln mount over a dead mount failed: $(cat "$T/err")"
grep -q 'left behind' "$T/err" || fail "no message about the dead mount"
[ "$(cat "$T/m/a")" = hello ] || fail "the new mount does not serve"
ok "kiln mount cleans up a mount left by a killed server"

kill -9 "$(mount_pid "$T/m")"
sleep 0.1
kiln umount "$T/m" 2>"$T/err" || fail "kiln umount of a dead mount failed: $(cat "$T/err")"
grep -q " $T/m " /proc/self/mounts && fail "kiln umount left the dead mount"
ok "kiln umount cleans up a mount left by a killed server"
