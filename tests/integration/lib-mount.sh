# lib-mount.sh — fixtures and helpers for the kiln mount tests; source after lib.sh.

# A directory with every kind of entry the tree format knows, odd names, owners, modes, xattrs,
# hardlinks, nanosecond mtimes, and a directory too big for one readdir reply.
make_mount_fixture() {
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
	for i in $(seq 1 300); do printf '%s\n' "$i" >"$d/many/file-with-a-longish-name-$i"; done
	touch -h -d '2001-02-03 04:05:06.123456789' "$d/link-ok" "$d/random.bin"
	find "$d" -depth -not -path "$d/link-ok" -not -path "$d/random.bin" \
		-exec touch -h -d '2010-10-10 10:10:10.987654321' {} +
}

# Mounts SOURCE at DIR in the background with a log file DIR.log; registers it for unmounting.
mount_bg() {
	local src=$1 dir=$2
	mkdir -p "$dir"
	track_mount "$dir"
	kiln mount --log "$dir.log" "$src" "$dir" || fail "kiln mount $src $dir failed"
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
