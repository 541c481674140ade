/* lazyfs-abi-internal — the parts of the FUSE kernel ABI 7.40 (Linux 6.9) that FUSE passthrough
 * needs and Debian 12's <linux/fuse.h> (7.38) lacks; values as in the kernel's
 * include/uapi/linux/fuse.h. Everything else comes from <linux/fuse.h>. */
#pragma once
#include <linux/fuse.h>
#include <stdint.h>
#include <sys/ioctl.h>

/* INIT flag (flags2 bit 5 of fuse_init_in/fuse_init_out): the kernel can pass reads and mmap of
 * an open file straight to a backing file; the server accepts it in its INIT reply. */
#define LAZYFS_FUSE_PASSTHROUGH (1ULL << 37)
/* fuse_open_out.open_flags: serve this open file from the backing file named by backing_id. */
#define LAZYFS_FOPEN_PASSTHROUGH (1u << 7)

/* struct fuse_init_out as of 7.40: max_stack_depth took the first unused word after flags2. */
struct lazyfs_fuse_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;
	uint32_t unused[6];
};

/* struct fuse_open_out as of 7.40: backing_id took the padding word. */
struct lazyfs_fuse_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

/* The argument of FUSE_DEV_IOC_BACKING_OPEN: an fd of the backing file (flags, padding 0). */
struct lazyfs_fuse_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

/* /dev/fuse ioctls: BACKING_OPEN returns a backing id (> 0) for an fd, BACKING_CLOSE drops the
 * connection's reference on one. Both need CAP_SYS_ADMIN. */
#define LAZYFS_FUSE_DEV_IOC_BACKING_OPEN _IOW(FUSE_DEV_IOC_MAGIC, 1, struct lazyfs_fuse_backing_map)
#define LAZYFS_FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)

_Static_assert(sizeof(struct lazyfs_fuse_init_out) == sizeof(struct fuse_init_out),
               "fuse_init_out keeps its size across 7.38 and 7.40");
_Static_assert(sizeof(struct lazyfs_fuse_open_out) == sizeof(struct fuse_open_out),
               "fuse_open_out keeps its size across 7.38 and 7.40");
