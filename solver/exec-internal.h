/* exec-internal — what the files of a RUN step share: the step being run, the OCI runtime, the
 * config generator, users, the files kiln provides (/etc/hosts, resolv.conf), the step's
 * mounts and the upper dir's conversion into a diff tree. Not thread-safe: one step per
 * struct exec_step, steps themselves may run in parallel. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "solver/exec.h"
#include "solver/graph.h"

struct kl_error;
struct store;
struct tree;
struct tree_builder;
struct exec_ssh_proxy;

/* Docker's PATH for a step whose environment has none. */
#define EXEC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define EXEC_DEFAULT_HOSTNAME "kiln"
#define EXEC_ID_SIZE 22 /* "kiln-" + 16 hex + NUL */
#define EXEC_TAIL_LINES 10

/* The runtime. */

enum exec_runtime_kind { EXEC_RUNTIME_CRUN, EXEC_RUNTIME_RUNC, _EXEC_RUNTIME_MAX };

struct exec_runtime {
	char *path;
	/* crun, or runc and every runtime that speaks runc's command line */
	enum exec_runtime_kind kind;
	/* crun on a host with cgroup v1 controllers and a cgroup2 hierarchy with controllers at
	 * /sys/fs/cgroup/unified ("hybrid"), which it refuses: it runs in a mount namespace of
	 * its own where that hierarchy is unmounted, so it sees a plain v1 host. */
	bool hide_unified;
};

/* Finds the runtime (exec_runtime_find) and how it must be run on this host. */
int exec_runtime_open(const char *name, struct exec_runtime *ret, struct kl_error **err);
void exec_runtime_done(struct exec_runtime *rt);

/* The last bytes of a step's output, for the message of a failing step. */
struct exec_tail {
	char buf[8192];
	size_t len; /* bytes held, the newest at the end */
	bool cut;   /* older output was dropped */
};
void exec_tail_append(struct exec_tail *t, const char *data, size_t n);
/* The last n lines held (without a final newline), each prefixed with "  "; a new string. */
char *exec_tail_lines(const struct exec_tail *t, unsigned n);

/* How a run ended. */
struct exec_outcome {
	int exit_code;       /* the command's status, 128+N for signal N */
	bool cancelled;      /* env->cancel_fd became readable: the container was killed */
	char *runtime_error; /* the runtime's own error message (its log), when it gave one */
};
void exec_outcome_done(struct exec_outcome *o);

/* What a step's dir (on disk, also for a step with secrets) tells the next kiln when this one
 * dies mid-step (exec_reap_dead): the container's init pid, written by the runtime, and the
 * record of the runtime process: EXEC_REAP_MAGIC, its pid and the runtime's path, a line each. */
#define EXEC_REAP_PID_FILE "pid"
#define EXEC_REAP_RECORD "runtime"
#define EXEC_REAP_MAGIC "kiln-runtime-1"
/* The runtime's state dir of the build's steps that have no secrets, in the state dir. */
#define EXEC_RUNTIME_STATE "runtime"

/* Runs the bundle's container (id) to its end: its stdout and stderr streamed to env->log and
 * into tail, env->cancel_fd watched (then: kill, wait, delete), the runtime's state kept in
 * state_root and its log in log_path, the container's pid file and the runtime's record in
 * step_dir (EXEC_REAP_*). Whatever is left of the container is deleted. Returns 0 with *ret
 * filled however the command ended, -errno when the runtime could not be started or waited
 * for. */
int exec_runtime_run(const struct exec_runtime *rt, const char *state_root, const char *log_path,
                     const char *bundle, const char *step_dir, const char *id,
                     const struct exec_env *env, struct exec_tail *tail, struct exec_outcome *ret,
                     struct kl_error **err);
/* `delete -f id` in state_root, run to its end, unless state_root has no state of id. */
void exec_runtime_delete(const struct exec_runtime *rt, const char *state_root, const char *id);

/* Users. */

struct exec_user {
	uint32_t uid, gid;
	uint32_t *groups; /* supplementary groups */
	size_t n_groups;
	char *home; /* from /etc/passwd; "/" when the user has no entry */
};
void exec_user_done(struct exec_user *u);
/* Resolves "user[:group]" (NULL or "": root) as BuildKit does: "uid:gid" in numbers is taken
 * as is; otherwise the user is looked up in passwd (by name, or by number, a number without
 * an entry being that uid with gid 0), the group in group (by name or number, a number
 * without an entry being that gid), and without a group the user's primary group plus, as
 * supplementary groups, every group that lists the user's name. passwd and group are the
 * files' contents (NULL: no such file). -EINVAL naming the user or group when a name is
 * missing from its file. */
int exec_user_parse(const char *spec, const char *passwd, size_t passwd_len, const char *group,
                    size_t group_len, struct exec_user *ret, struct kl_error **err);
/* exec_user_parse with /etc/passwd and /etc/group read from the rootfs at root_fd (symlinks
 * resolved inside it). */
int exec_user_resolve(int root_fd, const char *spec, struct exec_user *ret, struct kl_error **err);

/* Files kiln provides. */

/* /etc/hosts as BuildKit writes it: localhost and the hostname, then "IP\tHOST" for each
 * "HOST=IP" of extra (-EINVAL naming a malformed one). A new string. */
int exec_hosts_file(const char *hostname, const struct graph_strv *extra, char **ret,
                    struct kl_error **err);
/* resolv.conf for a step from the host's (host, len bytes; NULL: none). With the host's
 * network it is kept as it is; otherwise nameservers on loopback (127.0.0.0/8, ::1), which
 * the step cannot reach, are dropped, and when none is left Google's public servers are
 * given, as Docker and BuildKit do. A new string. */
char *exec_resolv_conf(const char *host, size_t len, bool host_network);

/* The OCI config. */

struct exec_spec_mount {
	char *dest;
	char *type; /* "bind", "tmpfs" */
	char *source;
	char *options[8];
	size_t n_options;
};

struct exec_spec {
	const char *rootfs; /* absolute */
	char *const *args;
	size_t n_args;
	char *const *env;
	size_t n_env;
	const char *cwd;
	const struct exec_user *user;
	const char *hostname;
	bool network_none;
	bool insecure; /* all the host's capabilities, no seccomp, /sys and cgroups writable */
	const struct exec_spec_mount *mounts; /* over the standard ones, in order */
	size_t n_mounts;
	enum exec_runtime_kind kind;
	const char *cgroups_path; /* NULL: none (the runtime's default) */
	/* the profile compiled (exec_seccomp_bpf), for crun's run.oci.seccomp_bpf_data
	 * annotation; NULL: the runtime compiles the config's profile itself */
	const char *seccomp_bpf;
};
/* The config.json text of s; a new string. */
char *exec_spec_json(const struct exec_spec *s);
/* kiln's default seccomp profile in the OCI form (a json_t * as void *, a new reference). */
void *exec_seccomp_profile(void);
/* That profile as the kernel's filter program, base64 (a new string in *ret): compiled with
 * libseccomp once per store and kept in <root>/seccomp/. */
int exec_seccomp_bpf(struct store *s, char **ret, struct kl_error **err);
/* Docker's default capability set, NULL-terminated. */
extern const char *const exec_default_caps[];

/* Paths in a tree. */

/* Resolves the absolute container path path in t as a runtime does inside a rootfs: ".." and
 * symlinks of t followed without leaving the root. *ret is the clean relative path it lands
 * on ("" for the root; caller frees); *ret_exists whether t has it. t may be NULL (scratch).
 * -ELOOP past 40 links. */
int exec_tree_resolve(const struct tree *t, const char *path, char **ret, bool *ret_exists);
/* Cleans an absolute path lexically ("/a/../b/" → "/b"); a new string. */
char *exec_path_clean(const char *path);

/* The step. */

struct exec_step {
	const struct exec_env *env;
	const struct graph_vertex *v;
	const struct graph_exec *x;
	const struct digest *const *mount_inputs;
	struct tree *root; /* the input tree; NULL: scratch */
	struct digest root_id;
	char id[EXEC_ID_SIZE]; /* the container's id and the name of the step's dir */
	char *dir;             /* <state_dir>/<id> */
	char *tmp; /* <dir>/tmp: bundle, runtime state, kiln's files; a tmpfs with secrets */
	char *rootfs, *upper, *work, *lower_empty;
	bool tmp_mounted, rootfs_mounted;
	struct exec_user user;
	/* filled by the mounts */
	struct exec_spec_mount *mounts;
	size_t n_mounts, cap_mounts;
	char **env_add; /* "K=V" given to the command besides its own */
	size_t n_env_add, cap_env_add;
	char **host_mounts; /* made on kiln's side for the step: unmounted in reverse */
	size_t n_host_mounts, cap_host_mounts;
	int *locks; /* cache locks held while the step runs */
	size_t n_locks, cap_locks;
	struct exec_ssh_proxy *ssh;
	unsigned n_ssh_mounts;
};

/* Appends a mount for the config; takes ownership of nothing (copies). */
struct exec_spec_mount *exec_step_add_mount(struct exec_step *st, const char *dest,
                                            const char *type, const char *source);
void exec_spec_mount_option(struct exec_spec_mount *m, const char *opt);
void exec_step_add_env(struct exec_step *st, const char *name, const void *value, size_t len);
/* Records a mount kiln made at path (a copy), to be removed when the step ends. */
void exec_step_add_host_mount(struct exec_step *st, const char *path);
/* Makes the step's tmp dir (st->tmp) unless it has one: secret files, ssh sockets. It is a
 * tmpfs when the step has secret mounts. */
int exec_step_tmp(struct exec_step *st, struct kl_error **err);
/* A new directory <dir>/<name> of the step; returns its path. */
int exec_step_mkdir(struct exec_step *st, const char *name, char **ret, struct kl_error **err);

/* Mounts an overlay at merged with one lower dir; upper and work must exist (work empty). */
int exec_overlay_mount(const char *lower, const char *upper, const char *work, const char *merged,
                       struct kl_error **err);
/* Makes the directory path (absolute, in the container) and its missing parents inside the
 * rootfs at root_fd, symlinks resolved inside it, each new one owned by uid:gid, mode 0755. */
int exec_rootfs_mkdir_p(int root_fd, const char *path, uint32_t uid, uint32_t gid,
                        struct kl_error **err);
/* Unmounts path, detaching it when it is still busy; -errno. A plain unmount is cheaper:
 * a detach waits for an RCU grace period. */
int exec_unmount(const char *path);
/* The lazy view of tree id: <lazy_root>/sha256:<hex>; a new string. */
char *exec_lazy_path(const struct exec_env *env, const struct digest *id);

/* Prepares every mount of the step (bind, cache, tmpfs, secret, ssh) into st's mounts, env and
 * held resources. Errors name the mount ("mount 2 (cache /root/.cache): …"). */
int exec_mounts_prepare(struct exec_step *st, struct kl_error **err);
/* Releases what the mounts hold: proxies stopped, host mounts removed, locks dropped. */
void exec_mounts_release(struct exec_step *st);
int exec_mount_cache(struct exec_step *st, size_t i, const struct graph_mount *m,
                     struct kl_error **err);
int exec_mount_secret(struct exec_step *st, size_t i, const struct graph_mount *m,
                      struct kl_error **err);
int exec_mount_ssh(struct exec_step *st, size_t i, const struct graph_mount *m,
                   struct kl_error **err);
/* Starts forwarding the ssh mounts' sockets (once all of them are made); stop frees p. */
int exec_ssh_proxy_start(struct exec_ssh_proxy *p, struct kl_error **err);
void exec_ssh_proxy_stop(struct exec_ssh_proxy *p);

/* Cache mounts' dirs (exec-cache.h has the layout). */

/* What a new cache instance starts as. */
struct exec_cache_new {
	const char *seed; /* a dir (the lazy view of an input) copied into it; NULL: empty */
	uint32_t mode, uid, gid;
};
/* The dir of cache id in s; a new string. */
char *exec_cache_path(struct store *s, const char *id);
/* Opens (with create, making) the dir of cache id in s. */
int exec_cache_open(struct store *s, const char *id, bool create, int *ret_fd,
                    struct kl_error **err);
/* Takes the lock of instance (flock op: LOCK_SH or LOCK_EX, with LOCK_NB -EWOULDBLOCK when
 * held, err untouched); without LOCK_NB waits, -ECANCELED when cancel_fd becomes readable. */
int exec_cache_lock(int dir_fd, unsigned instance, int op, int cancel_fd, int *ret_fd,
                    struct kl_error **err);
/* Makes instance (its dir "<instance>") unless it exists, as n says; *ret_created tells. */
int exec_cache_instance(int dir_fd, unsigned instance, const struct exec_cache_new *n,
                        bool *ret_created, struct kl_error **err);

/* Copies the directory src (through the lazy view) into the empty directory dst: files,
 * links, devices, modes, owners, xattrs and times. */
int exec_copy_tree(const char *src, const char *dst, struct kl_error **err);

/* The upper dir as a diff tree written to the store: overlay whiteouts and opaque dirs become
 * tree whiteouts and opaque dirs, file contents move into the store, and the mount points the
 * runtime made for the step's mounts (targets[0..n), absolute container paths) leave no
 * trace when the input did not have them. *ret_empty says the step changed nothing. */
int exec_upper_diff(struct exec_step *st, char *const *targets, size_t n_targets,
                    struct digest *ret, bool *ret_empty, struct kl_error **err);
