// SPDX-License-Identifier: Apache-2.0
/* The image index: normalized names → image records, one small file per name.
 *
 * A name is kept in <root>/images/<64 hex>, the hex being the sha256 of the normalized name
 * (names may be longer than a file name and hold '/', ':', '@', '[' and ']'). The file holds
 * two lines: the record's digest ("sha256:<hex>") and the name itself, which a reader checks.
 * A writer writes a temporary file in the same directory (<hex>.tmp.XXXXXX, which readers
 * skip), syncs it unless the store does not sync, and renames it over the name's file: a
 * reader in any process opens the old file or the new one, whole. */
#include "sources/imgstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/store.h"
#include "oci/reference.h"
#include "sources/imgstore-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

#define INDEX_DIR "images"
#define MAX_NAME_LENGTH 255u /* bytes of domain/repository, as Docker's NameTotalLengthMax */
#define MAX_POINTER (DIGEST_STRING_SIZE + OCI_MAX_REFERENCE + 64)
#define MIN_ID_PREFIX 4u

int
imgstore_normalize(const char *name, char **ret, struct kl_error **err)
{
	struct oci_reference ref;
	char d[DIGEST_STRING_SIZE];
	int r;

	if (strstr(name, "://"))
		return kl_error_setf(err, EINVAL,
		                     "'%s' is a source, not an image name (leave out the scheme)",
		                     name);
	if (strlen(name) == DIGEST_HEX_LEN && kl_hex_is_lower(name, DIGEST_HEX_LEN))
		return kl_error_setf(err, EINVAL,
		                     "invalid image name '%s': a 64-digit hex string is an image "
		                     "id, not a repository",
		                     name);
	r = oci_reference_parse(name, &ref, err);
	if (r < 0)
		return r;
	if (strlen(ref.domain) + 1 + strlen(ref.repository) > MAX_NAME_LENGTH) {
		oci_reference_done(&ref);
		return kl_error_setf(err, EINVAL,
		                     "invalid image name '%.64s…': a repository name must not be "
		                     "more than %u characters",
		                     name, MAX_NAME_LENGTH);
	}
	*ret = xasprintf("%s/%s%s%s%s%s", ref.domain, ref.repository, ref.tag ? ":" : "",
	                 ref.tag ? ref.tag : "", ref.has_digest ? "@" : "",
	                 ref.has_digest ? digest_to_string(&ref.digest, d) : "");
	oci_reference_done(&ref);
	return 0;
}

void
imgstore_name_split(const char *norm, struct imgstore_name_parts *ret)
{
	const char *at = strchr(norm, '@');
	size_t end = at ? (size_t)(at - norm) : strlen(norm);
	const char *slash = memrchr(norm, '/', end);
	const char *last = slash ? slash : norm; /* the tag is in the last component */
	const char *colon = memrchr(last, ':', end - (size_t)(last - norm));

	*ret = (struct imgstore_name_parts){0};
	ret->repository = xstrndup(norm, colon ? (size_t)(colon - norm) : end);
	if (colon)
		ret->tag = xstrndup(colon + 1, end - (size_t)(colon + 1 - norm));
	if (at)
		ret->digest = xstrdup(at + 1);
}

void
imgstore_name_parts_done(struct imgstore_name_parts *p)
{
	free(p->repository);
	free(p->tag);
	free(p->digest);
	*p = (struct imgstore_name_parts){0};
}

static char *
index_dir(struct store *s)
{
	return kl_path_join(store_root(s), INDEX_DIR);
}

static char *
pointer_path(struct store *s, const char *norm)
{
	char hex[DIGEST_HEX_LEN + 1];
	struct digest d;

	digest_buffer(norm, strlen(norm), &d);
	return xasprintf("%s/" INDEX_DIR "/%s", store_root(s), digest_to_hex(&d, hex));
}

/* Reads a pointer file: its record and name (caller frees). -ENOENT (err untouched) when
 * absent, -EBADMSG naming the file when it is not two lines of a digest and a name. */
static int
read_pointer(const char *path, struct digest *ret, char **ret_name, struct kl_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_free_ char *buf = NULL;
	char *nl, *name;
	size_t len;
	int r;

	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0)
		return kl_error_set(err, errno, "opening image index entry '%s'", path);
	r = kl_io_read_all(fd, MAX_POINTER, &buf, &len);
	if (r < 0)
		return kl_error_set(err, -r, "reading image index entry '%s'", path);
	nl = memchr(buf, '\n', len);
	name = nl ? nl + 1 : NULL;
	if (!nl || digest_parse(buf, (size_t)(nl - buf), ret, NULL) < 0 || len < 2 ||
	    buf[len - 1] != '\n' || memchr(name, '\n', len - 1 - (size_t)(name - buf)) ||
	    memchr(buf, '\0', len) || name == buf + len - 1)
		return kl_error_setf(err, EBADMSG,
		                     "image index entry '%s' is corrupt (not a record digest and a "
		                     "name); remove it",
		                     path);
	buf[len - 1] = '\0';
	*ret_name = xstrdup(name);
	return 0;
}

int
imgstore_lookup(struct store *s, const char *name, struct digest *ret, struct kl_error **err)
{
	_cleanup_free_ char *norm = NULL, *path = NULL, *found = NULL;
	int r;

	r = imgstore_normalize(name, &norm, err);
	if (r < 0)
		return r;
	path = pointer_path(s, norm);
	r = read_pointer(path, ret, &found, err);
	if (r < 0)
		return r;
	if (strcmp(found, norm))
		return kl_error_setf(err, EBADMSG,
		                     "image index entry '%s' names '%s', not '%s'; remove it", path,
		                     found, norm);
	return 0;
}

/* Writes text into a new file next to path and renames it over path. */
static int
replace_file(struct store *s, const char *dir, const char *path, const char *text,
             struct kl_error **err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	_cleanup_close_ int fd = -1, dfd = -1;
	int r;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return kl_error_set(err, errno, "creating a file in '%s'", dir);
	r = kl_io_write_all(fd, text, strlen(text));
	if (r >= 0 && fchmod(fd, 0644) < 0)
		r = -errno;
	if (r >= 0 && store_syncs(s) && fsync(fd) < 0)
		r = -errno;
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return kl_error_set(err, -r, "writing image index entry '%s'", path);
	}
	if (store_syncs(s)) {
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0)
			return kl_error_set(err, errno, "syncing '%s'", dir);
	}
	return 0;
}

/* Whether the pointer file at path already names record under norm. */
static bool
names_record(const char *path, const char *norm, const struct digest *record)
{
	_cleanup_free_ char *found = NULL;
	struct digest d;

	return read_pointer(path, &d, &found, NULL) == 0 && !strcmp(found, norm) &&
	       digest_equal(&d, record);
}

int
imgstore_tag(struct store *s, const char *name, const struct digest *record, struct kl_error **err)
{
	_cleanup_free_ char *norm = NULL, *dir = NULL, *path = NULL, *text = NULL;
	char id[DIGEST_STRING_SIZE];
	int r;

	r = imgstore_normalize(name, &norm, err);
	if (r < 0)
		return r;
	if (store_has_blob(s, record) <= 0)
		return kl_error_setf(err, ENOENT, "image record %s is not in the store",
		                     digest_to_string(record, id));
	dir = index_dir(s);
	r = kl_path_mkdir_p(dir, 0755);
	if (r < 0)
		return kl_error_set(err, -r, "creating '%s'", dir);
	path = pointer_path(s, norm);
	if (names_record(path, norm, record))
		return 0; /* as it is: a rebuild of an unchanged image writes and syncs nothing */
	text = xasprintf("%s\n%s\n", digest_to_string(record, id), norm);
	return replace_file(s, dir, path, text, err);
}

int
imgstore_keep(struct store *s, struct imgstore_image *im, const char *const *names, size_t n,
              struct digest *ret, struct kl_error **err)
{
	struct digest record;
	int r;

	r = imgstore_put(s, im, &record, err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = imgstore_tag(s, names[i], &record, err);
	if (r < 0) {
		kl_error_prefix(err, "storing the image in kiln's index");
		return r;
	}
	if (ret)
		*ret = record;
	return 0;
}

int
imgstore_untag(struct store *s, const char *name, struct kl_error **err)
{
	_cleanup_free_ char *norm = NULL, *path = NULL;
	int r;

	r = imgstore_normalize(name, &norm, err);
	if (r < 0)
		return r;
	path = pointer_path(s, norm);
	if (unlink(path) == 0)
		return 0;
	if (errno == ENOENT)
		return kl_error_setf(err, ENOENT, "no image '%s' in kiln's image index", norm);
	return kl_error_set(err, errno, "removing image index entry '%s'", path);
}

struct entry {
	char *name;
	struct digest record;
};

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static void
entries_free(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

/* Every pointer of the index, sorted by name. */
static int
read_index(struct store *s, struct entry **ret, size_t *ret_n, struct kl_error **err)
{
	_cleanup_free_ char *dir = index_dir(s);
	struct entry *e = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (!d && errno == ENOENT) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (!d)
		return kl_error_set(err, errno, "opening the image index '%s'", dir);
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		_cleanup_free_ char *path = NULL;

		if (strlen(de->d_name) != DIGEST_HEX_LEN ||
		    !kl_hex_is_lower(de->d_name, DIGEST_HEX_LEN))
			continue; /* ".", "..", a writer's temporary file */
		e = xgrow(e, &cap, n + 1, sizeof(*e));
		path = kl_path_join(dir, de->d_name);
		r = read_pointer(path, &e[n].record, &e[n].name, err);
		if (r == -ENOENT)
			r = 0; /* untagged while we listed */
		else if (r >= 0)
			n++;
	}
	if (r >= 0 && errno)
		r = kl_error_set(err, errno, "reading the image index '%s'", dir);
	closedir(d);
	if (r < 0) {
		entries_free(e, n);
		return r;
	}
	if (n > 1)
		qsort(e, n, sizeof(*e), entry_cmp);
	*ret = e;
	*ret_n = n;
	return 0;
}

int
imgstore_foreach(struct store *s, imgstore_name_fn fn, void *userdata, struct kl_error **err)
{
	struct entry *e = NULL;
	size_t n = 0;
	int r;

	r = read_index(s, &e, &n, err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = fn(e[i].name, &e[i].record, userdata);
	if (r >= 0)
		r = 0;
	entries_free(e, n);
	return r;
}

/* The part of s that may be an image id: "sha256:<hex>" or bare hex; NULL when it is not. */
static const char *
id_text(const char *s)
{
	const char *hex = strncmp(s, "sha256:", 7) ? s : s + 7;
	size_t n = strlen(hex);

	if (n < MIN_ID_PREFIX || n > DIGEST_HEX_LEN || !kl_hex_is_lower(hex, n))
		return NULL;
	return hex;
}

/* The record of the indexed image whose id starts with hex: the first in name order, as all
 * of them hold the same image; -EINVAL when images of different ids match. */
static int
find_by_id(struct store *s, const char *orig, const char *hex, struct digest *ret,
           struct kl_error **err)
{
	char idh[DIGEST_HEX_LEN + 1];
	struct digest id, first_id;
	struct entry *e = NULL;
	size_t n = 0, hits = 0;
	int r;

	r = read_index(s, &e, &n, err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = imgstore_record_id(s, &e[i].record, &id, err);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0 || strncmp(digest_to_hex(&id, idh), hex, strlen(hex)))
			continue;
		if (hits++ == 0) {
			first_id = id;
			*ret = e[i].record;
		} else if (!digest_equal(&first_id, &id)) {
			r = kl_error_setf(
			    err, EINVAL, "image id '%s' is ambiguous: several images start with it",
			    orig);
		}
	}
	entries_free(e, n);
	if (r < 0)
		return r;
	return hits ? 0 : -ENOENT;
}

/* Hands a message made for a question the caller did not ask over to err after all. */
static void
pass_error(struct kl_error **err, struct kl_error *e)
{
	if (err && !*err)
		*err = e;
	else
		kl_error_free(e);
}

int
imgstore_find(struct store *s, const char *name_or_id, struct digest *ret, struct kl_error **err)
{
	const char *hex = id_text(name_or_id);
	struct kl_error *nerr = NULL;
	struct digest d;
	int r;

	if (strncmp(name_or_id, "sha256:", 7)) {
		r = imgstore_lookup(s, name_or_id, &d, &nerr);
		if (r >= 0) {
			*ret = d;
			return 0;
		}
		/* A bare 64-hex string is no name, but it may be an id. */
		if (r != -ENOENT && !(hex && r == -EINVAL)) {
			pass_error(err, nerr);
			return r;
		}
		kl_error_free(nerr);
	}
	if (!hex)
		return -ENOENT;
	r = find_by_id(s, name_or_id, hex, &d, err);
	if (r >= 0)
		*ret = d;
	return r;
}

int
imgstore_names_of(struct store *s, const struct digest *id, char ***ret, size_t *ret_n,
                  struct kl_error **err)
{
	struct entry *e;
	struct digest got;
	char **names;
	size_t n, k = 0;
	int r;

	r = read_index(s, &e, &n, err);
	if (r < 0)
		return r;
	names = xcalloc(n + 1, sizeof(*names));
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = imgstore_record_id(s, &e[i].record, &got, err);
		if (r == -ENOENT)
			r = 0;
		else if (r >= 0 && digest_equal(&got, id))
			names[k++] = TAKE_PTR(e[i].name);
	}
	entries_free(e, n);
	if (r < 0) {
		for (size_t i = 0; i < k; i++)
			free(names[i]);
		free(names);
		return r;
	}
	*ret = names;
	*ret_n = k;
	return 0;
}
