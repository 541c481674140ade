/* io — whole-buffer read/write loops over fds, retrying short transfers and EINTR. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes all n bytes; 0 or -errno. */
int kl_io_write_all(int fd, const void *buf, size_t n);
/* Writes all n bytes at offset off (the fd's offset is left alone); 0 or -errno. */
int kl_io_pwrite_all(int fd, const void *buf, size_t n, off_t off);
/* Reads up to n bytes, stopping early only at end of file; returns bytes read or -errno. */
ssize_t kl_io_read_full(int fd, void *buf, size_t n);
/* kl_io_read_full from offset off (the fd's offset is left alone). */
ssize_t kl_io_pread_full(int fd, void *buf, size_t n, off_t off);
/* Reads a whole fd (from its current offset) into a new buffer, NUL-terminated for
 * convenience; *ret and *ret_len are set on success only. -EFBIG past max bytes, else -errno. */
int kl_io_read_all(int fd, size_t max, char **ret, size_t *ret_len);
