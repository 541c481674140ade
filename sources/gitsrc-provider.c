// SPDX-License-Identifier: Apache-2.0
/* The "git" provider: the bytes of a "git:<repo id>:<blob id>" locator, read from the object
 * database of the store's bare repository that id names, and of "git:<repo id>:<oid>:loose",
 * that object as a loose object file (a kept .git's objects, gitsrc-loose.c).
 *
 * The repository id is the first 16 hex of the bare repository's 64-hex name (gitsrc.c names
 * it); the provider finds the one repository under <root>/git/ whose name starts with it, and
 * still reads the full 64-hex name that older trees carry. A git_odb is used by one thread at a
 * time, so each repository keeps a pool of opened ones. */
#include "sources/gitsrc.h"

#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "sources/gitsrc-internal.h"
#include "util/cleanup.h"
#include "util/dl-git2.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/path.h"
#include "util/xalloc.h"

#define REPO_NAME_LEN GITSRC_REPO_NAME_LEN
#define REPO_ID_LEN GITSRC_REPO_ID_LEN
#define OID_HEX GIT_OID_HEXSZ
#define LOCATOR_LEN GITSRC_LOCATOR_LEN
#define LONG_LOCATOR_LEN (4 + REPO_NAME_LEN + 1 + OID_HEX) /* git:<repo>:<oid>, older trees */

struct odb_pool {
	char name[REPO_NAME_LEN + 1];
	git_odb **idle;
	size_t n_idle, cap;
};

struct provider_git {
	char *git_dir;
	pthread_mutex_t lock;
	struct odb_pool *pools; /* protected by lock */
	size_t n_pools, cap;    /* protected by lock */
};

static struct odb_pool *
pool_for(struct provider_git *g, const char *name)
{
	struct odb_pool *p;

	for (size_t i = 0; i < g->n_pools; i++)
		if (strcmp(g->pools[i].name, name) == 0)
			return &g->pools[i];
	g->pools = xgrow(g->pools, &g->cap, g->n_pools + 1, sizeof(*g->pools));
	p = &g->pools[g->n_pools++];
	*p = (struct odb_pool){0};
	memcpy(p->name, name, REPO_NAME_LEN + 1);
	return p;
}

static git_odb *
odb_take(struct provider_git *g, const char *name)
{
	git_odb *odb = NULL;
	struct odb_pool *p;

	pthread_mutex_lock(&g->lock);
	p = pool_for(g, name);
	if (p->n_idle > 0)
		odb = p->idle[--p->n_idle];
	pthread_mutex_unlock(&g->lock);
	return odb;
}

static void
odb_give(struct provider_git *g, const char *name, git_odb *odb)
{
	struct odb_pool *p;

	pthread_mutex_lock(&g->lock);
	p = pool_for(g, name);
	p->idle = xgrow(p->idle, &p->cap, p->n_idle + 1, sizeof(*p->idle));
	p->idle[p->n_idle++] = odb;
	pthread_mutex_unlock(&g->lock);
}

/* "git:<16 or 64 hex>:<40 hex>", or "git:<16 hex>:<40 hex>:loose"; the repository id is
 * checked so it can only name a store dir. ret_name gets the id as written (16 or 64 hex),
 * ret_loose whether the loose object file is asked for. */
static int
parse_locator(const struct provider_request *req, char *ret_name, git_oid *ret_oid, bool *ret_loose,
              struct kl_error **err)
{
	const char *l = req->locator;
	size_t n = req->locator_len;
	bool loose = n == GITSRC_LOOSE_LOCATOR_LEN && l &&
	             memcmp(l + LOCATOR_LEN, GITSRC_LOOSE_SUFFIX, n - LOCATOR_LEN) == 0;
	size_t id = n == LOCATOR_LEN || loose ? REPO_ID_LEN : REPO_NAME_LEN;

	if (!l || (n != LOCATOR_LEN && n != LONG_LOCATOR_LEN && !loose) ||
	    memcmp(l, "git:", 4) != 0 || l[4 + id] != ':' || !kl_hex_is_lower(l + 4, id) ||
	    !kl_hex_is_lower(l + 5 + id, OID_HEX) ||
	    kl_git2()->oid_fromstrn(ret_oid, l + 5 + id, OID_HEX) < 0)
		return kl_error_setf(err, EINVAL, "malformed git locator for '%s'",
		                     req->path ? req->path : "(unnamed)");
	memcpy(ret_name, l + 4, id);
	ret_name[id] = '\0';
	*ret_loose = loose;
	return 0;
}

/* The objects directory of the one repository whose name starts with id. */
static int
find_objects(const struct provider_git *g, const char *id, const struct provider_request *req,
             char **ret, struct kl_error **err)
{
	const char *shown = req->path ? req->path : "(unnamed)";
	size_t idlen = strlen(id);
	char found[REPO_NAME_LEN + 1] = "";
	struct dirent *de;
	DIR *d;

	if (idlen == REPO_NAME_LEN) {
		memcpy(found, id, REPO_NAME_LEN + 1);
	} else {
		d = opendir(g->git_dir);
		if (!d)
			return kl_error_set(err, errno, "repository of '%s' ('%s')", shown,
			                    g->git_dir);
		while ((de = readdir(d))) {
			if (strlen(de->d_name) != REPO_NAME_LEN + 4 ||
			    strcmp(de->d_name + REPO_NAME_LEN, ".git") != 0 ||
			    strncmp(de->d_name, id, idlen) != 0 ||
			    !kl_hex_is_lower(de->d_name, REPO_NAME_LEN))
				continue;
			if (found[0]) {
				closedir(d);
				return kl_error_setf(
				    err, EIO, "repository id '%s' of '%s' is ambiguous", id, shown);
			}
			memcpy(found, de->d_name, REPO_NAME_LEN);
			found[REPO_NAME_LEN] = '\0';
		}
		closedir(d);
		if (!found[0])
			return kl_error_setf(err, ENOENT, "no repository '%s' for '%s' in '%s'", id,
			                     shown, g->git_dir);
	}
	*ret = xasprintf("%s/%s.git/objects", g->git_dir, found);
	return 0;
}

/* The object as a loose object file, of the size the tree gave. */
static int
write_loose(git_odb_object *obj, const char *hex, const struct provider_request *req,
            struct store_writer *w, struct kl_error **err)
{
	const char *shown = req->path ? req->path : "(unnamed)";
	git_object_t type = kl_git2()->odb_object_type(obj);
	size_t size = kl_git2()->odb_object_size(obj);

	if (gitsrc_loose_size(type, size) != req->size)
		return kl_error_setf(err, EIO,
		                     "object %s of '%s' makes a loose file of %llu bytes, "
		                     "not %llu",
		                     hex, shown, (unsigned long long)gitsrc_loose_size(type, size),
		                     (unsigned long long)req->size);
	return gitsrc_loose_write(w, type, kl_git2()->odb_object_data(obj), size, err);
}

static int
write_blob(git_odb *odb, const git_oid *oid, bool loose, const struct provider_request *req,
           struct store_writer *w, struct kl_error **err)
{
	const char *shown = req->path ? req->path : "(unnamed)";
	git_odb_object *obj = NULL;
	char hex[OID_HEX + 1];
	int r;

	kl_git2()->oid_tostr(hex, sizeof(hex), oid);
	r = kl_git2()->odb_read(&obj, odb, oid);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "reading %s %s of '%s'",
		                             loose ? "object" : "blob", hex, shown);
	if (loose)
		r = write_loose(obj, hex, req, w, err);
	else if (kl_git2()->odb_object_type(obj) != GIT_OBJECT_BLOB)
		r = kl_error_setf(err, EIO, "object %s of '%s' is not a blob", hex, shown);
	else if (kl_git2()->odb_object_size(obj) != req->size)
		r = kl_error_setf(err, EIO, "blob %s of '%s' has %zu bytes, not %llu", hex, shown,
		                  kl_git2()->odb_object_size(obj), (unsigned long long)req->size);
	else
		r = store_writer_write(w, kl_git2()->odb_object_data(obj),
		                       kl_git2()->odb_object_size(obj), err);
	kl_git2()->odb_object_free(obj);
	return r;
}

static int
provider_git_fetch(void *data, const struct provider_request *req, struct store_writer *w,
                   struct kl_error **err)
{
	struct provider_git *g = data;
	char name[REPO_NAME_LEN + 1];
	_cleanup_free_ char *objects = NULL;
	git_odb *odb;
	git_oid oid;
	bool loose = false;
	int r;

	/* here, not when the provider is added: most mounts and builds read no git blob */
	r = gitsrc_init_libgit2(err);
	if (r < 0)
		return r;
	r = parse_locator(req, name, &oid, &loose, err);
	if (r < 0)
		return r;
	odb = odb_take(g, name);
	if (!odb) {
		r = find_objects(g, name, req, &objects, err);
		if (r < 0)
			return r;
		if (access(objects, F_OK) < 0)
			return kl_error_set(err, errno, "repository of '%s' ('%s')",
			                    req->path ? req->path : "(unnamed)", objects);
		r = kl_git2()->odb_open(&odb, objects);
		if (r < 0)
			return gitsrc_error_from_git(err, r, "opening '%s'", objects);
	}
	r = write_blob(odb, &oid, loose, req, w, err);
	odb_give(g, name, odb);
	return r;
}

static void
provider_git_free(void *data)
{
	struct provider_git *g = data;

	if (!g)
		return;
	for (size_t i = 0; i < g->n_pools; i++) {
		for (size_t k = 0; k < g->pools[i].n_idle; k++)
			kl_git2()->odb_free(g->pools[i].idle[k]);
		free(g->pools[i].idle);
	}
	free(g->pools);
	pthread_mutex_destroy(&g->lock);
	free(g->git_dir);
	free(g);
}

static const struct provider_ops provider_git_ops = {
    .scheme = "git",
    .fetch = provider_git_fetch,
    .free = provider_git_free,
};

void
gitsrc_add_provider(struct provider_set *ps, struct store *s)
{
	struct provider_git *g = xcalloc(1, sizeof(*g));

	g->git_dir = kl_path_join(store_root(s), "git");
	pthread_mutex_init(&g->lock, NULL);
	provider_set_add(ps, &provider_git_ops, g);
}
