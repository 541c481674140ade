# lib-exec.sh — fixtures for RUN step tests: a busybox rootfs with a static probe program, a
# store holding it as a tree, and the exec harness (tests/integration/exec-harness.c), which
# runs one step through exec_run in a mount namespace of its own.
# Source after lib.sh: `. "$(dirname "$0")/lib-exec.sh"`.

. "$(dirname "${BASH_SOURCE[0]}")/../lib-busybox.sh"

: "${KILN_EXEC_HARNESS:?KILN_EXEC_HARNESS must name the built exec-harness (meson test sets it)}"

# Skips (or fails, see lib.sh) without what a RUN step needs here.
need_exec() {
	need_fuse
	need_cmd runc crun gcc
	[ -x /bin/busybox ] || skip "needs /bin/busybox (busybox-static)"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
	grep -qw overlay /proc/filesystems || skip "needs overlayfs"
}

# The runtimes to run each case with: both, as the issue asks.
EXEC_RUNTIMES="runc crun"

# make_exec_rootfs DIR: busybox with every applet, users and groups, exec-probe, and a few
# files the tests change.
make_exec_rootfs() {
	local root=$1
	mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/usr/share/doc" "$root/home/alice" \
		"$root/data/keep"
	busybox_install "$root"
	printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n' \
		>"$root/etc/passwd"
	printf 'root:x:0:\nalice:x:1000:\nwheel:x:10:alice\nstaff:x:50:alice\n' >"$root/etc/group"
	chown 1000:1000 "$root/home/alice"
	printf 'hello from kiln\n' >"$root/etc/motd"
	printf 'docs\n' >"$root/usr/share/doc/README"
	printf 'kept\n' >"$root/data/keep/file"
	chmod 1777 "$root/tmp"
	gcc -static -O2 -o "$root/bin/exec-probe" "$KILN_SOURCE_DIR/tests/integration/exec-probe.c" ||
		fail "compiling exec-probe"
}

# setup_exec: $ROOTFS, its tree id in $ROOT, the harness's store in $KILN_ROOT.
setup_exec() {
	need_exec
	ROOTFS=$T/rootfs
	make_exec_rootfs "$ROOTFS"
	ROOT=$(kiln tree import "$ROOTFS") || fail "importing the rootfs"
}

# harness ARGS…: the exec harness on the test's store.
harness() { "$KILN_EXEC_HARNESS" --store "$KILN_ROOT" "$@"; }

# run_step OUT RUNTIME ARGS… -- CMD…: runs a step over $ROOT, its stdout (tree, diff, exit) in
# OUT, the step's output in OUT.log, the harness's errors in OUT.err; returns its status.
run_step() {
	local out=$1 rt=$2
	shift 2
	harness --runtime "$rt" --root "$ROOT" --log "$out.log" --check-clean "$@" \
		>"$out" 2>"$out.err"
}

# field OUT NAME: a value run_step wrote ("tree", "diff", "failed_tree", "exit").
field() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# Lists a tree's paths (recursive), one a line, as `kiln tree ls -r` names them.
tree_paths() { kiln tree ls -r "$1" | awk '{ print $5 }'; }

# entry TREE PATH: the `kiln tree ls` line of PATH itself (a dir's own line, not its children).
entry() { kiln tree ls -r "$1" "$2" | head -1; }
