// SPDX-License-Identifier: Apache-2.0
/* TEMPORARY: stand-ins for the exec module until its branch is merged. */
#include <errno.h>

#include "solver/exec.h"
#include "util/error.h"

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
