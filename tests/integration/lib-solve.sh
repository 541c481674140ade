# lib-solve.sh — fixtures for kiln solve tests: a busybox image with every applet as an OCI
# layout, runtimes wrapped to log each invocation, and a context directory.
# Source after lib.sh and lib-image.sh: `. "$(dirname "$0")/lib-solve.sh"`.

need_solve() {
	need_fuse
	need_cmd runc crun busybox jq sha256sum gzip tar
	[ -x /bin/busybox ] || skip "needs /bin/busybox (busybox-static)"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
	grep -qw overlay /proc/filesystems || skip "needs overlayfs"
}

# make_solve_image DIR: an OCI layout "DIR:latest" of busybox with every applet.
make_solve_image() {
	local dir=$1
	rm -rf "$T/solve-rootfs"
	make_rootfs_busybox "$T/solve-rootfs"
	busybox_link_applets "$T/solve-rootfs"
	printf 'root:x:0:\n' >"$T/solve-rootfs/etc/group"
	make_layer_tar "$T/solve-rootfs" "$T/solve-layer.tar.gz"
	make_oci_layout "$dir" latest "$T/solve-layer.tar.gz"
}

# make_logged_runtime NAME: $T/bin/NAME-logged runs NAME and appends each invocation's
# command (run, kill, delete…) to $T/runtime.log; prints the wrapper's path.
make_logged_runtime() {
	local name=$1 real
	real=$(command -v "$name") || skip "needs $name"
	mkdir -p "$T/bin"
	cat >"$T/bin/$name-logged" <<EOS
#!/bin/sh
for a in "\$@"; do
	case \$a in run|kill|delete|state) echo "\$a" >>"$T/runtime.log"; break ;; esac
done
exec "$real" "\$@"
EOS
	chmod 755 "$T/bin/$name-logged"
	echo "$T/bin/$name-logged"
}

# runs_logged: how many steps the logged runtimes started so far.
runs_logged() { grep -c '^run$' "$T/runtime.log" 2>/dev/null || true; }
