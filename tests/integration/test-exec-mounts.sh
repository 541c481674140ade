#!/usr/bin/env bash
# RUN --mount kinds with runc and crun: cache mounts persist across steps, are listed and
# snapshotted (kiln cache ls|snapshot), locked ones serialize, private ones split, and a new
# one can start from an input; binds read-only or writable with changes discarded; tmpfs
# empty; secrets readable in the step and nowhere in the store or the log; the ssh agent
# reachable through the forwarded socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mount.sh"
. "$(dirname "$0")/lib-exec.sh"
setup_exec
need_cmd ssh-agent ssh-add ssh-keygen

for rt in $EXEC_RUNTIMES; do
	o=$T/$rt
	# a cache persists across steps (the second over another tree: another stage)
	run_step "$o.c1" "$rt" --mount type=cache,target=/cache,id=persist-$rt -- \
		/bin/sh -c 'echo first > /cache/a; mkdir -p /cache/d; echo deep > /cache/d/b' ||
		fail "$rt: first cache step failed: $(cat "$o.c1.err")"
	[ "$(field "$o.c1" tree)" = "$ROOT" ] || fail "$rt: writes to a cache reached the tree"
	run_step "$o.c2" "$rt" --mount type=cache,target=/var/c,id=persist-$rt -- \
		/bin/sh -c 'cat /var/c/a /var/c/d/b' || fail "$rt: second cache step failed"
	[ "$(cat "$o.c2.log")" = $'first\ndeep' ] || fail "$rt: the cache did not persist: $(cat "$o.c2.log")"
	kiln cache ls >"$o.ls" || fail "kiln cache ls failed"
	grep -qP "^persist-$rt\t1\t11$" "$o.ls" || fail "$rt: kiln cache ls: $(cat "$o.ls")"
	snap=$(kiln cache snapshot "persist-$rt") || fail "$rt: kiln cache snapshot failed"
	tree_paths "$snap" | grep -qx 'd/b' || fail "$rt: the snapshot lacks d/b"
	mount_bg "$snap" "$T/snap-$rt"
	[ "$(cat "$T/snap-$rt/d/b")" = deep ] || fail "$rt: the snapshot reads wrong"
	kiln umount "$T/snap-$rt"
	expect_fail 1 "no cache 'nope'" kiln cache snapshot nope
	ok "$rt: a cache persists across steps and targets; kiln cache ls and snapshot show it"

	# locked: two steps at once take turns; private: each gets its own dir
	for i in 1 2; do
		run_step "$o.lk$i" "$rt" --mount type=cache,target=/c,id=lock-$rt,sharing=locked -- \
			/bin/sh -c 'echo start >> /c/log; sleep 1; echo end >> /c/log' &
		pids[$i]=$!
	done
	wait "${pids[1]}" && wait "${pids[2]}" || fail "$rt: a locked step failed"
	run_step "$o.lk" "$rt" --mount type=cache,target=/c,id=lock-$rt -- cat /c/log
	[ "$(tr '\n' ' ' <"$o.lk.log")" = "start end start end " ] ||
		fail "$rt: locked steps overlapped: $(tr '\n' ' ' <"$o.lk.log")"
	for i in 1 2; do
		run_step "$o.pv$i" "$rt" --mount type=cache,target=/c,id=priv-$rt,sharing=private -- \
			/bin/sh -c "touch /c/mine-$i; sleep 1; ls /c" &
		pids[$i]=$!
	done
	wait "${pids[1]}" && wait "${pids[2]}" || fail "$rt: a private step failed"
	[ "$(cat "$o.pv1.log")" = mine-1 ] && [ "$(cat "$o.pv2.log")" = mine-2 ] ||
		fail "$rt: private steps shared a dir: $(cat "$o.pv1.log" "$o.pv2.log" | tr '\n' ' ')"
	kiln cache ls | grep -qP "^priv-$rt\t2\t" || fail "$rt: two private users, not two instances"
	ok "$rt: locked cache users take turns, private ones get a dir each"

	# a new cache starts from an input's dir, with the mount's owner and mode; ro is ro
	run_step "$o.seed" "$rt" \
		--mount type=cache,target=/c,id=seed-$rt,from="$ROOT",source=/data/keep,mode=0700,uid=1000,gid=50 -- \
		/bin/sh -c 'cat /c/file; stat -c "%a %u %g" /c' || fail "$rt: seeded cache failed: $(cat "$o.seed.err")"
	[ "$(cat "$o.seed.log")" = $'kept\n700 1000 50' ] || fail "$rt: seeding: $(cat "$o.seed.log")"
	rc=0
	run_step "$o.ro" "$rt" --mount type=cache,target=/c,id=seed-$rt,ro -- touch /c/x || rc=$?
	[ "$rc" = 3 ] || fail "$rt: a read-only cache was writable"
	ok "$rt: a new cache starts from its input with its owner and mode; ro is read-only"

	# binds: read-only, or writable with the changes discarded
	run_step "$o.bro" "$rt" --mount type=bind,target=/src,from="$ROOT",source=/etc -- \
		/bin/sh -c 'cat /src/motd; touch /src/x 2>/dev/null && echo writable; true' ||
		fail "$rt: read-only bind failed: $(cat "$o.bro.err")"
	[ "$(cat "$o.bro.log")" = 'hello from kiln' ] || fail "$rt: read-only bind: $(cat "$o.bro.log")"
	run_step "$o.brw" "$rt" --mount type=bind,target=/src,from="$ROOT",source=/data,rw -- \
		/bin/sh -c 'echo new > /src/new; rm /src/keep/file; ls /src' ||
		fail "$rt: writable bind failed: $(cat "$o.brw.err")"
	[ "$(tr '\n' ' ' <"$o.brw.log")" = "keep new " ] || fail "$rt: writable bind: $(cat "$o.brw.log")"
	[ "$(field "$o.brw" tree)" = "$ROOT" ] || fail "$rt: writes to a bind reached the tree"
	run_step "$o.brw2" "$rt" --mount type=bind,target=/src,from="$ROOT",source=/data,rw -- \
		/bin/sh -c 'ls /src /src/keep'
	grep -q new "$o.brw2.log" && fail "$rt: a writable bind's changes were kept"
	grep -qx file "$o.brw2.log" || fail "$rt: a writable bind's deletion was kept"
	ok "$rt: binds are read-only, or writable with their changes discarded"

	# tmpfs: empty, sized
	run_step "$o.tmpfs" "$rt" --mount type=tmpfs,target=/scratch,size=1048576 -- \
		/bin/sh -c 'ls -A /scratch | wc -l; df -k /scratch | tail -1 | awk "{print \$2}";
			dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>/dev/null || echo full' ||
		fail "$rt: tmpfs step failed: $(cat "$o.tmpfs.err")"
	[ "$(tr '\n' ' ' <"$o.tmpfs.log")" = "0 1024 full " ] || fail "$rt: tmpfs: $(cat "$o.tmpfs.log")"
	[ "$(field "$o.tmpfs" tree)" = "$ROOT" ] || fail "$rt: a tmpfs left a trace"
	ok "$rt: a tmpfs mount is empty and sized"

	# secrets: in the step as a file and a variable, nowhere in the store or the log
	secret="kiln-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	printf '%s' "$secret" >"$T/secret"
	want=$(printf '%s' "$secret" | sha256sum | cut -c1-64)
	run_step "$o.sec" "$rt" --user alice --secret tok="$T/secret" \
		--mount type=secret,id=tok,uid=1000 \
		--mount type=secret,id=tok,env=TOK,target=/run/s2,mode=0440,uid=1000,gid=50 \
		--mount type=secret,id=absent -- \
		/bin/sh -c 'sha256sum /run/secrets/tok | cut -c1-64; printf %s "$TOK" | sha256sum | cut -c1-64;
			stat -c "%a %u %g" /run/secrets/tok /run/s2; test -e /run/secrets/absent || echo no-absent;
			echo out > /home/alice/out' ||
		fail "$rt: secret step failed: $(cat "$o.sec.err")"
	[ "$(tr '\n' ' ' <"$o.sec.log")" = "$want $want 400 1000 0 440 1000 50 no-absent " ] ||
		fail "$rt: secrets: $(cat "$o.sec.log")"
	rm -f "$T/secret"
	[ "$(field "$o.sec" tree)" != "$ROOT" ] || fail "$rt: the secret step wrote nothing"
	grep -r -l -F -a "$secret" "$KILN_ROOT" "$o.sec.log" "$o.sec.err" >"$o.found" &&
		fail "$rt: the secret's bytes are in: $(cat "$o.found")"
	rc=0
	run_step "$o.req" "$rt" --mount type=secret,id=nope,required -- /bin/true || rc=$?
	[ "$rc" = 1 ] && grep -q "secret 'nope' is required" "$o.req.err" ||
		fail "$rt: a missing required secret: status $rc: $(cat "$o.req.err")"
	ok "$rt: secrets are readable in the step and absent from the store and the log"
done

# the ssh agent, forwarded (a socket of the step's own with its owner, proxied to the agent)
eval "$(ssh-agent -s -a "$T/agent.sock")" >/dev/null
track_pid "$SSH_AGENT_PID"
ssh-keygen -q -t ed25519 -N '' -f "$T/key" >/dev/null
SSH_AUTH_SOCK=$T/agent.sock ssh-add -q "$T/key" 2>/dev/null || fail "ssh-add failed"
for rt in $EXEC_RUNTIMES; do
	o=$T/$rt
	run_step "$o.ssh" "$rt" --ssh default="$T/agent.sock" --mount type=ssh -- \
		/bin/sh -c 'echo "$SSH_AUTH_SOCK"; /bin/exec-probe agent' ||
		fail "$rt: ssh step failed: $(cat "$o.ssh.err") $(cat "$o.ssh.log")"
	[ "$(tr '\n' ' ' <"$o.ssh.log")" = "/run/buildkit/ssh_agent.0 identities 1 " ] ||
		fail "$rt: ssh: $(cat "$o.ssh.log")"
	[ "$(field "$o.ssh" tree)" = "$ROOT" ] || fail "$rt: the ssh socket left a trace"
	run_step "$o.ssh2" "$rt" --user alice --ssh default="$T/agent.sock" \
		--mount type=ssh,target=/tmp/agent,uid=1000 -- /bin/exec-probe agent /tmp/agent ||
		fail "$rt: ssh as alice failed: $(cat "$o.ssh2.err") $(cat "$o.ssh2.log")"
	rc=0
	run_step "$o.ssh3" "$rt" --user alice --ssh default="$T/agent.sock" \
		--mount type=ssh,target=/tmp/agent -- /bin/exec-probe agent /tmp/agent || rc=$?
	[ "$rc" = 3 ] || fail "$rt: alice reached root's 0600 agent socket"
	rc=0
	run_step "$o.ssh4" "$rt" --mount type=ssh,required -- /bin/true || rc=$?
	[ "$rc" = 1 ] && grep -q "ssh agent 'default' is required" "$o.ssh4.err" ||
		fail "$rt: a missing required agent: status $rc: $(cat "$o.ssh4.err")"
	ok "$rt: the ssh agent is reachable at SSH_AUTH_SOCK, with the mount's owner and mode"
done
