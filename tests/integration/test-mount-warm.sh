#!/usr/bin/env bash
# Page-cache warming: the first read of a file of a directory has the mount push the small
# files that follow it in the tree (the rest of its directory, then the next directories) whose
# blobs are in the store and whose directories were listed into the kernel's page cache, so that
# reading them reaches the server no more; a directory listed later is warmed at its own first
# read; every byte read equals the source, a corrupt blob is never pushed (its read still fails),
# large files and contents not in the store (a context mount) are never warmed, but are once they
# are there, at a later directory's first read; and a mount with --passthrough warms nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mount.sh"
need_fuse
need_cmd getfattr

src=$T/src
# Sizes around page and limit edges; a hardlink; an empty file; a file over the limit (128 KiB).
sizes=(1 100 4095 4096 4097 8192 65536 131071 131072 0 131073 3000)
for d in a b c; do
	mkdir -p "$src/$d"
	for i in "${!sizes[@]}"; do
		head -c "${sizes[$i]}" /dev/urandom >"$src/$d/f$(printf %02d "$i")"
	done
done
ln "$src/a/f01" "$src/a/f99-link"
echo last >"$src/a/zlast"
id=$(kiln tree import "$src")
# per directory: the regular files after f00 of 1..131072 bytes, f01–f08 and f11 (a's link is
# f01's inode, warmed once), and a's zlast; the directories after a also their f00
warmable=9
all=$((warmable + 1 + 2 * (warmable + 1)))

# Waits until the mount's stat FIELD reaches at least N (the warming runs in the background).
wait_at_least() { # DIR FIELD N
	local i
	for i in $(seq 200); do
		[ "$(mount_stat "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.05
	done
	fail "$2 stayed at $(mount_stat "$1" "$2"), expected at least $3"
}

mount_bg "$id" "$T/m"
ls -lR "$T/m" >/dev/null # the kernel looks every inode up (READDIRPLUS)
cmp -s "$src/a/f00" "$T/m/a/f00" || fail "a/f00 differs"
wait_at_least "$T/m" warmed "$all"
reads=$(mount_stat "$T/m" reads)
for f in "$src"/a/* "$src"/b/*; do
	d=${f%/*} && d=${d##*/}
	[ "${f##*/}" = f10 ] && continue
	cmp -s "$f" "$T/m/$d/${f##*/}" || fail "$d/${f##*/} differs after warming"
	now=$(mount_stat "$T/m" reads)
	[ "$now" = "$reads" ] || fail "reading the warmed $d/${f##*/} took $((now - reads)) reads"
done
after=$(mount_stat "$T/m" reads)
[ "$(mount_stat "$T/m" warmed)" = "$all" ] || fail "warmed $(mount_stat "$T/m" warmed), not $all"
# the file over the limit (131073 bytes) was left to its reads
cmp -s "$src/a/f10" "$T/m/a/f10" || fail "a/f10 differs"
[ "$(mount_stat "$T/m" reads)" -gt "$after" ] || fail "a/f10 was read without a READ"
ok "the first read pushes the small files after it, next directories too: they read with no READ"

# Only listed directories take pages: b listed after a's first read is warmed at its own.
mount_bg "$id" "$T/m5"
ls -l "$T/m5/a" >/dev/null
cmp -s "$src/a/f00" "$T/m5/a/f00" || fail "a/f00 differs"
wait_at_least "$T/m5" warmed $((warmable + 1))
sleep 0.3
[ "$(mount_stat "$T/m5" warmed)" = $((warmable + 1)) ] ||
	fail "unlisted directories took pages: warmed $(mount_stat "$T/m5" warmed), not $((warmable + 1))"
ls -l "$T/m5/b" >/dev/null
cmp -s "$src/b/f00" "$T/m5/b/f00" || fail "b/f00 differs"
wait_at_least "$T/m5" warmed $((2 * warmable + 1))
reads=$(mount_stat "$T/m5" reads)
for f in f01 f04 f08 f11; do
	cmp -s "$src/b/$f" "$T/m5/b/$f" || fail "b/$f differs"
done
[ "$(mount_stat "$T/m5" reads)" = "$reads" ] || fail "b's warmed files took reads"
ok "a directory listed after the first read is warmed at its own first read"

# Every other directory reads back equal too, whatever the order.
for d in c b; do
	for f in $(ls "$src/$d" | sort -r); do
		cmp -s "$src/$d/$f" "$T/m/$d/$f" || fail "$d/$f differs"
	done
done
ok "every file reads back equal in reverse order with warming on"

# A corrupt blob next to good ones: never pushed, its read fails, the others read.
hex=$(sha256sum "$src/b/f05" | cut -d' ' -f1)
blob=$KILN_ROOT/content/sha256/$hex
chmod u+w "$blob"
flip_byte "$blob" 10
mount_bg "$id" "$T/m2"
ls -lR "$T/m2" >/dev/null
cmp -s "$src/b/f00" "$T/m2/b/f00" || fail "b/f00 differs"
wait_at_least "$T/m2" warmed $((warmable - 1))
cat "$T/m2/b/f05" >"$T/out" 2>"$T/err" && fail "reading a corrupt blob succeeded after warming"
grep -q 'Input/output error' "$T/err" || fail "corrupt blob: wrong error: $(cat "$T/err")"
[ -s "$T/out" ] && fail "bytes were served for a corrupt blob"
for f in f04 f06 f11; do cmp -s "$src/b/$f" "$T/m2/b/$f" || fail "b/$f differs"; done
ok "a corrupt small blob is not pushed: its read fails, its neighbours read"

# A context mount: contents are not in the store, so nothing is warmed (nor fetched for it).
mkdir -p "$T/ctx"
for i in $(seq 10); do echo "file $i" >"$T/ctx/f$i"; done
mount_bg "$T/ctx" "$T/m3"
ls -l "$T/m3" >/dev/null
cat "$T/m3/f1" >/dev/null
sleep 0.3
[ "$(mount_stat "$T/m3" warmed)" = 0 ] || fail "a context mount warmed $(mount_stat "$T/m3" warmed) files"
[ "$(mount_stat "$T/m3" fetched)" = 1 ] || fail "a context mount fetched $(mount_stat "$T/m3" fetched) files for one read"
ok "contents not in the store are never warmed (one read, one fetch)"

# Contents that reach the store after a walk passed them (a build's ingest running beside a
# step's reads): a directory first read afterwards is warmed.
mkdir -p "$T/late/a" "$T/late/b"
for d in a b; do for i in $(seq 10); do echo "$d file $i" >"$T/late/$d/f$i"; done; done
late=$(kiln tree import "$T/late")
for f in "$T"/late/a/f[02-9]* "$T"/late/a/f10 "$T"/late/b/*; do
	rm -f "$KILN_ROOT/content/sha256/$(sha256sum "$f" | cut -d' ' -f1)"
done
mount_bg "$late" "$T/m6"
ls -lR "$T/m6" >/dev/null
cmp -s "$T/late/a/f1" "$T/m6/a/f1" || fail "late a/f1 differs"
sleep 0.3
[ "$(mount_stat "$T/m6" warmed)" = 0 ] || fail "warmed $(mount_stat "$T/m6" warmed) files not in the store"
kiln tree import "$T/late" >/dev/null
cmp -s "$T/late/b/f1" "$T/m6/b/f1" || fail "late b/f1 differs"
wait_at_least "$T/m6" warmed 9
reads=$(mount_stat "$T/m6" reads)
for i in $(seq 2 10); do cmp -s "$T/late/b/f$i" "$T/m6/b/f$i" || fail "late b/f$i differs"; done
[ "$(mount_stat "$T/m6" reads)" = "$reads" ] || fail "b's warmed files took reads"
ok "contents that reach the store after a walk passed them are warmed at a later first read"

# --passthrough: opens bypass the page cache, so nothing is pushed.
mount_bg "$id" "$T/m4" --passthrough
ls -lR "$T/m4" >/dev/null
cmp -s "$src/c/f00" "$T/m4/c/f00" || fail "c/f00 differs"
cmp -s "$src/c/f01" "$T/m4/c/f01" || fail "c/f01 differs"
sleep 0.3
[ "$(mount_stat "$T/m4" passthrough)" -gt 0 ] || fail "no open was passed through"
[ "$(mount_stat "$T/m4" warmed)" = 0 ] || fail "a passthrough mount warmed $(mount_stat "$T/m4" warmed) files"
ok "a passthrough mount warms nothing"
