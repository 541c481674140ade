// SPDX-License-Identifier: Apache-2.0
/* Cache mounts' dirs in the store: their layout, the instance locks (flock, waited for through
 * inotify so a cancel is seen), new instances, the list and snapshots. */
#include "solver/exec-cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree-import.h"
#include "solver/exec-internal.h"
#include "solver/lock-wait.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

#define ID_MAX 4096 /* bytes of a cache id */

char *
exec_cache_path(struct store *s, const char *id)
{
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];

	digest_buffer(id, strlen(id), &d);
	return xasprintf("%s/" EXEC_CACHE_DIR "/%s", store_root(s), digest_to_hex(&d, hex));
}

int
exec_cache_open(struct store *s, const char *id, bool create, int *ret_fd, struct kl_error **err)
{
	_cleanup_free_ char *dir = exec_cache_path(s, id);
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(id) == 0 || strlen(id) > ID_MAX)
		return kl_error_setf(err, EINVAL, "cache id of %zu bytes", strlen(id));
	if (create) {
		r = kl_path_mkdir_p(dir, 0755);
		if (r < 0)
			return kl_error_set(err, -r, "making cache dir '%s'", dir);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !create)
		return kl_error_setf(err, ENOENT, "there is no cache '%s'", id);
	if (fd < 0)
		return kl_error_set(err, errno, "opening cache dir '%s'", dir);
	if (create && faccessat(fd, "id", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		/* written aside and renamed, so a reader never sees half an id */
		char tmp[32];
		uint8_t rnd[4];
		int tfd;

		(void)!getrandom(rnd, sizeof(rnd), 0);
		snprintf(tmp, sizeof(tmp), "id.%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
		tfd = openat(fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (tfd < 0)
			return kl_error_set(err, errno, "writing the id of cache '%s'", id);
		r = kl_io_write_all(tfd, id, strlen(id));
		close(tfd);
		if (r < 0 || renameat(fd, tmp, fd, "id") < 0) {
			(void)unlinkat(fd, tmp, 0);
			return kl_error_set(err, r < 0 ? -r : errno, "writing the id of cache '%s'",
			                    id);
		}
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int
exec_cache_lock(int dir_fd, unsigned instance, int op, int cancel_fd, int *ret_fd,
                struct kl_error **err)
{
	char name[32];
	_cleanup_close_ int fd = -1, ino = -1;

	snprintf(name, sizeof(name), "%u.lock", instance);
	fd = openat(dir_fd, name, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return kl_error_set(err, errno, "opening cache lock '%s'", name);
	if (flock(fd, op | LOCK_NB) == 0)
		goto locked;
	if (errno != EWOULDBLOCK)
		return kl_error_set(err, errno, "locking cache lock '%s'", name);
	if (op & LOCK_NB)
		return -EWOULDBLOCK;
	/* Wait for a holder to close the lock (a close of any opener wakes the watch; a holder
	 * that dies closes it too), watching the cancel fd meanwhile (solver/lock-wait.h). */
	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino < 0)
		return kl_error_set(err, errno, "watching cache lock '%s'", name);
	{
		_cleanup_free_ char *path = xasprintf("/proc/self/fd/%d", fd);

		if (inotify_add_watch(ino, path, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) < 0)
			return kl_error_set(err, errno, "watching cache lock '%s'", name);
	}
	for (;;) {
		int r;

		if (flock(fd, op | LOCK_NB) == 0)
			goto locked;
		if (errno != EWOULDBLOCK)
			return kl_error_set(err, errno, "locking cache lock '%s'", name);
		r = lock_wait(ino, cancel_fd);
		if (r == -ECANCELED)
			return kl_error_setf(err, ECANCELED,
			                     "cancelled while waiting for the cache");
		if (r < 0)
			return kl_error_set(err, -r, "waiting for cache lock '%s'", name);
	}
locked:
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int
exec_cache_instance(int dir_fd, unsigned instance, const struct exec_cache_new *n,
                    bool *ret_created, struct kl_error **err)
{
	char name[16], tmp[48];
	_cleanup_free_ char *path = NULL;
	uint8_t rnd[8];
	char hex[17];
	int r;

	snprintf(name, sizeof(name), "%u", instance);
	*ret_created = false;
	if (faccessat(dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return kl_error_set(err, errno, "reading random bytes");
	kl_hex_encode(rnd, sizeof(rnd), hex);
	snprintf(tmp, sizeof(tmp), "%u.new.%s", instance, hex);
	path = xasprintf("/proc/self/fd/%d/%s", dir_fd, tmp);
	/* made aside (seeded, owned, with its mode), then put in place unless someone was first */
	if (n->seed) {
		r = exec_copy_tree(n->seed, path, err);
	} else {
		r = mkdirat(dir_fd, tmp, 0700) < 0 ? kl_error_set(err, errno, "making '%s'", tmp)
		                                   : 0;
	}
	if (r >= 0 && (fchownat(dir_fd, tmp, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	               fchmodat(dir_fd, tmp, n->mode, 0) < 0))
		r = kl_error_set(err, errno, "preparing cache instance '%s'", name);
	if (r >= 0 && renameat2(dir_fd, tmp, dir_fd, name, RENAME_NOREPLACE) == 0) {
		*ret_created = true;
		return 0;
	}
	if (r >= 0 && errno != EEXIST)
		r = kl_error_set(err, errno, "putting cache instance '%s' in place", name);
	(void)kl_path_rm_rf_at(dir_fd, tmp);
	return r;
}

/* Bytes of the files below dir_fd/name (du's apparent sizes). */
static uint64_t
tree_bytes(int dir_fd, const char *name)
{
	_cleanup_close_ int fd =
	    openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char **names = NULL;
	uint64_t total = 0;
	size_t n = 0;

	if (fd < 0 || tree_import_read_names(fd, &names, NULL, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISDIR(st.st_mode))
				total += tree_bytes(fd, names[i]);
			else if (S_ISREG(st.st_mode))
				total += (uint64_t)st.st_size;
		}
		free(names[i]);
	}
	free(names);
	return total;
}

static int
info_compare(const void *a, const void *b)
{
	return strcmp(((const struct exec_cache_info *)a)->id,
	              ((const struct exec_cache_info *)b)->id);
}

/* Fills *ret from the cache dir name in caches_fd; false when it is not a cache. */
static bool
read_info(int caches_fd, const char *name, struct exec_cache_info *ret)
{
	_cleanup_close_ int fd = openat(caches_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int idfd = -1;
	char **names = NULL;
	size_t n = 0, len;
	char *id = NULL;

	if (fd < 0)
		return false;
	idfd = openat(fd, "id", O_RDONLY | O_CLOEXEC);
	if (idfd < 0 || kl_io_read_all(idfd, ID_MAX, &id, &len) < 0)
		return false;
	*ret = (struct exec_cache_info){.id = id};
	if (tree_import_read_names(fd, &names, NULL, &n) < 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		size_t l = strspn(names[i], "0123456789");

		if (l && !names[i][l]) {
			ret->instances++;
			ret->bytes += tree_bytes(fd, names[i]);
		}
		free(names[i]);
	}
	free(names);
	return true;
}

int
exec_cache_list(struct store *s, struct exec_cache_info **ret, size_t *ret_n, struct kl_error **err)
{
	_cleanup_close_ int fd =
	    openat(store_root_fd(s), EXEC_CACHE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct exec_cache_info *v = NULL;
	size_t n = 0, cap = 0, nn = 0;
	char **names = NULL;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return kl_error_set(err, errno, "opening '%s/" EXEC_CACHE_DIR "'", store_root(s));
	r = tree_import_read_names(fd, &names, NULL, &nn);
	if (r < 0)
		return kl_error_set(err, -r, "listing '%s/" EXEC_CACHE_DIR "'", store_root(s));
	for (size_t i = 0; i < nn; i++) {
		struct exec_cache_info info;

		if (read_info(fd, names[i], &info)) {
			v = xgrow(v, &cap, n + 1, sizeof(*v));
			v[n++] = info;
		}
		free(names[i]);
	}
	free(names);
	if (n > 1)
		qsort(v, n, sizeof(*v), info_compare);
	*ret = v;
	*ret_n = n;
	return 0;
}

void
exec_cache_list_free(struct exec_cache_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].id);
	free(v);
}

int
exec_cache_snapshot(struct store *s, const char *id, struct digest *ret, struct kl_error **err)
{
	_cleanup_close_ int dir_fd = -1, lock = -1;
	_cleanup_free_ char *path = NULL;
	int r;

	r = exec_cache_open(s, id, /* create= */ false, &dir_fd, err);
	if (r < 0)
		return r;
	if (faccessat(dir_fd, "0", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return kl_error_setf(err, ENOENT, "cache '%s' has no contents yet", id);
	/* as a shared user: never while a locked user writes */
	r = exec_cache_lock(dir_fd, 0, LOCK_SH, /* cancel_fd= */ -1, &lock, err);
	if (r < 0)
		return r;
	path = xasprintf("/proc/self/fd/%d/0", dir_fd);
	r = tree_import_dir(s, path, /* opts= */ NULL, ret, err);
	if (r < 0)
		kl_error_prefix(err, "snapshot of cache '%s'", id);
	return r;
}
