// SPDX-License-Identifier: Apache-2.0
/* Base images for the conversion: kiln's image index first, a pull by policy, or a source spec,
 * each image named in the graph by its merged tree (BuildKit's ResolveImageConfig). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder/build-internal.h"
#include "sources/imgsrc.h"
#include "sources/imgstore.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
build_resolve(void *userdata, const char *ref, const char *platform, struct dockerfile_image *ret,
              struct kl_error **err)
{
	struct build_images *b = userdata;
	struct source_options o = b->src ? *b->src : (struct source_options){0};
	struct imgstore_image im = {0};
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *display = NULL;
	int64_t t0 = now_ns();
	int r;

	o.platform = platform;
	if (strstr(ref, "://")) {
		r = imgsrc_resolve_image(b->s, ref, &o, &im, err);
		display = xstrdup(ref);
	} else {
		r = imgstore_normalize(ref, &display, err);
		if (r >= 0)
			r = imgsrc_resolve_named(b->s, ref, (enum imgsrc_pull_policy)b->pull_policy,
			                         &o, &im, /* ret_record= */ NULL, err);
	}
	if (r < 0)
		return r;
	b->v = xrealloc(b->v, (b->n + 1) * sizeof(*b->v));
	b->names = xrealloc(b->names, (b->n + 1) * sizeof(*b->names));
	b->started_ns = xrealloc(b->started_ns, (b->n + 1) * sizeof(*b->started_ns));
	b->done_ns = xrealloc(b->done_ns, (b->n + 1) * sizeof(*b->done_ns));
	b->v[b->n] = im;
	b->names[b->n] = xstrdup(display);
	b->started_ns[b->n] = t0;
	b->done_ns[b->n] = now_ns();
	*ret = (struct dockerfile_image){
	    .ref = xstrdup(digest_to_string(&im.tree, id)),
	    .display = TAKE_PTR(display),
	    .config = im.config ? xstrndup(im.config, im.config_len) : NULL,
	    .handle = (int)b->n,
	};
	b->n++;
	return 0;
}

void
build_images_done(struct build_images *b)
{
	for (size_t i = 0; i < b->n; i++) {
		imgstore_image_done(&b->v[i]);
		free(b->names[i]);
	}
	free(b->v);
	free(b->names);
	free(b->started_ns);
	free(b->done_ns);
	b->v = NULL;
	b->names = NULL;
	b->n = 0;
}
