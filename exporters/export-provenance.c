// SPDX-License-Identifier: Apache-2.0
/* The SLSA v0.2 provenance in-toto statement that BuildKit attaches, from the caller's inputs. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/export-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/timestamp.h"
#include "util/xalloc.h"

#define IN_TOTO_STATEMENT "https://in-toto.io/Statement/v0.1"
#define SLSA_02 "https://slsa.dev/provenance/v0.2"
#define BUILD_TYPE "https://mobyproject.org/buildkit@v1"

/* "ALGO:HEX" → {"ALGO": "HEX"}; NULL (err set) when it is not that. */
static json_t *
digest_set(const char *what, const char *d, struct kl_error **err)
{
	const char *colon = d ? strchr(d, ':') : NULL;
	json_t *o;

	if (!colon || colon == d || !colon[1]) {
		kl_error_setf(err, EINVAL, "provenance: %s digest '%s' is not ALGO:HEX", what,
		              d ? d : "");
		return NULL;
	}
	for (const char *p = colon + 1; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
			kl_error_setf(err, EINVAL,
			              "provenance: %s digest '%s' is not lowercase hex", what, d);
			return NULL;
		}
	o = json_object();
	{
		_cleanup_free_ char *algo = xstrndup(d, (size_t)(colon - d));

		json_object_set_new(o, algo, json_string(colon + 1));
	}
	return o;
}

static json_t *
time_or_null(int64_t t, const struct export_options *o)
{
	char buf[KL_TIMESTAMP_SIZE];

	if (!t)
		return json_null();
	if (o->has_epoch && t > o->epoch)
		t = o->epoch;
	return json_string(kl_timestamp_format(t, buf));
}

/* "pkg:docker/NAME@TAG?platform=OS%2FARCH" for each name, as BuildKit names its subjects. */
static json_t *
subjects(const struct export_ctx *c, const struct digest *manifest)
{
	const struct export_image *img = &c->img;
	char hex[DIGEST_HEX_LEN + 1];
	json_t *arr = json_array();
	_cleanup_free_ char *platform = NULL;

	platform = xasprintf("%s%%2F%s%s%s", img->os, img->arch, img->variant ? "%2F" : "",
	                     img->variant ? img->variant : "");
	digest_to_hex(manifest, hex);
	for (size_t i = 0; i < c->n_names || (i == 0 && c->n_names == 0); i++) {
		_cleanup_free_ char *name = NULL, *purl = NULL;
		const char *colon = NULL;

		if (c->n_names) {
			name = xstrdup(c->names[i]);
			colon = strrchr(name, ':');
			if (colon && strchr(colon, '/'))
				colon = NULL; /* a port, not a tag */
		}
		if (colon)
			purl = xasprintf("pkg:docker/%.*s@%s?platform=%s", (int)(colon - name),
			                 name, colon + 1, platform);
		else
			purl = xasprintf("pkg:docker/%s?platform=%s", name ? name : "_", platform);
		json_array_append_new(
		    arr, json_pack("{s:s, s:{s:s}}", "name", purl, "digest", "sha256", hex));
	}
	return arr;
}

static int
materials(const struct export_provenance_info *p, json_t **ret, struct kl_error **err)
{
	json_t *arr = json_array(), *d;

	for (size_t i = 0; i < p->n_materials; i++) {
		d = digest_set(p->materials[i].uri ? p->materials[i].uri : "material",
		               p->materials[i].digest, err);
		if (!d) {
			json_decref(arr);
			return -EINVAL;
		}
		json_array_append_new(arr, json_pack("{s:s, s:o}", "uri",
		                                     p->materials[i].uri ? p->materials[i].uri : "",
		                                     "digest", d));
	}
	*ret = arr;
	return 0;
}

static int
invocation(const struct export_ctx *c, json_t **ret, struct kl_error **err)
{
	const struct export_provenance_info *p = &c->o->provenance;
	bool max = p->mode == EXPORT_PROVENANCE_MAX;
	json_t *src = json_object(), *params = json_object(), *env, *d;
	_cleanup_free_ char *platform = NULL;

	if (p->config_uri)
		json_object_set_new(src, "uri", json_string(p->config_uri));
	if (p->config_digest) {
		d = digest_set("config source", p->config_digest, err);
		if (!d) {
			json_decref(src);
			json_decref(params);
			return -EINVAL;
		}
		json_object_set_new(src, "digest", d);
	}
	if (p->config_entry)
		json_object_set_new(src, "entryPoint", json_string(p->config_entry));
	json_object_set_new(params, "frontend", json_string(p->frontend ? p->frontend : ""));
	if (max) {
		json_t *args = json_object(), *locals = json_array();

		for (size_t i = 0; i < p->n_args; i++) {
			_cleanup_free_ char *k = strchr(p->args[i].key, ':')
			                             ? xstrdup(p->args[i].key)
			                             : xasprintf("build-arg:%s", p->args[i].key);

			json_object_set_new(args, k, json_string(p->args[i].value));
		}
		for (size_t i = 0; i < p->n_locals; i++)
			json_array_append_new(locals, json_pack("{s:s}", "name", p->locals[i]));
		json_object_set_new(params, "args", args);
		json_object_set_new(params, "locals", locals);
	}
	platform = p->build_platform
	               ? xstrdup(p->build_platform)
	               : xasprintf("%s/%s%s%s", c->img.os, c->img.arch, c->img.variant ? "/" : "",
	                           c->img.variant ? c->img.variant : "");
	env = json_pack("{s:s}", "platform", platform);
	*ret = json_pack("{s:o, s:o, s:o}", "configSource", src, "parameters", params,
	                 "environment", env);
	return 0;
}

int
export_provenance_statement(const struct export_ctx *c, const struct digest *manifest, char **ret,
                            size_t *ret_len, struct kl_error **err)
{
	const struct export_provenance_info *p = &c->o->provenance;
	bool max = p->mode == EXPORT_PROVENANCE_MAX;
	json_t *mats = NULL, *inv = NULL, *meta, *pred, *st;
	char *text;
	int r;

	r = materials(p, &mats, err);
	if (r >= 0)
		r = invocation(c, &inv, err);
	if (r < 0) {
		if (mats)
			json_decref(mats);
		return r;
	}
	meta = json_pack("{s:o, s:o, s:{s:b, s:b, s:b}, s:b, s:{}}", "buildStartedOn",
	                 time_or_null(p->started_on, c->o), "buildFinishedOn",
	                 time_or_null(p->finished_on, c->o), "completeness", "parameters", max,
	                 "environment", true, "materials", false, "reproducible", p->reproducible,
	                 BUILD_TYPE "#metadata");
	if (p->invocation_id)
		json_object_set_new(meta, "buildInvocationID", json_string(p->invocation_id));
	pred = json_pack("{s:{s:s}, s:s, s:o, s:o, s:o}", "builder", "id",
	                 p->builder_id ? p->builder_id : "kiln", "buildType", BUILD_TYPE,
	                 "materials", mats, "invocation", inv, "metadata", meta);
	if (max && p->build_config) {
		json_error_t je;
		json_t *bc = json_loads(p->build_config, 0, &je);

		if (!bc) {
			json_decref(pred);
			return kl_error_setf(err, EINVAL,
			                     "provenance: build config is not JSON: %s", je.text);
		}
		json_object_set_new(pred, "buildConfig", bc);
	}
	st = json_pack("{s:s, s:s, s:o, s:o}", "_type", IN_TOTO_STATEMENT, "predicateType", SLSA_02,
	               "subject", subjects(c, manifest), "predicate", pred);
	text = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	if (!text)
		return kl_error_setf(err, ENOMEM, "provenance: cannot serialize");
	*ret = text;
	*ret_len = strlen(text);
	return 0;
}
