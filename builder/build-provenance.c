// SPDX-License-Identifier: Apache-2.0
/* What the provenance of a build or a solve names: base images, git commits, local contexts as
 * trees, http files, and a build's Dockerfile and build args or a solve's graph. */
#include "builder/build-provenance.h"

#include <stdlib.h>
#include <string.h>

#include "builder/build-internal.h"
#include "builder/build.h"
#include "exporters/export.h"
#include "solver/graph.h"
#include "solver/solve.h"
#include "sources/imgstore.h"
#include "util/cleanup.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

static void
add_material(struct export_provenance_info *p, char *uri, char *digest)
{
	for (size_t i = 0; i < p->n_materials; i++)
		if (!strcmp(p->materials[i].uri, uri) && !strcmp(p->materials[i].digest, digest)) {
			free(uri);
			free(digest);
			return;
		}
	p->materials = xrealloc(p->materials, (p->n_materials + 1) * sizeof(*p->materials));
	p->materials[p->n_materials++] = (struct export_material){uri, digest};
}

/* "pkg:docker/docker.io/library/busybox@1.36?platform=linux%2Famd64", as BuildKit names an
 * image; a source spec (oci-layout://…) stays as it is. */
static char *
image_uri(const char *display, const char *platform)
{
	struct imgstore_name_parts parts = {0};
	struct kl_strbuf plat = {0};
	char *uri;

	if (strstr(display, "://"))
		return xstrdup(display);
	for (const char *c = platform ? platform : "linux/amd64"; *c; c++)
		if (*c == '/')
			kl_strbuf_puts(&plat, "%2F");
		else
			kl_strbuf_putc(&plat, *c);
	imgstore_name_split(display, &parts);
	uri = xasprintf("pkg:docker/%s@%s?platform=%s", parts.repository,
	                parts.digest ? parts.digest
	                : parts.tag  ? parts.tag
	                             : "latest",
	                plat.buf);
	imgstore_name_parts_done(&parts);
	kl_strbuf_done(&plat);
	return uri;
}

/* What every provenance starts with. */
static void
begin(struct export_provenance_info *p, enum export_provenance mode, int64_t started,
      int64_t finished, bool reproducible)
{
	*p = (struct export_provenance_info){
	    .mode = mode,
	    .started_on = started,
	    .finished_on = finished,
	    .build_platform = xstrdup("linux/amd64"),
	    .reproducible = reproducible,
	};
}

/* The graph's sources that the solve resolved: git commits, local trees, images named by
 * reference (one a frontend resolved to its tree, "tree:…", is the caller's to name), http
 * files. */
static void
graph_materials(struct export_provenance_info *p, const struct graph *g,
                const struct solve_result *sr, const char *platform)
{
	static const struct digest zero;
	char id[DIGEST_STRING_SIZE];
	size_t n = graph_count(g);

	for (uint32_t i = 0; i < n && i < sr->n_vertices; i++) {
		const struct graph_vertex *v = graph_vertex(g, i);
		const struct graph_source *src = &v->source;
		const char *content = sr->contents[i];

		if (v->kind != GRAPH_OP_SOURCE)
			continue;
		if (src->kind == GRAPH_SOURCE_GIT && content) {
			add_material(p, xstrdup(src->ref), xasprintf("sha1:%s", content));
		} else if (src->kind == GRAPH_SOURCE_LOCAL &&
		           memcmp(&sr->trees[i], &zero, sizeof(zero))) {
			add_material(p, xasprintf("kiln-context://%s", src->name),
			             xstrdup(digest_to_string(&sr->trees[i], id)));
		} else if (src->kind == GRAPH_SOURCE_IMAGE && content &&
		           strncmp(content, "tree:", 5)) {
			const char *ref = src->ref;
			_cleanup_free_ char *norm = NULL;

			if (!strncmp(ref, "docker-image://", 15))
				ref += 15;
			if (!strstr(ref, "://") && imgstore_normalize(ref, &norm, NULL) >= 0)
				ref = norm;
			add_material(p, image_uri(ref, src->platform ? src->platform : platform),
			             xstrdup(content));
		} else if (src->kind == GRAPH_SOURCE_HTTP && (content || src->checksum)) {
			add_material(p, xstrdup(src->ref),
			             xstrdup(content ? content : src->checksum));
		}
	}
}

void
build_provenance(const struct build_provenance_input *in, struct export_provenance_info *ret)
{
	const struct build_options *o = in->opts;
	char id[DIGEST_STRING_SIZE];

	begin(ret, in->mode, in->started, in->finished, in->has_epoch);
	if (in->mode == EXPORT_PROVENANCE_NONE)
		return;
	ret->frontend = xstrdup("dockerfile.v0");
	ret->config_entry = xstrdup(in->dockerfile_name);
	ret->config_uri = xstrdup(o->context_git ? o->context_git : "kiln-context://context");
	digest_to_string(&in->dockerfile_digest, id);
	ret->config_digest = xstrdup(id);
	for (size_t i = 0; i < in->images->n; i++) {
		const struct imgstore_image *im = &in->images->v[i];

		add_material(
		    ret, image_uri(in->images->names[i], o->platform),
		    xstrdup(digest_to_string(im->has_manifest ? &im->manifest : &im->id, id)));
	}
	graph_materials(ret, in->graph, in->sr, o->platform);
	for (size_t i = 0; i < o->n_build_args; i++) {
		const char *kv = o->build_args[i], *eq = strchr(kv, '=');

		ret->args = xrealloc(ret->args, (ret->n_args + 1) * sizeof(*ret->args));
		ret->args[ret->n_args++] = (struct export_arg){
		    xstrndup(kv, eq ? (size_t)(eq - kv) : strlen(kv)), xstrdup(eq ? eq + 1 : "")};
	}
	for (size_t i = 0; i < in->n_locals; i++) {
		ret->locals = xrealloc(ret->locals, (ret->n_locals + 1) * sizeof(*ret->locals));
		ret->locals[ret->n_locals++] = xstrdup(in->locals[i]);
	}
}

void
build_provenance_solve(const struct build_solve_provenance *in, struct export_provenance_info *ret)
{
	char id[DIGEST_STRING_SIZE];
	size_t n = graph_count(in->graph);

	begin(ret, in->mode, in->started, in->finished, in->reproducible);
	if (in->mode == EXPORT_PROVENANCE_NONE)
		return;
	ret->config_entry = xstrdup(strcmp(in->graph_name, "-") ? in->graph_name : "stdin");
	ret->config_digest = xstrdup(digest_to_string(&in->graph_digest, id));
	graph_materials(ret, in->graph, in->sr, in->platform);
	for (uint32_t i = 0; i < n; i++) {
		const struct graph_vertex *v = graph_vertex(in->graph, i);
		bool seen = false;

		if (v->kind != GRAPH_OP_SOURCE || v->source.kind != GRAPH_SOURCE_LOCAL)
			continue;
		for (size_t k = 0; k < ret->n_locals && !seen; k++)
			seen = !strcmp(ret->locals[k], v->source.name);
		if (seen)
			continue;
		ret->locals = xrealloc(ret->locals, (ret->n_locals + 1) * sizeof(*ret->locals));
		ret->locals[ret->n_locals++] = xstrdup(v->source.name);
	}
}
