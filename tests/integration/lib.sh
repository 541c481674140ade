# lib.sh — shared fixtures for integration tests: a private temp dir, a private store, and traps
# that unmount and stop whatever the test started, even when it fails.
# Source it first: `. "$(dirname "$0")/lib.sh"`. Tests exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
[ -n "${KILN_TEST_TRACE:-}" ] && set -x

: "${KILN:?KILN must name the built kiln binary (meson test sets it)}"
KILN_TEST_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-test.XXXXXX")
export KILN_ROOT="$T/root"
_mounts=()
_pids=()

cleanup() {
	local rc=$? m p
	set +e
	for ((i = ${#_mounts[@]} - 1; i >= 0; i--)); do
		m=${_mounts[i]}
		if mountpoint -q "$m" 2>/dev/null || grep -q " $m " /proc/self/mounts 2>/dev/null; then
			umount "$m" 2>/dev/null || fusermount3 -u "$m" 2>/dev/null ||
				umount -l "$m" 2>/dev/null
		fi
	done
	for p in "${_pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Registers a mountpoint for unmounting at exit.
track_mount() { _mounts+=("$1"); }
# Registers a PID for killing at exit.
track_pid() { _pids+=("$1"); }

# Exits 77 (skip); under KILN_TEST_NO_SKIP (tests/run-all.sh sets it) a missing prerequisite is a
# failure instead.
skip() {
	if [ -n "${KILN_TEST_NO_SKIP:-}" ]; then
		echo "FAIL: cannot run here: $*" >&2
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok - $*"; }

need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_fuse() {
	need_root
	[ -c /dev/fuse ] || skip "needs /dev/fuse"
	command -v fusermount3 >/dev/null || skip "needs fusermount3 (fuse3)"
}
need_cmd() {
	local c
	for c in "$@"; do type -P "$c" >/dev/null || skip "needs $c"; done
}

# skopeo with a blob-info cache of its own. The system's (/var/lib/containers/cache for root)
# outlives tests and remembers blobs "at" 127.0.0.1 ports that later tests reuse for other
# registries: skopeo then skips uploads that this test's registry never got.
skopeo() {
	if [ "$(id -u)" != 0 ]; then
		command skopeo "$@"
		return
	fi
	mkdir -p /var/lib/containers/cache
	unshare --mount --propagation private sh -c \
		'mount -t tmpfs -o size=64m,mode=0700 kiln-test /var/lib/containers/cache &&
		exec skopeo "$@"' skopeo "$@"
}

# kiln with the test's store; output to stdout/stderr as usual.
kiln() { "$KILN" "$@"; }

# Runs kiln as nobody (65534) with a store of its own. The build directory may sit where nobody
# cannot enter (a checkout under /root, mode 700), so this runs a copy of the binary in the
# test's directory, which every user can read.
kiln_as_nobody() {
	need_root
	need_cmd setpriv
	if [ ! -x "$T/bin/kiln" ]; then
		mkdir -p "$T/bin" "$T/nobody"
		cp "$KILN" "$T/bin/kiln"
		chown 65534:65534 "$T/nobody"
		chmod 755 "$T" "$T/bin" "$T/bin/kiln"
	fi
	setpriv --reuid=65534 --regid=65534 --clear-groups env KILN_ROOT="$T/nobody/root" \
		"$T/bin/kiln" "$@"
}

# Runs a command that must fail: expect_fail STATUS PATTERN cmd…; checks status and stderr.
expect_fail() {
	local want=$1 pattern=$2 rc=0
	shift 2
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, wanted $want; stderr: $(cat "$T/err")"
	grep -qE -- "$pattern" "$T/err" || fail "'$*' stderr lacks /$pattern/: $(cat "$T/err")"
}

# Changes the byte at OFFSET of FILE in place to another value (its low bit flipped), size kept:
# a fixed replacement byte would leave random content unchanged once in 256.
flip_byte() {
	local file=$1 off=$2 b
	b=$(od -An -tu1 -j "$off" -N1 "$file" 2>/dev/null | tr -d ' ')
	[ -n "$b" ] || fail "flip_byte: $file has no byte at $off"
	# shellcheck disable=SC2059 # the format is the octal escape of the new byte
	printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$file" bs=1 seek="$off" conv=notrunc status=none
}

# Lists every entry under a dir with its metadata, one line each, sorted: the round-trip truth.
# Prints path, type, mode, uid, gid, size (files), mtime (ns), rdev, link target, xattrs.
meta_listing() {
	python3 "$KILN_TEST_LIB_DIR/meta-listing.py" "$1"
}

# Prints "inode-group" lines: paths of regular files grouped by inode, for hardlink checks.
link_groups() {
	(cd "$1" && find . -type f -links +1 -printf '%i %p\n' | sort | awk '
		{ if ($1 != last && NR > 1) print line; if ($1 != last) line = $2; else line = line " " $2; last = $1 }
		END { if (NR) print line }' | sort)
}

# A directory with every kind of entry the tree format knows, odd names, owners, modes, xattrs,
# hardlinks, nanosecond mtimes, and a directory too big for one readdir reply.
make_fixture() {
	local d=$1 long i
	mkdir -p "$d/dir with spaces" "$d/empty-dir" "$d/modes" "$d/many"
	printf 'hello\n' >"$d/dir with spaces/file one"
	printf 'newline\n' >"$d/name"$'\n'"with newline"
	printf 'bytes\n' >"$d/"$'\xff\xfe-not-utf8'
	: >"$d/empty-file"
	long=$d
	for i in 1 2 3 4 5; do
		long=$long/segment$i-$(head -c 60 /dev/zero | tr '\0' x)
	done
	mkdir -p "$long"
	printf 'deep\n' >"$long/leaf"
	truncate -s 8M "$d/sparse"
	printf 'middle' | dd of="$d/sparse" bs=1 seek=$((4 << 20)) conv=notrunc status=none
	head -c 3000000 /dev/urandom >"$d/random.bin"
	head -c 1 /dev/urandom >"$d/one-byte"
	printf 'shared\n' >"$d/hard-a"
	ln "$d/hard-a" "$d/hard-b"
	ln "$d/hard-a" "$d/dir with spaces/hard-c"
	ln -s "dir with spaces/file one" "$d/link-ok"
	ln -s "/nonexistent/target" "$d/link-dangling"
	ln -s "loop-b" "$d/loop-a"
	ln -s "loop-a" "$d/loop-b"
	ln -s "$(head -c 3000 /dev/zero | tr '\0' y)" "$d/link-long"
	mknod "$d/chardev" c 1 3
	mknod "$d/blockdev" b 7 200
	mkfifo "$d/fifo"
	setfattr -n user.kiln -v "value one" "$d/dir with spaces/file one"
	setfattr -n user.bin -v 0x00ff10 "$d/random.bin"
	setfattr -n user.dir -v dirvalue "$d/empty-dir"
	setfattr -n trusted.onlink -v linkvalue -h "$d/link-ok"
	chown 1234:5678 "$d/dir with spaces/file one"
	chown -h 42:43 "$d/link-ok"
	printf '#!/bin/sh\n' >"$d/modes/setuid" && chmod 4755 "$d/modes/setuid"
	printf 'x' >"$d/modes/setgid" && chmod 2750 "$d/modes/setgid"
	mkdir "$d/modes/sticky" && chmod 1777 "$d/modes/sticky"
	printf 'x' >"$d/modes/none" && chmod 0000 "$d/modes/none"
	mkdir "$d/modes/readonly-dir" && printf 'x' >"$d/modes/readonly-dir/f"
	chmod 0555 "$d/modes/readonly-dir"
	for i in $(seq 1 300); do printf '%s\n' "$i" >"$d/many/file-with-a-longish-name-$i"; done
	touch -h -d '2001-02-03 04:05:06.123456789' "$d/link-ok" "$d/random.bin"
	find "$d" -depth -not -path "$d/link-ok" -not -path "$d/random.bin" \
		-exec touch -h -d '2010-10-10 10:10:10.987654321' {} +
}
