// SPDX-License-Identifier: Apache-2.0
/* libcurl loaded on first use and its functions resolved by name; why: util/dl-curl.h. */
#include "util/dl-curl.h"

#include <stddef.h>

#include "util/dl.h"

static const struct kl_dl_symbol symbols[] = {
    {"curl_easy_cleanup", offsetof(struct kl_curl, easy_cleanup)},
    {"curl_easy_escape", offsetof(struct kl_curl, easy_escape)},
    {"curl_easy_getinfo", offsetof(struct kl_curl, easy_getinfo)},
    {"curl_easy_init", offsetof(struct kl_curl, easy_init)},
    {"curl_easy_perform", offsetof(struct kl_curl, easy_perform)},
    {"curl_easy_reset", offsetof(struct kl_curl, easy_reset)},
    {"curl_easy_setopt", offsetof(struct kl_curl, easy_setopt)},
    {"curl_easy_strerror", offsetof(struct kl_curl, easy_strerror)},
    {"curl_free", offsetof(struct kl_curl, free)},
    {"curl_getdate", offsetof(struct kl_curl, getdate)},
    {"curl_global_init", offsetof(struct kl_curl, global_init)},
    {"curl_multi_add_handle", offsetof(struct kl_curl, multi_add_handle)},
    {"curl_multi_cleanup", offsetof(struct kl_curl, multi_cleanup)},
    {"curl_multi_info_read", offsetof(struct kl_curl, multi_info_read)},
    {"curl_multi_init", offsetof(struct kl_curl, multi_init)},
    {"curl_multi_perform", offsetof(struct kl_curl, multi_perform)},
    {"curl_multi_poll", offsetof(struct kl_curl, multi_poll)},
    {"curl_multi_remove_handle", offsetof(struct kl_curl, multi_remove_handle)},
    {"curl_multi_strerror", offsetof(struct kl_curl, multi_strerror)},
    {"curl_multi_timeout", offsetof(struct kl_curl, multi_timeout)},
    {"curl_slist_append", offsetof(struct kl_curl, slist_append)},
    {"curl_slist_free_all", offsetof(struct kl_curl, slist_free_all)},
};

static struct kl_curl table;
static struct kl_dl_library library = KL_DL_LIBRARY("libcurl", KILN_SONAME_CURL, symbols, &table);

int
kl_curl_load(struct kl_error **err)
{
	return kl_dl_load(&library, err);
}

const struct kl_curl *
kl_curl(void)
{
	return kl_dl_table(&library);
}
