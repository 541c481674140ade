// SPDX-License-Identifier: Apache-2.0
/* Export options from BuildKit's --output CSV and --exporter-opt k=v forms, and their checks. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/export.h"
#include "util/cleanup.h"
#include "util/csv.h"
#include "util/error.h"
#include "util/xalloc.h"

#define MAX_SPEC (64u << 10) /* bytes of one --output value */
#define MAX_NAMES 64u

static void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
export_provenance_info_done(struct export_provenance_info *p)
{
	free(p->builder_id);
	free(p->frontend);
	free(p->config_uri);
	free(p->config_digest);
	free(p->config_entry);
	free(p->invocation_id);
	free(p->build_platform);
	free(p->build_config);
	for (size_t i = 0; i < p->n_materials; i++) {
		free(p->materials[i].uri);
		free(p->materials[i].digest);
	}
	free(p->materials);
	for (size_t i = 0; i < p->n_args; i++) {
		free(p->args[i].key);
		free(p->args[i].value);
	}
	free(p->args);
	strv_free(p->locals, p->n_locals);
	*p = (struct export_provenance_info){0};
}

void
export_options_done(struct export_options *o)
{
	free(o->dest);
	strv_free(o->names, o->n_names);
	free(o->dangling_name_prefix);
	free(o->containerd_namespace);
	free(o->containerd_address);
	for (size_t i = 0; i < o->n_annotations; i++) {
		free(o->annotations[i].key);
		free(o->annotations[i].value);
	}
	free(o->annotations);
	export_provenance_info_done(&o->provenance);
	*o = (struct export_options){0};
}

int
export_type_parse(const char *s, enum export_type *ret, struct kl_error **err)
{
	static const char *const names[] = {
	    [EXPORT_OCI] = "oci", [EXPORT_DOCKER] = "docker", [EXPORT_IMAGE] = "image"};

	for (int i = 0; i < _EXPORT_TYPE_MAX; i++)
		if (!strcmp(s, names[i])) {
			*ret = (enum export_type)i;
			return 0;
		}
	if (!strcmp(s, "registry")) {
		*ret = EXPORT_IMAGE;
		return 0;
	}
	if (!strcmp(s, "local") || !strcmp(s, "tar"))
		return kl_error_setf(err, ENOTSUP,
		                     "output type '%s' is not an image exporter: use 'kiln tree "
		                     "export', or type=oci|docker|image",
		                     s);
	return kl_error_setf(err, EINVAL, "unknown output type '%s' (oci, docker, image, registry)",
	                     s);
}

void
export_options_init(struct export_options *o, enum export_type type)
{
	*o = (struct export_options){.type = type, .tar = true, .oci_mediatypes = -1};
}

/* strconv.ParseBool's spellings, as BuildKit reads its booleans. */
static int
parse_bool(const char *key, const char *v, bool *ret, struct kl_error **err)
{
	static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(v, yes[i])) {
			*ret = true;
			return 0;
		}
		if (!strcmp(v, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return kl_error_setf(err, EINVAL, "output option '%s': '%s' is not true or false", key, v);
}

static void
set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = xstrdup(v);
}

/* name=a,b: each non-empty, comma-separated name. */
static int
add_names(struct export_options *o, const char *v, struct kl_error **err)
{
	const char *p = v;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 0)
			return kl_error_setf(err, EINVAL,
			                     "output option 'name': empty name in '%s'", v);
		if (o->n_names >= MAX_NAMES)
			return kl_error_setf(err, EINVAL,
			                     "output option 'name': more than %u names", MAX_NAMES);
		o->names = xrealloc(o->names, (o->n_names + 1) * sizeof(*o->names));
		o->names[o->n_names++] = xstrndup(p, n);
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static const struct {
	const char *prefix;
	enum export_annotation_target target;
} annotation_prefixes[] = {
    {"annotation-manifest-descriptor.", EXPORT_ANN_MANIFEST_DESCRIPTOR},
    {"annotation-index-descriptor.", EXPORT_ANN_INDEX_DESCRIPTOR},
    {"annotation-manifest.", EXPORT_ANN_MANIFEST},
    {"annotation-index.", EXPORT_ANN_INDEX},
    {"annotation.", EXPORT_ANN_MANIFEST},
};

/* annotation*.K=V; 1 when key is one, 0 when it is no annotation. */
static int
add_annotation(struct export_options *o, const char *key, const char *v, struct kl_error **err)
{
	struct export_annotation *a;

	if (strncmp(key, "annotation", 10))
		return 0;
	if (strchr(key, '['))
		return kl_error_setf(err, ENOTSUP,
		                     "output option '%s': platform-specific annotations are not "
		                     "supported (an export holds one platform)",
		                     key);
	for (size_t i = 0; i < sizeof(annotation_prefixes) / sizeof(annotation_prefixes[0]); i++) {
		size_t n = strlen(annotation_prefixes[i].prefix);

		if (strncmp(key, annotation_prefixes[i].prefix, n))
			continue;
		if (!key[n])
			return kl_error_setf(err, EINVAL, "output option '%s': no annotation key",
			                     key);
		o->annotations =
		    xrealloc(o->annotations, (o->n_annotations + 1) * sizeof(*o->annotations));
		a = &o->annotations[o->n_annotations++];
		a->target = annotation_prefixes[i].target;
		a->key = xstrdup(key + n);
		a->value = xstrdup(v);
		return 1;
	}
	return kl_error_setf(err, EINVAL,
	                     "unknown output option '%s' (annotation.K, annotation-manifest.K, "
	                     "annotation-index.K, annotation-manifest-descriptor.K, "
	                     "annotation-index-descriptor.K)",
	                     key);
}

static int
parse_level(const char *v, int *ret, struct kl_error **err)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < -131072 || n > 22)
		return kl_error_setf(err, EINVAL,
		                     "output option 'compression-level': '%s' is not a level "
		                     "(gzip 0-9, zstd 1-22)",
		                     v);
	*ret = (int)n;
	return 0;
}

static int
set_store(struct export_options *o, const char *v, struct kl_error **err)
{
	bool b;

	if (!strcmp(v, "containerd")) {
		o->store_containerd = true;
		return 0;
	}
	if (parse_bool("store", v, &b, NULL) == 0 || !strcmp(v, "kiln")) {
		o->store_containerd = false;
		return 0;
	}
	return kl_error_setf(err, EINVAL, "output option 'store': '%s' is not containerd or kiln",
	                     v);
}

int
export_options_set(struct export_options *o, const char *key, const char *v, struct kl_error **err)
{
	bool b;
	int r;

	if (!strcmp(key, "type")) {
		enum export_type t;

		r = export_type_parse(v, &t, err);
		if (r == 0 && !strcmp(v, "registry"))
			o->push = true;
		if (r == 0)
			o->type = t;
		return r;
	}
	if (!strcmp(key, "dest") || !strcmp(key, "output")) { /* buildctl's older name */
		if (!*v)
			return kl_error_setf(err, EINVAL, "output option 'dest' is empty");
		set_str(&o->dest, v);
		return 0;
	}
	if (!strcmp(key, "name"))
		return add_names(o, v, err);
	if (!strcmp(key, "tar"))
		return parse_bool(key, v, &o->tar, err);
	if (!strcmp(key, "push"))
		return parse_bool(key, v, &o->push, err);
	if (!strcmp(key, "push-by-digest"))
		return parse_bool(key, v, &o->push_by_digest, err);
	if (!strcmp(key, "name-canonical"))
		return parse_bool(key, v, &o->name_canonical, err);
	if (!strcmp(key, "registry.insecure"))
		return parse_bool(key, v, &o->insecure, err);
	if (!strcmp(key, "force-compression"))
		return parse_bool(key, v, &o->force_compression, err);
	if (!strcmp(key, "rewrite-timestamp"))
		return parse_bool(key, v, &o->rewrite_timestamp, err);
	if (!strcmp(key, "oci-mediatypes")) {
		r = parse_bool(key, v, &b, err);
		if (r == 0)
			o->oci_mediatypes = b;
		return r;
	}
	if (!strcmp(key, "compression")) {
		if (layer_compression_parse(v, &o->compression) < 0)
			return kl_error_setf(err, EINVAL,
			                     "output option 'compression': '%s' is not gzip, zstd, "
			                     "zstd:chunked, estargz or uncompressed",
			                     v);
		o->has_compression = true;
		return 0;
	}
	if (!strcmp(key, "compression-level"))
		return parse_level(v, &o->compression_level, err);
	if (!strcmp(key, "dangling-name-prefix")) {
		set_str(&o->dangling_name_prefix, v);
		return 0;
	}
	if (!strcmp(key, "store"))
		return set_store(o, v, err);
	if (!strcmp(key, "namespace")) {
		set_str(&o->containerd_namespace, v);
		return 0;
	}
	if (!strcmp(key, "address")) {
		set_str(&o->containerd_address, v);
		return 0;
	}
	r = add_annotation(o, key, v, err);
	if (r != 0)
		return r < 0 ? r : 0;
	return kl_error_setf(err, EINVAL, "unknown output option '%s'", key);
}

int
export_options_parse(const char *spec, struct export_options *ret, struct kl_error **err)
{
	struct export_options o;
	const char *p = spec;
	bool typed = false;
	int r = 0;

	export_options_init(&o, EXPORT_OCI);
	if (strlen(spec) > MAX_SPEC)
		return kl_error_setf(err, EINVAL, "output: more than %u bytes", MAX_SPEC);
	if (!strstr(spec, "type=")) {
		return kl_error_setf(
		    err, ENOTSUP,
		    "output '%s': no type= (a bare destination means BuildKit's "
		    "local or tar exporter, which kiln has as 'kiln tree export'); "
		    "use type=oci|docker|image",
		    spec);
	}
	while (*p && r >= 0) {
		_cleanup_free_ char *field = NULL;
		char *eq;

		r = kl_csv_next(&p, &field);
		if (r < 0) {
			r = kl_error_setf(err, EINVAL, "output '%s': unterminated quote", spec);
			break;
		}
		if (!*field)
			continue;
		eq = strchr(field, '=');
		if (!eq) {
			r = kl_error_setf(err, EINVAL, "output '%s': '%s' is not key=value", spec,
			                  field);
			break;
		}
		*eq = '\0';
		typed = typed || !strcmp(field, "type");
		r = export_options_set(&o, field, eq + 1, err);
	}
	if (r >= 0 && !typed)
		r = kl_error_setf(err, EINVAL, "output '%s': no type= field", spec);
	if (r < 0) {
		export_options_done(&o);
		return r;
	}
	*ret = o;
	return 0;
}

int
export_options_check(const struct export_options *o, struct kl_error **err)
{
	switch (o->type) {
	case EXPORT_OCI:
		if (!o->dest)
			return kl_error_setf(err, EINVAL,
			                     "output type=oci needs dest=FILE.tar, dest=- or "
			                     "dest=DIR,tar=false");
		if (!o->tar && !strcmp(o->dest, "-"))
			return kl_error_setf(err, EINVAL,
			                     "output type=oci,tar=false needs a directory as dest, "
			                     "not '-'");
		break;
	case EXPORT_DOCKER:
		if (!o->tar)
			return kl_error_setf(
			    err, EINVAL,
			    "output type=docker writes an archive: tar=false is not "
			    "supported");
		break;
	case EXPORT_IMAGE:
		/* kiln's index keeps an image without a name too (its record, for its id) */
		if (o->n_names == 0 &&
		    (o->push || (o->store_containerd && !o->dangling_name_prefix)))
			return kl_error_setf(err, EINVAL, "output type=image needs name=NAME%s",
			                     o->push ? " to push" : " for containerd");
		if (o->dest)
			return kl_error_setf(err, EINVAL,
			                     "output type=image takes no dest (type=oci or "
			                     "type=docker write files)");
		break;
	default:
		return kl_error_setf(err, EINVAL, "output: no type");
	}
	if (o->push && o->type != EXPORT_IMAGE)
		return kl_error_setf(err, EINVAL, "output option 'push' is for type=image");
	if (o->push && o->store_containerd)
		return kl_error_setf(err, EINVAL,
		                     "output type=image: push=true and store=containerd go in two "
		                     "outputs");
	if ((o->containerd_namespace || o->containerd_address) && !o->store_containerd)
		return kl_error_setf(err, EINVAL,
		                     "output options 'namespace' and 'address' are for "
		                     "type=image,store=containerd");
	if (o->oci_mediatypes == 0 && o->has_compression &&
	    (o->compression == LAYER_ZSTD || o->compression == LAYER_ZSTD_CHUNKED ||
	     o->compression == LAYER_ESTARGZ))
		return kl_error_setf(err, EINVAL,
		                     "output: compression=%s needs OCI media types, and "
		                     "oci-mediatypes=false was given",
		                     layer_compression_name(o->compression));
	return 0;
}

int
export_provenance_parse(const char *s, enum export_provenance *ret, struct kl_error **err)
{
	_cleanup_free_ char *copy = xstrdup(s);
	enum export_provenance mode = EXPORT_PROVENANCE_MIN;
	char *save = NULL;

	if (!strcmp(s, "false") || !strcmp(s, "0")) {
		*ret = EXPORT_PROVENANCE_NONE;
		return 0;
	}
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		const char *v = !strncmp(f, "mode=", 5) ? f + 5 : strchr(f, '=') ? NULL : f;

		if (!v)
			continue; /* builder-id=…, filename=…: BuildKit's, not needed here */
		if (!strcmp(v, "min") || !strcmp(v, "true") || !strcmp(v, "1"))
			mode = EXPORT_PROVENANCE_MIN;
		else if (!strcmp(v, "max"))
			mode = EXPORT_PROVENANCE_MAX;
		else if (!strcmp(v, "false") || !strcmp(v, "0"))
			mode = EXPORT_PROVENANCE_NONE;
		else
			return kl_error_setf(
			    err, EINVAL, "--provenance '%s': mode is min or max, not '%s'", s, v);
	}
	*ret = mode;
	return 0;
}
