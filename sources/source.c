// SPDX-License-Identifier: Apache-2.0
/* Dispatch of SOURCE strings to the source kinds: tree ids, contexts, git, images. */
#include "sources/source.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/store.h"
#include "fs/provider.h"
#include "sources/ctxsrc.h"
#include "sources/gitsrc.h"
#include "sources/imgsrc.h"
#include "sources/imgstore.h"
#include "util/cleanup.h"
#include "util/error.h"

static bool
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A string that names no path and reads as an image name. */
static bool
is_image_name(const char *spec)
{
	_cleanup_free_ char *norm = NULL;
	struct stat st;

	if (lstat(spec, &st) == 0 || errno != ENOENT)
		return false;
	return imgstore_normalize(spec, &norm, /* err= */ NULL) >= 0;
}

enum source_kind
source_classify(const char *spec)
{
	struct digest d;

	if (has_prefix(spec, "docker-image://") || has_prefix(spec, "oci-layout://"))
		return SOURCE_IMAGE;
	if (has_prefix(spec, "sha256:") && digest_parse(spec, strlen(spec), &d, NULL) == 0)
		return SOURCE_TREE;
	/* before git: "busybox@sha256:…" reads as scp-like user@host:path too */
	if (is_image_name(spec))
		return SOURCE_IMAGE_NAME;
	if (gitsrc_matches(spec))
		return SOURCE_GIT;
	return SOURCE_CONTEXT;
}

static int
resolve_name(struct store *s, const char *spec, const struct source_options *opts,
             struct digest *ret, struct kl_error **err)
{
	struct imgstore_image im = {0};
	int r;

	r = imgsrc_resolve_named(s, spec, opts->pull_policy, opts, &im, /* ret_record= */ NULL,
	                         err);
	if (r < 0) {
		kl_error_prefix(err, "source '%s' (no such directory)", spec);
		return r;
	}
	*ret = im.tree;
	imgstore_image_done(&im);
	return 0;
}

int
source_resolve(struct store *s, const char *spec, const struct source_options *opts,
               struct digest *ret, struct kl_error **err)
{
	static const struct source_options defaults = {0};
	struct ctxsrc_options copts = {0};
	struct stat st;

	if (!opts)
		opts = &defaults;
	switch (source_classify(spec)) {
	case SOURCE_TREE:
		if (digest_parse(spec, strlen(spec), ret, err) < 0)
			return -EINVAL;
		if (!store_has_blob(s, ret))
			return kl_error_setf(err, ENOENT, "tree %s is not in the store", spec);
		return 0;
	case SOURCE_GIT:
		return gitsrc_resolve(s, spec, /* opts= */ NULL, ret, /* ret_commit= */ NULL, err);
	case SOURCE_IMAGE:
		return imgsrc_resolve(s, spec, opts, ret, err);
	case SOURCE_IMAGE_NAME:
		return resolve_name(s, spec, opts, ret, err);
	default:
		if (stat(spec, &st) < 0)
			return kl_error_set(err, errno, "source '%s'", spec);
		if (!S_ISDIR(st.st_mode))
			return kl_error_setf(err, ENOTDIR,
			                     "source '%s' is neither a directory, a tree id, "
			                     "a git repository nor an image reference",
			                     spec);
		copts.ignore_file = opts->ignore_file;
		copts.locate_only = true;
		return ctxsrc_scan(s, spec, &copts, ret, err);
	}
}

void
source_add_providers(struct provider_set *ps, struct store *s, const struct source_options *opts)
{
	gitsrc_add_provider(ps, s);
	imgsrc_add_provider(ps, s, opts);
}
