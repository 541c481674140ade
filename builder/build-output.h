/* build-output — where a build's or a solve's result goes (--output / -o, buildctl's --exporter
 * and --exporter-opt): the filesystem as a directory (type=local) or a tar (type=tar), written
 * here, or an image (type=oci|docker|image|registry), whose options are parsed by the
 * exporters (exporters/export.h) and kept for export_run. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "exporters/export.h"

struct digest;
struct kl_error;
struct provider_set;
struct store;
struct tree;

enum build_output_type {
	BUILD_OUTPUT_LOCAL, /* dest: a directory, made when missing, else it must be empty */
	BUILD_OUTPUT_TAR,   /* dest: a file, or "-" for standard output */
	BUILD_OUTPUT_IMAGE, /* an image exporter: image holds its options */
	_BUILD_OUTPUT_MAX
};

struct build_output {
	enum build_output_type type;
	char *dest;                  /* local and tar */
	struct export_options image; /* image: as export_options_parse/_set made them */
};

/* Parses docker build's --output: "type=T,k=v,…" (CSV: a field may be double-quoted), a bare
 * directory (type=local,dest=DIR) or "-" (type=tar to standard output); image types go to
 * export_options_parse. -EINVAL with a message naming the field for an unknown type or key, a
 * missing or repeated dest. */
int build_output_parse(const char *spec, struct build_output **ret, struct kl_error **err);
/* buildctl's --exporter TYPE with its --exporter-opt k=v pairs ("output=" is dest). */
int build_output_from_exporter(const char *type, char *const *opts, size_t n,
                               struct build_output **ret, struct kl_error **err);
struct build_output *build_output_free(struct build_output *o);
/* True when o writes to standard output (dest=-). */
bool build_output_to_stdout(const struct build_output *o);

/* Writes the tree at tree as a local or tar output says (o->type is not BUILD_OUTPUT_IMAGE):
 * every content fetched through ps; a tar file is removed when writing it failed. */
int build_output_write(struct store *s, struct provider_set *ps, const struct build_output *o,
                       const struct digest *tree, struct kl_error **err);

/* Writes t under dir as root would have it: owners, modes, times, xattrs, hardlinks; every
 * content is fetched through ps first. */
int build_output_local(struct store *s, struct provider_set *ps, const struct tree *t,
                       const char *dir, struct kl_error **err);
/* Writes t as an uncompressed tar (PAX, numeric owners, hardlinks as links) to fd. */
int build_output_tar(struct store *s, struct provider_set *ps, const struct tree *t, int fd,
                     struct kl_error **err);
