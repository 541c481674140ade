/* dl-archive — libarchive, loaded with dlopen() on first use (util/dl.h): the functions kiln calls.
 *
 * Why not linked: libarchive pulls in ten libraries (xml2 and with it ICU and libstdc++, acl, lzma,
 * lz4, bz2), more relocations than anything else kiln links, and only unpacking layers and archives
 * and writing tar outputs use it: loaded there, a cached build or any other command starts
 * without it (bench/README.md, "process start"). Thread-safe. */
#pragma once
#include <archive.h>
#include <archive_entry.h>

struct kl_error;

/* The libarchive functions kiln calls, named without their archive_ prefix and typed from its
 * headers. */
struct kl_archive {
	typeof(archive_entry_clear) *entry_clear;
	typeof(archive_entry_filetype) *entry_filetype;
	typeof(archive_entry_free) *entry_free;
	typeof(archive_entry_gid) *entry_gid;
	typeof(archive_entry_hardlink) *entry_hardlink;
	typeof(archive_entry_mtime) *entry_mtime;
	typeof(archive_entry_mtime_nsec) *entry_mtime_nsec;
	typeof(archive_entry_new) *entry_new;
	typeof(archive_entry_pathname) *entry_pathname;
	typeof(archive_entry_perm) *entry_perm;
	typeof(archive_entry_rdevmajor) *entry_rdevmajor;
	typeof(archive_entry_rdevminor) *entry_rdevminor;
	typeof(archive_entry_set_filetype) *entry_set_filetype;
	typeof(archive_entry_set_gid) *entry_set_gid;
	typeof(archive_entry_set_hardlink) *entry_set_hardlink;
	typeof(archive_entry_set_mtime) *entry_set_mtime;
	typeof(archive_entry_set_pathname) *entry_set_pathname;
	typeof(archive_entry_set_perm) *entry_set_perm;
	typeof(archive_entry_set_rdevmajor) *entry_set_rdevmajor;
	typeof(archive_entry_set_rdevminor) *entry_set_rdevminor;
	typeof(archive_entry_set_size) *entry_set_size;
	typeof(archive_entry_set_symlink) *entry_set_symlink;
	typeof(archive_entry_set_uid) *entry_set_uid;
	typeof(archive_entry_size) *entry_size;
	typeof(archive_entry_symlink) *entry_symlink;
	typeof(archive_entry_uid) *entry_uid;
	typeof(archive_entry_xattr_add_entry) *entry_xattr_add_entry;
	typeof(archive_entry_xattr_next) *entry_xattr_next;
	typeof(archive_entry_xattr_reset) *entry_xattr_reset;
	typeof(archive_errno) *errno_code; /* archive_errno: errno is a macro */
	typeof(archive_error_string) *error_string;
	typeof(archive_read_data) *read_data;
	typeof(archive_read_free) *read_free;
	typeof(archive_read_new) *read_new;
	typeof(archive_read_next_header) *read_next_header;
	typeof(archive_read_open) *read_open;
	typeof(archive_read_open_fd) *read_open_fd;
	typeof(archive_read_support_filter_bzip2) *read_support_filter_bzip2;
	typeof(archive_read_support_filter_gzip) *read_support_filter_gzip;
	typeof(archive_read_support_filter_none) *read_support_filter_none;
	typeof(archive_read_support_filter_xz) *read_support_filter_xz;
	typeof(archive_read_support_filter_zstd) *read_support_filter_zstd;
	typeof(archive_read_support_format_tar) *read_support_format_tar;
	typeof(archive_set_error) *set_error;
	typeof(archive_write_close) *write_close;
	typeof(archive_write_data) *write_data;
	typeof(archive_write_free) *write_free;
	typeof(archive_write_header) *write_header;
	typeof(archive_write_new) *write_new;
	typeof(archive_write_open_fd) *write_open_fd;
	typeof(archive_write_set_bytes_in_last_block) *write_set_bytes_in_last_block;
	typeof(archive_write_set_bytes_per_block) *write_set_bytes_per_block;
	typeof(archive_write_set_format_option) *write_set_format_option;
	typeof(archive_write_set_format_pax) *write_set_format_pax;
	typeof(archive_write_set_format_pax_restricted) *write_set_format_pax_restricted;
};

/* Loads libarchive (KILN_SONAME_ARCHIVE, the soname found at build time) on the first call.
 * -ELIBACC, with err naming it, when it cannot be loaded; layer and archive unpacking and tar
 * outputs call it before anything else, where the error can reach the user. */
int kl_archive_load(struct kl_error **err);
/* libarchive's functions, for code that runs after kl_archive_load() succeeded. It loads them
 * if need be and aborts if it cannot: a bug, when the caller skipped kl_archive_load(). */
const struct kl_archive *kl_archive(void);
