// SPDX-License-Identifier: Apache-2.0
/* One RUN step from start to end: its dir in the build's state, the rootfs overlay over the
 * lazy view of its input, its mounts and config, the runtime run, and the upper turned into
 * the step's diff and result, or into the failed step's tree. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree-writer.h"
#include "fs/tree.h"
#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/io.h"
#include "util/log.h"
#include "util/path.h"
#include "util/xalloc.h"

#define TMP_SIZE "size=64m" /* the tmpfs of a step with secrets: config, runtime state */
#define CMD_SHOWN_MAX 200   /* bytes of the command a message shows */

/* Step state helpers, shared by the mount kinds. */

struct exec_spec_mount *
exec_step_add_mount(struct exec_step *st, const char *dest, const char *type, const char *source)
{
	struct exec_spec_mount *m;

	st->mounts = xgrow(st->mounts, &st->cap_mounts, st->n_mounts + 1, sizeof(*st->mounts));
	m = &st->mounts[st->n_mounts++];
	*m = (struct exec_spec_mount){
	    .dest = xstrdup(dest), .type = xstrdup(type), .source = xstrdup(source)};
	return m;
}

void
exec_spec_mount_option(struct exec_spec_mount *m, const char *opt)
{
	assert(m->n_options < sizeof(m->options) / sizeof(m->options[0]));
	m->options[m->n_options++] = xstrdup(opt);
}

static void
exec_spec_mount_done(struct exec_spec_mount *m)
{
	free(m->dest);
	free(m->type);
	free(m->source);
	for (size_t i = 0; i < m->n_options; i++)
		free(m->options[i]);
}

void
exec_step_add_env(struct exec_step *st, const char *name, const void *value, size_t len)
{
	char *kv = xmalloc(strlen(name) + 1 + len + 1);

	sprintf(kv, "%s=", name);
	memcpy(kv + strlen(name) + 1, value, len);
	kv[strlen(name) + 1 + len] = '\0';
	st->env_add = xgrow(st->env_add, &st->cap_env_add, st->n_env_add + 1, sizeof(char *));
	st->env_add[st->n_env_add++] = kv;
}

void
exec_step_add_host_mount(struct exec_step *st, const char *path)
{
	st->host_mounts =
	    xgrow(st->host_mounts, &st->cap_host_mounts, st->n_host_mounts + 1, sizeof(char *));
	st->host_mounts[st->n_host_mounts++] = xstrdup(path);
}

int
exec_step_tmp(struct exec_step *st, struct kl_error **err)
{
	return st->tmp ? 0 : exec_step_mkdir(st, "tmp", &st->tmp, err);
}

/* Where the config and the runtime's log go: the tmpfs when there is one, else the step's
 * dir. */
static const char *
exec_step_private_dir(const struct exec_step *st)
{
	return st->tmp_mounted ? st->tmp : st->dir;
}

int
exec_step_mkdir(struct exec_step *st, const char *name, char **ret, struct kl_error **err)
{
	char *p = xasprintf("%s/%s", st->dir, name);

	if (mkdir(p, 0700) < 0) {
		int e = errno;
		free(p);
		return kl_error_set(err, e, "making '%s/%s'", st->dir, name);
	}
	*ret = p;
	return 0;
}

/* Removes the step: what its mounts hold, its overlay and tmpfs, its dir. */
static void
step_done(struct exec_step *st)
{
	exec_mounts_release(st);
	if (st->rootfs_mounted && exec_unmount(st->rootfs) < 0)
		kl_debug("exec: unmounting '%s': %s", st->rootfs, strerror(errno));
	if (st->tmp_mounted && exec_unmount(st->tmp) < 0)
		kl_debug("exec: unmounting '%s': %s", st->tmp, strerror(errno));
	if (st->dir)
		(void)kl_path_rm_rf_at(AT_FDCWD, st->dir);
	for (size_t i = 0; i < st->n_mounts; i++)
		exec_spec_mount_done(&st->mounts[i]);
	free(st->mounts);
	for (size_t i = 0; i < st->n_env_add; i++) {
		/* may hold a secret's value */
		explicit_bzero(st->env_add[i], strlen(st->env_add[i]));
		free(st->env_add[i]);
	}
	free(st->env_add);
	free(st->host_mounts);
	free(st->locks);
	exec_user_done(&st->user);
	tree_unref(st->root);
	free(st->dir);
	free(st->tmp);
	free(st->rootfs);
	free(st->upper);
	free(st->work);
	free(st->lower_empty);
}

/* The upper dir's root carries the rootfs root's metadata (overlayfs shows the upper's). */
static int
prepare_upper_root(struct exec_step *st, struct kl_error **err)
{
	struct tree_entry e = {.mode = 0755};
	struct timespec ts[2];

	if (st->root) {
		tree_entry_at(st->root, TREE_ROOT, &e);
		for (uint32_t i = 0; i < e.n_xattrs; i++) {
			struct tree_xattr x;

			tree_entry_xattr(st->root, &e, i, &x);
			if (lsetxattr(st->upper, x.name, x.value, x.value_len, 0) < 0)
				return kl_error_set(err, errno, "setting xattr '%s' of the rootfs",
				                    x.name);
		}
	}
	if (chown(st->upper, e.uid, e.gid) < 0 || chmod(st->upper, e.mode) < 0)
		return kl_error_set(err, errno, "preparing '%s'", st->upper);
	ts[0] = ts[1] = (struct timespec){e.mtime_sec, e.mtime_nsec};
	if (utimensat(AT_FDCWD, st->upper, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return kl_error_set(err, errno, "preparing '%s'", st->upper);
	return 0;
}

static bool
uses_secrets(const struct graph_exec *x)
{
	for (size_t i = 0; i < x->n_mounts; i++)
		if (x->mounts[i].kind == GRAPH_MOUNT_SECRET)
			return true;
	return false;
}

/* The step's dir (its tmp dir a tmpfs when it has secrets), and the rootfs overlay. */
static int
prepare_dirs(struct exec_step *st, struct kl_error **err)
{
	uint8_t rnd[8];
	char hex[17];
	_cleanup_free_ char *lower = NULL;
	int r;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return kl_error_set(err, errno, "reading random bytes");
	kl_hex_encode(rnd, sizeof(rnd), hex);
	snprintf(st->id, sizeof(st->id), "kiln-%s", hex);
	st->dir = xasprintf("%s/%s", st->env->state_dir, st->id);
	if (mkdir(st->dir, 0700) < 0) {
		r = kl_error_set(err, errno, "making the step's dir '%s'", st->dir);
		free(TAKE_PTR(st->dir));
		return r;
	}
	/* A secret's value must not touch the store's disk: where one may end up (its file, a
	 * variable in config.json and the runtime's copy of that) is a tmpfs then. */
	if (uses_secrets(st->x)) {
		r = exec_step_tmp(st, err);
		if (r < 0)
			return r;
		if (mount("tmpfs", st->tmp, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700," TMP_SIZE) <
		    0)
			return kl_error_set(err, errno, "mounting a tmpfs at '%s'", st->tmp);
		st->tmp_mounted = true;
	}
	r = exec_step_mkdir(st, "upper", &st->upper, err);
	if (r >= 0)
		r = exec_step_mkdir(st, "work", &st->work, err);
	if (r >= 0)
		r = exec_step_mkdir(st, "rootfs", &st->rootfs, err);
	if (r >= 0)
		r = prepare_upper_root(st, err);
	if (r >= 0 && !st->root)
		r = exec_step_mkdir(st, "lower", &st->lower_empty, err);
	if (r < 0)
		return r;
	lower = st->root ? exec_lazy_path(st->env, &st->root_id) : xstrdup(st->lower_empty);
	r = exec_overlay_mount(lower, st->upper, st->work, st->rootfs, err);
	if (r < 0)
		return r;
	st->rootfs_mounted = true;
	return 0;
}

/* Writes dir/name, which must not exist. */
static int
write_file(const char *dir, const char *name, const char *data, size_t len, mode_t mode,
           char **ret_path, struct kl_error **err)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	int r;

	if (fd < 0) {
		r = kl_error_set(err, errno, "creating '%s'", path);
		free(path);
		return r;
	}
	r = kl_io_write_all(fd, data, len);
	close(fd);
	if (r < 0) {
		r = kl_error_set(err, -r, "writing '%s'", path);
		free(path);
		return r;
	}
	if (ret_path)
		*ret_path = path;
	else
		free(path);
	return 0;
}

/* A file the build's steps share, named by its contents in the state dir (made once, by
 * rename, so concurrent steps see it whole). */
static int
shared_file(struct exec_step *st, const char *name, const char *data, char **ret_path,
            struct kl_error **err)
{
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];
	_cleanup_free_ char *final = NULL, *tmp = NULL;
	int r;

	digest_buffer(data, strlen(data), &d);
	digest_to_hex(&d, hex);
	hex[16] = '\0';
	final = xasprintf("%s-%s", name, hex);
	*ret_path = xasprintf("%s/%s", st->env->state_dir, final);
	if (access(*ret_path, F_OK) == 0)
		return 0;
	tmp = xasprintf("%s.%s", final, st->id);
	r = write_file(st->env->state_dir, tmp, data, strlen(data), 0644, NULL, err);
	if (r >= 0) {
		_cleanup_free_ char *from = xasprintf("%s/%s", st->env->state_dir, tmp);
		if (rename(from, *ret_path) < 0)
			r = kl_error_set(err, errno, "making '%s'", *ret_path);
	}
	if (r < 0)
		free(TAKE_PTR(*ret_path));
	return r;
}

/* /etc/hosts and /etc/resolv.conf, bound read-only as BuildKit binds them. */
static int
provide_etc_files(struct exec_step *st, struct kl_error **err)
{
	static const char *const opts[] = {"nosuid", "noexec", "nodev", "rbind", "ro"};
	_cleanup_free_ char *hosts = NULL, *resolv = NULL, *host_resolv = NULL, *hp = NULL,
	                    *rp = NULL;
	const char *hostname = st->x->hostname ? st->x->hostname : EXEC_DEFAULT_HOSTNAME;
	size_t len = 0;
	int fd, r;

	r = exec_hosts_file(hostname, &st->x->extra_hosts, &hosts, err);
	if (r < 0)
		return r;
	fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (kl_io_read_all(fd, 1 << 20, &host_resolv, &len) < 0)
			host_resolv = NULL;
		close(fd);
	}
	resolv = exec_resolv_conf(host_resolv, len, st->x->network == GRAPH_NET_HOST);
	r = shared_file(st, "hosts", hosts, &hp, err);
	if (r >= 0)
		r = shared_file(st, "resolv.conf", resolv, &rp, err);
	if (r < 0)
		return r;
	struct exec_spec_mount *m = exec_step_add_mount(st, "/etc/resolv.conf", "bind", rp);
	for (size_t i = 0; i < 5; i++)
		exec_spec_mount_option(m, opts[i]);
	m = exec_step_add_mount(st, "/etc/hosts", "bind", hp);
	for (size_t i = 0; i < 5; i++)
		exec_spec_mount_option(m, opts[i]);
	return 0;
}

static bool
has_var(char *const *env, size_t n, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (!strncmp(env[i], name, nl) && env[i][nl] == '=')
			return true;
	return false;
}

/* The command's environment: its own, the proxy variables, the mounts' (SSH_AUTH_SOCK, secret
 * variables), PATH and HOME when unset. The strings stay owned by st and x. */
static char **
command_env(const struct exec_step *st, size_t *ret_n)
{
	const struct graph_exec *x = st->x;
	size_t n = 0, cap = x->env.n + x->proxy_env.n + st->n_env_add + 2;
	char **env = xcalloc(cap, sizeof(*env));

	for (size_t i = 0; i < x->env.n; i++)
		env[n++] = x->env.v[i];
	for (size_t i = 0; i < x->proxy_env.n; i++)
		env[n++] = x->proxy_env.v[i];
	for (size_t i = 0; i < st->n_env_add; i++)
		env[n++] = st->env_add[i];
	if (!has_var(env, n, "PATH"))
		env[n++] = "PATH=" EXEC_DEFAULT_PATH;
	*ret_n = n;
	return env;
}

/* The command as a message shows it. */
static char *
shown_command(const struct graph_exec *x)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		abort();
	for (size_t i = 0; i < x->args.n; i++)
		fprintf(f, "%s%s", i ? " " : "", x->args.v[i]);
	fclose(f);
	if (len > CMD_SHOWN_MAX)
		strcpy(out + CMD_SHOWN_MAX - 3, "...");
	return out;
}

static int
write_config(struct exec_step *st, const struct exec_runtime *rt, char **ret_bundle,
             struct kl_error **err)
{
	_cleanup_free_ char *json = NULL, *bundle = xstrdup(exec_step_private_dir(st)),
	                    *home = NULL;
	_cleanup_free_ char **env = NULL;
	_cleanup_free_ char *bpf = NULL;
	const char *cwd = st->x->cwd && *st->x->cwd ? st->x->cwd : "/";
	bool insecure = st->x->security == GRAPH_SECURITY_INSECURE;
	size_t n_env;
	int r;

	/* crun takes the profile compiled once instead of compiling it at every start */
	if (rt->kind == EXEC_RUNTIME_CRUN && !insecure) {
		r = exec_seccomp_bpf(st->env->store, &bpf, err);
		if (r < 0)
			return r;
	}

	env = command_env(st, &n_env);
	if (!has_var(env, n_env, "HOME")) {
		home = xasprintf("HOME=%s", st->user.home ? st->user.home : "/");
		env = xrealloc(env, (n_env + 1) * sizeof(*env));
		env[n_env++] = home;
	}
	struct exec_spec spec = {
	    .rootfs = st->rootfs,
	    .args = st->x->args.v,
	    .n_args = st->x->args.n,
	    .env = env,
	    .n_env = n_env,
	    .cwd = cwd,
	    .user = &st->user,
	    .hostname = st->x->hostname ? st->x->hostname : EXEC_DEFAULT_HOSTNAME,
	    .network_none = st->x->network == GRAPH_NET_NONE,
	    .insecure = insecure,
	    .mounts = st->mounts,
	    .n_mounts = st->n_mounts,
	    .kind = rt->kind,
	    /* runc: below kiln's own cgroup in each hierarchy, removed with the container */
	    .cgroups_path = rt->kind == EXEC_RUNTIME_RUNC ? st->id : NULL,
	    .seccomp_bpf = bpf,
	};
	json = exec_spec_json(&spec);
	r = write_file(bundle, "config.json", json, strlen(json), 0600, NULL, err);
	explicit_bzero(json, strlen(json)); /* may hold a secret variable */
	if (r < 0)
		return r;
	*ret_bundle = TAKE_PTR(bundle);
	return 0;
}

/* Where the runtime mounts something over the rootfs: the standard mounts kiln asks for and
 * the step's own. */
static char **
mount_targets(const struct exec_step *st, size_t *ret_n)
{
	static const char *const standard[] = {"/proc", "/dev", "/sys"};
	char **v = xcalloc(3 + st->n_mounts, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < 3; i++)
		v[n++] = (char *)standard[i];
	for (size_t i = 0; i < st->n_mounts; i++)
		v[n++] = st->mounts[i].dest;
	*ret_n = n;
	return v;
}

static void
release_buffer(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

/* The tree after the step: root with diff applied (root itself when nothing changed). */
static int
apply_diff(struct exec_step *st, const struct digest *diff_id, bool empty, struct digest *ret,
           struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *diff = NULL;
	_cleanup_(tree_writer_freep) struct tree_writer *w = NULL;
	_cleanup_(tree_unrefp) struct tree *scratch = NULL;
	int r;

	if (empty && st->root) {
		*ret = st->root_id;
		return 0;
	}
	r = tree_load(st->env->store, diff_id, &diff, err);
	if (r >= 0 && !st->root) {
		_cleanup_(tree_builder_freep) struct tree_builder *eb = tree_builder_new();
		char *buf = NULL;
		size_t len;

		r = tree_builder_serialize(eb, &buf, &len, err);
		if (r >= 0)
			r = tree_parse(buf, len, release_buffer, &scratch, err);
		if (r < 0 && buf)
			free(buf);
	}
	if (r >= 0)
		r = tree_apply(st->root ? st->root : scratch, diff, &w, err);
	if (r >= 0)
		r = tree_writer_write(w, st->env->store, ret, err);
	return r;
}

static int
validate(const struct exec_env *env, const struct graph_vertex *v, struct kl_error **err)
{
	const struct graph_exec *x = &v->exec;

	if (v->kind != GRAPH_OP_EXEC)
		return kl_error_setf(err, EINVAL, "vertex '%s' is not an exec",
		                     v->id ? v->id : "?");
	if (x->args.n == 0)
		return kl_error_setf(err, EINVAL, "exec: no command to run");
	if (x->security == GRAPH_SECURITY_INSECURE && !env->allow_insecure)
		return kl_error_setf(err, EPERM,
		                     "exec: security=insecure was asked for but not allowed "
		                     "(allow it with --allow-insecure, as BuildKit's "
		                     "security.insecure entitlement)");
	if (x->cwd && *x->cwd && x->cwd[0] != '/')
		return kl_error_setf(err, EINVAL, "exec: working directory '%s' is not absolute",
		                     x->cwd);
	return 0;
}

/* The message of a step whose command did not exit 0. */
static int
step_failed(const struct exec_step *st, const struct exec_outcome *o, const struct exec_tail *tail,
            struct kl_error **err)
{
	_cleanup_free_ char *cmd = shown_command(st->x),
	                    *lines = exec_tail_lines(tail, EXEC_TAIL_LINES);

	if (o->runtime_error)
		return kl_error_setf(err, ECHILD, "'%s' could not start: %s (exit code %d)", cmd,
		                     o->runtime_error, o->exit_code);
	return kl_error_setf(err, ECHILD, "'%s' exited with code %d%s%s", cmd, o->exit_code,
	                     *lines ? "; its last output:\n" : "", lines);
}

/* A runtime error that is not about the command: the runtime cannot run containers here. */
static bool
runtime_cannot_run(const struct exec_outcome *o)
{
	const char *m = o->runtime_error;

	return m && !strstr(m, "exec") && !strstr(m, "executable") && !strstr(m, "no such file") &&
	       !strstr(m, "No such file") && !strstr(m, "permission denied") &&
	       !strstr(m, "Permission denied");
}

/* Everything before the runtime starts: the input tree, the step's dirs and rootfs, its
 * user and working dir, the files kiln provides, the mounts and the config. */
static int
prepare_step(struct exec_step *st, const struct exec_runtime *rt, const struct digest *root,
             char **ret_bundle, struct kl_error **err)
{
	_cleanup_close_ int root_fd = -1;
	int r;

	if (root) {
		st->root_id = *root;
		r = tree_load(st->env->store, root, &st->root, err);
		if (r == -ENOENT)
			return kl_error_setf(err, ENOENT, "exec: input tree is not in the store");
		if (r < 0)
			return r;
	}
	r = prepare_dirs(st, err);
	if (r < 0)
		return r;
	root_fd = open(st->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return kl_error_set(err, errno, "opening '%s'", st->rootfs);
	r = exec_user_resolve(root_fd, st->x->user, &st->user, err);
	if (r >= 0 && st->x->cwd && *st->x->cwd)
		r = exec_rootfs_mkdir_p(root_fd, st->x->cwd, st->user.uid, st->user.gid, err);
	if (r >= 0)
		r = provide_etc_files(st, err);
	if (r >= 0)
		r = exec_mounts_prepare(st, err);
	if (r >= 0)
		r = write_config(st, rt, ret_bundle, err);
	return r;
}

/* After the runtime: the mounts released, the rootfs unmounted, and the upper dir as the
 * step's diff and its result. */
static int
collect_step(struct exec_step *st, struct digest *ret_diff, struct digest *ret_tree,
             struct kl_error **err)
{
	_cleanup_free_ char **targets = NULL;
	size_t n_targets;
	bool empty;
	int r;

	exec_mounts_release(st);
	if (exec_unmount(st->rootfs) < 0)
		return kl_error_set(err, errno, "unmounting the step's rootfs '%s'", st->rootfs);
	st->rootfs_mounted = false;
	targets = mount_targets(st, &n_targets);
	r = exec_upper_diff(st, targets, n_targets, ret_diff, &empty, err);
	if (r >= 0)
		r = apply_diff(st, ret_diff, empty, ret_tree, err);
	return r;
}

int
exec_run(const struct exec_env *env, const struct graph_vertex *v, const struct digest *root,
         const struct digest *const *mount_inputs, struct exec_result *ret, struct kl_error **err)
{
	_cleanup_(step_done) struct exec_step st = {
	    .env = env, .v = v, .x = &v->exec, .mount_inputs = mount_inputs};
	_cleanup_(exec_runtime_done) struct exec_runtime rt = {0};
	_cleanup_(exec_outcome_done) struct exec_outcome o = {0};
	_cleanup_free_ char *bundle = NULL, *state = NULL, *log = NULL;
	struct exec_tail tail = {0};
	struct digest diff, result;
	int r;

	r = validate(env, v, err);
	if (r >= 0)
		r = exec_runtime_open(env->runtime, &rt, err);
	if (r >= 0)
		r = prepare_step(&st, &rt, root, &bundle, err);
	if (r < 0)
		return r;
	/* the runtime's state: with the config in a tmpfs when it may hold a secret */
	state = st.tmp_mounted ? xasprintf("%s/state", st.tmp)
	                       : xasprintf("%s/" EXEC_RUNTIME_STATE, env->state_dir);
	log = xasprintf("%s/runtime.log", exec_step_private_dir(&st));
	if (mkdir(state, 0700) < 0 && errno != EEXIST)
		return kl_error_set(err, errno, "making '%s'", state);
	r = exec_runtime_run(&rt, state, log, bundle, st.dir, st.id, env, &tail, &o, err);
	if (r < 0)
		return r;
	if (o.cancelled)
		return kl_error_setf(err, ECANCELED, "exec: cancelled");
	if (o.exit_code != 0 && runtime_cannot_run(&o))
		return kl_error_setf(
		    err, EPERM, "runtime '%s' cannot run the step here: %s%s", rt.path,
		    o.runtime_error,
		    strstr(o.runtime_error, "hybrid")
		        ? " (this host mixes cgroup v1 and v2 controllers, which crun "
		          "refuses: kiln hides cgroup v2 from a runtime named crun*, "
		          "or use runc)"
		        : "");
	r = collect_step(&st, &diff, &result, err);
	if (r < 0)
		return r;
	if (o.exit_code != 0) {
		/* nothing of it is cached, but what it saw and wrote is kept for kiln mount */
		ret->exit_code = o.exit_code;
		ret->diff = diff;
		ret->has_failed_tree = true;
		ret->failed_tree = result;
		return step_failed(&st, &o, &tail, err);
	}
	*ret = (struct exec_result){.tree = result, .diff = diff};
	return 0;
}
