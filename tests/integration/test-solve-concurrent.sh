#!/usr/bin/env bash
# Two kiln solve of one graph at once, on one store: each step runs once (the second solve
# waits for the first's record and reports it cached), both print the same tree.
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
 {"id": "a", "name": "[s 1/3] RUN slow a", "inputs": ["base"],
  "exec": {"args": ["/bin/sh", "-c", "sleep 1; echo a > /a"]}},
 {"id": "b", "name": "[s 2/3] RUN slow b", "inputs": ["a"],
  "exec": {"args": ["/bin/sh", "-c", "sleep 1; echo b > /b"]}},
 {"id": "c", "name": "[s 3/3] RUN c", "inputs": ["b"], "exec": {"args": ["/bin/sh", "-c", "cat /a /b > /c"]}}
], "result": "c"}
EOG
cd "$W"
kiln solve --progress plain --runtime "$RT" g.json >"$T/id1" 2>"$T/log1" &
p1=$!
track_pid "$p1"
kiln solve --progress plain --runtime "$RT" g.json >"$T/id2" 2>"$T/log2" &
p2=$!
track_pid "$p2"
wait "$p1" || fail "solve 1 failed: $(cat "$T/log1")"
wait "$p2" || fail "solve 2 failed: $(cat "$T/log2")"
[ "$(cat "$T/id1")" = "$(cat "$T/id2")" ] || fail "the two solves gave different trees"
[ "$(runs_logged)" = 3 ] ||
	fail "3 steps ran $(runs_logged) times: $(cat "$T/log1" "$T/log2")"
c1=$(grep -c '^#[0-9]* CACHED$' "$T/log1" || true)
c2=$(grep -c '^#[0-9]* CACHED$' "$T/log2" || true)
[ "$((c1 + c2))" -ge 3 ] || fail "the waiting solve did not take the records: $c1 + $c2 cached"
ok "two concurrent solves of one graph run each step once"
