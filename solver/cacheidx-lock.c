// SPDX-License-Identifier: Apache-2.0
/* Cross-process locks of the cache: one lock file per key being computed, waited on through
 * inotify (so a cancel is seen at once), and the collection lock builds share and prune takes
 * alone. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "solver/cacheidx-internal.h"
#include "solver/cacheidx.h"
#include "solver/lock-wait.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

static char *
key_path(struct cacheidx *ci, const struct digest *key)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s/locks/%s", ci->dir, digest_to_hex(key, hex));
}

/* True when fd is still the file at path: a holder removes the file before it lets go, so a
 * lock taken on a removed file protects nothing. */
static bool
still_linked(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

int
cacheidx_lock_key(struct cacheidx *ci, const struct digest *key, int cancel_fd,
                  struct kl_error **err)
{
	_cleanup_free_ char *path = key_path(ci, key);
	_cleanup_free_ char *dir = xasprintf("%s/locks", ci->dir);
	_cleanup_close_ int ino = -1;
	int r;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return kl_error_set(err, errno, "creating '%s'", dir);
	for (;;) {
		_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			return kl_error_set(err, errno, "opening lock '%s'", path);
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (still_linked(fd, path))
				return TAKE_FD(fd);
			continue;
		}
		if (errno != EWOULDBLOCK)
			return kl_error_set(err, errno, "locking '%s'", path);
		if (ino < 0) {
			ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
			if (ino < 0)
				return kl_error_set(err, errno, "watching lock '%s'", path);
		}
		/* The holder unlinks (IN_ATTRIB: the link count) and closes the file, or dies
		 * (a close). Watching before the second try leaves no gap for a release. */
		if (inotify_add_watch(ino, path, IN_CLOSE | IN_ATTRIB | IN_DELETE_SELF) < 0) {
			if (errno == ENOENT)
				continue;
			return kl_error_set(err, errno, "watching lock '%s'", path);
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (still_linked(fd, path))
				return TAKE_FD(fd);
			continue;
		}
		/* the holder unlinking or closing the file wakes the watch */
		r = lock_wait(ino, cancel_fd);
		if (r < 0)
			return r == -ECANCELED
			           ? r
			           : kl_error_set(err, -r, "waiting for lock '%s'", path);
	}
}

void
cacheidx_unlock_key(struct cacheidx *ci, const struct digest *key, int fd)
{
	_cleanup_free_ char *path = key_path(ci, key);

	if (fd < 0)
		return;
	(void)unlink(path);
	(void)close(fd);
}

static int
gc_lock(struct cacheidx *ci, int op, void (*waiting)(void *), void *userdata, struct kl_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/gc.lock", ci->dir);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return kl_error_set(err, errno, "opening '%s'", path);
	if (flock(fd, op | LOCK_NB) == 0)
		return TAKE_FD(fd);
	if (errno != EWOULDBLOCK)
		return kl_error_set(err, errno, "locking '%s'", path);
	if (waiting)
		waiting(userdata);
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return kl_error_set(err, errno, "locking '%s'", path);
	return TAKE_FD(fd);
}

int
cacheidx_lease_begin(struct cacheidx *ci, struct kl_error **err)
{
	return gc_lock(ci, LOCK_SH, NULL, NULL, err);
}

void
cacheidx_lease_end(int fd)
{
	if (fd >= 0)
		(void)close(fd);
}

int
cacheidx_gc_lock(struct cacheidx *ci, void (*waiting)(void *userdata), void *userdata,
                 struct kl_error **err)
{
	return gc_lock(ci, LOCK_EX, waiting, userdata, err);
}
