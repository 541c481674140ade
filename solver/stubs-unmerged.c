// SPDX-License-Identifier: Apache-2.0
/* TEMPORARY: stand-ins for the fileop and exec modules until their branches are merged. */
#include <errno.h>

#include "solver/exec.h"
#include "solver/fileop.h"
#include "util/error.h"

int
fileop_apply(const struct fileop_env *env, const struct graph_file *op, const struct tree *base,
             const struct tree *const *inputs, size_t n_inputs, struct digest *ret,
             struct kl_error **err)
{
	(void)env, (void)op, (void)base, (void)inputs, (void)n_inputs, (void)ret;
	return kl_error_setf(err, ENOSYS, "file ops are not merged yet");
}

int
fileop_selection_key(const struct graph_file_action *a, const struct tree *src, struct digest *ret,
                     struct kl_error **err)
{
	(void)a, (void)src, (void)ret;
	return kl_error_setf(err, ENOSYS, "file ops are not merged yet");
}

int
fileop_merge(const struct fileop_env *env, const struct tree *const *trees, size_t n,
             struct digest *ret, struct kl_error **err)
{
	(void)env, (void)trees, (void)n, (void)ret;
	return kl_error_setf(err, ENOSYS, "merge is not merged yet");
}

int
fileop_diff(const struct fileop_env *env, const struct tree *lower, const struct tree *upper,
            struct digest *ret, struct kl_error **err)
{
	(void)env, (void)lower, (void)upper, (void)ret;
	return kl_error_setf(err, ENOSYS, "diff is not merged yet");
}

int
exec_runtime_find(const char *name, char **ret_path, struct kl_error **err)
{
	(void)name, (void)ret_path;
	return kl_error_setf(err, ENOSYS, "exec is not merged yet");
}

int
exec_run(const struct exec_env *env, const struct graph_vertex *v, const struct digest *root,
         const struct digest *const *mount_inputs, struct exec_result *ret, struct kl_error **err)
{
	(void)env, (void)v, (void)root, (void)mount_inputs, (void)ret;
	return kl_error_setf(err, ENOSYS, "exec is not merged yet");
}
