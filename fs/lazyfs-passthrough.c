// SPDX-License-Identifier: Apache-2.0
/* FUSE passthrough through libfuse 3.14's custom-io hooks: INIT and OPEN replies patched on
 * their way to /dev/fuse, backing files registered with the kernel. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "fs/lazyfs-passthrough-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/lazyfs-abi-internal.h"
#include "fs/lazyfs-internal.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

/* The stack depth the mount announces: backing files must be on an unstacked filesystem (the
 * store's), and overlayfs (depth 2 at most) still fits on top, as build steps use it. */
#define MAX_STACK_DEPTH 1

void
lazyfs_passthrough_init(struct lazyfs_passthrough *pt)
{
	memset(pt, 0, sizeof(*pt));
	pt->dev_fd = -1;
	pthread_mutex_init(&pt->lock, NULL);
}

void
lazyfs_passthrough_done(struct lazyfs_passthrough *pt)
{
	free(pt->open_uniques);
	pthread_mutex_destroy(&pt->lock);
}

bool
lazyfs_passthrough_offered(struct lazyfs_passthrough *pt)
{
	return atomic_load(&pt->offered);
}

bool
lazyfs_passthrough_usable(struct lazyfs_passthrough *pt)
{
	return atomic_load(&pt->enabled) && !atomic_load(&pt->refused);
}

int
lazyfs_passthrough_backing_open(struct lazyfs_passthrough *pt, int fd)
{
	struct lazyfs_fuse_backing_map map = {.fd = fd};
	int id, e;

	id = ioctl(pt->dev_fd, LAZYFS_FUSE_DEV_IOC_BACKING_OPEN, &map);
	if (id > 0) {
		atomic_fetch_add(&pt->backing_files, 1);
		return id;
	}
	e = id < 0 ? errno : EIO;
	/* Not allowed (no CAP_SYS_ADMIN, or the kernel did not take passthrough), or the store's
	 * filesystem is itself stacked: the same answer for every blob. */
	if ((e == EPERM || e == ELOOP) && !atomic_exchange(&pt->refused, true))
		kl_debug("lazyfs: the kernel refused a backing file (%s): reads come to the "
		         "server from now on",
		         strerror(e));
	return -e;
}

void
lazyfs_passthrough_backing_close(struct lazyfs_passthrough *pt, int id)
{
	uint32_t arg = (uint32_t)id;

	if (ioctl(pt->dev_fd, LAZYFS_FUSE_DEV_IOC_BACKING_CLOSE, &arg) < 0)
		kl_debug("lazyfs: closing backing file %d: %s", id, strerror(errno));
	atomic_fetch_sub(&pt->backing_files, 1);
}

/* Open uniques: at most one per worker thread is in flight, so a small array does. */

static void
open_uniques_add(struct lazyfs_passthrough *pt, uint64_t unique)
{
	pthread_mutex_lock(&pt->lock);
	if (pt->n_open_uniques == pt->cap_open_uniques) {
		pt->cap_open_uniques = pt->cap_open_uniques ? pt->cap_open_uniques * 2 : 16;
		pt->open_uniques =
		    xrealloc(pt->open_uniques, pt->cap_open_uniques * sizeof(*pt->open_uniques));
	}
	pt->open_uniques[pt->n_open_uniques++] = unique;
	atomic_store(&pt->pending_opens, pt->n_open_uniques);
	pthread_mutex_unlock(&pt->lock);
}

/* Removes unique; returns whether it was there (the reply answers a FUSE_OPEN). */
static bool
open_uniques_take(struct lazyfs_passthrough *pt, uint64_t unique)
{
	bool found = false;

	pthread_mutex_lock(&pt->lock);
	for (size_t i = 0; i < pt->n_open_uniques; i++)
		if (pt->open_uniques[i] == unique) {
			pt->open_uniques[i] = pt->open_uniques[--pt->n_open_uniques];
			found = true;
			break;
		}
	atomic_store(&pt->pending_opens, pt->n_open_uniques);
	pthread_mutex_unlock(&pt->lock);
	return found;
}

/* The raw INIT: does the kernel offer passthrough? */
static void
see_init(struct lazyfs_passthrough *pt, uint64_t unique, const char *buf, size_t n)
{
	struct fuse_init_in in;

	if (n < sizeof(struct fuse_in_header) + offsetof(struct fuse_init_in, unused))
		return;
	memcpy(&in, buf + sizeof(struct fuse_in_header), offsetof(struct fuse_init_in, unused));
	if (in.major != FUSE_KERNEL_VERSION || !(in.flags & FUSE_INIT_EXT) ||
	    !(in.flags2 & (uint32_t)(LAZYFS_FUSE_PASSTHROUGH >> 32)))
		return;
	atomic_store(&pt->offered, true);
	atomic_store(&pt->init_unique, unique);
}

static ssize_t
dev_read(int fd, void *buf, size_t len, void *userdata)
{
	struct lazyfs_passthrough *pt = &((struct lazyfs *)userdata)->pt;
	struct fuse_in_header in;
	ssize_t n = read(fd, buf, len);

	if (n < (ssize_t)sizeof(in))
		return n; /* errors (errno as read left it) and short reads are libfuse's */
	memcpy(&in, buf, sizeof(in));
	if (in.opcode == FUSE_OPEN && atomic_load(&pt->enabled))
		open_uniques_add(pt, in.unique);
	else if (in.opcode == FUSE_INIT)
		see_init(pt, in.unique, buf, (size_t)n);
	return n;
}

/* libfuse's INIT reply, accepting passthrough. */
static ssize_t
write_init(struct lazyfs_passthrough *pt, int fd, const struct iovec *iov)
{
	struct lazyfs_fuse_init_out out;
	struct iovec v[2] = {iov[0], {.iov_base = &out, .iov_len = sizeof(out)}};
	ssize_t r;

	memcpy(&out, iov[1].iov_base, sizeof(out));
	out.flags |= FUSE_INIT_EXT;
	out.flags2 |= (uint32_t)(LAZYFS_FUSE_PASSTHROUGH >> 32);
	out.max_stack_depth = MAX_STACK_DEPTH;
	/* Before the write: once the kernel has the reply, an OPEN may reach another thread. */
	atomic_store(&pt->enabled, true);
	r = writev(fd, v, 2);
	if (r < 0)
		atomic_store(&pt->enabled, false); /* no INIT, no mount: nothing else comes */
	else
		kl_debug("lazyfs: FUSE passthrough accepted (max_stack_depth %d)", MAX_STACK_DEPTH);
	return r;
}

/* An OPEN reply whose fh names a backing id: the kernel serves that open file from it. */
static ssize_t
write_open(struct lazyfs_passthrough *pt, int fd, const struct iovec *iov)
{
	struct lazyfs_fuse_open_out out;
	struct iovec v[2] = {iov[0], {.iov_base = &out, .iov_len = sizeof(out)}};
	ssize_t r;

	memcpy(&out, iov[1].iov_base, sizeof(out));
	if (out.fh == 0 || out.fh > INT32_MAX)
		return writev(fd, iov, 2); /* an open served through op_read */
	out.open_flags |= LAZYFS_FOPEN_PASSTHROUGH;
	out.backing_id = (int32_t)out.fh;
	r = writev(fd, v, 2);
	if (r >= 0)
		atomic_fetch_add(&pt->opens, 1);
	return r;
}

/* libfuse always puts the out header alone in iov[0] and a fixed reply's argument in iov[1]. */
static ssize_t
dev_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct lazyfs_passthrough *pt = &((struct lazyfs *)userdata)->pt;
	struct fuse_out_header out;
	uint64_t init_unique;

	if (count < 1 || iov[0].iov_len != sizeof(out))
		return writev(fd, iov, count);
	memcpy(&out, iov[0].iov_base, sizeof(out));
	init_unique = atomic_load(&pt->init_unique);
	if (init_unique && out.unique == init_unique) {
		atomic_store(&pt->init_unique, 0);
		if (out.error == 0 && count == 2 &&
		    iov[1].iov_len == sizeof(struct lazyfs_fuse_init_out))
			return write_init(pt, fd, iov);
		return writev(fd, iov, count);
	}
	/* Only an error or a fuse_open_out can answer an OPEN: other replies skip the lock. */
	if (atomic_load(&pt->pending_opens) > 0 &&
	    (out.error != 0 ||
	     (count == 2 && iov[1].iov_len == sizeof(struct lazyfs_fuse_open_out))) &&
	    open_uniques_take(pt, out.unique) && out.error == 0)
		return write_open(pt, fd, iov);
	return writev(fd, iov, count);
}

/* READ replies libfuse moves from a pipe: passed on untouched (this keeps splice available). */
static ssize_t
dev_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len, unsigned int flags,
                void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int
lazyfs_passthrough_attach(struct lazyfs_passthrough *pt, struct fuse_session *se,
                          struct kl_error **err)
{
	static const struct fuse_custom_io io = {
	    .read = dev_read,
	    .writev = dev_writev,
	    .splice_send = dev_splice_send,
	};
	int r;

	pt->dev_fd = fuse_session_fd(se);
	/* The same fd as fuse_session_mount() opened: libfuse keeps its mountpoint, so unmounting
	 * and closing stay as they were. */
	r = fuse_session_custom_io(se, &io, pt->dev_fd);
	if (r < 0)
		return kl_error_set(err, -r, "taking over the FUSE session's I/O");
	return 0;
}
