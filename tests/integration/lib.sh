# lib.sh — shared fixtures for integration tests: a private temp dir, a private store, and traps
# that unmount and stop whatever the test started, even when it fails.
# Source it first: `. "$(dirname "$0")/lib.sh"`. Tests exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
[ -n "${KILN_TEST_TRACE:-}" ] && set -x

: "${KILN:?KILN must name the built kiln binary (meson test sets it)}"
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

# Exits 77 (skip); under KILN_TEST_NO_SKIP (CI) a missing prerequisite is a failure instead.
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
	for c in "$@"; do command -v "$c" >/dev/null || skip "needs $c"; done
}

# kiln with the test's store; output to stdout/stderr as usual.
kiln() { "$KILN" "$@"; }

# Runs a command that must fail: expect_fail STATUS PATTERN cmd…; checks status and stderr.
expect_fail() {
	local want=$1 pattern=$2 rc=0
	shift 2
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, wanted $want; stderr: $(cat "$T/err")"
	grep -qE -- "$pattern" "$T/err" || fail "'$*' stderr lacks /$pattern/: $(cat "$T/err")"
}

# Lists every entry under a dir with its metadata, one line each, sorted: the round-trip truth.
# Prints path, type, mode, uid, gid, size (files), mtime (ns), rdev, link target, xattrs.
meta_listing() {
	local dir=$1
	(cd "$dir" && find . -mindepth 0 -print0 | sort -z | while IFS= read -r -d '' p; do
		local line
		line=$(stat -c '%F|%a|%u|%g|%t:%T|%.9Y' -- "$p")
		case $(stat -c %F -- "$p") in
		"regular file" | "regular empty file") line="$line|$(stat -c %s -- "$p")" ;;
		"symbolic link") line="$line|$(readlink -- "$p" | od -An -c | tr -s ' \n' ' ')" ;;
		esac
		line="$line|$({ getfattr -h -d -m - -e hex -- "$p" 2>/dev/null || true; } | { grep -v '^#' || true; } | sort | tr '\n' ' ')"
		printf '%s|%s\n' "$(printf '%s' "$p" | od -An -c | tr -s ' \n' ' ')" "$line"
	done)
}

# Prints "inode-group" lines: paths of regular files grouped by inode, for hardlink checks.
link_groups() {
	(cd "$1" && find . -type f -links +1 -printf '%i %p\n' | sort | awk '
		{ if ($1 != last && NR > 1) print line; if ($1 != last) line = $2; else line = line " " $2; last = $1 }
		END { if (NR) print line }' | sort)
}
