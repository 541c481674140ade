/* exec — one RUN step: the input tree mounted through the build's lazy filesystem as the lower
 * dir of an overlay whose upper and work dirs sit in the store's filesystem, the step's mounts
 * (bind, cache, tmpfs, secret, ssh) prepared, an OCI bundle written (namespaces, /proc, /dev,
 * /sys read-only, /etc/hosts, resolv.conf, hostname, Docker's default capabilities, kiln's
 * default seccomp profile, rlimits within the host's hard limits), the OCI runtime (crun or
 * runc, run as a program) started and waited for, and the upper dir turned into a diff tree:
 * overlay whiteouts and opaque dirs become tree whiteouts, files move into the store by rename,
 * mount points that exist only for the step leave no trace.
 *
 * Thread-safe: steps may run concurrently, each with its own exec_env call. exec_run waits for
 * the runtime processes it starts (SIGCHLD must not be ignored) and, for crun on a host that
 * mixes cgroup v1 and v2 controllers, starts it from a thread of its own in a private mount
 * namespace without /sys/fs/cgroup/unified. The calling process's mount namespace should be
 * private (solve_run makes it so): the step's overlays and binds are made there. */
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
	 * filesystem; the solver makes it and removes it when the build ends. Each step's own
	 * dir is removed when exec_run returns; what the steps share (the hosts and resolv.conf
	 * files, the runtime's state dir "runtime") stays until then. */
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
 * is NULL. Names are looked up in Docker's default PATH (/usr/local/sbin … /bin): no library
 * code reads the environment. -ENOENT with a message naming what was looked for. */
int exec_runtime_find(const char *name, char **ret_path, struct kl_error **err);

/* Kills what a build that died mid-step left running, given its state dir (the dead build's
 * exec_env.state_dir, wherever it was moved): each step's container (its init, found by the
 * pid file the runtime wrote and checked to be that process still; its pid namespace goes with
 * it), the runtime process that waited for it, and the runtime's state of the container where
 * it was kept on disk (`delete -f`; a step with secrets kept it in a tmpfs that is gone).
 * Waits a few seconds at most for them to exit. Best effort: what fails is logged at debug
 * level. */
void exec_reap_dead(const char *state_dir);

/* Runs v (an exec vertex) over root, the tree of v->inputs[0] (NULL: the empty tree), with
 * mount_inputs[i] the tree of the input of v->exec.mounts[i] (NULL when it has none; the
 * array may be NULL when no mount has an input). Fills ret and returns 0 when the command
 * exits 0; ret->diff and ret->tree are in the store (ret->tree is root itself when the step
 * changed nothing). A command exiting non-zero, or one the runtime could not start (a missing
 * executable), returns -ECHILD with a message naming the command, the exit code and the last
 * lines of its output, ret->exit_code, ret->diff and ret->failed_tree set (the step's input
 * plus what it wrote, in the store; nothing is cached). -ECANCELED when cancelled (the
 * container killed, everything of the step removed); -EPERM with a message saying why when
 * the runtime cannot run containers here or security=insecure was not allowed; a missing
 * required secret or ssh agent is -ENOENT naming it. */
int exec_run(const struct exec_env *env, const struct graph_vertex *v, const struct digest *root,
             const struct digest *const *mount_inputs, struct exec_result *ret,
             struct kl_error **err);
