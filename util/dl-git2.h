/* dl-git2 — libgit2, loaded with dlopen() on first use (util/dl.h): the functions kiln calls.
 *
 * Why not linked: libgit2 brings its own dozen libraries (mbedtls, ssh2, http_parser, pcre2, …),
 * and only git sources (sources/gitsrc*.c) use it: loaded there, it costs nothing to every other
 * command (bench/README.md, "process start"). Thread-safe. */
#pragma once
#include <git2.h>

struct kl_error;

/* The libgit2 functions kiln calls, named without their git_ prefix and typed from its
 * headers. */
struct kl_git2 {
	typeof(git_blob_free) *blob_free;
	typeof(git_blob_lookup) *blob_lookup;
	typeof(git_blob_rawcontent) *blob_rawcontent;
	typeof(git_blob_rawsize) *blob_rawsize;
	typeof(git_commit_parentcount) *commit_parentcount;
	typeof(git_commit_time) *commit_time;
	typeof(git_commit_tree) *commit_tree;
	typeof(git_credential_ssh_key_from_agent) *credential_ssh_key_from_agent;
	typeof(git_error_last) *error_last;
	typeof(git_fetch_options_init) *fetch_options_init;
	typeof(git_index_free) *index_free;
	typeof(git_index_open) *index_open;
	typeof(git_index_read_tree) *index_read_tree;
	typeof(git_index_write) *index_write;
	typeof(git_libgit2_init) *libgit2_init;
	typeof(git_object_free) *object_free;
	typeof(git_object_id) *object_id;
	typeof(git_object_lookup) *object_lookup;
	typeof(git_object_lookup_prefix) *object_lookup_prefix;
	typeof(git_object_peel) *object_peel;
	typeof(git_object_type) *object_type;
	typeof(git_object_type2string) *object_type2string;
	typeof(git_odb_exists) *odb_exists;
	typeof(git_odb_free) *odb_free;
	typeof(git_odb_object_data) *odb_object_data;
	typeof(git_odb_object_free) *odb_object_free;
	typeof(git_odb_object_size) *odb_object_size;
	typeof(git_odb_object_type) *odb_object_type;
	typeof(git_odb_open) *odb_open;
	typeof(git_odb_read) *odb_read;
	typeof(git_odb_read_header) *odb_read_header;
	typeof(git_oid_cmp) *oid_cmp;
	typeof(git_oid_equal) *oid_equal;
	typeof(git_oid_fmt) *oid_fmt;
	typeof(git_oid_fromstr) *oid_fromstr;
	typeof(git_oid_fromstrn) *oid_fromstrn;
	typeof(git_oid_tostr) *oid_tostr;
	typeof(git_reference_create) *reference_create;
	typeof(git_reference_free) *reference_free;
	typeof(git_reference_is_valid_name) *reference_is_valid_name;
	typeof(git_reference_name_to_id) *reference_name_to_id;
	typeof(git_remote_connect) *remote_connect;
	typeof(git_remote_create_options_init) *remote_create_options_init;
	typeof(git_remote_create_with_opts) *remote_create_with_opts;
	typeof(git_remote_disconnect) *remote_disconnect;
	typeof(git_remote_download) *remote_download;
	typeof(git_remote_free) *remote_free;
	typeof(git_remote_ls) *remote_ls;
	typeof(git_remote_update_tips) *remote_update_tips;
	typeof(git_repository_free) *repository_free;
	typeof(git_repository_init) *repository_init;
	typeof(git_repository_odb) *repository_odb;
	typeof(git_repository_open_bare) *repository_open_bare;
	typeof(git_tag_target_id) *tag_target_id;
	typeof(git_tree_entry_byindex) *tree_entry_byindex;
	typeof(git_tree_entry_byname) *tree_entry_byname;
	typeof(git_tree_entry_bypath) *tree_entry_bypath;
	typeof(git_tree_entry_filemode) *tree_entry_filemode;
	typeof(git_tree_entry_free) *tree_entry_free;
	typeof(git_tree_entry_id) *tree_entry_id;
	typeof(git_tree_entry_name) *tree_entry_name;
	typeof(git_tree_entry_type) *tree_entry_type;
	typeof(git_tree_entrycount) *tree_entrycount;
	typeof(git_tree_free) *tree_free;
	typeof(git_tree_id) *tree_id;
	typeof(git_tree_lookup) *tree_lookup;
	typeof(git_tree_walk) *tree_walk;
};

/* Loads libgit2 (KILN_SONAME_GIT2, the soname found at build time) on the first call. -ELIBACC,
 * with err naming it, when it cannot be loaded; git sources call it before
 * anything else, where the error can reach the user. */
int kl_git2_load(struct kl_error **err);
/* libgit2's functions, for code that runs after kl_git2_load() succeeded. It loads them
 * if need be and aborts if it cannot: a bug, when the caller skipped kl_git2_load(). */
const struct kl_git2 *kl_git2(void);
