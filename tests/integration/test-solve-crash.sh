#!/usr/bin/env bash
# kill -9 of a solve in the middle of a step: the next solve cleans up what it left (its state
# dir; its mounts died with its namespace), succeeds, and everything cached before still is;
# the store verifies clean.
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
 {"id": "first", "name": "[s 1/2] RUN first", "inputs": ["base"],
  "exec": {"args": ["/bin/sh", "-c", "echo first > /first"]}},
 {"id": "slow", "name": "[s 2/2] RUN slow", "inputs": ["first"],
  "exec": {"args": ["/bin/sh", "-c", "if [ -e /tmp/marker ]; then :; fi; echo started; sleep 3; echo done > /slow"]}}
], "result": "slow"}
EOG
cd "$W"
jq '.result = "first"' g.json >first.json
kiln solve --progress plain --runtime "$RT" first.json >/dev/null 2>"$T/log0" ||
	fail "solving the first step: $(cat "$T/log0")"

"$KILN" solve --progress plain --runtime "$RT" g.json >/dev/null 2>"$T/log1" &
pid=$!
track_pid "$pid"
for _ in $(seq 200); do
	grep -q ' started$' "$T/log1" && break
	sleep 0.05
done
grep -q ' started$' "$T/log1" || fail "the slow step did not start: $(cat "$T/log1")"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
ls "$KILN_ROOT/builds" | grep -qv '^lock$' || fail "the killed solve left no state dir to clean"
ok "a solve killed in the middle of a step"

kiln solve --progress plain --runtime "$RT" g.json >"$T/id" 2>"$T/log2" ||
	fail "the re-solve failed: $(cat "$T/log2")"
grep -q '^#[0-9]* \[s 1/2\] RUN first' "$T/log2" || fail "no first step in: $(cat "$T/log2")"
n=$(grep '\[s 1/2\] RUN first' "$T/log2" | head -1 | sed 's/^#\([0-9]*\) .*/\1/')
grep -q "^#$n CACHED$" "$T/log2" || fail "the step cached before the crash ran again: $(cat "$T/log2")"
grep -q "^#[0-9]* DONE" "$T/log2" || fail "the slow step did not run: $(cat "$T/log2")"
[ -z "$(ls -A "$KILN_ROOT/builds" | grep -v '^lock$' | grep -v '\.dead$')" ] ||
	fail "state dirs left: $(ls "$KILN_ROOT/builds")"
ok "the re-solve succeeds, cleans up the dead build's state and keeps what was cached"
kiln store verify >"$T/verify" || fail "store verify: $(cat "$T/verify")"
ok "kiln store verify is clean"
