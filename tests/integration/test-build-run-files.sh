#!/usr/bin/env bash
# kiln build of RUN steps that write many files: the diff trees hold exactly the bytes written
# (at /, under a new dir, one file big enough for a verification record, a hardlink), the files
# move into the store by rename (none is copied in: the store and the step's upper dir are on
# one mount of the build's namespace), the store verifies, and --no-cache runs the steps again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
need_build
need_cmd cmp seq

make_build_base
C=$T/ctx
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF2'
FROM busybox:test
RUN for i in $(seq 500); do echo "$i" > /f$i; done
RUN mkdir /gen && for i in $(seq 500); do echo "g$i" > /gen/$i; done && \
    seq 200000 > /gen/big && ln /gen/big /gen/big-link
EOF2

kiln --debug build --progress plain -o "type=local,dest=$T/o1" "$C" 2>"$T/b1.log" ||
	fail "kiln build failed: $(cat "$T/b1.log")"
grep -q 'copying it in' "$T/b1.log" &&
	fail "step files were copied into the store, not moved: $(grep 'copying it in' "$T/b1.log" | head -3)"
for i in $(seq 500); do
	read -r got <"$T/o1/f$i" && [ "$got" = "$i" ] || fail "/f$i holds '$got', not '$i'"
	read -r got <"$T/o1/gen/$i" && [ "$got" = "g$i" ] || fail "/gen/$i holds '$got', not 'g$i'"
done
n=$(find "$T/o1/gen" -type f | wc -l)
[ "$n" = 502 ] || fail "/gen holds $n files, not 502"
seq 200000 >"$T/big"
cmp "$T/big" "$T/o1/gen/big" || fail "/gen/big differs from what the step wrote"
[ "$(stat -c %h "$T/o1/gen/big")" = 2 ] && [ "$(stat -c %i "$T/o1/gen/big")" = \
	"$(stat -c %i "$T/o1/gen/big-link")" ] || fail "/gen/big-link is not a hardlink of /gen/big"
ok "1002 files written by RUN read back byte for byte, moved into the store"

kiln store verify >"$T/verify.out" 2>&1 || fail "kiln store verify: $(cat "$T/verify.out")"
ok "the store verifies after the steps' files were adopted"

# the same steps again: every blob is present, each file is only dropped from the upper
build "$T/b2.log" --no-cache -o "type=local,dest=$T/o2" "$C"
runs=$(grep -E '^#[0-9]+ \[.*\] RUN ' "$T/b2.log" | cut -d' ' -f1 | sort -u)
[ "$(echo "$runs" | wc -w)" = 2 ] || fail "the rebuild shows no two RUN steps: $(cat "$T/b2.log")"
for v in $runs; do
	grep -qE "^$v DONE [0-9.]+s$" "$T/b2.log" || fail "--no-cache did not run $v: $(cat "$T/b2.log")"
done
for i in 1 250 500; do
	[ "$(cat "$T/o2/f$i")" = "$i" ] && [ "$(cat "$T/o2/gen/$i")" = "g$i" ] ||
		fail "the --no-cache rebuild's /f$i or /gen/$i differs"
done
cmp "$T/big" "$T/o2/gen/big" || fail "the --no-cache rebuild's /gen/big differs"
ok "--no-cache runs the steps again, with the same files"
