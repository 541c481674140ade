#!/usr/bin/env bash
# tree import → tree export reproduces a directory exactly: bytes, names, links, devices, owners,
# modes, xattrs, mtimes; and the same filesystem always gets the same tree id.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd getfattr setfattr mknod

src=$T/src
mkdir -p "$src"
make_fixture "$src"

id=$(kiln tree import "$src")
[[ $id =~ ^sha256:[0-9a-f]{64}$ ]] || fail "tree import printed '$id'"
ok "import printed a tree id"

[ "$(kiln tree import "$src")" = "$id" ] || fail "a second import of the same dir changed the id"
ok "id is stable across imports"

kiln tree export "$id" "$T/out"
# diff cannot compare fifos and devices; the metadata listing below covers them
diff -r --no-dereference -x fifo -x chardev -x blockdev "$src" "$T/out" >"$T/diff" 2>&1 || fail "diff -r differs: $(head -20 "$T/diff")"
ok "diff -r finds no difference"

meta_listing "$src" >"$T/meta.src"
meta_listing "$T/out" >"$T/meta.out"
diff "$T/meta.src" "$T/meta.out" >"$T/meta.diff" || fail "metadata differs: $(head -20 "$T/meta.diff")"
[ "$(wc -l <"$T/meta.src")" -gt 25 ] || fail "metadata listing looks too short"
grep -q 'user.kiln=0x76616c7565206f6e65' "$T/meta.out" || fail "xattr user.kiln missing"
grep -q 'trusted.onlink' "$T/meta.out" || fail "xattr on a symlink missing"
ok "metadata (types, modes, owners, mtimes, devices, link targets, xattrs) is identical"

[ "$(link_groups "$src")" = "$(link_groups "$T/out")" ] || fail "hardlink groups differ"
[ "$(stat -c %i "$T/out/hard-a")" = "$(stat -c %i "$T/out/dir with spaces/hard-c")" ] ||
	fail "hard-a and hard-c are not one inode"
ok "hardlinks are still linked"

cmp "$src/sparse" "$T/out/sparse" || fail "sparse file content differs"
[ "$(du -k "$T/out/sparse" | cut -f1)" -lt 256 ] || fail "sparse file lost its holes"
ok "sparse file content equal and still sparse"

[ "$(kiln tree import "$T/out")" = "$id" ] || fail "re-importing the export gave another id"
ok "the exported tree imports to the same id"

# any change makes another id
touch -h -d '2020-01-01' "$T/out/empty-file"
[ "$(kiln tree import "$T/out")" != "$id" ] || fail "an mtime change kept the id"
ok "a metadata change changes the id"

kiln tree ls "$id" >"$T/ls"
grep -q 'dir with spaces' "$T/ls" || fail "tree ls lacks 'dir with spaces'"
grep -q '^crw-r--r-- 0:0 1,3 .* chardev' "$T/ls" || fail "tree ls device line: $(grep chardev "$T/ls")"
kiln tree ls "$id" "dir with spaces/file one" >"$T/ls1"
grep -q '^-rw-r--r-- 1234:5678 6 ' "$T/ls1" || fail "tree ls of one file: $(cat "$T/ls1")"
kiln tree ls -r "$id" >"$T/lsr"
grep -q '/leaf sha256:' "$T/lsr" || fail "tree ls -r does not reach the deep leaf"
[ "$(wc -l <"$T/lsr")" -eq "$(find "$src" -printf . | wc -c)" ] || fail "tree ls -r: $(wc -l <"$T/lsr") lines"
ok "tree ls lists entries"

kiln store du >"$T/du"
grep -Eq '^blobs [0-9]+$' "$T/du" && grep -Eq '^bytes [0-9]+$' "$T/du" || fail "store du: $(cat "$T/du")"
kiln store verify >/dev/null || fail "store verify found corruption in a good store"
ok "store du and verify"
