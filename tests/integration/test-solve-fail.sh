#!/usr/bin/env bash
# A failing RUN: the error names the vertex, the command, the exit code and shows the last
# lines of output; nothing of it is cached while what ran before stays; the store verifies
# clean; the tree id printed for the failed step mounts and shows what the step saw and wrote.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
need_solve

W=$T/w
mkdir -p "$W"
make_solve_image "$W/busybox"
RT=$(make_logged_runtime runc)
cat >"$W/g.json" <<'EOG'
{"version": 1, "vertices": [
 {"id": "base", "source": {"type": "image", "ref": "oci-layout://busybox:latest"}},
 {"id": "prep", "name": "[s 1/2] RUN echo prepared", "inputs": ["base"],
  "exec": {"args": ["/bin/sh", "-c", "echo prepared > /prepared"]}},
 {"id": "boom", "name": "[s 2/2] RUN make", "inputs": ["prep"],
  "exec": {"args": ["/bin/sh", "-c", "echo partial > /partial; echo line one; echo line two >&2; exit 3"]}}
], "result": "boom"}
EOG
cd "$W"
expect_fail 1 "vertex 'boom'" kiln solve --progress plain --runtime "$RT" g.json
grep -q "code 3" "$T/err" || fail "no exit code: $(cat "$T/err")"
grep -q "echo partial > /partial" "$T/err" || fail "the command is not named: $(cat "$T/err")"
grep -q "line two" "$T/err" || fail "the last lines are not shown: $(cat "$T/err")"
grep -q "^#[0-9]* ERROR: " "$T/err" || fail "no ERROR line in the progress: $(cat "$T/err")"
failed=$(grep -o "failed step's filesystem is tree sha256:[0-9a-f]*" "$T/err" | grep -o 'sha256:.*')
[ -n "$failed" ] || fail "no failed tree id: $(cat "$T/err")"
ok "a failing RUN names the vertex, the command, the exit code and the last lines"

kiln store verify >"$T/verify" || fail "store verify after a failure: $(cat "$T/verify")"
ok "kiln store verify is clean after a failing RUN"

M=$T/mnt
mkdir -p "$M"
kiln mount "$failed" "$M" || fail "mounting the failed tree $failed"
track_mount "$M"
[ "$(cat "$M/partial")" = partial ] || fail "the failed tree lacks what the step wrote"
[ "$(cat "$M/prepared")" = prepared ] || fail "the failed tree lacks the step's input"
[ -x "$M/bin/busybox" ] || fail "the failed tree lacks the base image"
umount "$M"
ok "the failed step's tree mounts and shows its input and what it wrote"

: >"$T/runtime.log"
expect_fail 1 "vertex 'boom'" kiln solve --progress plain --runtime "$RT" g.json
[ "$(runs_logged)" = 1 ] || fail "the re-solve ran $(runs_logged) steps, not the failed one alone"
grep -q '^#[0-9]* CACHED$' "$T/err" || fail "the step before was not cached: $(cat "$T/err")"
ok "nothing of the failed step was cached, what ran before was"
