#!/usr/bin/env bash
# Bad input gets one clear line naming what and where, a non-zero exit, and no harm to the store.
. "$(dirname "$0")/lib.sh"
need_root

blob() { echo "$KILN_ROOT/content/sha256/${1#sha256:}"; }

expect_fail 1 "tree import: .*'$T/missing'.*No such file or directory" kiln tree import "$T/missing"
ok "missing directory"

mkdir -p "$T/ctx/sub" && printf 'secret\n' >"$T/ctx/sub/locked" && chmod 000 "$T/ctx/sub/locked"
chmod 755 "$T" "$T/ctx" "$T/ctx/sub"
expect_fail 1 "tree import: .*'sub/locked'.*Permission denied" kiln_as_nobody tree import "$T/ctx"
ok "unreadable file"

expect_fail 2 "not a kiln command" kiln frobnicate
expect_fail 2 "expected one directory" kiln tree import
expect_fail 1 "'sha256:nope' is not a sha256 digest" kiln tree ls sha256:nope
ok "usage errors exit 2, a malformed id exits 1"

mkdir -p "$T/good" && printf 'one\n' >"$T/good/a" && printf 'two\n' >"$T/good/b"
good=$(kiln tree import "$T/good")
mkdir -p "$T/victim" && printf 'victim\n' >"$T/victim/v"
victim=$(kiln tree import "$T/victim")
absent=sha256:$(printf 'never' | sha256sum | cut -d' ' -f1)
expect_fail 1 "tree ls: .*$absent" kiln tree ls "$absent"
ok "absent tree id"

# a truncated tree blob: a clear error, and every other blob still good
tb=$(blob "$victim")
chmod u+w "$tb"
truncate -s 40 "$tb"
expect_fail 1 "tree ls: .*$victim.*corrupt" kiln tree ls "$victim"
kiln store verify >"$T/verify" && fail "store verify missed a truncated tree"
[ "$(grep -c '^corrupt' "$T/verify")" = 1 ] && grep -q "corrupt $victim" "$T/verify" ||
	fail "store verify: $(cat "$T/verify")"
kiln tree ls "$good" >/dev/null || fail "the other tree stopped loading"
ok "truncated tree blob"

# a corrupted tree blob of the right length
flip_byte "$tb" 10
expect_fail 1 "corrupt" kiln tree export "$victim" "$T/out-victim"
ok "corrupted tree blob"

# a corrupted content blob: export names the file, the store is otherwise intact
cb=$(blob "$(printf 'two\n' | sha256sum | cut -d' ' -f1)")
chmod u+w "$cb"
printf 'TWO\n' >"$cb"
expect_fail 1 "'b'.*corrupt" kiln tree export "$good" "$T/out-good"
kiln store verify >"$T/verify2" && fail "store verify missed a corrupt content blob"
[ "$(grep -c '^corrupt' "$T/verify2")" = 2 ] || fail "store verify: $(cat "$T/verify2")"
cmp -s "$(blob "$(printf 'one\n' | sha256sum | cut -d' ' -f1)")" <(printf 'one\n') ||
	fail "an unrelated blob changed"
ok "corrupted content blob"

# a fresh import of the same content heals nothing silently and still works
[ "$(kiln tree import "$T/good")" = "$good" ] || fail "re-import changed the id"
expect_fail 1 "not empty" kiln tree export "$good" "$T/good"
ok "export refuses a non-empty directory"
