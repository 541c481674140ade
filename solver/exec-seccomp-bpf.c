// SPDX-License-Identifier: Apache-2.0
/* kiln's seccomp profile compiled to the kernel's filter program, for a runtime that takes one
 * (crun's run.oci.seccomp_bpf_data annotation). crun compiling the profile itself with
 * libseccomp was ~10 ms of every container's start, most of it the argument rules; the program
 * depends on the profile and libseccomp alone, so it is compiled once per store and kept in
 * <root>/seccomp/<key>.bpf, the key a sha256 of both. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/filter.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/digest.h"
#include "fs/store.h"
#include "solver/exec-internal.h"
#include "util/base64.h"
#include "util/cleanup.h"
#include "util/dl-seccomp.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define BPF_DIR "seccomp"
#define BPF_MAX (1 << 20) /* bytes of a kept program; the profile's is ~5 KiB */

static const struct {
	const char *name;
	uint32_t token;
} arches[] = {
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64}, {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},       {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
};

static const struct {
	const char *name;
	enum scmp_compare op;
} ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static void
profile_decrefp(json_t **j)
{
	json_decref(*j);
}

static void
filter_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		kl_seccomp()->release(*ctx);
}

static int
add_arches(scmp_filter_ctx ctx, json_t *list, struct kl_error **err)
{
	size_t i, k;
	json_t *a;

	json_array_foreach(list, i, a)
	{
		const char *name = json_string_value(a);
		int r;

		for (k = 0; k < sizeof(arches) / sizeof(arches[0]); k++)
			if (name && !strcmp(name, arches[k].name))
				break;
		if (k == sizeof(arches) / sizeof(arches[0]))
			return kl_error_setf(err, EINVAL,
			                     "seccomp profile: unknown architecture '%s'",
			                     name ? name : "?");
		r = kl_seccomp()->arch_add(ctx, arches[k].token);
		if (r < 0 && r != -EEXIST)
			return kl_error_set(err, -r, "seccomp: adding architecture '%s'", name);
	}
	return 0;
}

/* The conditions of one rule; the OCI form's value is a masked comparison's mask and
 * valueTwo its datum, as libseccomp takes them. */
static int
rule_args(json_t *args, struct scmp_arg_cmp *cmp, size_t max, size_t *ret_n, struct kl_error **err)
{
	size_t i, k;
	json_t *a;

	if (json_array_size(args) > max)
		return kl_error_setf(err, EINVAL, "seccomp profile: a rule has %zu conditions",
		                     json_array_size(args));
	json_array_foreach(args, i, a)
	{
		const char *op = json_string_value(json_object_get(a, "op"));

		for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
			if (op && !strcmp(op, ops[k].name))
				break;
		if (k == sizeof(ops) / sizeof(ops[0]))
			return kl_error_setf(err, EINVAL, "seccomp profile: unknown operator '%s'",
			                     op ? op : "?");
		cmp[i] = (struct scmp_arg_cmp){
		    .arg = (unsigned)json_integer_value(json_object_get(a, "index")),
		    .op = ops[k].op,
		    .datum_a = (scmp_datum_t)json_integer_value(json_object_get(a, "value")),
		    .datum_b = (scmp_datum_t)json_integer_value(json_object_get(a, "valueTwo")),
		};
	}
	*ret_n = json_array_size(args);
	return 0;
}

static int
add_rule(scmp_filter_ctx ctx, json_t *rule, struct kl_error **err)
{
	const char *action = json_string_value(json_object_get(rule, "action"));
	struct scmp_arg_cmp cmp[6];
	json_t *name;
	uint32_t act;
	size_t i, n = 0;
	int r;

	if (!action || strcmp(action, "SCMP_ACT_ERRNO") != 0)
		return kl_error_setf(err, EINVAL, "seccomp profile: action '%s' is not compiled",
		                     action ? action : "?");
	act = SCMP_ACT_ERRNO((uint16_t)json_integer_value(json_object_get(rule, "errnoRet")));
	r = rule_args(json_object_get(rule, "args"), cmp, sizeof(cmp) / sizeof(cmp[0]), &n, err);
	if (r < 0)
		return r;
	json_array_foreach(json_object_get(rule, "names"), i, name)
	{
		int nr = kl_seccomp()->syscall_resolve_name(json_string_value(name));

		/* a name no architecture knows has nothing to filter, as runtimes skip it */
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = kl_seccomp()->rule_add_array(ctx, act, nr, (unsigned)n, cmp);
		if (r < 0)
			return kl_error_set(err, -r, "seccomp: a rule for '%s'",
			                    json_string_value(name));
	}
	return 0;
}

/* The program of profile, as libseccomp (loaded) exports it. */
static int
compile(json_t *profile, char **ret, size_t *ret_len, struct kl_error **err)
{
	_cleanup_(filter_releasep) scmp_filter_ctx ctx = NULL;
	_cleanup_close_ int fd = -1;
	const char *def = json_string_value(json_object_get(profile, "defaultAction"));
	size_t i;
	json_t *rule;
	int r;

	if (!def || strcmp(def, "SCMP_ACT_ALLOW") != 0)
		return kl_error_setf(err, EINVAL,
		                     "seccomp profile: default action '%s' is not compiled",
		                     def ? def : "?");
	ctx = kl_seccomp()->init(SCMP_ACT_ALLOW);
	if (!ctx)
		return kl_error_setf(err, ENOMEM, "seccomp: making a filter");
	r = add_arches(ctx, json_object_get(profile, "architectures"), err);
	json_array_foreach(json_object_get(profile, "syscalls"), i, rule)
	{
		if (r >= 0)
			r = add_rule(ctx, rule, err);
	}
	if (r < 0)
		return r;
	fd = memfd_create("kiln-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return kl_error_set(err, errno, "seccomp: making a memfd");
	r = kl_seccomp()->export_bpf(ctx, fd);
	if (r < 0)
		return kl_error_set(err, -r, "seccomp: exporting the filter");
	if (lseek(fd, 0, SEEK_SET) < 0)
		return kl_error_set(err, errno, "seccomp: reading the filter back");
	r = kl_io_read_all(fd, BPF_MAX, ret, ret_len);
	if (r < 0)
		return kl_error_set(err, -r, "seccomp: reading the filter back");
	return 0;
}

/* The program kept under name, or -ENOENT when there is none or it is not whole instructions. */
static int
read_kept(int dir_fd, const char *name, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t len;
	int r;

	if (fd < 0)
		return -errno;
	r = kl_io_read_all(fd, BPF_MAX, &buf, &len);
	if (r < 0)
		return r;
	if (len == 0 || len % sizeof(struct sock_filter) != 0) {
		free(buf);
		return -ENOENT;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Keeps the program under name: written whole and synced, then renamed into place. */
static int
keep(int dir_fd, const char *name, const char *prog, size_t len, struct kl_error **err)
{
	_cleanup_free_ char *tmp = xasprintf(".%s.%d", name, (int)getpid()); /* one per process */
	_cleanup_close_ int fd =
	    openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r;

	if (fd < 0)
		return kl_error_set(err, errno, "seccomp: writing '%s/%s'", BPF_DIR, tmp);
	r = kl_io_write_all(fd, prog, len);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dir_fd, tmp, 0);
		return kl_error_set(err, -r, "seccomp: writing '%s/%s'", BPF_DIR, name);
	}
	return 0;
}

/* The key of a program: the profile as compact sorted JSON and the libseccomp that compiles
 * it. */
static char *
program_name(json_t *profile)
{
	const struct scmp_version *v = kl_seccomp()->version();
	_cleanup_free_ char *text = json_dumps(profile, JSON_COMPACT | JSON_SORT_KEYS);
	_cleanup_free_ char *keyed = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	struct digest d;

	if (!text)
		abort(); /* jansson fails only on allocation */
	keyed = xasprintf("%s\nlibseccomp %u.%u.%u\n", text, v->major, v->minor, v->micro);
	digest_buffer(keyed, strlen(keyed), &d);
	return xasprintf("%s.bpf", digest_to_hex(&d, hex));
}

/* The program of the profile, from the store or compiled and kept there. */
static int
load_or_compile(struct store *s, char **ret_prog, size_t *ret_len, struct kl_error **err)
{
	_cleanup_(profile_decrefp) json_t *profile = exec_seccomp_profile();
	_cleanup_free_ char *name = NULL, *dir = NULL;
	_cleanup_close_ int dir_fd = -1;
	_cleanup_(kl_error_freep) struct kl_error *keep_err = NULL;
	int r, open_errno;

	/* the key names libseccomp's version: loaded once per process that runs a step */
	r = kl_seccomp_load(err);
	if (r < 0)
		return r;
	name = program_name(profile);
	dir = xasprintf("%s/" BPF_DIR, store_root(s));
	(void)mkdir(dir, 0755);
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	open_errno = errno;
	if (dir_fd >= 0 && read_kept(dir_fd, name, ret_prog, ret_len) == 0)
		return 0;
	r = compile(profile, ret_prog, ret_len, err);
	if (r < 0)
		return r;
	/* a program not kept is compiled again by the next build, nothing worse */
	if (dir_fd < 0)
		kl_debug("seccomp: cannot keep the program in '%s': %s", dir, strerror(open_errno));
	else if (keep(dir_fd, name, *ret_prog, *ret_len, &keep_err) < 0)
		kl_debug("%s", keep_err->msg);
	return 0;
}

/* One program per process, for the last store asked: steps that start together wait for one
 * compile. */
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;
static char *memo_root, *memo; /* base64 */

int
exec_seccomp_bpf(struct store *s, char **ret, struct kl_error **err)
{
	_cleanup_free_ char *prog = NULL;
	size_t len;
	int r = 0;

	pthread_mutex_lock(&memo_lock);
	if (!memo || strcmp(memo_root, store_root(s)) != 0) {
		r = load_or_compile(s, &prog, &len, err);
		if (r >= 0) {
			free(memo_root);
			free(memo);
			memo_root = xstrdup(store_root(s));
			memo = kl_base64_encode(prog, len);
		}
	}
	if (r >= 0)
		*ret = xstrdup(memo);
	pthread_mutex_unlock(&memo_lock);
	return r;
}
