#!/usr/bin/env bash
# kill -9 of a solve while two steps sleep (one with a secret, whose runtime state lives in a
# tmpfs): the next solve kills the containers the dead one left running, with both runtimes; it
# succeeds at once (the steps see a cache mount's marker the first run left), no process of
# the steps remains and no process anywhere sees a mount of the store.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
need_solve
need_cmd pgrep

W=$T/w
mkdir -p "$W"
make_solve_image "$W/busybox"
printf 'not-a-real-token' >"$T/secret"
# sleeps unlikely to be any other process's: $$ makes them this test's own
nap1=$((3000 + $$ % 1000))
nap2=$((nap1 + 1000))
jq -n --argjson a "$nap1" --argjson b "$nap2" '{version: 1, vertices: [
 {id: "base", source: {type: "image", ref: "oci-layout://busybox:latest"}},
 {id: "plain", name: "[s 1/2] RUN plain", inputs: ["base"],
  exec: {args: ["/bin/sh", "-c", "if [ -e /c/plain ]; then exit 0; fi; touch /c/plain; exec sleep \($a)"],
   mounts: [{type: "cache", id: "killed", target: "/c"}]}},
 {id: "secret", name: "[s 2/2] RUN secret", inputs: ["base"],
  exec: {args: ["/bin/sh", "-c", "if [ -e /c/secret ]; then exit 0; fi; touch /c/secret; exec sleep \($b)"],
   mounts: [{type: "cache", id: "killed", target: "/c"},
            {type: "secret", id: "tok", required: true}]}},
 {id: "both", inputs: ["plain", "secret"], merge: {}}
], result: "both"}' >"$W/g.json"
cd "$W"

# in_steps: pids of the steps' sleeps
in_steps() { pgrep -f "^sleep ($nap1|$nap2)\$" || true; }
# seeing_store: processes that see a mount of the store (a FUSE, an overlay or a bind of it)
seeing_store() { grep -l -F "$KILN_ROOT" /proc/[0-9]*/mountinfo 2>/dev/null || true; }

for rt in runc crun; do
	RT=$(make_logged_runtime "$rt")
	rm -rf "$KILN_ROOT"
	"$KILN" solve --progress plain --runtime "$RT" --secret id=tok,src="$T/secret" \
		g.json >/dev/null 2>"$T/log1" &
	pid=$!
	track_pid "$pid"
	for _ in $(seq 400); do
		[ "$(in_steps | wc -l)" = 2 ] && break
		sleep 0.05
	done
	[ "$(in_steps | wc -l)" = 2 ] || fail "$rt: the steps did not start: $(cat "$T/log1")"
	for p in $(in_steps); do track_pid "$p"; done # should this test fail
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	sleep 0.2
	[ "$(in_steps | wc -l)" = 2 ] || fail "$rt: the steps' processes did not outlive kiln (test is void)"
	ok "$rt: the steps' processes outlive a solve killed by SIGKILL"

	start=$(date +%s%N)
	kiln solve --progress plain --runtime "$RT" --secret id=tok,src="$T/secret" g.json \
		>"$T/id" 2>"$T/log2" || fail "$rt: the re-solve failed: $(cat "$T/log2")"
	ms=$((($(date +%s%N) - start) / 1000000))
	[ "$ms" -lt 20000 ] || fail "$rt: the re-solve took $ms ms"
	grep -q 'killing the container' "$T/log2" || fail "$rt: no container was reaped: $(cat "$T/log2")"
	[ -z "$(in_steps)" ] || fail "$rt: step processes remain: $(in_steps | xargs -r ps -o pid,args -p)"
	ok "$rt: the re-solve kills what the dead solve left running and succeeds (${ms} ms)"
	for _ in $(seq 50); do [ -z "$(seeing_store)" ] && break; sleep 0.1; done
	[ -z "$(seeing_store)" ] || fail "$rt: processes still see the store's mounts: $(seeing_store)"
	[ -z "$(ls -A "$KILN_ROOT/builds" | grep -v '^lock$')" ] ||
		fail "$rt: state dirs left: $(ls "$KILN_ROOT/builds")"
	[ -z "$(find "$KILN_ROOT" -name 'kiln-*' -path '*runtime*')" ] ||
		fail "$rt: runtime state left: $(find "$KILN_ROOT" -path '*runtime*')"
	ok "$rt: no mount, state dir or runtime state is left"
done
kiln store verify >"$T/verify" || fail "store verify: $(cat "$T/verify")"
ok "kiln store verify is clean"
