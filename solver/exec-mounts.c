// SPDX-License-Identifier: Apache-2.0
/* A step's mounts: each kind prepared in turn (bind and tmpfs here, cache, secret and ssh in
 * their own files), and everything they hold released when the step ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/tree.h"
#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char *const kind_names[_GRAPH_MOUNT_MAX] = {
    [GRAPH_MOUNT_BIND] = "bind",     [GRAPH_MOUNT_CACHE] = "cache", [GRAPH_MOUNT_TMPFS] = "tmpfs",
    [GRAPH_MOUNT_SECRET] = "secret", [GRAPH_MOUNT_SSH] = "ssh",
};

static int
mount_tmpfs(struct exec_step *st, const struct graph_mount *m)
{
	struct exec_spec_mount *sm = exec_step_add_mount(st, m->target, "tmpfs", "tmpfs");

	exec_spec_mount_option(sm, "nosuid");
	exec_spec_mount_option(sm, "nodev");
	if (m->size) {
		char opt[32];

		snprintf(opt, sizeof(opt), "size=%llu", (unsigned long long)m->size);
		exec_spec_mount_option(sm, opt);
	}
	return 0;
}

/* The path of m's source inside the lazy view of input i (resolved in its tree), and whether
 * it is a directory. */
static int
bind_source(struct exec_step *st, size_t i, const struct graph_mount *m, char **ret, bool *ret_dir,
            struct kl_error **err)
{
	const struct digest *id = st->mount_inputs ? st->mount_inputs[i] : NULL;
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	_cleanup_free_ char *rel = NULL, *base = NULL;
	const char *src = m->source && *m->source ? m->source : "/";
	struct tree_entry e;
	uint32_t idx;
	bool exists;
	int r;

	if (!id) {
		/* no input: the empty tree, whose only entry is its root */
		if (strcmp(src, "/") != 0)
			return kl_error_setf(err, ENOENT, "source '%s' is not in the empty tree",
			                     src);
		*ret = NULL;
		*ret_dir = true;
		return 0;
	}
	r = tree_load(st->env->store, id, &t, err);
	if (r == -ENOENT)
		return kl_error_setf(err, ENOENT, "its input tree is not in the store");
	if (r < 0)
		return r;
	r = exec_tree_resolve(t, src, &rel, &exists);
	if (r < 0 || !exists)
		return kl_error_setf(err, ENOENT, "source '%s' is not in its input", src);
	(void)tree_lookup(t, rel, strlen(rel), &idx);
	tree_entry_at(t, tree_resolve_hardlink(t, idx), &e);
	base = exec_lazy_path(st->env, id);
	*ret = *rel ? xasprintf("%s/%s", base, rel) : TAKE_PTR(base);
	*ret_dir = e.type == TREE_DIR;
	return 0;
}

static int
exec_mount_bind(struct exec_step *st, size_t i, const struct graph_mount *m, struct kl_error **err)
{
	_cleanup_free_ char *src = NULL, *dir = NULL, *name = xasprintf("bind-%zu", i);
	struct exec_spec_mount *sm;
	bool is_dir;
	int r;

	r = bind_source(st, i, m, &src, &is_dir, err);
	if (r < 0)
		return r;
	if (!src || !m->readonly) {
		r = exec_step_mkdir(st, name, &dir, err);
		if (r < 0)
			return r;
	}
	if (!src) {
		/* the empty tree: an empty dir, writable or not, nothing kept */
		src = xasprintf("%s/empty", dir);
		if (mkdir(src, 0755) < 0)
			return kl_error_set(err, errno, "making '%s'", src);
	} else if (!m->readonly && is_dir) {
		/* writable, the changes discarded: a throwaway overlay over the source */
		_cleanup_free_ char *upper = xasprintf("%s/upper", dir),
		                    *work = xasprintf("%s/work", dir),
		                    *merged = xasprintf("%s/m", dir);

		if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 || mkdir(merged, 0755) < 0)
			return kl_error_set(err, errno, "making '%s'", dir);
		r = exec_overlay_mount(src, upper, work, merged, err);
		if (r < 0)
			return r;
		exec_step_add_host_mount(st, merged);
		free(src);
		src = TAKE_PTR(merged);
	} else if (!m->readonly) {
		/* one writable file: a copy of it */
		_cleanup_free_ char *copy = xasprintf("%s/file", dir);

		r = exec_copy_tree(src, copy, err);
		if (r < 0)
			return r;
		free(src);
		src = TAKE_PTR(copy);
	}
	sm = exec_step_add_mount(st, m->target, "bind", src);
	exec_spec_mount_option(sm, "rbind");
	if (m->readonly)
		exec_spec_mount_option(sm, "ro");
	return 0;
}

int
exec_mounts_prepare(struct exec_step *st, struct kl_error **err)
{
	const struct graph_exec *x = st->x;

	for (size_t i = 0; i < x->n_mounts; i++) {
		const struct graph_mount *m = &x->mounts[i];
		const char *kind = m->kind < _GRAPH_MOUNT_MAX ? kind_names[m->kind] : "?";
		int r;

		if (m->target && m->target[0] != '/')
			r = kl_error_setf(err, EINVAL, "target is not an absolute path");
		else if (!m->target && m->kind != GRAPH_MOUNT_SECRET && m->kind != GRAPH_MOUNT_SSH)
			r = kl_error_setf(err, EINVAL, "no target");
		else if (m->kind == GRAPH_MOUNT_BIND)
			r = exec_mount_bind(st, i, m, err);
		else if (m->kind == GRAPH_MOUNT_CACHE)
			r = exec_mount_cache(st, i, m, err);
		else if (m->kind == GRAPH_MOUNT_TMPFS)
			r = mount_tmpfs(st, m);
		else if (m->kind == GRAPH_MOUNT_SECRET)
			r = exec_mount_secret(st, i, m, err);
		else if (m->kind == GRAPH_MOUNT_SSH)
			r = exec_mount_ssh(st, i, m, err);
		else
			r = kl_error_setf(err, EINVAL, "unknown kind");
		if (r < 0) {
			kl_error_prefix(err, "mount %zu (%s%s%s)", i, kind, m->target ? " " : "",
			                m->target ? m->target : "");
			return r;
		}
	}
	return st->ssh ? exec_ssh_proxy_start(st->ssh, err) : 0;
}

void
exec_mounts_release(struct exec_step *st)
{
	if (st->ssh) {
		exec_ssh_proxy_stop(st->ssh);
		st->ssh = NULL;
	}
	for (size_t i = st->n_host_mounts; i-- > 0;) {
		if (exec_unmount(st->host_mounts[i]) < 0)
			kl_debug("exec: unmounting '%s': %s", st->host_mounts[i], strerror(errno));
		free(st->host_mounts[i]);
	}
	st->n_host_mounts = 0;
	for (size_t i = 0; i < st->n_locks; i++)
		close(st->locks[i]);
	st->n_locks = 0;
}
