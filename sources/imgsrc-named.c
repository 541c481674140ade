// SPDX-License-Identifier: Apache-2.0
/* Images by name: kiln's image index first, the registry by pull policy, what is pulled
 * recorded under its name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/image.h"
#include "sources/imgsrc.h"
#include "sources/imgstore.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

static const struct {
	const char *name;
	enum imgsrc_pull_policy policy;
} policies[] = {
    /* the canonical names first: imgsrc_pull_policy_name() returns them */
    {"missing", IMGSRC_PULL_MISSING},   {"always", IMGSRC_PULL_ALWAYS},
    {"never", IMGSRC_PULL_NEVER},       {"newer", IMGSRC_PULL_NEWER},
    {"true", IMGSRC_PULL_ALWAYS},       {"false", IMGSRC_PULL_MISSING},
    {"ifmissing", IMGSRC_PULL_MISSING}, {"ifnewer", IMGSRC_PULL_NEWER},
};

int
imgsrc_pull_policy_parse(const char *s, enum imgsrc_pull_policy *ret, struct kl_error **err)
{
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		if (!strcmp(s, policies[i].name)) {
			*ret = policies[i].policy;
			return 0;
		}
	}
	return kl_error_setf(err, EINVAL,
	                     "pull policy '%s' is none of always, missing, never, newer", s);
}

const char *
imgsrc_pull_policy_name(enum imgsrc_pull_policy p)
{
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		if (policies[i].policy == p)
			return policies[i].name;
	return "?";
}

/* Whether the indexed image is for the platform asked for explicitly (NULL: any is). */
static bool
platform_fits(const struct imgstore_image *im, const char *platform, char **ret_have)
{
	struct oci_platform want = {0};
	struct oci_config c = {0};
	bool ok;

	*ret_have = NULL;
	if (!platform)
		return true;
	if (oci_platform_parse(platform, &want, NULL) < 0)
		return true; /* the pull reports the bad platform */
	if (oci_config_parse(im->config, im->config_len, &c, NULL) < 0) {
		oci_platform_done(&want);
		return false;
	}
	ok = c.platform.os && c.platform.architecture && !strcmp(c.platform.os, want.os) &&
	     !strcmp(c.platform.architecture, want.architecture) &&
	     (!want.variant || (c.platform.variant && !strcmp(c.platform.variant, want.variant)));
	*ret_have =
	    xasprintf("%s/%s%s%s", c.platform.os ? c.platform.os : "?",
	              c.platform.architecture ? c.platform.architecture : "?",
	              c.platform.variant ? "/" : "", c.platform.variant ? c.platform.variant : "");
	oci_platform_done(&want);
	oci_config_done(&c);
	return ok;
}

/* The indexed image of norm: 0 with ret filled, -ENOENT (err untouched) when the index has
 * none; a name whose record is gone counts as none. */
static int
from_index(struct store *s, const char *norm, struct imgstore_image *ret, struct digest *ret_record,
           struct kl_error **err)
{
	struct digest rec;
	int r;

	r = imgstore_lookup(s, norm, &rec, err);
	if (r < 0)
		return r;
	r = imgstore_get(s, &rec, ret, err);
	if (r < 0)
		return r;
	*ret_record = rec;
	return 0;
}

/* Pulls docker-image://norm and records it under norm. */
static int
pull(struct store *s, const char *norm, const struct source_options *opts,
     struct imgstore_image *ret, struct digest *ret_record, struct kl_error **err)
{
	_cleanup_free_ char *spec = xasprintf("docker-image://%s", norm);
	struct imgstore_image im = {0};
	struct digest rec;
	int r;

	r = imgsrc_resolve_image(s, spec, opts, &im, err);
	if (r >= 0)
		r = imgstore_put(s, &im, &rec, err);
	if (r >= 0)
		r = imgstore_tag(s, norm, &rec, err);
	if (r < 0) {
		imgstore_image_done(&im);
		return r;
	}
	*ret = im;
	*ret_record = rec;
	return 0;
}

static int
resolve_named(struct store *s, const char *norm, enum imgsrc_pull_policy policy,
              const struct source_options *opts, struct imgstore_image *ret,
              struct digest *ret_record, struct kl_error **err)
{
	struct imgstore_image local = {0};
	_cleanup_free_ char *have = NULL;
	struct kl_error *perr = NULL;
	bool found = false;
	int r;

	if (policy != IMGSRC_PULL_ALWAYS) {
		r = from_index(s, norm, &local, ret_record, err);
		if (r < 0 && r != -ENOENT)
			return r;
		found = r >= 0;
		if (found && !platform_fits(&local, opts->platform, &have)) {
			imgstore_image_done(&local);
			found = false;
			if (policy == IMGSRC_PULL_NEVER)
				return kl_error_setf(err, ENOENT,
				                     "image '%s' in kiln's image index is for %s, "
				                     "not %s, and the pull policy is 'never'",
				                     norm, have, opts->platform);
		}
		if (found && policy != IMGSRC_PULL_NEWER) {
			*ret = local;
			return 0;
		}
	}
	if (policy == IMGSRC_PULL_NEVER)
		return kl_error_setf(err, ENOENT,
		                     "image '%s' is not in kiln's image index, and the pull "
		                     "policy is 'never'",
		                     norm);
	r = pull(s, norm, opts, ret, ret_record, found ? &perr : err);
	if (r < 0 && found) {
		kl_debug("pulling '%s' failed (%s); using the image in the index", norm,
		         perr ? perr->msg : "?");
		kl_error_free(perr);
		*ret = local;
		return 0;
	}
	imgstore_image_done(&local);
	return r;
}

int
imgsrc_resolve_named(struct store *s, const char *name, enum imgsrc_pull_policy policy,
                     const struct source_options *opts, struct imgstore_image *ret,
                     struct digest *ret_record, struct kl_error **err)
{
	static const struct source_options defaults = {0};
	_cleanup_free_ char *norm = NULL;
	struct digest rec;
	int r;

	r = imgstore_normalize(name, &norm, err);
	if (r < 0)
		return r;
	r = resolve_named(s, norm, policy, opts ? opts : &defaults, ret, &rec, err);
	if (r >= 0 && ret_record)
		*ret_record = rec;
	return r;
}

int
imgsrc_pull(struct store *s, const char *spec, enum imgsrc_pull_policy policy,
            const struct source_options *opts, struct imgstore_image *ret, char **ret_name,
            struct kl_error **err)
{
	_cleanup_free_ char *name = NULL;
	struct imgstore_image im = {0};
	struct digest rec;
	int r;

	if (!strncmp(spec, "docker-image://", 15) || !strstr(spec, "://")) {
		if (!strncmp(spec, "docker-image://", 15))
			spec += 15;
		r = imgstore_normalize(spec, &name, err);
		if (r >= 0)
			r = imgsrc_resolve_named(s, name, policy, opts, ret, /* ret_record= */ NULL,
			                         err);
		if (r >= 0 && ret_name)
			*ret_name = TAKE_PTR(name);
		return r;
	}
	r = imgsrc_resolve_image(s, spec, opts, &im, err);
	if (r >= 0 && imgsrc_layout_name(spec, &name) >= 0) {
		r = imgstore_put(s, &im, &rec, err);
		if (r >= 0)
			r = imgstore_tag(s, name, &rec, err);
	}
	if (r < 0) {
		imgstore_image_done(&im);
		return r;
	}
	if (ret_name)
		*ret_name = TAKE_PTR(name);
	*ret = im;
	return 0;
}
