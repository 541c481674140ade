// SPDX-License-Identifier: Apache-2.0
/* type=secret: the value, held in memory, written only to the step's private tmpfs (outside
 * the store's files, gone when the step ends) and bound read-only at the target, or given as
 * a variable; never logged, never in a tree or a key. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "solver/exec-internal.h"
#include "solver/solve.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

static const struct solve_secret *
find_secret(const struct exec_env *env, const char *id)
{
	for (size_t i = 0; i < env->n_secrets; i++)
		if (!strcmp(env->secrets[i].id, id))
			return &env->secrets[i];
	return NULL;
}

int
exec_mount_secret(struct exec_step *st, size_t i, const struct graph_mount *m,
                  struct kl_error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/secrets", st->tmp), *file = NULL, *target = NULL;
	const struct solve_secret *sec;
	struct exec_spec_mount *sm;
	_cleanup_close_ int fd = -1;
	int r;

	if (!m->id || !*m->id)
		return kl_error_setf(err, EINVAL, "a secret mount needs an id");
	sec = find_secret(st->env, m->id);
	if (!sec && m->required)
		return kl_error_setf(err, ENOENT, "secret '%s' is required but was not given",
		                     m->id);
	if (!sec)
		return 0; /* optional and absent: no mount, no variable */
	if (m->env)
		exec_step_add_env(st, m->env, sec->value, sec->len);
	if (!m->target && m->env)
		return 0; /* only the variable */
	target = m->target ? xstrdup(m->target) : xasprintf("/run/secrets/%s", m->id);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return kl_error_set(err, errno, "making '%s'", dir);
	file = xasprintf("%s/%zu", dir, i);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return kl_error_set(err, errno, "creating the file of secret '%s'", m->id);
	r = kl_io_write_all(fd, sec->value, sec->len);
	if (r < 0)
		return kl_error_set(err, -r, "writing the file of secret '%s'", m->id);
	if (fchown(fd, m->uid, m->gid) < 0 || fchmod(fd, m->has_mode ? m->mode & 07777 : 0400) < 0)
		return kl_error_set(err, errno, "setting the owner of secret '%s'", m->id);
	sm = exec_step_add_mount(st, target, "bind", file);
	exec_spec_mount_option(sm, "rbind");
	exec_spec_mount_option(sm, "ro");
	exec_spec_mount_option(sm, "nosuid");
	exec_spec_mount_option(sm, "nodev");
	exec_spec_mount_option(sm, "noexec");
	return 0;
}
