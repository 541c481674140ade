# lib-mount.sh — fixtures and helpers for the kiln mount tests; source after lib.sh.

# Mounts SOURCE at DIR in the background with a log file DIR.log; registers it for unmounting.
mount_bg() { # SOURCE DIR [MOUNT-OPTION...]
	local src=$1 dir=$2
	mkdir -p "$dir"
	track_mount "$dir"
	kiln mount --log "$dir.log" "${@:3}" "$src" "$dir" || fail "kiln mount $src $dir failed"
	grep -q " $dir fuse.kiln " /proc/self/mounts || fail "no fuse.kiln mount at $dir"
}

# Prints one field (verified, fetched, failed, shared, …) of a mount's lazyfs statistics.
mount_stat() {
	getfattr --absolute-names --only-values -n user.kiln.lazyfs.stats "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# The daemon serving DIR (the kiln process whose command line names it).
mount_pid() {
	pgrep -f -x "$KILN mount .* $1" | head -1
}

# Compares every byte, every metadata field and the hardlink groups of two trees of files.
same_tree() {
	local a=$1 b=$2
	diff -r --no-dereference -x fifo -x chardev -x blockdev "$a" "$b" >"$T/diff" 2>&1 ||
		fail "diff -r $a $b differs: $(head -20 "$T/diff")"
	meta_listing "$a" >"$T/meta.a"
	meta_listing "$b" >"$T/meta.b"
	diff "$T/meta.a" "$T/meta.b" >"$T/meta.diff" ||
		fail "metadata differs: $(head -20 "$T/meta.diff")"
	[ "$(link_groups "$a")" = "$(link_groups "$b")" ] || fail "hardlink groups differ"
}
