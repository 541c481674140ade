#!/usr/bin/env bash
# Cancelling a RUN step with runc and crun: the container and everything it started are
# killed, its overlays and tmpfs unmounted, its state dir removed, and exec_run returns
# -ECANCELED promptly, also while the step waits for a locked cache.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-exec.sh"
setup_exec

# no process of ours left: the sleeps carry numbers no other process uses
no_sleepers() {
	local left
	left=$(pgrep -f "sleep 47(11|12)$1" || true)
	[ -z "$left" ] || fail "$rt: processes left after the cancel: $(ps -o pid,args -p $left)"
}

for rt in $EXEC_RUNTIMES; do
	o=$T/$rt
	n=$((RANDOM % 90 + 10))
	start=$(date +%s%N)
	rc=0
	run_step "$o.cancel" "$rt" --cancel-after 1500 \
		--mount type=tmpfs,target=/t --mount type=bind,target=/b,from="$ROOT",source=/data,rw -- \
		/bin/sh -c "echo started; sleep 4712$n & sleep 4711$n" || rc=$?
	took=$((($(date +%s%N) - start) / 1000000))
	[ "$rc" = 4 ] || fail "$rt: a cancelled step gave status $rc: $(cat "$o.cancel.err")"
	grep -q "cancelled" "$o.cancel.err" || fail "$rt: no cancel message: $(cat "$o.cancel.err")"
	grep -qx started "$o.cancel.log" || fail "$rt: the step never started"
	((took < 8000)) || fail "$rt: the cancel took ${took} ms"
	no_sleepers "$n"
	ok "$rt: a cancelled step is killed and cleaned up in ${took} ms (status 4, no leftovers)"

	# cancelled while waiting for a locked cache another step holds
	run_step "$o.hold" "$rt" --mount type=cache,target=/c,id=held-$rt,sharing=locked -- \
		/bin/sh -c 'sleep 3' &
	holder=$!
	sleep 0.8
	start=$(date +%s%N)
	rc=0
	run_step "$o.wait" "$rt" --cancel-after 500 \
		--mount type=cache,target=/c,id=held-$rt,sharing=locked -- /bin/true || rc=$?
	took=$((($(date +%s%N) - start) / 1000000))
	wait "$holder" || fail "$rt: the holder failed: $(cat "$o.hold.err")"
	[ "$rc" = 4 ] && grep -q "cancelled while waiting for the cache" "$o.wait.err" ||
		fail "$rt: waiting for a lock: status $rc: $(cat "$o.wait.err")"
	((took < 1800)) || fail "$rt: the cancel of a waiting step took ${took} ms"
	ok "$rt: a step waiting for a locked cache is cancelled at once"
done
