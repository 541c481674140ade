/* dl-curl — libcurl, loaded with dlopen() on first use (util/dl.h): the functions kiln calls.
 *
 * Why not linked: libcurl pulls some 30 libraries into the process (gnutls, krb5, ldap, ssh2,
 * nghttp2, idn2, psl, rtmp, …), whose loading and relocation was most of every kiln command's
 * start, and only the registry client (oci/registry*.c), ADD <url> (sources/httpsrc.c) and the
 * dockerd exporter need it: loaded there, it costs nothing elsewhere (bench/README.md, "process
 * start"). Thread-safe. */
#pragma once
#include <curl/curl.h>

struct kl_error;

/* The libcurl functions kiln calls, named without their curl_ prefix and typed from its
 * headers. */
struct kl_curl {
	typeof(curl_easy_cleanup) *easy_cleanup;
	typeof(curl_easy_escape) *easy_escape;
	typeof(curl_easy_getinfo) *easy_getinfo;
	typeof(curl_easy_init) *easy_init;
	typeof(curl_easy_perform) *easy_perform;
	typeof(curl_easy_reset) *easy_reset;
	typeof(curl_easy_setopt) *easy_setopt;
	typeof(curl_easy_strerror) *easy_strerror;
	typeof(curl_free) *free;
	typeof(curl_getdate) *getdate;
	typeof(curl_global_init) *global_init;
	typeof(curl_multi_add_handle) *multi_add_handle;
	typeof(curl_multi_cleanup) *multi_cleanup;
	typeof(curl_multi_info_read) *multi_info_read;
	typeof(curl_multi_init) *multi_init;
	typeof(curl_multi_perform) *multi_perform;
	typeof(curl_multi_poll) *multi_poll;
	typeof(curl_multi_remove_handle) *multi_remove_handle;
	typeof(curl_multi_strerror) *multi_strerror;
	typeof(curl_multi_timeout) *multi_timeout;
	typeof(curl_slist_append) *slist_append;
	typeof(curl_slist_free_all) *slist_free_all;
};

/* Loads libcurl (KILN_SONAME_CURL, the soname found at build time) on the first call. -ELIBACC,
 * with err naming it, when it cannot be loaded; the registry client, ADD <url> and the dockerd
 * exporter call it before anything else, where the error can reach the user. */
int kl_curl_load(struct kl_error **err);
/* libcurl's functions, for code that runs after kl_curl_load() succeeded. It loads them
 * if need be and aborts if it cannot: a bug, when the caller skipped kl_curl_load(). */
const struct kl_curl *kl_curl(void);
