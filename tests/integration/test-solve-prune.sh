#!/usr/bin/env bash
# kiln du and kiln prune: what the cache records, the image source's records and a running
# build need is kept (a re-solve is all cached and its result readable); what nothing needs
# (a failed step's tree) is freed; --all, --keep-storage and --filter until= drop records;
# prune waits for a running build; the store verifies clean throughout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
need_solve

W=$T/w
mkdir -p "$W/ctx"
make_solve_image "$W/busybox"
printf 'context file\n' >"$W/ctx/data.txt"
head -c 200000 /dev/urandom >"$W/ctx/big.bin"
RT=$(make_logged_runtime runc)
cat >"$W/g.json" <<'EOG'
{"version": 1, "vertices": [
 {"id": "ctx", "source": {"type": "local", "name": "context"}},
 {"id": "base", "source": {"type": "image", "ref": "oci-layout://busybox:latest"}},
 {"id": "copy", "inputs": ["base", "ctx"],
  "file": {"actions": [{"action": "copy", "from": 1, "src": ".", "dest": "/data/", "dir_contents": true, "create_parents": true}]}},
 {"id": "run", "inputs": ["copy"], "exec": {"args": ["/bin/sh", "-c", "head -c 100000 /dev/urandom > /made.bin; cp /data/data.txt /copied.txt"]}}
], "result": "run"}
EOG
cd "$W"
solve() { kiln solve --progress plain --runtime "$RT" --local context=ctx "$@" 2>>"$T/solve.log"; }
field() { awk -v k="$1" '$1 == k { print $2 }' "$T/du"; }
verify() { kiln store verify >"$T/verify" || fail "store verify $1: $(cat "$T/verify")"; }
# the result of the graph must read back in full through a mount (its blobs are all there)
check_result() {
	local id=$1 m=$T/mnt
	mkdir -p "$m"
	kiln mount "$id" "$m" || fail "mounting $id"
	track_mount "$m"
	[ "$(cat "$m/copied.txt")" = "context file" ] || fail "copied.txt after $2"
	cmp -s "$m/data/big.bin" "$W/ctx/big.bin" || fail "data/big.bin after $2"
	[ "$(stat -c %s "$m/made.bin")" = 100000 ] || fail "made.bin after $2"
	cat "$m/bin/busybox" >/dev/null || fail "busybox after $2"
	umount "$m"
}

id=$(solve g.json) || fail "solve: $(cat "$T/solve.log")"
jq '.vertices[3].exec.args = ["/bin/sh", "-c", "head -c 300000 /dev/urandom > /junk; exit 1"]' \
	g.json >fail.json
solve fail.json >/dev/null && fail "the failing graph solved"
kiln du >"$T/du" || fail "kiln du"
[ "$(field records)" -ge 3 ] || fail "du: $(cat "$T/du")"
[ "$(field unused)" -gt 300000 ] || fail "the failed step's blobs are not unused: $(cat "$T/du")"
[ "$(field sources)" -gt 0 ] || fail "du counts no image source: $(cat "$T/du")"
grep -q "exec .*/bin/sh -c head" "$T/du" || fail "du lists no exec record: $(cat "$T/du")"
ok "kiln du lists the records and counts the unused blobs"

kiln prune >"$T/prune" || fail "prune"
grep -q '^removed 0 records' "$T/prune" || fail "plain prune dropped records: $(cat "$T/prune")"
kiln du -q >"$T/du"
[ "$(field unused)" = 0 ] || fail "prune left unused blobs: $(cat "$T/du")"
verify "after prune"
rm -rf "$T/clone" && cp -r ctx "$T/clone" && mv ctx ctx.away
: >"$T/runtime.log"
kiln solve --progress plain --runtime "$RT" --local context="$T/clone" g.json >"$T/id2" \
	2>"$T/log2" || fail "re-solve after prune: $(cat "$T/log2")"
mv ctx.away ctx
[ "$(runs_logged)" = 0 ] || fail "prune lost what a record needs: the step ran again"
[ "$(cat "$T/id2")" = "$id" ] || fail "re-solve gave another tree"
rm -rf "$T/clone"
check_result "$id" "prune (the context gone)"
ok "kiln prune frees what nothing needs and keeps what the records need"

# a running build: prune waits for it, and its result survives
jq '.vertices[3].exec.args = ["/bin/sh", "-c", "echo started; sleep 2; echo late > /late"]' \
	g.json >slow.json
kiln solve --progress plain --runtime "$RT" --local context=ctx slow.json >"$T/slow.id" \
	2>"$T/slow.log" &
pid=$!
track_pid "$pid"
for _ in $(seq 200); do
	grep -q ' started$' "$T/slow.log" && break
	sleep 0.05
done
kiln prune --all >"$T/prune" 2>"$T/prune.err" || fail "prune --all: $(cat "$T/prune.err")"
grep -q "waiting for running builds" "$T/prune.err" || fail "prune did not wait: $(cat "$T/prune.err")"
wait "$pid" || fail "the slow solve failed: $(cat "$T/slow.log")"
m=$T/mnt2
mkdir -p "$m"
kiln mount "$(cat "$T/slow.id")" "$m" || fail "mounting the slow solve's result"
track_mount "$m"
[ "$(cat "$m/late")" = late ] || fail "the running build's result lost /late"
umount "$m"
verify "after a prune during a build"
ok "prune waits for a running build and leaves its result whole"

kiln prune --all >"$T/prune" || fail "prune --all"
kiln du -q >"$T/du"
[ "$(field records)" = 0 ] || fail "prune --all left records: $(cat "$T/du")"
[ "$(field sources)" -gt 0 ] || fail "prune --all dropped the image source: $(cat "$T/du")"
m=$T/mnt3
mkdir -p "$m"
kiln mount oci-layout://busybox:latest "$m" || fail "the image after prune --all"
track_mount "$m"
cat "$m/bin/busybox" >/dev/null || fail "the image's contents after prune --all"
umount "$m"
verify "after prune --all"
: >"$T/runtime.log"
id3=$(solve g.json) || fail "solve after prune --all: $(cat "$T/solve.log")"
[ "$(runs_logged)" = 1 ] || fail "after prune --all the step ran $(runs_logged) times"
ok "prune --all drops every record and keeps the image source's"

kiln prune --filter until=1h >"$T/prune" || fail "prune until=1h"
grep -q '^removed 0 records' "$T/prune" || fail "until=1h dropped fresh records: $(cat "$T/prune")"
kiln prune --keep-storage 10GB >"$T/prune" || fail "prune --keep-storage 10GB"
grep -q '^removed 0 records' "$T/prune" || fail "a large --keep-storage dropped records"
sleep 2.2
kiln prune --filter until=1s >"$T/prune" || fail "prune until=1s"
grep -q '^removed [1-9][0-9]* records' "$T/prune" || fail "until=1s kept old records: $(cat "$T/prune")"
id4=$(solve g.json) || fail "solve: $(cat "$T/solve.log")"
kiln prune --keep-storage 1 >"$T/prune" || fail "prune --keep-storage 1"
kiln du -q >"$T/du"
[ "$(field records)" = 0 ] || fail "--keep-storage 1 kept records: $(cat "$T/du")"
expect_fail 2 "keep-storage: 'lots' is not a size" kiln prune --keep-storage lots
expect_fail 2 "expected until=DURATION" kiln prune --filter dangling=true
verify "at the end"
ok "prune --filter until= and --keep-storage drop records by age and size"
