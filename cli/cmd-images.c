// SPDX-License-Identifier: Apache-2.0
/* kiln images|tag|rmi|inspect: kiln's image index, as Podman users know their local images. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "fs/digest.h"
#include "sources/imgsrc.h"
#include "sources/imgstore.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define SHORT_ID 12 /* hex digits of an image id in listings, as Docker and Podman show it */

static const char images_usage[] =
    "usage: kiln images [-q] [--no-trunc] [--format table|json] [REPOSITORY[:TAG]]\n"
    "\n"
    "Lists kiln's image index, one line per name: REPOSITORY, TAG, IMAGE ID (the config's\n"
    "digest), CREATED (as the config says) and SIZE (the bytes of the image's files).\n"
    "Images come in by 'kiln pull', 'kiln tag' and 'kiln build -t'. With REPOSITORY (a name\n"
    "as 'kiln pull' takes it, normalized: busybox is docker.io/library/busybox), only its\n"
    "names are listed; with :TAG, only that one.\n"
    "\n"
    "  -q, --quiet       print the image ids alone, each once\n"
    "  --no-trunc        print whole image ids (sha256:<64 hex>)\n"
    "  --format F        table (the default) or json: an array of one object per image\n"
    "                    (Id, Names, RepoTags, RepoDigests, Created, CreatedAt, Size,\n"
    "                    Labels, Record, Tree), as 'podman images --format json'\n";

static const char tag_usage[] =
    "usage: kiln tag [--platform P] [--insecure-registry HOST]... SOURCE NAME...\n"
    "\n"
    "Names an image in kiln's image index. SOURCE is an image the index has (a name, or\n"
    "an image id or a prefix of one), oci-layout://DIR[:tag|@digest] or\n"
    "docker-image://REF (read now, as 'kiln pull' reads it). Each NAME is normalized as\n"
    "Docker does (mybase:1 is docker.io/library/mybase:1) and replaces what it named\n"
    "before; FROM NAME in a build then finds the image with no registry.\n"
    "\n"
    "  --platform P              the platform to pick from a multi-platform SOURCE\n"
    "  --insecure-registry HOST  allow plain HTTP to HOST[:PORT] (loopback always is)\n";

static const char rmi_usage[] =
    "usage: kiln rmi NAME...\n"
    "\n"
    "Removes names from kiln's image index (an image id removes every name of that image)\n"
    "and prints 'Untagged: NAME' for each. The image's data stays in the store until\n"
    "'kiln prune' finds nothing naming it. Names that the index lacks are reported, after\n"
    "the others are removed.\n";

static const char inspect_usage[] =
    "usage: kiln inspect NAME...\n"
    "\n"
    "Prints a JSON array with one object per image: every member of its config as the\n"
    "OCI image spec names them (created, architecture, os, config with Env, Cmd,\n"
    "Entrypoint, WorkingDir, User, Labels…, rootfs, history), and kiln's own, as podman\n"
    "inspect names them: Id, Digest, Names, RepoTags, RepoDigests, ManifestType, Size,\n"
    "Record, Tree (the merged tree, for 'kiln mount' and 'kiln tree ls'), and Layers\n"
    "(each layer's Tree, DiffID, Blob and Origin). NAME is a name or an image id.\n";

/* "no image 'busybox' (docker.io/library/busybox:latest) in kiln's image index" */
static int
not_found(struct kl_error **err, const char *cmd, const char *arg)
{
	_cleanup_free_ char *norm = NULL;

	if (imgstore_normalize(arg, &norm, NULL) < 0 || !strcmp(norm, arg))
		return kl_error_setf(err, ENOENT, "%s: no image '%s' in kiln's image index", cmd,
		                     arg);
	return kl_error_setf(err, ENOENT, "%s: no image '%s' (%s) in kiln's image index", cmd, arg,
	                     norm);
}

/* `kiln images` */

struct row {
	char *name;
	struct digest record;
	size_t image; /* index into the listing's images */
};

struct image_info {
	struct digest record;
	struct digest id;
	bool has_created;
	int64_t created;
	uint64_t size;
};

struct listing {
	struct row *rows;
	size_t n_rows, cap_rows;
	struct image_info *images;
	size_t n_images, cap_images;
	const char *filter_repo; /* normalized repository, or NULL */
	const char *filter_tag;  /* NULL: any */
};

static void
listing_done(struct listing *l)
{
	for (size_t i = 0; i < l->n_rows; i++)
		free(l->rows[i].name);
	free(l->rows);
	free(l->images);
}

static int
collect_name(const char *name, const struct digest *record, void *userdata)
{
	struct listing *l = userdata;
	struct imgstore_name_parts p;
	bool keep = true;

	if (l->filter_repo) {
		imgstore_name_split(name, &p);
		keep = !strcmp(p.repository, l->filter_repo) &&
		       (!l->filter_tag || (p.tag && !strcmp(p.tag, l->filter_tag)));
		imgstore_name_parts_done(&p);
	}
	if (!keep)
		return 0;
	l->rows = xgrow(l->rows, &l->cap_rows, l->n_rows + 1, sizeof(*l->rows));
	l->rows[l->n_rows++] = (struct row){.name = xstrdup(name), .record = *record};
	return 0;
}

/* Loads what the listing shows of each record once. A name whose record is gone is dropped. */
static int
describe_rows(struct store *s, struct listing *l, struct kl_error **err)
{
	size_t k = 0;
	int r;

	for (size_t i = 0; i < l->n_rows; i++) {
		struct row *row = &l->rows[i];
		struct imgstore_image im = {0};
		struct image_info *info;
		size_t j;

		for (j = 0; j < l->n_images; j++)
			if (digest_equal(&l->images[j].record, &row->record))
				break;
		if (j == l->n_images) {
			r = imgstore_get(s, &row->record, &im, err);
			if (r == -ENOENT) {
				free(row->name);
				continue;
			}
			l->images =
			    xgrow(l->images, &l->cap_images, l->n_images + 1, sizeof(*l->images));
			info = &l->images[l->n_images];
			*info = (struct image_info){.record = row->record, .id = im.id};
			if (r >= 0)
				r = imgstore_image_size(s, &im, &info->size, err);
			info->has_created =
			    r >= 0 && imgstore_image_created(&im, &info->created) >= 0;
			imgstore_image_done(&im);
			if (r < 0) {
				kl_error_prefix(err, "image '%s'", row->name);
				for (size_t m = i; m < l->n_rows; m++)
					free(l->rows[m].name);
				l->n_rows = k;
				return r;
			}
			l->n_images++;
		}
		row->image = j;
		l->rows[k++] = *row;
	}
	l->n_rows = k;
	return 0;
}

/* As Go's units.HumanDuration, which Docker and Podman print: "2 weeks". */
static char *
human_duration(int64_t secs)
{
	int64_t hours = (secs + 1800) / 3600;

	if (secs < 1)
		return xstrdup("Less than a second");
	if (secs == 1)
		return xstrdup("1 second");
	if (secs < 60)
		return xasprintf("%" PRId64 " seconds", secs);
	if (secs / 60 == 1)
		return xstrdup("About a minute");
	if (secs / 60 < 60)
		return xasprintf("%" PRId64 " minutes", secs / 60);
	if (hours == 1)
		return xstrdup("About an hour");
	if (hours < 48)
		return xasprintf("%" PRId64 " hours", hours);
	if (hours < 24 * 7 * 2)
		return xasprintf("%" PRId64 " days", hours / 24);
	if (hours < 24 * 30 * 2)
		return xasprintf("%" PRId64 " weeks", hours / 24 / 7);
	if (hours < 24 * 365 * 2)
		return xasprintf("%" PRId64 " months", hours / 24 / 30);
	return xasprintf("%" PRId64 " years", secs / 3600 / 24 / 365);
}

/* As Podman prints sizes: three significant digits, decimal units, "4.27 MB". */
static char *
human_size(uint64_t bytes)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 999.5 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	return xasprintf("%.3g %s", v, units[u]);
}

static char *
id_text(const struct digest *id, bool no_trunc)
{
	char s[DIGEST_STRING_SIZE];

	digest_to_string(id, s);
	return no_trunc ? xstrdup(s) : xstrndup(s + 7, SHORT_ID);
}

static void
print_padded(const char *s, size_t width, bool last)
{
	if (last)
		printf("%s\n", s);
	else
		printf("%-*s  ", (int)width, s);
}

enum { COL_REPO, COL_TAG, COL_ID, COL_CREATED, COL_SIZE, N_COLS };

static void
print_table(const struct listing *l, bool no_trunc)
{
	static const char *const header[N_COLS] = {"REPOSITORY", "TAG", "IMAGE ID", "CREATED",
	                                           "SIZE"};
	char ***cells = xcalloc(l->n_rows + 1, sizeof(*cells));
	size_t width[N_COLS];
	int64_t now = (int64_t)time(NULL);

	for (size_t c = 0; c < N_COLS; c++)
		width[c] = strlen(header[c]);
	for (size_t i = 0; i < l->n_rows; i++) {
		const struct image_info *info = &l->images[l->rows[i].image];
		struct imgstore_name_parts p;
		_cleanup_free_ char *ago = NULL;

		imgstore_name_split(l->rows[i].name, &p);
		cells[i] = xcalloc(N_COLS, sizeof(**cells));
		cells[i][COL_REPO] = xstrdup(p.repository);
		cells[i][COL_TAG] = xstrdup(p.tag ? p.tag : "<none>");
		cells[i][COL_ID] = id_text(&info->id, no_trunc);
		if (info->has_created) {
			ago = human_duration(now - info->created);
			cells[i][COL_CREATED] = xasprintf("%s ago", ago);
		} else {
			cells[i][COL_CREATED] = xstrdup("N/A");
		}
		cells[i][COL_SIZE] = human_size(info->size);
		imgstore_name_parts_done(&p);
		for (size_t c = 0; c < N_COLS; c++)
			if (strlen(cells[i][c]) > width[c])
				width[c] = strlen(cells[i][c]);
	}
	for (size_t c = 0; c < N_COLS; c++)
		print_padded(header[c], width[c], c + 1 == N_COLS);
	for (size_t i = 0; i < l->n_rows; i++) {
		for (size_t c = 0; c < N_COLS; c++) {
			print_padded(cells[i][c], width[c], c + 1 == N_COLS);
			free(cells[i][c]);
		}
		free(cells[i]);
	}
	free(cells);
}

static void
print_ids(const struct listing *l, bool no_trunc)
{
	for (size_t i = 0; i < l->n_images; i++) {
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = digest_equal(&l->images[j].id, &l->images[i].id);
		if (!seen) {
			_cleanup_free_ char *id = id_text(&l->images[i].id, no_trunc);

			printf("%s\n", id);
		}
	}
}

/* One JSON object per image id, with the names of every record of it. */
static int
print_json(struct store *s, const struct listing *l, struct kl_error **err)
{
	struct imgstore_listed *items = xcalloc(l->n_images + 1, sizeof(*items));
	const char **names = xcalloc(l->n_rows + 1, sizeof(*names));
	_cleanup_free_ char *text = NULL;
	size_t n_items = 0, n_names = 0;
	int r;

	for (size_t i = 0; i < l->n_images; i++) {
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = digest_equal(&l->images[j].id, &l->images[i].id);
		if (seen)
			continue;
		items[n_items] = (struct imgstore_listed){.record = l->images[i].record,
		                                          .names = names + n_names};
		for (size_t k = 0; k < l->n_rows; k++) {
			if (!digest_equal(&l->images[l->rows[k].image].id, &l->images[i].id))
				continue;
			names[n_names++] = l->rows[k].name;
			items[n_items].n_names++;
		}
		n_items++;
	}
	r = imgstore_images_json(s, items, n_items, &text, err);
	free(items);
	free(names);
	if (r < 0)
		return r;
	printf("%s\n", text);
	return 0;
}

/* REPOSITORY[:TAG] → the repository (normalized) and the tag when one was written. */
static int
parse_filter(struct cli *c, const char *arg, struct imgstore_name_parts *ret, struct kl_error **err)
{
	_cleanup_free_ char *norm = NULL;
	const char *last = strrchr(arg, '/');
	struct kl_error *nerr = NULL;
	int r;

	if (imgstore_normalize(arg, &norm, &nerr) < 0) {
		r = cli_usage_error(c, err, "images", "%s", nerr->msg);
		kl_error_free(nerr);
		return r;
	}
	imgstore_name_split(norm, ret);
	if (!strchr(last ? last : arg, ':')) {
		free(ret->tag);
		ret->tag = NULL;
	}
	return 0;
}

static int
parse_format(struct cli *c, const char *arg, bool *ret_json, struct kl_error **err)
{
	if (!strcmp(arg, "json"))
		*ret_json = true;
	else if (!strcmp(arg, "table"))
		*ret_json = false;
	else
		return cli_usage_error(c, err, "images", "--format: '%s' is neither table nor json",
		                       arg);
	return 0;
}

int
cmd_images(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"no-trunc", no_argument, NULL, 'n'},
	    {"format", required_argument, NULL, 'F'},
	    {NULL, 0, NULL, 0},
	};
	struct imgstore_name_parts filter = {0};
	struct listing l = {0};
	bool quiet = false, no_trunc = false, json = false;
	struct store *s;
	int opt, r;

	if (cli_wants_help(argc, argv, images_usage))
		return 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:q", opts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			quiet = true;
			break;
		case 'n':
			no_trunc = true;
			break;
		case 'F':
			r = parse_format(c, optarg, &json, err);
			if (r < 0)
				return r;
			break;
		default:
			return cli_option_error(c, err, "images", opt, argv);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(c, err, "images", "expected at most one repository");
	if (argc - optind == 1) {
		r = parse_filter(c, argv[optind], &filter, err);
		if (r < 0)
			return r;
		l.filter_repo = filter.repository;
		l.filter_tag = filter.tag;
	}
	r = cli_store(c, &s, err);
	if (r >= 0)
		r = imgstore_foreach(s, collect_name, &l, err);
	if (r >= 0)
		r = describe_rows(s, &l, err);
	if (r >= 0 && json)
		r = print_json(s, &l, err);
	else if (r >= 0 && quiet)
		print_ids(&l, no_trunc);
	else if (r >= 0)
		print_table(&l, no_trunc);
	if (r < 0)
		kl_error_prefix(err, "images");
	listing_done(&l);
	imgstore_name_parts_done(&filter);
	return r < 0 ? r : 0;
}

/* `kiln tag` */

/* The record of SOURCE: an indexed image, or a layout's or registry's image put in now. */
static int
source_record(struct store *s, const char *source, const struct source_options *so,
              struct digest *ret, struct kl_error **err)
{
	struct imgstore_image im = {0};
	int r;

	if (!strstr(source, "://")) {
		r = imgstore_find(s, source, ret, err);
		return r == -ENOENT && !(err && *err) ? not_found(err, "tag", source) : r;
	}
	if (source_classify(source) != SOURCE_IMAGE)
		return kl_error_setf(err, EINVAL,
		                     "tag: '%s' is no image: a name, an image id, oci-layout://… "
		                     "or docker-image://…",
		                     source);
	r = imgsrc_resolve_image(s, source, so, &im, err);
	if (r >= 0)
		r = imgstore_put(s, &im, ret, err);
	imgstore_image_done(&im);
	if (r < 0)
		kl_error_prefix(err, "tag");
	return r;
}

/* A name to give: normalized, and no digest (a digest names content, it cannot be moved). */
static int
check_target(const char *name, struct kl_error **err)
{
	_cleanup_free_ char *norm = NULL;
	struct imgstore_name_parts p;
	bool digest;
	int r;

	r = imgstore_normalize(name, &norm, err);
	if (r < 0) {
		kl_error_prefix(err, "tag");
		return r;
	}
	imgstore_name_split(norm, &p);
	digest = p.digest != NULL;
	imgstore_name_parts_done(&p);
	if (digest)
		return kl_error_setf(err, EINVAL,
		                     "tag: refusing to create a tag with a digest reference: '%s'",
		                     name);
	return 0;
}

int
cmd_tag(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"platform", required_argument, NULL, 'p'},
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_free_ const char **insecure = NULL;
	struct source_options so = {0};
	struct digest record;
	struct store *s;
	int opt, r;

	if (cli_wants_help(argc, argv, tag_usage))
		return 0;
	insecure = xcalloc((size_t)argc + 1, sizeof(*insecure));
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			so.platform = optarg;
			break;
		case 'i':
			insecure[so.n_insecure_registries++] = optarg;
			break;
		default:
			return cli_option_error(c, err, "tag", opt, argv);
		}
	}
	if (argc - optind < 2)
		return cli_usage_error(c, err, "tag", "expected a source image and a name");
	for (int i = optind + 1; i < argc; i++) {
		r = check_target(argv[i], err);
		if (r < 0)
			return r;
	}
	so.insecure_registries = insecure;
	so.auth_file = c->auth_file;
	r = cli_store(c, &s, err);
	if (r >= 0)
		r = source_record(s, argv[optind], &so, &record, err);
	for (int i = optind + 1; r >= 0 && i < argc; i++) {
		r = imgstore_tag(s, argv[i], &record, err);
		if (r < 0)
			kl_error_prefix(err, "tag '%s'", argv[i]);
	}
	return r < 0 ? r : 0;
}

/* `kiln rmi` */

/* Untags every name of the image arg identifies; -ENOENT (err untouched) when none does. */
static int
untag_image(struct store *s, const char *arg, struct kl_error **err)
{
	struct imgstore_image im = {0};
	struct digest record;
	char **names = NULL;
	size_t n = 0;
	int r;

	r = imgstore_find(s, arg, &record, err);
	if (r >= 0)
		r = imgstore_get(s, &record, &im, err);
	if (r >= 0)
		r = imgstore_names_of(s, &im.id, &names, &n, err);
	for (size_t i = 0; i < n; i++) {
		if (r >= 0)
			r = imgstore_untag(s, names[i], err);
		if (r >= 0)
			printf("Untagged: %s\n", names[i]);
		free(names[i]);
	}
	free(names);
	imgstore_image_done(&im);
	return r;
}

static int
rmi_one(struct store *s, const char *arg, struct kl_error **err)
{
	_cleanup_free_ char *norm = NULL;
	struct kl_error *uerr = NULL;
	int r;

	if (imgstore_normalize(arg, &norm, NULL) >= 0) {
		r = imgstore_untag(s, norm, &uerr);
		kl_error_free(uerr);
		if (r >= 0) {
			printf("Untagged: %s\n", norm);
			return 0;
		}
	}
	return untag_image(s, arg, err);
}

int
cmd_rmi(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	_cleanup_free_ char *missing = xstrdup("");
	const char *first_missing = NULL;
	struct store *s;
	int r, first, n_missing = 0;

	if (cli_wants_help(argc, argv, rmi_usage))
		return 0;
	first = argc > 1 && !strcmp(argv[1], "--") ? 2 : 1;
	if (argc <= first)
		return cli_usage_error(c, err, "rmi", "expected the names of images");
	if (first == 1 && argv[1][0] == '-')
		return cli_usage_error(c, err, "rmi", "unknown option '%s'", argv[1]);
	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	for (int i = first; i < argc; i++) {
		r = rmi_one(s, argv[i], err);
		if (r == -ENOENT && !*err) {
			char *m = xasprintf("%s%s'%s'", missing, n_missing ? ", " : "", argv[i]);

			free(missing);
			missing = m;
			if (!n_missing++)
				first_missing = argv[i];
			continue;
		}
		if (r < 0) {
			kl_error_prefix(err, "rmi");
			return r;
		}
	}
	if (n_missing == 1)
		return not_found(err, "rmi", first_missing);
	if (n_missing)
		return kl_error_setf(err, ENOENT, "rmi: not in kiln's image index: %s", missing);
	return 0;
}

/* `kiln inspect` */

int
cmd_inspect(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	_cleanup_free_ struct digest *records = NULL;
	_cleanup_free_ char *text = NULL;
	struct store *s;
	int r, first;

	if (cli_wants_help(argc, argv, inspect_usage))
		return 0;
	first = argc > 1 && !strcmp(argv[1], "--") ? 2 : 1;
	if (argc <= first)
		return cli_usage_error(c, err, "inspect", "expected the names of images");
	if (first == 1 && argv[1][0] == '-')
		return cli_usage_error(c, err, "inspect", "unknown option '%s'", argv[1]);
	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	records = xcalloc((size_t)argc, sizeof(*records));
	for (int i = first; i < argc; i++) {
		r = imgstore_find(s, argv[i], &records[i - first], err);
		if (r == -ENOENT && !*err)
			return not_found(err, "inspect", argv[i]);
		if (r < 0) {
			kl_error_prefix(err, "inspect");
			return r;
		}
	}
	r = imgstore_inspect_json(s, records, (size_t)(argc - first), &text, err);
	if (r < 0) {
		kl_error_prefix(err, "inspect");
		return r;
	}
	printf("%s\n", text);
	return 0;
}
