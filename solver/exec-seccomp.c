// SPDX-License-Identifier: Apache-2.0
/* kiln's default seccomp profile, in the OCI runtime's form: every system call is allowed but
 * those Docker's default profile refuses to a container with Docker's default capabilities,
 * which fail with EPERM (clone3 with ENOSYS, so that libc falls back to clone, whose flags a
 * filter can see). A deny list rather than Docker's allow list: a system call newer than the
 * profile works instead of failing with EPERM (glibc's faccessat2 broke builds that way). */
#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <stdint.h>
#include <sys/personality.h>
#include <sys/socket.h>

#include "solver/exec-internal.h"

/* Refused outright, grouped by why. */
static const char *const denied[] = {
    /* the kernel's keyrings are not namespaced */
    "add_key", "keyctl", "request_key",
    /* kernel code, tracing and state */
    "bpf", "perf_event_open", "lookup_dcookie", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "create_module", "get_kernel_syms", "query_module", "_sysctl",
    "sysfs", "uselib", "ustat", "nfsservctl", "bdflush",
    /* mounts and namespaces (CAP_SYS_ADMIN) */
    "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr", "unshare", "setns", "sethostname", "setdomainname",
    "fanotify_init", "quotactl", "quotactl_fd",
    /* the machine */
    "reboot", "swapon", "swapoff", "acct", "syslog", "vhangup", "iopl", "ioperm", "vm86", "vm86old",
    /* the clock (CAP_SYS_TIME) */
    "settimeofday", "stime", "clock_settime", "clock_settime64",
    /* other processes' memory and files (CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH) */
    "kcmp", "pidfd_getfd", "process_madvise", "open_by_handle_at", "userfaultfd",
    /* NUMA placement (CAP_SYS_NICE) */
    "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind", "migrate_pages",
    "move_pages"};

/* The personality values Docker allows, in increasing order: Linux, 32-bit Linux, UNAME26
 * with either, and the query 0xffffffff. Conditions of one rule on one argument do not combine
 * (libseccomp ORs them), so the complement is given as aligned blocks, one masked comparison
 * each. */
static const uint64_t personality_allowed[] = {
    PER_LINUX, PER_LINUX32, UNAME26, UNAME26 | PER_LINUX32, 0xffffffffu,
};

/* The host's architectures and those its kernel also runs, as Docker lists them: a filter
 * for any other would be code no system call reaches. */
static const char *const host_arches[] = {
#if defined(__x86_64__)
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32",
#elif defined(__aarch64__)
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
#elif defined(__i386__)
    "SCMP_ARCH_X86",
#elif defined(__arm__)
    "SCMP_ARCH_ARM",
#else
#error "kiln's seccomp profile does not know this architecture"
#endif
};

static json_t *
rule(const char *name, int errno_ret)
{
	return json_pack("{s:[s],s:s,s:i}", "names", name, "action", "SCMP_ACT_ERRNO", "errnoRet",
	                 errno_ret);
}

/* Denies name when (argument index & mask) == value; both within 32 bits, as JSON integers
 * are signed and runtimes read these as unsigned. */
static void
add_masked(json_t *rules, const char *name, unsigned index, uint32_t mask, uint32_t value)
{
	json_t *r = rule(name, EPERM);

	json_object_set_new(r, "args",
	                    json_pack("[{s:i,s:I,s:I,s:s}]", "index", index, "value",
	                              (json_int_t)mask, "valueTwo", (json_int_t)value, "op",
	                              "SCMP_CMP_MASKED_EQ"));
	json_array_append_new(rules, r);
}

/* Denies personality for every value in [lo, hi] (hi < 2^32), one aligned block per rule. */
static void
deny_personality_range(json_t *rules, uint64_t lo, uint64_t hi)
{
	while (lo <= hi) {
		unsigned k = 0;

		/* the largest block 2^k aligned at lo that stays within [lo, hi] */
		while (k < 32 && (lo & ((UINT64_C(1) << (k + 1)) - 1)) == 0 &&
		       lo + (UINT64_C(1) << (k + 1)) - 1 <= hi)
			k++;
		add_masked(rules, "personality", 0, (uint32_t) ~((UINT64_C(1) << k) - 1),
		           (uint32_t)lo);
		lo += UINT64_C(1) << k;
	}
}

static void
deny_personality(json_t *rules)
{
	uint64_t next = 0;
	size_t n = sizeof(personality_allowed) / sizeof(personality_allowed[0]);

	for (size_t i = 0; i < n; i++) {
		if (personality_allowed[i] > next)
			deny_personality_range(rules, next, personality_allowed[i] - 1);
		next = personality_allowed[i] + 1;
	}
	/* values above 32 bits: the kernel would truncate them to one it does not check */
	json_t *r = rule("personality", EPERM);
	json_object_set_new(r, "args",
	                    json_pack("[{s:i,s:I,s:s}]", "index", 0, "value",
	                              (json_int_t)0xffffffffu, "op", "SCMP_CMP_GT"));
	json_array_append_new(rules, r);
}

void *
exec_seccomp_profile(void)
{
	static const uint64_t ns_flags[] = {CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS,
	                                    CLONE_NEWIPC, CLONE_NEWUSER,   CLONE_NEWPID,
	                                    CLONE_NEWNET};
	json_t *rules = json_array();
	json_t *names = json_array();

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		json_array_append_new(names, json_string(denied[i]));
	json_array_append_new(rules, json_pack("{s:o,s:s,s:i}", "names", names, "action",
	                                       "SCMP_ACT_ERRNO", "errnoRet", EPERM));
	/* new namespaces through clone's flags (its first argument on x86 and arm) */
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++)
		add_masked(rules, "clone", 0, (uint32_t)ns_flags[i], (uint32_t)ns_flags[i]);
	/* clone3 passes its flags in memory, out of a filter's sight */
	json_array_append_new(rules, rule("clone3", ENOSYS));
	deny_personality(rules);
	/* vsock reaches the host's hypervisor */
	json_t *vsock = rule("socket", EAFNOSUPPORT);
	json_object_set_new(
	    vsock, "args",
	    json_pack("[{s:i,s:i,s:s}]", "index", 0, "value", AF_VSOCK, "op", "SCMP_CMP_EQ"));
	json_array_append_new(rules, vsock);
	json_t *arches = json_array();
	for (size_t i = 0; i < sizeof(host_arches) / sizeof(host_arches[0]); i++)
		json_array_append_new(arches, json_string(host_arches[i]));
	return json_pack("{s:s,s:o,s:o}", "defaultAction", "SCMP_ACT_ALLOW", "architectures",
	                 arches, "syscalls", rules);
}
