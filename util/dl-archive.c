// SPDX-License-Identifier: Apache-2.0
/* libarchive loaded on first use and its functions resolved by name; why: util/dl-archive.h. */
#include "util/dl-archive.h"

#include <stddef.h>

#include "util/dl.h"

static const struct kl_dl_symbol symbols[] = {
    {"archive_entry_clear", offsetof(struct kl_archive, entry_clear)},
    {"archive_entry_filetype", offsetof(struct kl_archive, entry_filetype)},
    {"archive_entry_free", offsetof(struct kl_archive, entry_free)},
    {"archive_entry_gid", offsetof(struct kl_archive, entry_gid)},
    {"archive_entry_hardlink", offsetof(struct kl_archive, entry_hardlink)},
    {"archive_entry_mtime", offsetof(struct kl_archive, entry_mtime)},
    {"archive_entry_mtime_nsec", offsetof(struct kl_archive, entry_mtime_nsec)},
    {"archive_entry_new", offsetof(struct kl_archive, entry_new)},
    {"archive_entry_pathname", offsetof(struct kl_archive, entry_pathname)},
    {"archive_entry_perm", offsetof(struct kl_archive, entry_perm)},
    {"archive_entry_rdevmajor", offsetof(struct kl_archive, entry_rdevmajor)},
    {"archive_entry_rdevminor", offsetof(struct kl_archive, entry_rdevminor)},
    {"archive_entry_set_filetype", offsetof(struct kl_archive, entry_set_filetype)},
    {"archive_entry_set_gid", offsetof(struct kl_archive, entry_set_gid)},
    {"archive_entry_set_hardlink", offsetof(struct kl_archive, entry_set_hardlink)},
    {"archive_entry_set_mtime", offsetof(struct kl_archive, entry_set_mtime)},
    {"archive_entry_set_pathname", offsetof(struct kl_archive, entry_set_pathname)},
    {"archive_entry_set_perm", offsetof(struct kl_archive, entry_set_perm)},
    {"archive_entry_set_rdevmajor", offsetof(struct kl_archive, entry_set_rdevmajor)},
    {"archive_entry_set_rdevminor", offsetof(struct kl_archive, entry_set_rdevminor)},
    {"archive_entry_set_size", offsetof(struct kl_archive, entry_set_size)},
    {"archive_entry_set_symlink", offsetof(struct kl_archive, entry_set_symlink)},
    {"archive_entry_set_uid", offsetof(struct kl_archive, entry_set_uid)},
    {"archive_entry_size", offsetof(struct kl_archive, entry_size)},
    {"archive_entry_symlink", offsetof(struct kl_archive, entry_symlink)},
    {"archive_entry_uid", offsetof(struct kl_archive, entry_uid)},
    {"archive_entry_xattr_add_entry", offsetof(struct kl_archive, entry_xattr_add_entry)},
    {"archive_entry_xattr_next", offsetof(struct kl_archive, entry_xattr_next)},
    {"archive_entry_xattr_reset", offsetof(struct kl_archive, entry_xattr_reset)},
    {"archive_errno", offsetof(struct kl_archive, errno_code)},
    {"archive_error_string", offsetof(struct kl_archive, error_string)},
    {"archive_read_data", offsetof(struct kl_archive, read_data)},
    {"archive_read_free", offsetof(struct kl_archive, read_free)},
    {"archive_read_new", offsetof(struct kl_archive, read_new)},
    {"archive_read_next_header", offsetof(struct kl_archive, read_next_header)},
    {"archive_read_open", offsetof(struct kl_archive, read_open)},
    {"archive_read_open_fd", offsetof(struct kl_archive, read_open_fd)},
    {"archive_read_support_filter_bzip2", offsetof(struct kl_archive, read_support_filter_bzip2)},
    {"archive_read_support_filter_gzip", offsetof(struct kl_archive, read_support_filter_gzip)},
    {"archive_read_support_filter_none", offsetof(struct kl_archive, read_support_filter_none)},
    {"archive_read_support_filter_xz", offsetof(struct kl_archive, read_support_filter_xz)},
    {"archive_read_support_filter_zstd", offsetof(struct kl_archive, read_support_filter_zstd)},
    {"archive_read_support_format_tar", offsetof(struct kl_archive, read_support_format_tar)},
    {"archive_set_error", offsetof(struct kl_archive, set_error)},
    {"archive_write_close", offsetof(struct kl_archive, write_close)},
    {"archive_write_data", offsetof(struct kl_archive, write_data)},
    {"archive_write_free", offsetof(struct kl_archive, write_free)},
    {"archive_write_header", offsetof(struct kl_archive, write_header)},
    {"archive_write_new", offsetof(struct kl_archive, write_new)},
    {"archive_write_open_fd", offsetof(struct kl_archive, write_open_fd)},
    {"archive_write_set_bytes_in_last_block",
     offsetof(struct kl_archive, write_set_bytes_in_last_block)},
    {"archive_write_set_bytes_per_block", offsetof(struct kl_archive, write_set_bytes_per_block)},
    {"archive_write_set_format_option", offsetof(struct kl_archive, write_set_format_option)},
    {"archive_write_set_format_pax", offsetof(struct kl_archive, write_set_format_pax)},
    {"archive_write_set_format_pax_restricted",
     offsetof(struct kl_archive, write_set_format_pax_restricted)},
};

static struct kl_archive table;
static struct kl_dl_library library =
    KL_DL_LIBRARY("libarchive", KILN_SONAME_ARCHIVE, symbols, &table);

int
kl_archive_load(struct kl_error **err)
{
	return kl_dl_load(&library, err);
}

const struct kl_archive *
kl_archive(void)
{
	return kl_dl_table(&library);
}
