// SPDX-License-Identifier: Apache-2.0
/* A step's OCI config.json: the process, its namespaces, the standard mounts BuildKit gives a
 * step, Docker's default capabilities, kiln's seccomp profile, masked and read-only paths as
 * Docker's defaults, and what security=insecure changes (as BuildKit's insecure spec). */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "solver/exec-internal.h"

const char *const exec_default_caps[] = {
    /* Docker's default set */
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL};

/* Capability names by number (linux/capability.h). */
static const char *const cap_names[] = {
    /* 0 */
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID",
    /* 8 */
    "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    /* 16 */
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    /* 24 */
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
    /* 32 */
    "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    /* 40 */
    "CAP_CHECKPOINT_RESTORE"};

static const char *const masked_paths[] = {
    /* what the kernel exposes of the host */
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap"};
static const char *const readonly_paths[] = {
    /* the kernel's settings */
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

/* Devices an insecure step gets besides the standard ones, where the host has them. */
static const char *const insecure_devices[] = {
    /* as BuildKit's insecure spec adds them */
    "/dev/kmsg",         "/dev/cuse",  "/dev/fuse",  "/dev/kvm",   "/dev/net/tun",
    "/dev/loop-control", "/dev/loop0", "/dev/loop1", "/dev/loop2", "/dev/loop3",
    "/dev/loop4",        "/dev/loop5", "/dev/loop6", "/dev/loop7"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static json_t *
strv(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *
caps(bool insecure)
{
	json_t *set = json_array();

	if (!insecure) {
		for (size_t i = 0; exec_default_caps[i]; i++)
			json_array_append_new(set, json_string(exec_default_caps[i]));
	} else {
		/* every capability kiln itself may hand on: asking for one outside its bounding
		 * set (CAP_SYS_RESOURCE on some hosts) would fail the runtime */
		for (size_t i = 0; i < N(cap_names); i++)
			if (prctl(PR_CAPBSET_READ, (unsigned long)i, 0, 0, 0) == 1)
				json_array_append_new(set, json_string(cap_names[i]));
	}
	return json_pack("{s:O,s:O,s:o}", "bounding", set, "effective", set, "permitted", set);
}

static json_t *
process(const struct exec_spec *s)
{
	json_t *groups = json_array(), *rlimits = json_array();
	struct rlimit rl;

	for (size_t i = 0; i < s->user->n_groups; i++)
		json_array_append_new(groups, json_integer(s->user->groups[i]));
	/* open files: the host's hard limit for both, so runc and crun agree (Go raises the soft
	 * limit of runc's children); other limits are inherited, which needs no privilege */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
		json_array_append_new(rlimits, json_pack("{s:s,s:I,s:I}", "type", "RLIMIT_NOFILE",
		                                         "hard", (json_int_t)rl.rlim_max, "soft",
		                                         (json_int_t)rl.rlim_max));
	return json_pack("{s:b,s:{s:i,s:i,s:o},s:o,s:o,s:s,s:o,s:o,s:b}", "terminal", 0, "user",
	                 "uid", (int)s->user->uid, "gid", (int)s->user->gid, "additionalGids",
	                 groups, "args", strv((const char *const *)s->args, s->n_args), "env",
	                 strv((const char *const *)s->env, s->n_env), "cwd", s->cwd, "capabilities",
	                 caps(s->insecure), "rlimits", rlimits, "noNewPrivileges", 0);
}

static json_t *
mount(const char *dest, const char *type, const char *source, const char *const *opts,
      size_t n_opts)
{
	return json_pack("{s:s,s:s,s:s,s:o}", "destination", dest, "type", type, "source", source,
	                 "options", strv(opts, n_opts));
}

static json_t *
mounts(const struct exec_spec *s)
{
	static const char *const dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k"};
	static const char *const pts[] = {"nosuid",        "noexec",    "newinstance",
	                                  "ptmxmode=0666", "mode=0620", "gid=5"};
	static const char *const shm[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"};
	static const char *const plain[] = {"nosuid", "noexec", "nodev"};
	static const char *const ro[] = {"nosuid", "noexec", "nodev", "ro"};
	json_t *a = json_array();

	json_array_append_new(a, mount("/proc", "proc", "proc", plain, N(plain)));
	json_array_append_new(a, mount("/dev", "tmpfs", "tmpfs", dev, N(dev)));
	json_array_append_new(a, mount("/dev/pts", "devpts", "devpts", pts, N(pts)));
	json_array_append_new(a, mount("/dev/shm", "tmpfs", "shm", shm, N(shm)));
	json_array_append_new(a, mount("/dev/mqueue", "mqueue", "mqueue", plain, N(plain)));
	json_array_append_new(a, mount("/sys", "sysfs", "sysfs", s->insecure ? plain : ro,
	                               s->insecure ? N(plain) : N(ro)));
	json_array_append_new(a, mount("/sys/fs/cgroup", "cgroup", "cgroup",
	                               s->insecure ? plain : ro, s->insecure ? N(plain) : N(ro)));
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct exec_spec_mount *m = &s->mounts[i];
		json_array_append_new(a, mount(m->dest, m->type, m->source,
		                               (const char *const *)m->options, m->n_options));
	}
	return a;
}

static void
insecure_linux(json_t *linux_obj)
{
	json_t *devices = json_array();

	for (size_t i = 0; i < N(insecure_devices); i++) {
		struct stat st;

		if (stat(insecure_devices[i], &st) < 0 ||
		    !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
			continue;
		json_array_append_new(devices, json_pack("{s:s,s:s,s:I,s:I,s:i,s:i,s:i}", "path",
		                                         insecure_devices[i], "type",
		                                         S_ISCHR(st.st_mode) ? "c" : "b", "major",
		                                         (json_int_t)major(st.st_rdev), "minor",
		                                         (json_int_t)minor(st.st_rdev), "fileMode",
		                                         0660, "uid", 0, "gid", 0));
	}
	json_object_set_new(linux_obj, "devices", devices);
	json_object_set_new(linux_obj, "resources",
	                    json_pack("{s:[{s:b,s:s,s:s},{s:b,s:s,s:s}]}", "devices", "allow", 1,
	                              "type", "c", "access", "rwm", "allow", 1, "type", "b",
	                              "access", "rwm"));
}

char *
exec_spec_json(const struct exec_spec *s)
{
	json_t *ns = json_pack("[{s:s},{s:s},{s:s},{s:s}]", "type", "pid", "type", "ipc", "type",
	                       "uts", "type", "mount");
	json_t *linux_obj, *root;
	char *text;

	if (s->network_none)
		json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
	linux_obj = json_pack("{s:o}", "namespaces", ns);
	if (s->cgroups_path)
		json_object_set_new(linux_obj, "cgroupsPath", json_string(s->cgroups_path));
	if (s->insecure) {
		insecure_linux(linux_obj);
	} else {
		json_object_set_new(
		    linux_obj, "resources",
		    json_pack("{s:[{s:b,s:s}]}", "devices", "allow", 0, "access", "rwm"));
		json_object_set_new(linux_obj, "maskedPaths", strv(masked_paths, N(masked_paths)));
		json_object_set_new(linux_obj, "readonlyPaths",
		                    strv(readonly_paths, N(readonly_paths)));
		json_object_set_new(linux_obj, "seccomp", exec_seccomp_profile());
	}
	root = json_pack("{s:s,s:o,s:{s:s,s:b},s:s,s:o,s:o}", "ociVersion", "1.0.2", "process",
	                 process(s), "root", "path", s->rootfs, "readonly", 0, "hostname",
	                 s->hostname, "mounts", mounts(s), "linux", linux_obj);
	/* crun loads the program and ignores linux.seccomp, kept as the profile's readable form */
	if (!s->insecure && s->seccomp_bpf)
		json_object_set_new(root, "annotations",
		                    json_pack("{s:s}", "run.oci.seccomp_bpf_data", s->seccomp_bpf));
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text)
		abort(); /* jansson fails only on allocation */
	return text;
}
