#!/usr/bin/env bash
# kiln build --passthrough: a RUN step's opens of files whose contents are verified store blobs
# (a COPY from the context puts them there) are served by the kernel from the blobs, the bytes
# the same as the context's; without the flag the steps' lazy filesystem gets no opens and
# answers the reads itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
need_build
need_cmd sha256sum

make_build_base
C=$T/ctx
mkdir -p "$C/d"
head -c $((8 << 20)) /dev/urandom >"$C/big"
for i in $(seq 1 30); do head -c $((i * 1000)) /dev/urandom >"$C/d/f$i"; done
cat >"$C/Dockerfile" <<'EOF2'
FROM busybox:test
COPY . /ctx
RUN cd /ctx && sha256sum big d/* > /sums && cat big big > /twice
EOF2
(cd "$C" && sha256sum big d/*) >"$T/want"

# stats LOG: "READS PASSED FETCHED" from the build's debug line about its lazy filesystem
stats() {
	sed -n 's/.*lazy filesystem: \([0-9]*\) reads served, \([0-9]*\) opens passed through, \([0-9]*\) contents fetched.*/\1 \2 \3/p' "$1"
}

kiln --debug build --passthrough --progress plain -o "type=local,dest=$T/o1" "$C" 2>"$T/b1.log" ||
	fail "kiln build --passthrough failed: $(cat "$T/b1.log")"
cmp "$T/want" "$T/o1/sums" || fail "the step's sums differ from the context's"
cat "$C/big" "$C/big" | cmp - "$T/o1/twice" || fail "the step read other bytes of big"
read -r reads passed fetched <<<"$(stats "$T/b1.log")"
[ -n "$passed" ] || fail "no lazy filesystem line in the debug log: $(tail -5 "$T/b1.log")"
[ "$passed" -ge 31 ] || fail "only $passed of the step's 31+ opens were passed through"
[ "$reads" = 0 ] || fail "with passthrough the server still answered $reads reads"
ok "with --passthrough the step's $passed opens read the blobs through the kernel, bytes intact"

kiln --debug build --no-cache --progress plain -o "type=local,dest=$T/o2" "$C" 2>"$T/b2.log" ||
	fail "kiln build failed: $(cat "$T/b2.log")"
cmp "$T/want" "$T/o2/sums" || fail "without passthrough the step's sums differ"
read -r reads passed fetched <<<"$(stats "$T/b2.log")"
[ "$passed" = 0 ] || fail "without --passthrough $passed opens were passed through"
[ "$reads" -gt 0 ] || fail "without --passthrough the server answered no reads"
ok "without --passthrough no open reaches the server and it answers the $reads reads"
