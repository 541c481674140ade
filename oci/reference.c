// SPDX-License-Identifier: Apache-2.0
/* Parsing of Docker image references, with Docker Hub's naming rules for short names. */
#include "oci/reference.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/xalloc.h"

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: lowercase alphanumerics joined by '.', '_', '__' or runs of '-'. */
static bool
component_ok(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];

		if (is_lower_alnum(c) || c == '-')
			continue;
		if (c == '.' || c == '_') {
			if (c == '_' && s[i + 1] == '_')
				i++;
			if (!is_lower_alnum(s[i + 1]))
				return false;
			continue;
		}
		return false;
	}
	return true;
}

static bool
repository_ok(const char *s)
{
	const char *p = s;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (!component_ok(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

static bool
tag_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > OCI_MAX_TAG || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!(is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

static bool
domain_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!(is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' ||
		      c == ':' || c == '[' || c == ']'))
			return false;
	}
	return true;
}

/* Docker's rule: the first component names a registry when it has a '.' or ':' or is
 * "localhost" (or an IPv6 literal), and something follows it. */
static bool
first_is_domain(const char *name, size_t n)
{
	return memchr(name, '.', n) || memchr(name, ':', n) || (n && name[0] == '[') ||
	       (n == 9 && memcmp(name, "localhost", 9) == 0);
}

int
oci_reference_parse(const char *s, struct oci_reference *ret, struct kl_error **err)
{
	struct oci_reference ref = {0};
	_cleanup_free_ char *name = NULL;
	const char *at, *slash, *rest;
	char *colon, *last_slash;
	size_t len = strlen(s);

	if (len == 0 || len > OCI_MAX_REFERENCE)
		return kl_error_setf(err, EINVAL, "image reference '%.64s' is empty or too long",
		                     s);
	at = strchr(s, '@');
	name = at ? xstrndup(s, (size_t)(at - s)) : xstrdup(s);
	if (at) {
		if (digest_parse(at + 1, strlen(at + 1), &ref.digest, NULL) < 0)
			return kl_error_setf(
			    err, EINVAL, "image reference '%s': bad digest (want sha256:<64 hex>)",
			    s);
		ref.has_digest = true;
	}
	last_slash = strrchr(name, '/');
	colon = strrchr(last_slash ? last_slash : name, ':');
	if (colon) {
		*colon = '\0';
		if (!tag_ok(colon + 1))
			return kl_error_setf(err, EINVAL, "image reference '%s': bad tag '%s'", s,
			                     colon + 1);
		ref.tag = xstrdup(colon + 1);
	}
	slash = strchr(name, '/');
	if (slash && first_is_domain(name, (size_t)(slash - name))) {
		ref.domain = xstrndup(name, (size_t)(slash - name));
		rest = slash + 1;
	} else {
		ref.domain = xstrdup(OCI_DOCKER_HUB);
		rest = name;
	}
	if (!strcmp(ref.domain, "index.docker.io")) {
		free(ref.domain);
		ref.domain = xstrdup(OCI_DOCKER_HUB);
	}
	if (!strcmp(ref.domain, OCI_DOCKER_HUB) && !strchr(rest, '/'))
		ref.repository = xasprintf("library/%s", rest);
	else
		ref.repository = xstrdup(rest);
	if (!domain_ok(ref.domain) || !repository_ok(ref.repository)) {
		oci_reference_done(&ref);
		return kl_error_setf(
		    err, EINVAL,
		    "image reference '%s': bad repository name (lowercase letters, "
		    "digits and . _ - separators only)",
		    s);
	}
	if (!ref.tag && !ref.has_digest)
		ref.tag = xstrdup("latest");
	*ret = ref;
	return 0;
}

void
oci_reference_done(struct oci_reference *ref)
{
	free(ref->domain);
	free(ref->repository);
	free(ref->tag);
	*ref = (struct oci_reference){0};
}

const char *
oci_reference_api_host(const struct oci_reference *ref)
{
	return strcmp(ref->domain, OCI_DOCKER_HUB) ? ref->domain : OCI_DOCKER_HUB_API;
}

char *
oci_reference_manifest_ref(const struct oci_reference *ref)
{
	char buf[DIGEST_STRING_SIZE];

	return ref->has_digest ? xstrdup(digest_to_string(&ref->digest, buf)) : xstrdup(ref->tag);
}

bool
oci_host_is_loopback(const char *host)
{
	size_t n = strlen(host);
	const char *colon;

	if (host[0] == '[') {
		const char *end = strchr(host, ']');

		return end && (size_t)(end - host) == 4 && !strncmp(host, "[::1]", 5);
	}
	if (!strcmp(host, "::1"))
		return true;
	colon = strchr(host, ':');
	if (colon)
		n = (size_t)(colon - host);
	if (n == 9 && !strncmp(host, "localhost", 9))
		return true;
	if (n >= 4 && !strncmp(host, "127.", 4)) {
		for (size_t i = 4; i < n; i++)
			if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.'))
				return false;
		return true;
	}
	return false;
}
