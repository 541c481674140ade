/* build-output — where a build's result goes (--output / -o, buildctl's --exporter and
 * --exporter-opt): the filesystem of the target as a directory (type=local) or a tar
 * (type=tar), written here, or an image for the exporters (type=oci|docker|image|registry),
 * whose options are kept as given for exporters/export.h to read. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct kl_error;
struct provider_set;
struct store;
struct tree;

enum build_output_type {
	BUILD_OUTPUT_LOCAL, /* dest: a directory, made when missing, else it must be empty */
	BUILD_OUTPUT_TAR,   /* dest: a file, or "-" for standard output */
	BUILD_OUTPUT_IMAGE, /* an image exporter: type and the key=value pairs */
	_BUILD_OUTPUT_MAX
};

struct build_output {
	enum build_output_type type;
	char *type_name; /* as given: "local", "tar", "oci", "docker", "image", "registry" */
	char *dest;
	char **keys, **values; /* every key=value but type= (and dest= for local and tar) */
	size_t n;
};

/* Parses docker build's --output: "type=T,k=v,…" (CSV: a field may be double-quoted), a bare
 * directory (type=local,dest=DIR) or "-" (type=tar to standard output). -EINVAL with a message
 * naming the field for an unknown type, a missing or repeated dest. */
int build_output_parse(const char *spec, struct build_output **ret, struct kl_error **err);
/* buildctl's --exporter TYPE with its --exporter-opt k=v pairs ("output=" is dest). */
int build_output_from_exporter(const char *type, char *const *opts, size_t n,
                               struct build_output **ret, struct kl_error **err);
struct build_output *build_output_free(struct build_output *o);

/* The value of key among o's pairs, or NULL. */
const char *build_output_get(const struct build_output *o, const char *key);

/* Writes t under dir as root would have it: owners, modes, times, xattrs, hardlinks; every
 * content is fetched through ps first. */
int build_output_local(struct store *s, struct provider_set *ps, const struct tree *t,
                       const char *dir, struct kl_error **err);
/* Writes t as an uncompressed tar (PAX, numeric owners, hardlinks as links) to fd. */
int build_output_tar(struct store *s, struct provider_set *ps, const struct tree *t, int fd,
                     struct kl_error **err);
