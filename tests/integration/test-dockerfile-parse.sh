#!/usr/bin/env bash
# kiln dockerfile parse|expand: every fixture of tests/data/dockerfile/ dumps to its result,
# every bad-* fixture fails with its exact message
# and the offending lines shown, stdin works, warnings go to stderr, expansion and its errors.
. "$(dirname "$0")/lib.sh"

: "${KILN_SOURCE_DIR:?KILN_SOURCE_DIR must name the source tree (meson test sets it)}"
D=$KILN_SOURCE_DIR/tests/data/dockerfile

n=0
for dir in "$D"/*/; do
	[ -f "$dir/result" ] || continue
	kiln dockerfile parse --dump "$dir/Dockerfile" >"$T/dump" 2>"$T/err" ||
		fail "$(basename "$dir"): parse failed: $(cat "$T/err")"
	cmp -s "$T/dump" "$dir/result" ||
		fail "$(basename "$dir"): dump differs: $(diff "$T/dump" "$dir/result" | head -20)"
	n=$((n + 1))
done
[ "$n" -ge 36 ] || fail "only $n fixtures with a result"
ok "$n fixtures dump to their results"

n=0
for dir in "$D"/bad-*/; do
	want=$(cat "$dir/error")
	rc=0
	kiln dockerfile parse "$dir/Dockerfile" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 1 ] || fail "$(basename "$dir"): exit $rc, wanted 1"
	[ ! -s "$T/out" ] || fail "$(basename "$dir"): printed to stdout: $(cat "$T/out")"
	[ "$(tail -n 1 "$T/err")" = "kiln: $want" ] ||
		fail "$(basename "$dir"): stderr ends '$(tail -n 1 "$T/err")', wanted 'kiln: $want'"
	line=$(printf '%s\n' "$want" | sed -n 's/^Dockerfile:\([0-9]*\):.*/\1/p')
	if [ -n "$line" ]; then
		text=$(sed -n "${line}p" "$dir/Dockerfile")
		grep -qxF -- "$(printf ' %4d | >>> %s' "$line" "$text")" "$T/err" ||
			fail "$(basename "$dir"): line $line not shown: $(cat "$T/err")"
	fi
	n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $n bad fixtures"
ok "$n bad Dockerfiles fail with their messages and show their lines"

# stdin, and a continuation over several lines is shown whole
printf 'FROM busybox\nRUN --mount=type=cache,mode=0999 \\\n    true\n' >"$T/df"
expect_fail 1 '^kiln: Dockerfile:2: invalid value 0999 for mode$' kiln dockerfile parse - <"$T/df"
grep -qxF '    3 | >>>     true' "$T/err" || fail "continuation line not shown: $(cat "$T/err")"
printf 'FROM busybox\nCOPY a b\n' | kiln dockerfile parse --dump - >"$T/dump"
[ "$(cat "$T/dump")" = "$(printf '(from "busybox")\n(copy "a" "b")')" ] || fail "stdin dump: $(cat "$T/dump")"
ok "stdin"

# warnings: on stderr, the parse still succeeds
printf 'FROM busybox\nRUN a \\\n\n    b\nMAINTAINER me\n' >"$T/warn"
kiln dockerfile parse "$T/warn" >"$T/out" 2>"$T/err" || fail "warnings made it fail: $(cat "$T/err")"
grep -qF 'warn:4: warning: Empty continuation line found in: RUN a     b' "$T/err" ||
	fail "no empty-continuation warning: $(cat "$T/err")"
grep -qF 'Empty continuation lines will become errors in a future release' "$T/err" ||
	fail "no detail line: $(cat "$T/err")"
grep -qF 'warn:5: warning: Maintainer instruction is deprecated in favor of using label' "$T/err" ||
	fail "no MAINTAINER warning: $(cat "$T/err")"
printf '# syntax=example.com/frontend:1\nFROM busybox\n' >"$T/syntax"
kiln dockerfile parse "$T/syntax" 2>"$T/err" || fail "a foreign # syntax made it fail"
grep -qF 'syntax:1: warning: unsupported frontend image in "# syntax=example.com/frontend:1"' "$T/err" ||
	fail "no # syntax warning: $(cat "$T/err")"
printf '# syntax=docker/dockerfile:1.7-labs\nFROM busybox\n' >"$T/syntax"
kiln dockerfile parse "$T/syntax" 2>"$T/err" && [ ! -s "$T/err" ] || fail "warned about docker/dockerfile:1.7-labs"
ok "warnings"

# expand
[ "$(kiln dockerfile expand --env A=1 --env 'B=x y' -- '${A:+set} "$B" ${C:-d} ${B/ /_}')" = "set x y d x_y" ] ||
	fail "expand: $(kiln dockerfile expand --env A=1 --env 'B=x y' -- '${A:+set} "$B" ${C:-d} ${B/ /_}')"
[ "$(kiln dockerfile expand --env P=/a/b.tar.gz '${P##*/} ${P%%.*} ${P#/} ${P%.gz}')" = "b.tar.gz /a/b a/b.tar.gz /a/b.tar" ] ||
	fail "patterns"
kiln dockerfile expand --words --env 'B=x y' 'a $B "c d" e\ f' >"$T/words"
[ "$(cat "$T/words")" = "$(printf 'a\nx\ny\nc d\ne f')" ] || fail "words: $(cat "$T/words")"
[ "$(kiln dockerfile expand --escape '`' 'a`$b \$c')" = 'a$b \' ] || fail "backtick escape"
[ "$(kiln dockerfile expand --env A=1 --env A=2 '$A')" = 2 ] || fail "the last --env wins"
expect_fail 1 '^kiln: dockerfile expand: failed to process "\$\{x:\?need x\}": x: need x$' \
	kiln dockerfile expand '${x:?need x}'
expect_fail 1 'unexpected end of statement while looking for matching single-quote' \
	kiln dockerfile expand "it's"
expect_fail 1 "syntax error: missing '}'" kiln dockerfile expand '${a:-b'
ok "expand"

expect_fail 2 "expected 'parse' or 'expand'" kiln dockerfile
expect_fail 2 'expected one FILE' kiln dockerfile parse
expect_fail 2 "unrecognized option '--bogus'|--bogus" kiln dockerfile parse --bogus x
expect_fail 2 '--escape takes' kiln dockerfile expand --escape x y
expect_fail 1 "opening '$T/missing'" kiln dockerfile parse "$T/missing"
head -c $((17 << 20)) /dev/zero | tr '\0' 'a' >"$T/huge"
expect_fail 1 'larger than 16 MiB' kiln dockerfile parse "$T/huge"
ok "usage errors exit 2, unreadable input 1"
