#!/usr/bin/env bash
# kiln context hash: stable ids, .dockerignore with exceptions, --ignore-file, symlinks kept as
# links, the stat cache (one changed file is the only one hashed again), and clear errors.
. "$(dirname "$0")/lib.sh"

C=$T/ctx
mkdir -p "$C/src" "$C/build/keep" "$C/logs"
printf 'FROM scratch\nCOPY . /\n' >"$C/Dockerfile"
printf 'int main(void) { return 0; }\n' >"$C/src/main.c"
printf 'object\n' >"$C/build/out.o"
printf 'kept\n' >"$C/build/keep/me.txt"
printf 'noise\n' >"$C/logs/today.log"
printf 'top\n' >"$C/debug.log"
ln -s src/main.c "$C/main-link"
ln -s /etc/passwd "$C/outside-link"
cat >"$C/.dockerignore" <<'IGN'
# generated things
build
!build/keep/me.txt
*.log
logs/
IGN

# the tree of a context, listed
ls_ctx() { kiln tree ls -r "$1"; }
# waits until the coarse clock (file times) has moved past now, so the stat cache trusts files
tick() { sleep 0.05; }

tick
id1=$(kiln context hash "$C")
[[ $id1 == sha256:* ]] || fail "context hash printed '$id1'"
id2=$(kiln context hash "$C")
[ "$id1" = "$id2" ] || fail "the id changed without a change: $id1 then $id2"
ok "context hash is stable"

ls_ctx "$id1" >"$T/ls1"
grep -q ' src/main.c sha256:' "$T/ls1" || fail "src/main.c missing or without digest: $(cat "$T/ls1")"
grep -q ' Dockerfile ' "$T/ls1" || fail "Dockerfile missing"
grep -q ' .dockerignore ' "$T/ls1" || fail ".dockerignore missing"
grep -q ' build/keep/me.txt ' "$T/ls1" || fail "the ! exception was not applied"
grep -q '^d.* build$' "$T/ls1" || fail "build, parent of an exception, missing"
grep -q 'build/out.o' "$T/ls1" && fail "build/out.o is excluded"
grep -q 'debug.log' "$T/ls1" && fail "*.log is excluded"
grep -q ' logs' "$T/ls1" && fail "logs/ is excluded"
grep -q '^l.* main-link -> src/main.c$' "$T/ls1" || fail "main-link not kept as a link"
grep -q '^l.* outside-link -> /etc/passwd$' "$T/ls1" || fail "outside-link not kept as a link"
ok ".dockerignore with exceptions, symlinks kept as links"

printf 'more noise, longer\n' >"$C/logs/today.log"
printf 'other\n' >"$C/build/out.o"
tick
[ "$(kiln context hash "$C")" = "$id1" ] || fail "changing ignored files changed the id"
ok "changing an ignored file keeps the id"

printf 'int main(void) { return 1; }\n' >"$C/src/main.c"
tick
kiln context hash --stats "$C" >"$T/id3" 2>"$T/stats3"
id3=$(cat "$T/id3")
[ "$id3" != "$id1" ] || fail "changing src/main.c kept the id"
grep -qx 'hashed 1' "$T/stats3" || fail "a rescan after one change hashed more: $(cat "$T/stats3")"
kiln tree ls "$id3" src/main.c | grep -q "$(printf 'int main(void) { return 1; }\n' | sha256sum | cut -d' ' -f1)" ||
	fail "src/main.c has a stale digest"
ok "changing an included file changes the id and is the only file hashed again"

printf 'src\n' >"$T/other.ignore"
idi=$(kiln context hash "$C" --ignore-file "$T/other.ignore")
kiln tree ls -r "$idi" >"$T/lsi"
grep -q ' src/main.c sha256:' "$T/lsi" && fail "--ignore-file not applied"
grep -q ' build/out.o ' "$T/lsi" || fail "--ignore-file should replace .dockerignore"
ok "--ignore-file replaces .dockerignore"

idf=$(kiln context hash --follow src/main.c --follow main-link "$C")
kiln tree ls -r "$idf" >"$T/lsf"
[ "$(grep -c . "$T/lsf")" = 4 ] || fail "followpaths: $(cat "$T/lsf")"
ok "--follow scans only the given paths"

printf 'ok\n[oops\n' >"$C/.dockerignore"
expect_fail 1 "context hash: .*$C/.dockerignore:2: syntax error in pattern '\[oops'" kiln context hash "$C"
printf '!\n' >"$T/bang.ignore"
expect_fail 1 "$T/bang.ignore:1: illegal exclusion pattern" kiln context hash "$C" --ignore-file "$T/bang.ignore"
expect_fail 1 "'$T/absent.ignore'.*No such file" kiln context hash "$C" --ignore-file "$T/absent.ignore"
expect_fail 1 "context '$T/nope'.*No such file" kiln context hash "$T/nope"
expect_fail 2 "expected one directory" kiln context hash
expect_fail 2 "expected 'hash'" kiln context frob
ok "bad ignore files and arguments are clear errors"

need_root
need_cmd setpriv
rm "$C/.dockerignore"
chmod 755 "$T" "$C" "$C/src"
chmod 000 "$C/src/main.c"
expect_fail 1 "'src/main.c'.*Permission denied" kiln_as_nobody context hash "$C"
chmod 644 "$C/src/main.c"
printf 'x\n' >"$C/.dockerignore" && chmod 000 "$C/.dockerignore"
expect_fail 1 "'$C/.dockerignore'.*Permission denied" kiln_as_nobody context hash "$C"
ok "unreadable files are errors naming them"
