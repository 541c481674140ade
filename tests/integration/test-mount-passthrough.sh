#!/usr/bin/env bash
# FUSE passthrough (kiln mount --passthrough; without it the kernel sends no opens, as
# before): an open of a file whose content is a verified store blob is served by the
# kernel from the blob (read, mmap, and through an overlay), no READ reaching the server; content
# not local yet still goes through the server and is fetched once; an inode read through the
# server keeps being so while that open lasts; no backing file outlives its inode, no blob fd
# is kept; and a server that may not register backing files (no CAP_SYS_ADMIN) serves every
# read itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mount.sh"
need_fuse
need_cmd getfattr python3 unshare
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "needs overlayfs"

# mmap_same FILE REFERENCE: FILE read through one shared mapping equals REFERENCE.
mmap_same() {
	python3 - "$1" "$2" <<'PY'
import mmap, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    got = m[:]
    m.close()
with open(sys.argv[2], "rb") as f:
    sys.exit(0 if got == f.read() else 1)
PY
}

# wait_stat DIR FIELD VALUE: releases reach the server after close() returns; wait for them.
wait_stat() {
	local i
	for i in $(seq 1 100); do
		[ "$(mount_stat "$1" "$2")" = "$3" ] && return 0
		sleep 0.05
	done
	fail "$2 of $1 stayed $(mount_stat "$1" "$2"), wanted $3"
}

# The fds of process PID open on store blobs.
blob_fds() {
	local l n=0
	for l in /proc/"$1"/fd/*; do
		case $(readlink "$l") in "$KILN_ROOT"/content/sha256/*) n=$((n + 1)) ;; esac
	done
	echo "$n"
}

src=$T/src
mkdir -p "$src/d"
head -c $((24 << 20)) /dev/urandom >"$src/big"
for i in $(seq 1 20); do head -c $((i * 3000 + 1)) /dev/urandom >"$src/d/f$i"; done
ln "$src/big" "$src/d/big-link"
id=$(kiln tree import "$src")

# Without --passthrough: no open reaches the server, it answers the reads.
mount_bg "$id" "$T/plain"
cmp -s "$src/big" "$T/plain/big" || fail "big differs through a mount without passthrough"
[ "$(mount_stat "$T/plain" passthrough)" = 0 ] || fail "a mount without --passthrough passed opens through"
[ "$(mount_stat "$T/plain" open_files)" = 0 ] || fail "a mount without --passthrough got opens"
[ "$(mount_stat "$T/plain" reads)" -gt 0 ] || fail "a mount without --passthrough answered no reads"
ok "without --passthrough the kernel sends no opens and the server answers the reads"

m=$T/m
mount_bg "$id" "$m" --passthrough

# The imported blobs are in the store and trusted: every read is the kernel's.
cmp -s "$src/big" "$m/big" || fail "big differs through the mount"
for i in $(seq 1 20); do cmp -s "$src/d/f$i" "$m/d/f$i" || fail "d/f$i differs"; done
cmp -s "$src/big" "$m/d/big-link" || fail "the hardlink differs"
[ "$(mount_stat "$m" reads)" = 0 ] || fail "the server answered $(mount_stat "$m" reads) reads"
[ "$(mount_stat "$m" passthrough)" -ge 22 ] ||
	fail "only $(mount_stat "$m" passthrough) opens were passed through"
[ "$(mount_stat "$m" fetched)" = 0 ] || fail "passthrough fetched something"
mmap_same "$m/big" "$src/big" || fail "mmap of big through the mount differs"
[ "$(mount_stat "$m" reads)" = 0 ] || fail "the mmap read reached the server"
ok "verified store blobs are read and mapped by the kernel, no READ reaches the server"

# overlayfs stacks on the mount (its depth stays within the kernel's limit) and reads it too.
mkdir -p "$T/upper" "$T/work" "$T/merged"
track_mount "$T/merged"
mount -t overlay overlay -o "lowerdir=$m,upperdir=$T/upper,workdir=$T/work" "$T/merged" ||
	fail "mounting overlayfs over the passthrough mount failed"
before=$(mount_stat "$m" passthrough)
cmp -s "$src/big" "$T/merged/big" || fail "big differs through the overlay"
mmap_same "$T/merged/d/f7" "$src/d/f7" || fail "mmap through the overlay differs"
[ "$(mount_stat "$m" reads)" = 0 ] || fail "reads through the overlay reached the server"
[ "$(mount_stat "$m" passthrough)" -gt "$before" ] || fail "the overlay's opens were not passed through"
umount "$T/merged"
ok "an overlay over the mount reads through passthrough too"

# Many opens, some held at once: an inode keeps one backing file for all its opens until the
# kernel forgets it, the server keeps no blob open (the kernel holds the backing files), and
# nothing is left once the kernel dropped its inodes.
pid=$(mount_pid "$m")
[ -n "$pid" ] || fail "no server process for $m"
exec 3<"$m/big" 4<"$m/d/f1"
for r in $(seq 1 200); do head -c 1 "$m/d/f$((r % 20 + 1))" >/dev/null; done
for r in $(seq 1 20); do head -c 1 "$m/big" >/dev/null & done
wait
[ "$(mount_stat "$m" open_files)" = 2 ] || fail "$(mount_stat "$m" open_files) files open, not 2"
exec 3<&- 4<&-
wait_stat "$m" open_files 0
[ "$(mount_stat "$m" backing)" = 21 ] ||
	fail "$(mount_stat "$m" backing) backing files for the 21 inodes opened"
[ "$(mount_stat "$m" inodes)" = 21 ] || fail "the kernel holds $(mount_stat "$m" inodes) inodes, not 21"
[ "$(blob_fds "$pid")" = 0 ] || fail "the server keeps $(blob_fds "$pid") blobs open"
[ "$(mount_stat "$m" reads)" = 0 ] || fail "the opens' reads reached the server"
echo 2 >/proc/sys/vm/drop_caches
wait_stat "$m" inodes 0
[ "$(mount_stat "$m" backing)" = 0 ] ||
	fail "$(mount_stat "$m" backing) backing files left after the kernel forgot every inode"
cmp -s "$src/big" "$m/big" || fail "big differs after the kernel forgot it"
[ "$(mount_stat "$m" backing)" = 1 ] || fail "a reopened inode has no backing file"
ok "one backing file per inode until it is forgotten, no blob fd kept, after 242 opens"

# A directory mount: content not in the store yet is read through the server and fetched once;
# opens of it while that one lasts are read so too; once closed, it is local and passed through.
rm -rf "$src/big" "$src/d/big-link"
mount_bg "$src" "$T/dir" --passthrough
exec 3<"$T/dir/d/f3"
cmp -s "$src/d/f3" - <&3 || fail "d/f3 differs through the directory mount"
[ "$(mount_stat "$T/dir" fetched)" = 1 ] || fail "fetched $(mount_stat "$T/dir" fetched) times, wanted 1"
[ "$(mount_stat "$T/dir" reads)" -gt 0 ] || fail "content not local yet was not read through the server"
# now local, but the kernel takes no passthrough open of an inode with a read-through one open
cmp -s "$src/d/f3" "$T/dir/d/f3" || fail "d/f3 differs through a second open"
[ "$(mount_stat "$T/dir" passthrough)" = 0 ] || fail "an open beside a read-through one was passed through"
exec 3<&-
wait_stat "$T/dir" open_files 0
cmp -s "$src/d/f3" "$T/dir/d/f3" || fail "d/f3 differs once local"
[ "$(mount_stat "$T/dir" passthrough)" = 1 ] || fail "the local content was not passed through"
[ "$(mount_stat "$T/dir" fetched)" = 1 ] || fail "the local content was fetched again"
ok "content not local yet is fetched once through the server, then passed through"

# No CAP_SYS_ADMIN over the mount's user namespace: the kernel refuses backing files, and the
# server answers every read itself.
out=$(unshare -Urm --propagation private bash -c '
	set -e
	mkdir -p "$2"
	"$KILN" mount --log "$2.log" --passthrough "$1" "$2"
	trap "\"$KILN\" umount \"$2\"" EXIT
	cmp "$3/d/f9" "$2/d/f9"
	head -c 1 "$2/d/f9" >/dev/null
	getfattr --absolute-names --only-values -n user.kiln.lazyfs.stats "$2"
' - "$id" "$T/userns" "$src") || fail "the mount in a user namespace failed: $out"
pid=$(mount_pid "$T/userns" || true)
[ -z "$pid" ] || { kill "$pid"; fail "the user namespace's server outlived its mount"; }
case " $out " in
*" passthrough=0 "*) ;;
*) fail "a server without CAP_SYS_ADMIN passed opens through: $out" ;;
esac
case " $out " in
*" reads=0 "*) fail "a server without CAP_SYS_ADMIN answered no reads: $out" ;;
esac
ok "without CAP_SYS_ADMIN the server answers the reads itself"
