// SPDX-License-Identifier: Apache-2.0
/* bench-exec: the cost of a `RUN true` step (exec_run) against the runtime's own `run` of a
 * prepared bundle plus one overlay mount, measured in the same run over the same lazy tree.
 *
 * usage: bench-exec STORE ROOTFS RUNTIME [N]
 * Imports ROOTFS into the store at STORE, serves the store's lazy filesystem from a thread (in a
 * mount namespace of its own), then alternates N times (default 30): one exec_run of
 * /bin/true, and one baseline iteration — fresh upper and work dirs, an overlay over the same
 * lazy view, `RUNTIME run` of a bundle whose config.json kiln wrote once (the same config a
 * step gets), the unmount. crun on a hybrid cgroup host runs its baseline from a child that
 * hid /sys/fs/cgroup/unified once, as a hand-run crun would have to. Prints the medians. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/lazyfs.h"
#include "fs/store.h"
#include "fs/tree-import.h"
#include "solver/exec-internal.h"
#include "solver/exec.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

static char *const envp[] = {"PATH=" EXEC_DEFAULT_PATH, NULL};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
die(const char *what, struct kl_error *err)
{
	fprintf(stderr, "bench-exec: %s: %s\n", what, err ? err->msg : strerror(errno));
	exit(1);
}

static void *
serve_main(void *arg)
{
	(void)lazyfs_serve(arg, NULL);
	return NULL;
}

/* The baseline's config: what kiln writes for the same step (the standard mounts, the files
 * it binds, seccomp, for crun compiled as a step gets it, capabilities). */
static void
write_bundle(struct store *st, const char *dir, const char *rootfs, const struct exec_runtime *rt)
{
	struct kl_error *err = NULL;
	char *bpf = NULL;
	static const char *const ro[] = {"nosuid", "noexec", "nodev", "rbind", "ro"};
	char *args[] = {"/bin/true"}, *env[] = {"PATH=" EXEC_DEFAULT_PATH, "HOME=/root"};
	struct exec_user user = {.home = "/root"};
	struct exec_spec_mount m[2] = {{.dest = "/etc/resolv.conf", .type = "bind"},
	                               {.dest = "/etc/hosts", .type = "bind"}};
	char *hosts = xasprintf("%s/hosts", dir), *resolv = xasprintf("%s/resolv.conf", dir);
	char *cfg = xasprintf("%s/config.json", dir), *json;
	int fd;

	for (int i = 0; i < 2; i++) {
		m[i].source = i ? hosts : resolv;
		for (int k = 0; k < 5; k++)
			m[i].options[m[i].n_options++] = (char *)ro[k];
		fd = open(m[i].source, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		(void)!write(fd, "# bench\n", 8);
		close(fd);
	}
	if (rt->kind == EXEC_RUNTIME_CRUN && exec_seccomp_bpf(st, &bpf, &err) < 0)
		die("compiling the seccomp profile", err);
	struct exec_spec s = {.rootfs = rootfs,
	                      .args = args,
	                      .n_args = 1,
	                      .env = env,
	                      .n_env = 2,
	                      .cwd = "/",
	                      .user = &user,
	                      .hostname = "kiln",
	                      .mounts = m,
	                      .n_mounts = 2,
	                      .kind = rt->kind,
	                      .cgroups_path = rt->kind == EXEC_RUNTIME_RUNC ? "kiln-bench" : NULL,
	                      .seccomp_bpf = bpf};
	json = exec_spec_json(&s);
	fd = open(cfg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || kl_io_write_all(fd, json, strlen(json)) < 0)
		die("writing the bundle", NULL);
	close(fd);
	free(json);
	free(bpf);
	free(cfg);
	free(hosts);
	free(resolv);
}

/* One baseline iteration: fresh upper and work, the overlay, `run`, the unmount. */
static double
baseline_once(const struct exec_runtime *rt, const char *base, const char *lower, int i)
{
	char *upper = xasprintf("%s/upper", base), *work = xasprintf("%s/work", base),
	     *merged = xasprintf("%s/rootfs", base), *bundle = xasprintf("%s/bundle", base),
	     *state = xasprintf("%s/state", base), *id = xasprintf("kiln-bench-%d", i);
	char *argv[12];
	int n = 0, status;
	double t0 = now_ms(), t;
	pid_t pid;

	argv[n++] = rt->path;
	argv[n++] = "--root";
	argv[n++] = state;
	if (rt->kind == EXEC_RUNTIME_CRUN)
		argv[n++] = "--cgroup-manager=disabled";
	argv[n++] = "run";
	argv[n++] = "--bundle";
	argv[n++] = bundle;
	argv[n++] = id;
	argv[n] = NULL;
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 ||
	    exec_overlay_mount(lower, upper, work, merged, NULL) < 0)
		die("mounting the baseline's overlay", NULL);
	if (posix_spawn(&pid, rt->path, NULL, NULL, argv, envp) != 0 ||
	    waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("the baseline's run", NULL);
	if (umount2(merged, 0) < 0)
		die("unmounting the baseline's overlay", NULL);
	t = now_ms() - t0;
	(void)kl_path_rm_rf_at(AT_FDCWD, upper);
	(void)kl_path_rm_rf_at(AT_FDCWD, work);
	free(upper), free(work), free(merged), free(bundle), free(state), free(id);
	return t;
}

/* Runs the baseline iterations in a child (crun on a hybrid host: one that hid the cgroup2
 * hierarchy first); each iteration waits for a byte on go and answers its time on done. */
static pid_t
start_baseline(const struct exec_runtime *rt, const char *base, const char *lower, int n, int go,
               int done)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	if (rt->hide_unified &&
	    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	     umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0))
		die("hiding the cgroup2 hierarchy", NULL);
	for (int i = 0; i < n; i++) {
		char c;
		double t;

		if (read(go, &c, 1) != 1)
			_exit(1);
		t = baseline_once(rt, base, lower, i);
		(void)!write(done, &t, sizeof(t));
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	struct kl_error *err = NULL;
	struct store *s = NULL;
	struct lazyfs *fs = NULL;
	struct lazyfs_options lo = {0};
	struct exec_runtime rt;
	struct digest root;
	pthread_t server;
	int n = argc > 4 ? atoi(argv[4]) : 30, go[2], done[2];
	char *mnt, *state, *base, *rootfs_dir, *lower, *bundle;
	double *tk, *tb;
	pid_t child;

	if (argc < 4) {
		fprintf(stderr, "usage: bench-exec STORE ROOTFS RUNTIME [N]\n");
		return 2;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("unsharing the mount namespace", NULL);
	if (store_open(argv[1], NULL, &s, &err) < 0 ||
	    tree_import_dir(s, argv[2], NULL, &root, &err) < 0 ||
	    exec_runtime_open(argv[3], &rt, &err) < 0)
		die("setting up", err);
	mnt = xasprintf("%s/bench-lazy", store_root(s));
	state = xasprintf("%s/bench-state", store_root(s));
	base = xasprintf("%s/bench-base", store_root(s));
	(void)kl_path_rm_rf_at(AT_FDCWD, state);
	(void)kl_path_rm_rf_at(AT_FDCWD, base);
	rootfs_dir = xasprintf("%s/rootfs", base);
	bundle = xasprintf("%s/bundle", base);
	if ((mkdir(mnt, 0755) < 0 && errno != EEXIST) || mkdir(state, 0700) < 0 ||
	    mkdir(base, 0700) < 0 || mkdir(rootfs_dir, 0755) < 0 || mkdir(bundle, 0700) < 0)
		die("making dirs", NULL);
	if (lazyfs_new(s, &lo, &fs, &err) < 0 || lazyfs_mount(fs, mnt, &err) < 0)
		die("mounting the lazy filesystem", err);
	pthread_create(&server, NULL, serve_main, fs);
	lower = exec_lazy_path(&(struct exec_env){.lazy_root = mnt}, &root);
	write_bundle(s, bundle, rootfs_dir, &rt);

	struct graph_vertex v = {.id = "bench", .kind = GRAPH_OP_EXEC};
	char *args[] = {"/bin/true"};
	v.exec.args = (struct graph_strv){args, 1};
	struct exec_env env = {
	    .store = s, .lazy_root = mnt, .state_dir = state, .runtime = argv[3], .cancel_fd = -1};
	struct exec_result res;

	if (pipe(go) < 0 || pipe(done) < 0)
		die("pipe", NULL);
	child = start_baseline(&rt, base, lower, n + 2, go[0], done[1]);
	tk = xcalloc((size_t)n, sizeof(*tk));
	tb = xcalloc((size_t)n, sizeof(*tb));
	for (int i = -2; i < n; i++) { /* two warm-up rounds */
		double t0 = now_ms(), t;

		if (exec_run(&env, &v, &root, NULL, &res, &err) < 0)
			die("exec_run", err);
		t = now_ms() - t0;
		if (write(go[1], "x", 1) != 1 ||
		    read(done[0], &tb[i < 0 ? 0 : i], sizeof(double)) != sizeof(double))
			die("the baseline child", NULL);
		if (i >= 0)
			tk[i] = t;
	}
	waitpid(child, NULL, 0);
	printf("%s\tRUN true %.2f ms\tbaseline %.2f ms\tratio %.2f\n", argv[3], median(tk, n),
	       median(tb, n), median(tk, n) / median(tb, n));
	(void)umount2(mnt, MNT_DETACH); /* the server's loop ends when the kernel lets go */
	pthread_join(server, NULL);
	lazyfs_free(fs);
	(void)rmdir(mnt);
	(void)kl_path_rm_rf_at(AT_FDCWD, state);
	(void)kl_path_rm_rf_at(AT_FDCWD, base);
	store_unref(s);
	return 0;
}
