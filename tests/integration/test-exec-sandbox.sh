#!/usr/bin/env bash
# The sandbox of a RUN step with runc and crun: the seccomp profile refuses what Docker's
# refuses (EPERM; clone3 ENOSYS), Docker's default capabilities, network none has only lo,
# /sys and /proc's sensitive parts read-only or masked, open files at the host's hard limit,
# and security=insecure lifting all of it when allowed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-exec.sh"
setup_exec

expect_probe() { # expect_probe LOG NAME RESULT
	grep -qx "$2 $3" "$1" || fail "$rt: $2 gave $(grep "^$2 " "$1" | cut -d' ' -f2), wanted $3"
}

hard_nofile=$(ulimit -Hn)
host_links=$(ip -o link | wc -l)
for rt in $EXEC_RUNTIMES; do
	o=$T/$rt
	run_step "$o.sc" "$rt" -- /bin/exec-probe syscalls || fail "$rt: probe failed: $(cat "$o.sc.err")"
	for s in keyctl add_key unshare mount bpf personality-read-implies-exec clone-newuser; do
		expect_probe "$o.sc.log" "$s" EPERM
	done
	expect_probe "$o.sc.log" clone3 ENOSYS
	expect_probe "$o.sc.log" personality-query ok
	expect_probe "$o.sc.log" fork ok
	ok "$rt: blocked system calls get EPERM (clone3 ENOSYS), the rest works"

	run_step "$o.caps" "$rt" -- /bin/sh -c 'grep ^CapEff /proc/self/status; grep ^CapBnd /proc/self/status;
		ulimit -Sn; ulimit -Hn; grep " /sys " /proc/mounts; grep " /proc/sys " /proc/mounts;
		stat -c "keys %t:%T" /proc/keys; ls /sys/firmware | wc -l; touch /sys/kiln 2>/dev/null && echo sys-writable;
		cat /etc/resolv.conf' || fail "$rt: caps step failed: $(cat "$o.caps.err")"
	grep -qP '^CapEff:\t00000000a80425fb$' "$o.caps.log" ||
		fail "$rt: not Docker's capabilities: $(grep Cap "$o.caps.log")"
	grep -qP '^CapBnd:\t00000000a80425fb$' "$o.caps.log" || fail "$rt: wrong bounding set"
	[ "$(sed -n 3p "$o.caps.log")" = "$hard_nofile" ] && [ "$(sed -n 4p "$o.caps.log")" = "$hard_nofile" ] ||
		fail "$rt: open files limit is not the host's hard limit $hard_nofile: $(sed -n 3,4p "$o.caps.log")"
	grep -q ' /sys sysfs ro,' "$o.caps.log" || fail "$rt: /sys is not read-only"
	grep -q ' /proc/sys proc ro,' "$o.caps.log" || fail "$rt: /proc/sys is not read-only"
	grep -qx "keys 1:3" "$o.caps.log" && [ "$(sed -n 8p "$o.caps.log")" = 0 ] || fail "$rt: /proc/keys or /sys/firmware is not masked"
	grep -q sys-writable "$o.caps.log" && fail "$rt: /sys is writable"
	diff <(grep nameserver /etc/resolv.conf) <(grep nameserver "$o.caps.log") >/dev/null ||
		fail "$rt: the host network's resolv.conf is not the host's"
	ok "$rt: Docker's capabilities, read-only /sys, masked paths, open files at the hard limit"

	run_step "$o.none" "$rt" --network none -- /bin/sh -c 'ip -o link; ls /sys/class/net' ||
		fail "$rt: network none failed: $(cat "$o.none.err")"
	[ "$(grep -c ': ' "$o.none.log")" = 1 ] && grep -q '^1: lo:' "$o.none.log" ||
		fail "$rt: network none has more than lo: $(cat "$o.none.log")"
	grep -q 'LOOPBACK,UP' "$o.none.log" || fail "$rt: lo is down with network none"
	run_step "$o.host" "$rt" -- /bin/sh -c 'ip -o link' || fail "$rt: host network failed"
	[ "$(grep -c ': ' "$o.host.log")" = "$host_links" ] ||
		fail "$rt: the host network does not show the host's $host_links links"
	ok "$rt: network none has only lo; the host network is the host's"

	run_step "$o.ins" "$rt" --insecure --allow-insecure -- /bin/sh -c '/bin/exec-probe syscalls;
		grep ^CapEff /proc/self/status; grep " /sys " /proc/mounts' ||
		fail "$rt: insecure step failed: $(cat "$o.ins.err")"
	grep -q '^keyctl EPERM' "$o.ins.log" && fail "$rt: insecure still filters keyctl"
	expect_probe "$o.ins.log" mount ok
	grep -q ' /sys sysfs rw,' "$o.ins.log" || fail "$rt: insecure /sys is read-only"
	eff=$(awk '/^CapEff/ { print $2 }' "$o.ins.log")
	(((0x$eff & (1 << 21)) != 0)) || fail "$rt: insecure lacks CAP_SYS_ADMIN ($eff)"
	ok "$rt: security=insecure: no seccomp, every capability kiln has, /sys writable"
done
