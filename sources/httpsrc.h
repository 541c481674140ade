/* httpsrc — one file downloaded over http(s) into the store, as a tree holding only that file
 * (BuildKit's http source): its name from the URL's last path component unless given, mode
 * 0600 unless given, its mtime the server's Last-Modified (else 0). With a checksum the bytes
 * must match it or nothing is kept. */
#pragma once
#include <stdint.h>

#include "fs/digest.h"

struct kl_error;
struct store;

struct httpsrc_options {
	const char *url;               /* http:// or https:// */
	const struct digest *checksum; /* the expected content; NULL: any */
	const char *filename;          /* NULL: the URL's last path component, else "index" */
	uint32_t mode;                 /* 0: 0600 */
	uint32_t uid, gid;
	int cancel_fd; /* readable: stop with -ECANCELED; -1: none */
	/* Bytes so far of total (0: unknown); may be NULL. Called from the calling thread. */
	void (*progress)(void *userdata, uint64_t current, uint64_t total);
	void *progress_userdata;
};

/* Downloads o->url into the store and writes the one-file tree; its id goes to ret_tree, the
 * file's digest to ret_content. Errors name the URL: an HTTP status of 400 or more, a
 * checksum mismatch (-EBADMSG, both digests), a transfer failure. */
int httpsrc_fetch(struct store *s, const struct httpsrc_options *o, struct digest *ret_tree,
                  struct digest *ret_content, struct kl_error **err);
