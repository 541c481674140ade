// SPDX-License-Identifier: Apache-2.0
/* A build's resources: its state dir under <root>/builds (locked while it lives, so the next
 * kiln removes what a crashed one left), a private mount namespace, the lazy filesystem served
 * by a thread, and their teardown. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "fs/lazyfs.h"
#include "fs/mountpoint.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "fs/uring.h"
#include "solver/exec.h"
#include "solver/solve-internal.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/path.h"
#include "util/xalloc.h"

#define BUILDS_DIR "builds"
#define LAZY_STOP_WAIT_SEC 5

/* Detaches every mount at or below dir, the last mounted first (mounts on top of others come
 * later in the table), so removing dir never reaches through a mount into what it shows. A
 * dead build's mounts are dead ones (their server exited): mountpoint_clear_stale's case. */
static void
detach_mounts_under(const char *dir, bool dead)
{
	_cleanup_(mountpoint_table_freep) struct mountpoint_table *t = NULL;
	_cleanup_free_ char *real = realpath(dir, NULL);
	struct kl_error *e = NULL;
	size_t dl;

	if (!real || mountpoint_table_load(/* path= */ NULL, &t, &e) < 0) {
		kl_debug("build: the mounts under '%s': %s", dir, e ? e->msg : strerror(errno));
		kl_error_free(e);
		return;
	}
	dl = strlen(real);
	for (size_t i = mountpoint_table_count(t); i-- > 0;) {
		const struct mountpoint_entry *m = mountpoint_table_entry(t, i);
		int r = 0;

		if (strncmp(m->path, real, dl) != 0 || (m->path[dl] != '/' && m->path[dl] != '\0'))
			continue;
		if (dead)
			r = mountpoint_clear_stale(m->path, &e);
		if (r == 0)
			r = mountpoint_unmount(m->path, MOUNTPOINT_DETACH, &e);
		if (r < 0 && r != -EINVAL) /* EINVAL: gone with the one below it */
			kl_debug("build: %s", e ? e->msg : strerror(-r));
		kl_error_free(e);
		e = NULL;
	}
}

/* Removes a state dir: its mounts first, then its files. */
static void
remove_build_dir(int dir_fd, const char *path, const char *name, bool dead)
{
	detach_mounts_under(path, dead);
	if (kl_path_rm_rf_at(dir_fd, name) < 0)
		kl_debug("build: removing '%s': %s", path, strerror(errno));
}

/* A state dir whose lock nobody holds belongs to a kiln that died: the containers its steps
 * left running are killed (exec_reap_dead), then it is renamed away and removed. */
static void
clean_stale(int builds_fd, const char *builds)
{
	DIR *d;
	struct dirent *de;
	char **dead = NULL;
	size_t n = 0;

	d = fdopendir(dup(builds_fd));
	if (!d)
		return;
	while ((de = readdir(d))) {
		_cleanup_free_ char *lock = NULL, *to = NULL, *exec = NULL;
		_cleanup_close_ int fd = -1;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "lock"))
			continue;
		if (len > 5 && !strcmp(de->d_name + len - 5, ".dead")) {
			dead = xrealloc(dead, (n + 1) * sizeof(*dead));
			dead[n++] = xstrdup(de->d_name);
			continue;
		}
		lock = xasprintf("%s/lock", de->d_name);
		fd = openat(builds_fd, lock, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue; /* alive */
		/* its steps' containers first, where the runtimes that wait for them know it:
		 * they hold its overlays, run its commands and write their state there */
		exec = xasprintf("%s/%s/exec", builds, de->d_name);
		exec_reap_dead(exec);
		to = xasprintf("%s.dead", de->d_name);
		if (renameat(builds_fd, de->d_name, builds_fd, to) == 0) {
			kl_log(KL_LOG_INFO, "removing '%s/%s', left by a build that died", builds,
			       de->d_name);
			dead = xrealloc(dead, (n + 1) * sizeof(*dead));
			dead[n++] = TAKE_PTR(to);
		}
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", builds, dead[i]);

		remove_build_dir(builds_fd, p, dead[i], /* dead= */ true);
		free(dead[i]);
	}
	free(dead);
}

/* Makes <builds>/<pid>-<random> and locks it; under the builds lock, so a cleaner never sees
 * it before its lock is held. */
static int
make_build_dir(struct solve *sv, int builds_fd, const char *builds, struct kl_error **err)
{
	_cleanup_close_ int all = -1, fd = -1;
	_cleanup_free_ char *name = NULL, *lock = NULL;
	uint8_t rnd[8];
	char hex[17], pid[32];

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return kl_error_set(err, errno, "getrandom");
	kl_hex_encode(rnd, sizeof(rnd), hex);
	name = xasprintf("%d-%s", (int)getpid(), hex);
	all = openat(builds_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (all < 0 || flock(all, LOCK_EX) < 0)
		return kl_error_set(err, errno, "locking '%s/lock'", builds);
	clean_stale(builds_fd, builds);
	if (mkdirat(builds_fd, name, 0700) < 0)
		return kl_error_set(err, errno, "creating '%s/%s'", builds, name);
	lock = xasprintf("%s/lock", name);
	fd = openat(builds_fd, lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		return kl_error_set(err, errno, "locking '%s/%s'", builds, lock);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	(void)!write(fd, pid, strlen(pid));
	sv->build_dir = xasprintf("%s/%s", builds, name);
	sv->build_lock_fd = TAKE_FD(fd);
	return 0;
}

static struct provider_set *
new_providers(struct solve *sv)
{
	struct provider_set *ps = provider_set_new_default(sv->store, /* local_root= */ NULL);

	source_add_providers(ps, sv->store, sv->opts->sources);
	return ps;
}

int
solve_build_begin(struct solve *sv, struct kl_error **err)
{
	_cleanup_free_ char *builds = kl_path_join(store_root(sv->store), BUILDS_DIR);
	_cleanup_close_ int builds_fd = -1;
	int r;

	if (mkdir(builds, 0700) < 0 && errno != EEXIST)
		return kl_error_set(err, errno, "creating '%s'", builds);
	builds_fd = open(builds, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (builds_fd < 0)
		return kl_error_set(err, errno, "opening '%s'", builds);
	/* a build's steps make their files in its own dir: away from those the last one freed */
	kl_path_spread_subdirs(builds_fd);
	r = make_build_dir(sv, builds_fd, builds, err);
	if (r < 0)
		return r;
	sv->exec_dir = kl_path_join(sv->build_dir, "exec");
	if (mkdir(sv->exec_dir, 0700) < 0)
		return kl_error_set(err, errno, "creating '%s'", sv->exec_dir);
	sv->providers = new_providers(sv);
	sv->rings = uring_pool_new();
	return 0;
}

static void *
serve_lazy(void *arg)
{
	struct solve *sv = arg;
	struct kl_error *e = NULL;

	if (lazyfs_serve(sv->lazy, &e) < 0)
		kl_warn("the build's lazy filesystem: %s", e ? e->msg : "failed");
	kl_error_free(e);
	return NULL;
}

int
solve_build_mount(struct solve *sv, struct kl_error **err)
{
	_cleanup_free_ char *lazy = kl_path_join(sv->build_dir, "lazy");
	struct lazyfs_options o = {0};
	int r;

	r = exec_runtime_find(sv->opts->runtime, &sv->runtime, err);
	if (r < 0)
		return r;
	/* Every mount of the build lives in a namespace of its own: gone with the process. The
	 * workers and the server start after this, in it. */
	if (unshare(CLONE_NEWNS) < 0)
		return kl_error_set(err, errno,
		                    "making a private mount namespace for exec steps (needs root)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return kl_error_set(err, errno, "making the mounts of the build private");
	/* the store's fds name the old namespace's mounts: a step's upper dir is moved into it */
	r = store_reopen(sv->store, err);
	if (r < 0)
		return r;
	if (mkdir(lazy, 0700) < 0)
		return kl_error_set(err, errno, "creating '%s'", lazy);
	o.providers = new_providers(sv); /* owned by the lazyfs from here */
	o.passthrough = sv->opts->lazy_passthrough;
	r = lazyfs_new(sv->store, &o, &sv->lazy, err);
	if (r >= 0)
		r = lazyfs_mount(sv->lazy, lazy, err);
	if (r < 0)
		return r;
	sv->lazy_root = TAKE_PTR(lazy);
	kl_debug("build: lazy filesystem mounted at '%s' in a private mount namespace",
	         sv->lazy_root);
	r = pthread_create(&sv->lazy_thread, NULL, serve_lazy, sv);
	if (r != 0)
		return kl_error_set(err, r, "starting the lazy filesystem's thread");
	sv->lazy_running = true;
	return 0;
}

/* The server ends once its mount is gone and the kernel dropped the connection; a mount still
 * held somewhere (a step's process that outlived its runtime) keeps it, so the connection is
 * aborted then. */
static void
stop_lazy(struct solve *sv)
{
	struct kl_error *e = NULL;
	struct timespec until;
	struct stat st;
	bool have_dev = stat(sv->lazy_root, &st) == 0;

	if (mountpoint_unmount(sv->lazy_root, MOUNTPOINT_DETACH, &e) < 0) {
		kl_debug("build: %s", e->msg);
		kl_error_free(e);
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += LAZY_STOP_WAIT_SEC;
	if (pthread_timedjoin_np(sv->lazy_thread, NULL, &until) == 0)
		return;
	if (have_dev) {
		_cleanup_free_ char *abort_path =
		    xasprintf("/sys/fs/fuse/connections/%u/abort", minor(st.st_dev));
		_cleanup_close_ int fd = open(abort_path, O_WRONLY | O_CLOEXEC);

		kl_debug("build: aborting the lazy filesystem's connection");
		if (fd >= 0)
			(void)!write(fd, "1", 1);
	}
	pthread_join(sv->lazy_thread, NULL);
}

void
solve_build_end(struct solve *sv)
{
	if (sv->lazy_running)
		stop_lazy(sv);
	sv->lazy_running = false;
	if (sv->lazy) {
		struct lazyfs_stats st;

		lazyfs_get_stats(sv->lazy, &st);
		kl_debug("build: lazy filesystem: %llu reads served, %llu opens passed through, "
		         "%llu contents fetched, %llu files pushed into the page cache",
		         (unsigned long long)st.reads, (unsigned long long)st.passthrough,
		         (unsigned long long)st.fetched, (unsigned long long)st.warmed);
	}
	sv->lazy = lazyfs_free(sv->lazy);
	sv->providers = provider_set_free(sv->providers);
	sv->rings = uring_pool_free(sv->rings);
	if (sv->build_dir) {
		_cleanup_free_ char *parent = xstrdup(sv->build_dir);
		char *slash = strrchr(parent, '/');
		_cleanup_close_ int fd = -1;

		*slash = '\0';
		fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			remove_build_dir(fd, sv->build_dir, slash + 1, /* dead= */ false);
	}
	if (sv->build_lock_fd >= 0)
		close(sv->build_lock_fd);
	sv->build_lock_fd = -1;
	free(sv->build_dir);
	free(sv->lazy_root);
	free(sv->exec_dir);
	free(sv->runtime);
	sv->build_dir = sv->lazy_root = sv->exec_dir = sv->runtime = NULL;
}
