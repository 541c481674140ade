#!/usr/bin/env bash
# RUN steps with runc and crun: the command's output and environment, the diff of what it
# wrote (whiteouts, opaque dirs, hardlinks), mount points that leave no trace, an unchanged
# step's empty diff, a failing step's message and failed tree, and a command that is missing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mount.sh"
. "$(dirname "$0")/lib-exec.sh"
setup_exec

for rt in $EXEC_RUNTIMES; do
	o=$T/$rt
	# the command, its user, groups, cwd, environment, hostname and /etc/hosts
	run_step "$o.env" "$rt" --user alice --cwd /home/alice/work --env FOO=bar \
		--extra-host db=10.9.8.7 -- \
		/bin/sh -c 'id; pwd; echo "HOME=$HOME FOO=$FOO PATH=$PATH"; hostname; cat /etc/hosts' ||
		fail "$rt: step failed: $(cat "$o.env.err")"
	grep -qx 'uid=1000(alice) gid=1000(alice) groups=10(wheel),50(staff)' "$o.env.log" ||
		fail "$rt: wrong user: $(cat "$o.env.log")"
	grep -qx '/home/alice/work' "$o.env.log" || fail "$rt: wrong cwd"
	grep -qx 'HOME=/home/alice FOO=bar PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"$o.env.log" || fail "$rt: wrong environment: $(cat "$o.env.log")"
	grep -qx 'kiln' "$o.env.log" || fail "$rt: hostname is not kiln"
	grep -qP '^127\.0\.0\.1\tlocalhost kiln$' "$o.env.log" || fail "$rt: /etc/hosts lacks localhost"
	grep -qP '^10\.9\.8\.7\tdb$' "$o.env.log" || fail "$rt: /etc/hosts lacks the extra host"
	# the working dir made for the step stays, owned by the user; nothing else changed
	entry "$(field "$o.env" tree)" home/alice/work | grep -q '^d.* 1000:1000 ' ||
		fail "$rt: the working dir is not in the result owned by alice"
	[ "$(tree_paths "$(field "$o.env" diff)" | tr '\n' ' ')" = ". home home/alice home/alice/work " ] ||
		fail "$rt: the diff holds more than the working dir: $(tree_paths "$(field "$o.env" diff)")"
	ok "$rt: user, groups, cwd, environment, hostname and /etc/hosts"

	# an unchanged step: an empty diff, the input tree as the result
	run_step "$o.noop" "$rt" -- /bin/true || fail "$rt: true failed: $(cat "$o.noop.err")"
	[ "$(field "$o.noop" tree)" = "$ROOT" ] || fail "$rt: an unchanged step changed the tree"
	[ "$(tree_paths "$(field "$o.noop" diff)")" = "." ] ||
		fail "$rt: an unchanged step has a diff: $(kiln tree ls -r "$(field "$o.noop" diff)")"
	ok "$rt: an unchanged step gives an empty diff and its input tree"

	# whiteouts: a deleted file, a dir deleted and made again, a hardlink, a symlink, a fifo
	run_step "$o.wo" "$rt" -- /bin/sh -c 'rm /etc/motd; rm -rf /usr/share; mkdir -p /usr/share;
		echo new > /usr/share/new; echo data > /data/f; ln /data/f /data/g;
		ln -s ../etc/passwd /data/link; mkfifo /data/fifo; chmod 700 /data/keep' ||
		fail "$rt: whiteout step failed: $(cat "$o.wo.err")"
	diff=$(field "$o.wo" diff)
	tree=$(field "$o.wo" tree)
	kiln tree ls "$diff" etc/motd | grep -q '^w' || fail "$rt: the deleted file is no whiteout"
	entry "$diff" usr/share | grep -q '(opaque)' || fail "$rt: the remade dir is not opaque"
	kiln tree ls "$diff" data/g | grep -q '^h.* data/g => data/f' || fail "$rt: no hardlink in the diff"
	entry "$diff" data/keep | grep -q '^drwx------' || fail "$rt: chmod not in the diff"
	paths=$(tree_paths "$tree")
	grep -qx 'etc/motd' <<<"$paths" && fail "$rt: the deleted file is in the result"
	grep -qx 'usr/share/doc' <<<"$paths" && fail "$rt: the old dir's contents are in the result"
	grep -qx 'usr/share/new' <<<"$paths" || fail "$rt: the new file is not in the result"
	grep -qx 'etc/passwd' <<<"$paths" || fail "$rt: an untouched file is gone"
	grep -qx 'data/keep/file' <<<"$paths" || fail "$rt: a chmodded dir lost its contents"
	kiln tree ls "$tree" data/fifo | grep -q '^p' || fail "$rt: the fifo is not in the result"
	kiln tree ls "$tree" data/link | grep -q ' -> ../etc/passwd$' || fail "$rt: the symlink is wrong"
	mount_bg "$tree" "$T/m-$rt"
	[ "$(cat "$T/m-$rt/usr/share/new")" = new ] || fail "$rt: the new file reads wrong"
	[ "$(cat "$T/m-$rt/data/g")" = data ] || fail "$rt: the hardlink reads wrong"
	[ "$(cat "$T/m-$rt/etc/passwd" | head -1)" = 'root:x:0:0:root:/root:/bin/sh' ] ||
		fail "$rt: an untouched file reads wrong"
	kiln umount "$T/m-$rt"
	ok "$rt: whiteouts, opaque dirs, hardlinks and modes become the diff; the result mounts"

	# mount points the runtime made leave no trace (this rootfs has no /proc, /dev, /sys,
	# /etc/hosts, /etc/resolv.conf, /run or /mnt)
	printf 's3cr3t' >"$T/secret"
	run_step "$o.mp" "$rt" --secret tok="$T/secret" \
		--mount type=secret,id=tok --mount type=tmpfs,target=/mnt/a/b \
		--mount type=cache,target=/var/cache/x,id=c-$rt -- \
		/bin/sh -c 'ls /proc/self >/dev/null && test -d /dev && test -f /etc/hosts &&
			test -f /etc/resolv.conf && test -f /run/secrets/tok && test -d /mnt/a/b &&
			echo visible' || fail "$rt: mount point step failed: $(cat "$o.mp.err")"
	grep -qx visible "$o.mp.log" || fail "$rt: the step did not see its mounts"
	[ "$(field "$o.mp" tree)" = "$ROOT" ] ||
		fail "$rt: mount points left a trace: $(kiln tree ls -r "$(field "$o.mp" diff)")"
	ok "$rt: mount points made only for the step leave no trace"

	# a failing step: the message, the exit code, the last lines, a failed tree that mounts
	rc=0
	run_step "$o.fail" "$rt" -- /bin/sh -c 'for i in $(seq 1 30); do echo "line $i"; done;
		echo "to stderr" >&2; echo written > /failed; exit 3' || rc=$?
	[ "$rc" = 3 ] || fail "$rt: a failing step gave status $rc: $(cat "$o.fail.err")"
	grep -q "exited with code 3" "$o.fail.err" || fail "$rt: no exit code in: $(cat "$o.fail.err")"
	grep -q "for i in" "$o.fail.err" || fail "$rt: the message does not name the command"
	grep -q "line 30" "$o.fail.err" && grep -q "to stderr" "$o.fail.err" ||
		fail "$rt: the message lacks the last lines: $(cat "$o.fail.err")"
	grep -q "line 15" "$o.fail.err" && fail "$rt: the message has more than the last lines"
	[ "$(field "$o.fail" exit)" = 3 ] || fail "$rt: wrong exit code reported"
	failed=$(field "$o.fail" failed_tree)
	[ -n "$failed" ] || fail "$rt: no failed tree"
	mount_bg "$failed" "$T/f-$rt"
	[ "$(cat "$T/f-$rt/failed")" = written ] || fail "$rt: the failed tree lacks what the step wrote"
	[ -f "$T/f-$rt/etc/motd" ] || fail "$rt: the failed tree lacks its input"
	kiln umount "$T/f-$rt"
	ok "$rt: a failing step names the command, its exit code and last lines; its tree mounts"

	# a command that does not exist
	rc=0
	run_step "$o.nocmd" "$rt" -- /no/such/command || rc=$?
	[ "$rc" = 3 ] || fail "$rt: a missing command gave status $rc: $(cat "$o.nocmd.err")"
	grep -q "'/no/such/command' could not start" "$o.nocmd.err" ||
		fail "$rt: unclear message: $(cat "$o.nocmd.err")"
	ok "$rt: a missing command is a failing step that says it could not start"
done

# security=insecure only when allowed
rc=0
run_step "$T/insecure" runc --insecure -- /bin/true || rc=$?
[ "$rc" = 5 ] && grep -q "not allowed" "$T/insecure.err" ||
	fail "security=insecure ran without being allowed (status $rc): $(cat "$T/insecure.err")"
ok "security=insecure is refused unless allowed"

# a runtime that is not there
rc=0
run_step "$T/nort" /no/such/runtime -- /bin/true || rc=$?
[ "$rc" = 1 ] && grep -q "runtime '/no/such/runtime'" "$T/nort.err" ||
	fail "a missing runtime gave status $rc: $(cat "$T/nort.err")"
ok "a missing runtime is named"
