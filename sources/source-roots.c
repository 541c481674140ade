// SPDX-License-Identifier: Apache-2.0
/* The trees and blobs the sources' own records name (image and git tree caches), so a
 * collector keeps what they need. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/store.h"
#include "sources/imgstore.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

#define RECORD_MAX 65536u

/* Every "sha256:<hex>" in a record's text. */
static int
record_digests(const char *text, source_root_fn fn, void *userdata)
{
	for (const char *p = strstr(text, "sha256:"); p; p = strstr(p + 7, "sha256:")) {
		struct digest d;
		int r;

		if (digest_parse(p, DIGEST_STRING_SIZE - 1, &d, NULL) < 0)
			continue;
		r = fn(&d, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Calls fn for the digests in every file of dir (skipping names starting with skip_prefix and
 * temporary files); a missing dir has none. */
static int
walk_dir(const char *dir, const char *skip_prefix, source_root_fn fn, void *userdata,
         struct kl_error **err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d && errno == ENOENT)
		return 0;
	if (!d)
		return kl_error_set(err, errno, "listing '%s'", dir);
	while (r >= 0 && (de = readdir(d))) {
		_cleanup_free_ char *text = NULL;
		_cleanup_close_ int fd = -1;
		size_t len;

		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp") ||
		    (skip_prefix && !strncmp(de->d_name, skip_prefix, strlen(skip_prefix))))
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0 || kl_io_read_all(fd, RECORD_MAX, &text, &len) < 0)
			continue; /* removed or replaced meanwhile: it names nothing now */
		r = record_digests(text, fn, userdata);
	}
	closedir(d);
	return r < 0 ? r : 0;
}

struct adapter {
	source_root_fn fn;
	void *userdata;
};

static int
on_image_blob(const struct digest *d, enum imgstore_blob_kind kind, void *userdata)
{
	const struct adapter *a = userdata;

	(void)kind; /* trees and plain blobs alike: the collector tells them apart */
	return a->fn(d, a->userdata);
}

int
source_foreach_root(struct store *s, source_root_fn fn, void *userdata, struct kl_error **err)
{
	struct adapter a = {fn, userdata};
	static const struct {
		const char *dir, *skip;
	} dirs[] = {
	    {"imgsrc/images", NULL},
	    {"imgsrc/layers", NULL},
	    {"git/trees", "last-"}, /* "last-*" names a commit, not a tree */
	};
	int r;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		_cleanup_free_ char *dir = kl_path_join(store_root(s), dirs[i].dir);

		r = walk_dir(dir, dirs[i].skip, fn, userdata, err);
		if (r < 0)
			return r;
	}
	/* kiln's image index: every named image's record, config, layers and trees */
	return imgstore_foreach_blob(s, on_image_blob, &a, err);
}
