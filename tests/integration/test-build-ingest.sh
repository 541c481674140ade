#!/usr/bin/env bash
# kiln build of a context large enough that its ingest into the store is shared between
# threads: every file COPY names reaches the store (read back byte for byte through a mount of
# the stage's tree once the context changed), and the store verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
need_build
need_cmd diff jq seq

C=$T/ctx
mkdir -p "$C/d"
for i in $(seq 1200); do
	mkdir -p "$C/d/$((i % 13))"
	seq "$i" $((i + i % 97)) >"$C/d/$((i % 13))/f$i"
done
# the files in a stage of their own: the image's layers (whose diff ids read their files) hold
# one of them
printf 'FROM scratch AS files\nCOPY d /d\nFROM scratch\nCOPY --from=files /d/0/f13 /one\n' \
	>"$C/Dockerfile"

# no output: nothing reads the files, so only the ingest can put them in the store
kiln --debug build --progress plain --metadata-file "$T/meta.json" "$C" 2>"$T/b1.log" ||
	fail "kiln build failed: $(cat "$T/b1.log")"
grep -qE 'solve: 1200 local files ingested on [0-9]+ threads?$' "$T/b1.log" ||
	fail "no ingest of the 1200 context files in the log: $(grep ingested "$T/b1.log")"
kiln store verify >"$T/verify.out" 2>&1 || fail "kiln store verify: $(cat "$T/verify.out")"
ok "1200 context files ingested, the store verifies"

# the store holds the bytes: with every context file changed, the stage's tree still shows
# what was built (read through a mount, which would find the context's new bytes otherwise)
cp -a "$C/d" "$T/want"
for f in "$C"/d/*/f*; do echo changed >"$f"; done
tree=$(jq -r '."kiln.stages".files' "$T/meta.json")
mkdir "$T/mnt"
kiln mount "$tree" "$T/mnt" && track_mount "$T/mnt"
diff -r "$T/want" "$T/mnt/d" >"$T/diff.out" 2>&1 || fail "the stage's tree differs: $(head "$T/diff.out")"
kiln umount "$T/mnt"
ok "the stage's tree reads the ingested bytes, byte for byte, once the context changed"

# The step after a COPY starts while the COPY's files are still being copied into the store; a
# failure there stops the build, but the COPY's record is still written, with its files in the
# store: the next build finds the COPY cached.
make_build_base
C2=$T/ctx2
mkdir -p "$C2/d"
for i in $(seq 1500); do { echo second; seq "$i" $((i + 50)); } >"$C2/d/f$i"; done
printf 'FROM busybox:test\nCOPY d /d\nRUN exit 3\n' >"$C2/Dockerfile"
kiln --debug build --progress plain "$C2" 2>"$T/f1.log" && fail "a build with RUN exit 3 succeeded"
grep -q 'solve: 1500 local files ingested' "$T/f1.log" ||
	fail "the COPY's ingest did not finish: $(grep -E 'ingested|ERROR' "$T/f1.log")"
printf 'FROM busybox:test\nCOPY d /d\nRUN cat /d/f1500 >/out\n' >"$C2/Dockerfile"
build "$T/f2.log" "$C2"
grep -qE '^#[0-9]+ \[[0-9]/3\] COPY d /d$' "$T/f2.log" || fail "no COPY step: $(steps "$T/f2.log")"
n=$(grep -E '^#[0-9]+ \[[0-9]/3\] COPY d /d$' "$T/f2.log" | head -1 | cut -d' ' -f1)
grep -q "^$n CACHED$" "$T/f2.log" || fail "the COPY ran again after the failed build: $(cat "$T/f2.log")"
kiln store verify >"$T/verify2.out" 2>&1 || fail "kiln store verify: $(cat "$T/verify2.out")"
ok "a RUN failing beside its COPY's ingest: the COPY is recorded, the next build finds it cached"
