// SPDX-License-Identifier: Apache-2.0
/* libgit2 loaded on first use and its functions resolved by name; why: util/dl-git2.h. */
#include "util/dl-git2.h"

#include <stddef.h>

#include "util/dl.h"

static const struct kl_dl_symbol symbols[] = {
    {"git_blob_free", offsetof(struct kl_git2, blob_free)},
    {"git_blob_lookup", offsetof(struct kl_git2, blob_lookup)},
    {"git_blob_rawcontent", offsetof(struct kl_git2, blob_rawcontent)},
    {"git_blob_rawsize", offsetof(struct kl_git2, blob_rawsize)},
    {"git_commit_parentcount", offsetof(struct kl_git2, commit_parentcount)},
    {"git_commit_time", offsetof(struct kl_git2, commit_time)},
    {"git_commit_tree", offsetof(struct kl_git2, commit_tree)},
    {"git_credential_ssh_key_from_agent", offsetof(struct kl_git2, credential_ssh_key_from_agent)},
    {"git_error_last", offsetof(struct kl_git2, error_last)},
    {"git_fetch_options_init", offsetof(struct kl_git2, fetch_options_init)},
    {"git_index_free", offsetof(struct kl_git2, index_free)},
    {"git_index_open", offsetof(struct kl_git2, index_open)},
    {"git_index_read_tree", offsetof(struct kl_git2, index_read_tree)},
    {"git_index_write", offsetof(struct kl_git2, index_write)},
    {"git_libgit2_init", offsetof(struct kl_git2, libgit2_init)},
    {"git_object_free", offsetof(struct kl_git2, object_free)},
    {"git_object_id", offsetof(struct kl_git2, object_id)},
    {"git_object_lookup", offsetof(struct kl_git2, object_lookup)},
    {"git_object_lookup_prefix", offsetof(struct kl_git2, object_lookup_prefix)},
    {"git_object_peel", offsetof(struct kl_git2, object_peel)},
    {"git_object_type", offsetof(struct kl_git2, object_type)},
    {"git_object_type2string", offsetof(struct kl_git2, object_type2string)},
    {"git_odb_exists", offsetof(struct kl_git2, odb_exists)},
    {"git_odb_free", offsetof(struct kl_git2, odb_free)},
    {"git_odb_object_data", offsetof(struct kl_git2, odb_object_data)},
    {"git_odb_object_free", offsetof(struct kl_git2, odb_object_free)},
    {"git_odb_object_size", offsetof(struct kl_git2, odb_object_size)},
    {"git_odb_object_type", offsetof(struct kl_git2, odb_object_type)},
    {"git_odb_open", offsetof(struct kl_git2, odb_open)},
    {"git_odb_read", offsetof(struct kl_git2, odb_read)},
    {"git_odb_read_header", offsetof(struct kl_git2, odb_read_header)},
    {"git_oid_cmp", offsetof(struct kl_git2, oid_cmp)},
    {"git_oid_equal", offsetof(struct kl_git2, oid_equal)},
    {"git_oid_fmt", offsetof(struct kl_git2, oid_fmt)},
    {"git_oid_fromstr", offsetof(struct kl_git2, oid_fromstr)},
    {"git_oid_fromstrn", offsetof(struct kl_git2, oid_fromstrn)},
    {"git_oid_tostr", offsetof(struct kl_git2, oid_tostr)},
    {"git_reference_create", offsetof(struct kl_git2, reference_create)},
    {"git_reference_free", offsetof(struct kl_git2, reference_free)},
    {"git_reference_is_valid_name", offsetof(struct kl_git2, reference_is_valid_name)},
    {"git_reference_name_to_id", offsetof(struct kl_git2, reference_name_to_id)},
    {"git_remote_connect", offsetof(struct kl_git2, remote_connect)},
    {"git_remote_create_options_init", offsetof(struct kl_git2, remote_create_options_init)},
    {"git_remote_create_with_opts", offsetof(struct kl_git2, remote_create_with_opts)},
    {"git_remote_disconnect", offsetof(struct kl_git2, remote_disconnect)},
    {"git_remote_download", offsetof(struct kl_git2, remote_download)},
    {"git_remote_free", offsetof(struct kl_git2, remote_free)},
    {"git_remote_ls", offsetof(struct kl_git2, remote_ls)},
    {"git_remote_update_tips", offsetof(struct kl_git2, remote_update_tips)},
    {"git_repository_free", offsetof(struct kl_git2, repository_free)},
    {"git_repository_init", offsetof(struct kl_git2, repository_init)},
    {"git_repository_odb", offsetof(struct kl_git2, repository_odb)},
    {"git_repository_open_bare", offsetof(struct kl_git2, repository_open_bare)},
    {"git_tag_target_id", offsetof(struct kl_git2, tag_target_id)},
    {"git_tree_entry_byindex", offsetof(struct kl_git2, tree_entry_byindex)},
    {"git_tree_entry_byname", offsetof(struct kl_git2, tree_entry_byname)},
    {"git_tree_entry_bypath", offsetof(struct kl_git2, tree_entry_bypath)},
    {"git_tree_entry_filemode", offsetof(struct kl_git2, tree_entry_filemode)},
    {"git_tree_entry_free", offsetof(struct kl_git2, tree_entry_free)},
    {"git_tree_entry_id", offsetof(struct kl_git2, tree_entry_id)},
    {"git_tree_entry_name", offsetof(struct kl_git2, tree_entry_name)},
    {"git_tree_entry_type", offsetof(struct kl_git2, tree_entry_type)},
    {"git_tree_entrycount", offsetof(struct kl_git2, tree_entrycount)},
    {"git_tree_free", offsetof(struct kl_git2, tree_free)},
    {"git_tree_id", offsetof(struct kl_git2, tree_id)},
    {"git_tree_lookup", offsetof(struct kl_git2, tree_lookup)},
    {"git_tree_walk", offsetof(struct kl_git2, tree_walk)},
};

static struct kl_git2 table;
static struct kl_dl_library library = KL_DL_LIBRARY("libgit2", KILN_SONAME_GIT2, symbols, &table);

int
kl_git2_load(struct kl_error **err)
{
	return kl_dl_load(&library, err);
}

const struct kl_git2 *
kl_git2(void)
{
	return kl_dl_table(&library);
}
