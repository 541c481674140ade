/* lazyfs-passthrough-internal — FUSE passthrough (the kernel reads and maps an open file straight
 * from a backing file) for a libfuse that has no API for it (3.14).
 *
 * It takes over the session's /dev/fuse traffic with fuse_session_custom_io(): the read hook
 * sees every request as the kernel sent it, the writev hook every reply libfuse writes (READ
 * replies libfuse splices go through a plain splice hook, untouched). From the raw FUSE_INIT it
 * learns whether the kernel offers FUSE_PASSTHROUGH, and if so it accepts it in libfuse's INIT
 * reply (FUSE_INIT_EXT, the flag in flags2, max_stack_depth 1, so that overlayfs can still stack
 * on the mount). It records the unique of every FUSE_OPEN request; the reply to one of them
 * whose fh is a backing id (> 0) gets FOPEN_PASSTHROUGH and that backing_id. lazyfs's open
 * handler registers the backing file (lazyfs_passthrough_backing_open) and puts its id in fi->fh.
 *
 * Threads: the hooks run on every FUSE worker thread, each on its own cloned /dev/fuse fd or on
 * the session's; the state is atomic or under lock, and nothing assumes a reply is written by
 * the thread that read its request. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fuse_session;
struct kl_error;

struct lazyfs_passthrough {
	int dev_fd;                    /* the session's /dev/fuse fd, for the backing ioctls */
	_Atomic bool offered;          /* the kernel's INIT offered FUSE_PASSTHROUGH */
	_Atomic bool enabled;          /* our INIT reply accepting it was written */
	_Atomic bool refused;          /* a backing open got EPERM: no passthrough from then on */
	_Atomic uint64_t init_unique;  /* the INIT request whose reply is still to be patched */
	pthread_mutex_t lock;          /* guards the open uniques */
	uint64_t *open_uniques;        /* FUSE_OPEN requests not yet answered; protected by lock */
	size_t n_open_uniques;         /* protected by lock */
	size_t cap_open_uniques;       /* protected by lock */
	_Atomic size_t pending_opens;  /* n_open_uniques, read without the lock */
	_Atomic uint64_t opens;        /* open replies written with FOPEN_PASSTHROUGH */
	_Atomic int64_t backing_files; /* backing ids registered and not closed */
};

void lazyfs_passthrough_init(struct lazyfs_passthrough *pt);
/* Frees what init allocated; the session's loop must have ended. */
void lazyfs_passthrough_done(struct lazyfs_passthrough *pt);

/* Installs the hooks on se, a session mounted with fuse_session_mount() whose userdata is the
 * struct lazyfs holding pt, before its loop runs. */
int lazyfs_passthrough_attach(struct lazyfs_passthrough *pt, struct fuse_session *se,
                              struct kl_error **err);

/* Whether the kernel offered passthrough; valid from the init handler on (the read hook saw
 * FUSE_INIT before libfuse handles it), which then stops asking for zero-message opens. */
bool lazyfs_passthrough_offered(struct lazyfs_passthrough *pt);
/* Whether an open may be answered with a backing file: offered, accepted and not refused. */
bool lazyfs_passthrough_usable(struct lazyfs_passthrough *pt);

/* Registers fd (a regular file; the kernel takes its own reference, fd stays the caller's) as a
 * backing file of the connection; returns its id (> 0) or -errno. -EPERM (no CAP_SYS_ADMIN, or
 * the kernel did not take passthrough) and -ELOOP (fd's filesystem is stacked: the store's is)
 * also make passthrough unusable from now on. Thread-safe. */
int lazyfs_passthrough_backing_open(struct lazyfs_passthrough *pt, int fd);
/* Drops the connection's reference on backing id: files opened with it keep their own. Call it
 * only once no open reply naming id can still reach the kernel unprocessed (the kernel looks the
 * id up after the reply, in the opener's context). Thread-safe. */
void lazyfs_passthrough_backing_close(struct lazyfs_passthrough *pt, int id);
