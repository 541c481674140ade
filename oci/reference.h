/* reference — image references as Docker writes them: [host[:port]/]repo[:tag][@digest], with
 * Docker Hub's defaults for short names ("busybox" is docker.io/library/busybox:latest). */
#pragma once
#include <stdbool.h>

#include "fs/digest.h"
#include "util/cleanup.h"

struct kl_error;

#define OCI_DOCKER_HUB "docker.io"
#define OCI_DOCKER_HUB_API "registry-1.docker.io"
#define OCI_MAX_REFERENCE 4096u /* bytes in a whole reference */
#define OCI_MAX_TAG 128u

struct oci_reference {
	char *domain;     /* "docker.io", "127.0.0.1:5000", "[::1]:5000", "quay.io" */
	char *repository; /* "library/busybox" */
	char *tag;        /* NULL when only a digest was given */
	bool has_digest;
	struct digest digest;
};

/* Parses s; -EINVAL with a message quoting s for anything Docker would refuse (uppercase
 * repository, empty component, bad tag or digest). A reference with neither tag nor digest
 * gets the tag "latest". */
int oci_reference_parse(const char *s, struct oci_reference *ret, struct kl_error **err);
void oci_reference_done(struct oci_reference *ref);
/* The host to send API requests to: docker.io's is registry-1.docker.io, others as written. */
const char *oci_reference_api_host(const struct oci_reference *ref);
/* "tag" or "sha256:<hex>": what to ask the manifests endpoint for (the digest wins). */
char *oci_reference_manifest_ref(const struct oci_reference *ref);
/* True when host (with or without ":port") is 127.0.0.0/8, ::1 or localhost. */
bool oci_host_is_loopback(const char *host);
