/* source — turning a SOURCE string into a tree in the store, lazily.
 *
 * SOURCE is one of:
 *   sha256:<hex>                              a tree already in the store
 *   a local directory                         a build context (ctxsrc.h)
 *   git://… https://… http://… ssh://… git@host:path file://… or a local repo path,
 *     each with Docker's optional #ref[:subdir] suffix  (gitsrc.h; a local path is a git
 *     source when it carries '#' or names a repository that is not a plain directory)
 *   docker-image://[host[:port]/]repo[:tag|@digest]   (imgsrc.h: always the registry)
 *   oci-layout://DIR[:tag|@digest]                    (imgsrc.h)
 *   an image name, as FROM writes it ("busybox", "localhost:5000/app:1"), when no such path
 *     exists: kiln's image index first, the registry by opts->pull_policy
 *     (imgsrc_resolve_named)
 *
 * Only metadata is fetched to make the tree; file contents stay behind locators that the
 * providers registered by source_add_providers() read on first use. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "sources/imgsrc.h"

struct kl_error;
struct provider_set;
struct store;

struct source_options {
	const char *platform; /* "os/arch[/variant]"; NULL: linux/amd64 */
	const char *const
	    *insecure_registries; /* hosts allowed over plain HTTP (loopback always is) */
	size_t n_insecure_registries;
	const char *ignore_file; /* contexts: instead of <dir>/.dockerignore */
	const char *auth_file;   /* images: a Docker config.json; NULL: anonymous */
	bool all_layers;         /* images: fetch every layer blob now, too */
	/* images: a registry silent this long fails the request, now or in a lazy read of a file;
	 * 0: REGISTRY_DEFAULT_TIMEOUT_MS */
	unsigned registry_timeout_ms;
	/* image names: when to pull rather than take kiln's image index (default: missing) */
	enum imgsrc_pull_policy pull_policy;
	/* images: a byte counter of each layer blob fetched while resolving (id: its digest,
	 * "sha256:…"), current of total bytes, called from the resolving thread as data comes and
	 * once more at the end with current == total; NULL: none */
	void (*progress)(void *userdata, const char *id, uint64_t current, uint64_t total);
	void *progress_userdata;
};

enum source_kind {
	SOURCE_TREE,
	SOURCE_CONTEXT,
	SOURCE_GIT,
	SOURCE_IMAGE,      /* docker-image://, oci-layout:// */
	SOURCE_IMAGE_NAME, /* a name for kiln's image index */
	_SOURCE_KIND_MAX
};

/* Classifies spec without touching the network (a name is told from a directory by whether
 * the path exists). */
enum source_kind source_classify(const char *spec);

/* Resolves spec into a tree written to the store; its id goes to ret. Errors name the source. */
int source_resolve(struct store *s, const char *spec, const struct source_options *opts,
                   struct digest *ret, struct kl_error **err);

/* Registers in ps the providers that read the locators sources write ("git:", "layer:"), so a
 * mount of any source's tree can fetch its contents; the local provider is ps's own. opts (may
 * be NULL) gives image reads their credentials (auth_file, copied) and registry timeout. */
void source_add_providers(struct provider_set *ps, struct store *s,
                          const struct source_options *opts);

/* Calls fn for every blob the sources' own records name (the trees of images and layers under
 * <root>/imgsrc/, the trees of git commits under <root>/git/trees/, and every blob of the
 * images kiln's image index names, imgstore_foreach_blob): what must stay in the
 * store for those records to hold. A record names trees whose own content the caller follows.
 * fn returns < 0 to stop with that value. */
typedef int (*source_root_fn)(const struct digest *d, void *userdata);
int source_foreach_root(struct store *s, source_root_fn fn, void *userdata, struct kl_error **err);
