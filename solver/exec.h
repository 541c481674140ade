/* exec — one RUN step: the input tree mounted through the build's lazy filesystem as the lower
 * dir of an overlay whose upper and work dirs sit in the store's filesystem, the step's mounts
 * (bind, cache, tmpfs, secret, ssh) prepared, an OCI bundle written (namespaces, /proc, /dev,
 * /sys read-only, /etc/hosts, resolv.conf, hostname, Docker's default capabilities, kiln's
 * default seccomp profile, rlimits within the host's hard limits), the OCI runtime (crun or
 * runc, run as a program) started and waited for, and the upper dir turned into a diff tree:
 * overlay whiteouts and opaque dirs become tree whiteouts, files move into the store by rename,
 * mount points that exist only for the step leave no trace.
 *
 * Thread-safe: steps may run concurrently, each with its own exec_env call. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "fs/digest.h"

struct graph_vertex;
struct kl_error;
struct provider_set;
struct solve_secret;
struct solve_ssh;
struct store;

struct exec_env {
	struct store *store;
	struct provider_set *providers;
	/* The build's lazy filesystem in store mode: tree T is at <lazy_root>/<T as sha256:hex>. */
	const char *lazy_root;
	/* Where the build keeps per-step state (bundles, upper and work dirs) inside the store's
	 * filesystem; the solver makes it and removes it when the build ends. */
	const char *state_dir;
	const char *runtime; /* "crun", "runc" or a path (see exec_runtime_find) */
	const struct solve_secret *secrets;
	size_t n_secrets;
	const struct solve_ssh *ssh;
	size_t n_ssh;
	bool allow_insecure;
	int cancel_fd; /* readable: kill the step, clean up, return -ECANCELED; -1: none */
	/* The step's output as it comes (stream 1 stdout, 2 stderr); may be NULL. Called from the
	 * thread running exec_run. */
	void (*log)(void *userdata, int stream, const char *data, size_t len);
	void *log_userdata;
};

struct exec_result {
	struct digest tree; /* the root after the step: input + diff */
	struct digest diff; /* what the step changed, as a diff tree (empty for a no-op step) */
	int exit_code;      /* the command's exit status (128+N for signal N) */
	bool has_failed_tree;
	struct digest failed_tree; /* a failing step: its input plus what it wrote */
};

/* Finds the runtime: name or path → an absolute path; "crun" falling back to "runc" when name
 * is NULL. -ENOENT with a message naming what was looked for. */
int exec_runtime_find(const char *name, char **ret_path, struct kl_error **err);

/* Runs v (an exec vertex) over root, the tree of v->inputs[0] (NULL: the empty tree), with
 * mount_inputs[i] the tree of the input of v->exec.mounts[i] (NULL when it has none). Fills ret
 * and returns 0 when the command exits 0. A command exiting non-zero returns -ECHILD with a
 * message naming the command, the exit code and the last lines of its output, ret->exit_code
 * and ret->failed_tree set. -ECANCELED when cancelled; -EPERM with a message saying why when
 * the runtime cannot run here or security=insecure was not allowed. */
int exec_run(const struct exec_env *env, const struct graph_vertex *v, const struct digest *root,
             const struct digest *const *mount_inputs, struct exec_result *ret,
             struct kl_error **err);
