// SPDX-License-Identifier: Apache-2.0
/* The final image config (diff_ids, history, SOURCE_DATE_EPOCH times) and media type names. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporters/export-internal.h"
#include "oci/image.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/timestamp.h"
#include "util/xalloc.h"

#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_FOREIGN "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar"

/* RFC 3339 ("2023-11-14T22:13:20.5Z", "…+01:00") to unix seconds (the fraction dropped:
 * it only matters when the seconds are equal, and then the time is not later). */
static int
parse_time(const char *s, int64_t *ret, bool *ret_fraction)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t t, off = 0;
	bool frac = false;

	if (!p)
		return -EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			frac = frac || *p != '0';
	}
	if (*p == '+' || *p == '-') {
		int hh, mm, n = 0;

		if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5 || p[6])
			return -EINVAL;
		off = (int64_t)(hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
	} else if ((*p != 'Z' && *p != 'z') || p[1]) {
		return -EINVAL;
	}
	t = (int64_t)timegm(&tm) - off;
	*ret = t;
	*ret_fraction = frac;
	return 0;
}

/* True when the history entry's time is missing, malformed or later than epoch. */
static bool
later_than(json_t *h, int64_t epoch)
{
	json_t *c = json_object_get(h, "created");
	bool frac;
	int64_t t;

	if (!json_is_string(c) || parse_time(json_string_value(c), &t, &frac) < 0)
		return true;
	return t > epoch || (t == epoch && frac);
}

static bool
is_empty_layer(json_t *h)
{
	return json_is_true(json_object_get(h, "empty_layer"));
}

/* rootfs.diff_ids = diff_ids; true when that changed anything. */
static bool
set_diff_ids(json_t *cfg, const struct digest *diff_ids, size_t n)
{
	json_t *rootfs = json_object_get(cfg, "rootfs"), *ids, *want = json_array();
	char id[DIGEST_STRING_SIZE];
	bool same;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(want, json_string(digest_to_string(&diff_ids[i], id)));
	ids = json_is_object(rootfs) ? json_object_get(rootfs, "diff_ids") : NULL;
	same = ids && json_equal(ids, want) && json_is_string(json_object_get(rootfs, "type")) &&
	       !strcmp(json_string_value(json_object_get(rootfs, "type")), "layers");
	if (same) {
		json_decref(want);
		return false;
	}
	if (!json_is_object(rootfs)) {
		rootfs = json_object();
		json_object_set_new(cfg, "rootfs", rootfs);
	}
	json_object_set_new(rootfs, "type", json_string("layers"));
	json_object_set_new(rootfs, "diff_ids", want);
	return true;
}

/* One non-empty history entry per layer; true when that changed anything. */
static bool
fix_history(json_t *cfg, size_t n_layers, bool has_epoch, int64_t epoch)
{
	json_t *hist = json_object_get(cfg, "history"), *fixed, *h;
	size_t count = 0, i, extra;
	char t[KL_TIMESTAMP_SIZE];

	if (!hist)
		return false; /* optional: an image without history keeps its config (and id) */
	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(cfg, "history", hist);
	}
	json_array_foreach(hist, i, h)
	{
		if (json_is_object(h) && !is_empty_layer(h))
			count++;
	}
	if (count == n_layers)
		return false;
	fixed = json_array();
	for (i = count; i < n_layers; i++) {
		h = json_object();
		if (has_epoch)
			json_object_set_new(h, "created",
			                    json_string(kl_timestamp_format(epoch, t)));
		json_object_set_new(h, "created_by", json_string("layer without history"));
		json_object_set_new(h, "comment", json_string("kiln"));
		json_array_append_new(fixed, h);
	}
	/* Too many: the last ones that claim a layer no longer do. */
	extra = count > n_layers ? count - n_layers : 0;
	for (i = json_array_size(hist); i-- > 0 && extra;) {
		h = json_array_get(hist, i);
		if (json_is_object(h) && !is_empty_layer(h)) {
			json_object_set_new(h, "empty_layer", json_true());
			extra--;
		}
	}
	json_array_extend(fixed, hist);
	json_object_set_new(cfg, "history", fixed);
	return true;
}

/* created = epoch, and every history time later than it clamped to it. */
static bool
apply_epoch(json_t *cfg, int64_t epoch)
{
	json_t *hist = json_object_get(cfg, "history"), *h, *want;
	char t[KL_TIMESTAMP_SIZE];
	bool changed = false;
	size_t i;

	want = json_string(kl_timestamp_format(epoch, t));
	if (!json_equal(json_object_get(cfg, "created"), want)) {
		json_object_set(cfg, "created", want);
		changed = true;
	}
	json_array_foreach(hist, i, h)
	{
		if (json_is_object(h) && later_than(h, epoch) &&
		    !json_equal(json_object_get(h, "created"), want)) {
			json_object_set(h, "created", want);
			changed = true;
		}
	}
	json_decref(want);
	return changed;
}

int
export_config_finish(const char *json, size_t len, const struct digest *diff_ids, size_t n,
                     bool has_epoch, int64_t epoch, char **ret, size_t *ret_len,
                     struct kl_error **err)
{
	json_error_t je;
	json_t *cfg;
	bool changed;
	char *out;

	if (len > OCI_MAX_CONFIG_SIZE)
		return kl_error_setf(err, EFBIG, "image config: %zu bytes, more than %u", len,
		                     OCI_MAX_CONFIG_SIZE);
	cfg = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!cfg || !json_is_object(cfg)) {
		if (cfg)
			json_decref(cfg);
		return kl_error_setf(err, EBADMSG, "image config: not a JSON object%s%s",
		                     cfg ? "" : ": ", cfg ? "" : je.text);
	}
	changed = set_diff_ids(cfg, diff_ids, n);
	changed = fix_history(cfg, n, has_epoch, epoch) || changed;
	if (has_epoch)
		changed = apply_epoch(cfg, epoch) || changed;
	if (!changed) {
		json_decref(cfg);
		*ret = NULL;
		*ret_len = 0;
		return 0;
	}
	out = json_dumps(cfg, JSON_COMPACT);
	json_decref(cfg);
	if (!out)
		return kl_error_setf(err, ENOMEM, "image config: cannot serialize");
	*ret = out;
	*ret_len = strlen(out);
	return 1;
}

const char *
export_layer_media_type(enum layer_compression c, bool oci)
{
	const char *mt = layer_media_type(c, oci);

	if (mt)
		return mt;
	/* Docker has no zstd type; containerd's name for one, should an image ask for it. */
	switch (c) {
	case LAYER_UNCOMPRESSED:
		return oci ? MT_OCI_LAYER : MT_DOCKER_LAYER;
	case LAYER_ZSTD:
	case LAYER_ZSTD_CHUNKED:
		return oci ? MT_OCI_LAYER "+zstd" : MT_DOCKER_LAYER ".zstd";
	case LAYER_GZIP:
	case LAYER_ESTARGZ:
	default:
		return oci ? MT_OCI_LAYER "+gzip" : MT_DOCKER_LAYER ".gzip";
	}
}

const char *
export_convert_media_type(const char *mt, bool oci)
{
	static const char *const pairs[][2] = {
	    {MT_OCI_LAYER, MT_DOCKER_LAYER},
	    {MT_OCI_LAYER "+gzip", MT_DOCKER_LAYER ".gzip"},
	    {MT_OCI_LAYER "+zstd", MT_DOCKER_LAYER ".zstd"},
	    {MT_OCI_FOREIGN, MT_DOCKER_FOREIGN},
	    {MT_OCI_FOREIGN "+gzip", MT_DOCKER_FOREIGN ".gzip"},
	    {OCI_MT_CONFIG, OCI_MT_DOCKER_CONFIG},
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (!strcmp(mt, pairs[i][0]) || !strcmp(mt, pairs[i][1]))
			return pairs[i][oci ? 0 : 1];
	return mt;
}

char *
export_familiar_name(const char *normalized)
{
	const char *p = normalized;

	if (!strncmp(p, "docker.io/", 10)) {
		p += 10;
		if (!strncmp(p, "library/", 8) && !strchr(p + 8, '/'))
			p += 8;
	}
	return xstrdup(p);
}
