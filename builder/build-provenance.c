// SPDX-License-Identifier: Apache-2.0
/* What a build's provenance names: its base images, git commits, local contexts as trees, the
 * Dockerfile and the build args. */
#include <stdlib.h>
#include <string.h>

#include "builder/build-internal.h"
#include "builder/build.h"
#include "exporters/export.h"
#include "solver/graph.h"
#include "solver/solve.h"
#include "sources/imgstore.h"
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

void
build_provenance(const struct build_provenance_input *in, struct export_provenance_info *ret)
{
	const struct build_options *o = in->opts;
	char id[DIGEST_STRING_SIZE];
	size_t n = graph_count(in->graph);

	*ret = (struct export_provenance_info){.mode = in->mode};
	if (in->mode == EXPORT_PROVENANCE_NONE)
		return;
	ret->frontend = xstrdup("dockerfile.v0");
	ret->config_entry = xstrdup(in->dockerfile_name);
	ret->config_uri = xstrdup(o->context_git ? o->context_git : "kiln-context://context");
	digest_to_string(&in->dockerfile_digest, id);
	ret->config_digest = xstrdup(id);
	ret->started_on = in->started;
	ret->finished_on = in->finished;
	ret->build_platform = xstrdup("linux/amd64");
	ret->reproducible = in->has_epoch;
	for (size_t i = 0; i < in->images->n; i++) {
		const struct imgstore_image *im = &in->images->v[i];

		add_material(
		    ret, image_uri(in->images->names[i], o->platform),
		    xstrdup(digest_to_string(im->has_manifest ? &im->manifest : &im->id, id)));
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct graph_vertex *v = graph_vertex(in->graph, i);
		static const struct digest zero;

		if (v->kind != GRAPH_OP_SOURCE)
			continue;
		if (v->source.kind == GRAPH_SOURCE_GIT && in->sr->contents[i])
			add_material(ret, xstrdup(v->source.ref),
			             xasprintf("sha1:%s", in->sr->contents[i]));
		else if (v->source.kind == GRAPH_SOURCE_LOCAL &&
		         memcmp(&in->sr->trees[i], &zero, sizeof(zero)))
			add_material(ret, xasprintf("kiln-context://%s", v->source.name),
			             xstrdup(digest_to_string(&in->sr->trees[i], id)));
	}
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
