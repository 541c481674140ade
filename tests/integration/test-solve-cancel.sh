#!/usr/bin/env bash
# SIGINT or SIGTERM to kiln solve: the running step is killed, its mounts and the build's state
# dir go, nothing of it is cached, kiln exits 130 or 143; the store verifies clean.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
need_solve

W=$T/w
mkdir -p "$W"
make_solve_image "$W/busybox"
RT=$(make_logged_runtime crun)
cat >"$W/g.json" <<'EOG'
{"version": 1, "vertices": [
 {"id": "base", "source": {"type": "image", "ref": "oci-layout://busybox:latest"}},
 {"id": "slow", "name": "[s 1/1] RUN sleep", "inputs": ["base"],
  "exec": {"args": ["/bin/sh", "-c", "echo started; sleep 60; echo never > /never"]}}
], "result": "slow"}
EOG
cd "$W"
for sig in INT TERM; do
	want=$([ $sig = INT ] && echo 130 || echo 143)
	: >"$T/log"
	"$KILN" solve --progress plain --runtime "$RT" g.json >/dev/null 2>"$T/log" &
	pid=$!
	track_pid "$pid"
	for _ in $(seq 300); do
		grep -q ' started$' "$T/log" && break
		sleep 0.05
	done
	grep -q ' started$' "$T/log" || fail "the step did not start: $(cat "$T/log")"
	start=$(date +%s)
	kill -$sig "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = "$want" ] || fail "SIG$sig: kiln exited $rc, not $want: $(cat "$T/log")"
	[ $(($(date +%s) - start)) -lt 20 ] || fail "SIG$sig took too long"
	grep -q "CANCELED" "$T/log" || fail "the step was not reported cancelled: $(cat "$T/log")"
	[ -z "$(ls -A "$KILN_ROOT/builds" | grep -v '^lock$')" ] ||
		fail "SIG$sig left state: $(ls "$KILN_ROOT/builds")"
	grep -q " $KILN_ROOT/" /proc/self/mountinfo && fail "SIG$sig left mounts"
	ok "SIG$sig stops the build and exits $want"
done
kiln du -q >"$T/du"
grep -q '^records *1$' "$T/du" || fail "a cancelled step was recorded: $(cat "$T/du")"
kiln store verify >"$T/verify" || fail "store verify: $(cat "$T/verify")"
ok "nothing of the cancelled step is cached; the store verifies clean"
