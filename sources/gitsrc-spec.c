// SPDX-License-Identifier: Apache-2.0
/* Parsing of git SOURCE strings (URL#ref:subdir): pure string work, no I/O. */
#include "sources/gitsrc-spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"
#include "util/path.h"
#include "util/xalloc.h"

#define COMMIT_HEX 40u
#define SHORT_MIN 4u

static const char *const remote_schemes[] = {"git://", "http://", "https://", "ssh://"};
static const char file_scheme[] = "file://";

static bool
has_iprefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && strncasecmp(s, prefix, n) == 0;
}

static size_t
url_len(const char *spec, size_t len)
{
	const char *hash = memchr(spec, '#', len);

	return hash ? (size_t)(hash - spec) : len;
}

/* user@host:path, with no '/' before the ':' (git's own test for scp-like syntax, plus the '@'
 * so that a local directory named "a:b" stays a path). */
static bool
is_scp(const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	const char *slash = memchr(s, '/', len);
	const char *at;

	if (!colon || (slash && slash < colon))
		return false;
	at = memchr(s, '@', (size_t)(colon - s));
	return at && at > s;
}

enum gitsrc_url_kind
gitsrc_spec_url_kind(const char *spec, size_t len)
{
	len = url_len(spec, len);
	for (size_t i = 0; i < sizeof(remote_schemes) / sizeof(remote_schemes[0]); i++)
		if (has_iprefix(spec, len, remote_schemes[i]))
			return GITSRC_URL_REMOTE;
	if (has_iprefix(spec, len, file_scheme))
		return GITSRC_URL_FILE;
	if (is_scp(spec, len))
		return GITSRC_URL_SCP;
	return GITSRC_URL_LOCAL;
}

static bool
ref_char_ok(unsigned char c)
{
	return c > 0x20 && c != 0x7f && !strchr("~^:?*[\\", c);
}

bool
gitsrc_ref_is_valid(const char *ref, size_t len)
{
	size_t comp = 0; /* start of the current component */

	if (len == 0 || len > GITSRC_MAX_REF || ref[0] == '-' || ref[0] == '/')
		return false;
	if (ref[len - 1] == '/' || ref[len - 1] == '.')
		return false;
	if (len >= 5 && memcmp(ref + len - 5, ".lock", 5) == 0)
		return false;
	if (len == 1 && ref[0] == '@')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)ref[i];

		if (!ref_char_ok(c))
			return false;
		if (i + 1 < len &&
		    ((c == '.' && ref[i + 1] == '.') || (c == '@' && ref[i + 1] == '{') ||
		     (c == '/' && ref[i + 1] == '/')))
			return false;
		if (i == comp && c == '.')
			return false;
		if (c == '/') {
			/* "a.lock/b": no component may end in ".lock" either */
			if (i - comp >= 5 && memcmp(ref + i - 5, ".lock", 5) == 0)
				return false;
			comp = i + 1;
		}
	}
	return true;
}

static bool
all_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static enum gitsrc_ref_kind
classify_ref(char *ref, size_t len)
{
	if (len == 0 || strcmp(ref, "HEAD") == 0)
		return GITSRC_REF_HEAD;
	if (strncmp(ref, "refs/", 5) == 0)
		return GITSRC_REF_FULL;
	if (len == COMMIT_HEX && all_hex(ref, len)) {
		for (size_t i = 0; i < len; i++)
			ref[i] = (char)tolower((unsigned char)ref[i]);
		return GITSRC_REF_COMMIT;
	}
	if (len >= SHORT_MIN && len < COMMIT_HEX && all_hex(ref, len))
		return GITSRC_REF_SHORT;
	return GITSRC_REF_NAME;
}

/* Subdirs are forgiving about slashes and "./" (Docker accepts "#main:/src/" too) but never
 * escape the repository. */
static int
clean_subdir(const char *in, size_t len, char **ret)
{
	while (len > 0) {
		if (in[0] == '/') {
			in++, len--;
		} else if (len >= 2 && in[0] == '.' && in[1] == '/') {
			in += 2, len -= 2;
		} else {
			break;
		}
	}
	while (len > 0 && in[len - 1] == '/')
		len--;
	if (len == 1 && in[0] == '.')
		len = 0;
	if (len > 0 && !kl_path_is_clean_relative(in, len))
		return -EINVAL;
	*ret = xstrndup(in, len);
	return 0;
}

static int
check_url(const char *url, size_t len, enum gitsrc_url_kind kind)
{
	const char *rest, *end = url + len;
	const char *at, *colon;

	switch (kind) {
	case GITSRC_URL_REMOTE:
		rest = strstr(url, "://") + 3;
		/* a host: something before the path */
		return rest < end && *rest != '/' ? 0 : -EINVAL;
	case GITSRC_URL_FILE:
		rest = url + strlen(file_scheme);
		/* only file:///abs/path: no hosts */
		return rest < end && *rest == '/' ? 0 : -EINVAL;
	case GITSRC_URL_SCP:
		colon = memchr(url, ':', len);
		at = memchr(url, '@', (size_t)(colon - url));
		return at + 1 < colon && colon + 1 < end ? 0 : -EINVAL;
	default:
		return len > 0 ? 0 : -EINVAL;
	}
}

int
gitsrc_spec_parse(const char *spec, struct gitsrc_spec *ret, struct kl_error **err)
{
	struct gitsrc_spec sp = {0};
	size_t len = strnlen(spec, GITSRC_MAX_SPEC + 1), ulen, rlen;
	const char *frag, *colon;

	if (len == 0 || len > GITSRC_MAX_SPEC)
		return kl_error_setf(err, EINVAL, "git source: empty or longer than %u bytes",
		                     GITSRC_MAX_SPEC);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)spec[i] < 0x20 || spec[i] == 0x7f)
			return kl_error_setf(err, EINVAL,
			                     "git source: control character at byte %zu", i);
	ulen = url_len(spec, len);
	sp.url_kind = gitsrc_spec_url_kind(spec, len);
	if (ulen == 0 || check_url(spec, ulen, sp.url_kind) < 0)
		return kl_error_setf(err, EINVAL, "git source '%s': bad repository URL", spec);

	frag = ulen < len ? spec + ulen + 1 : spec + len;
	colon = strchr(frag, ':');
	rlen = colon ? (size_t)(colon - frag) : strlen(frag);
	if (rlen > 0 && !gitsrc_ref_is_valid(frag, rlen))
		return kl_error_setf(err, EINVAL, "git source '%s': '%.*s' is not a valid ref",
		                     spec, (int)rlen, frag);
	if (clean_subdir(colon ? colon + 1 : "", colon ? strlen(colon + 1) : 0, &sp.subdir) < 0)
		return kl_error_setf(err, EINVAL, "git source '%s': bad subdirectory '%s'", spec,
		                     colon + 1);
	if (sp.url_kind == GITSRC_URL_FILE)
		sp.url = xstrndup(spec + strlen(file_scheme), ulen - strlen(file_scheme));
	else
		sp.url = xstrndup(spec, ulen);
	sp.ref = xstrndup(frag, rlen);
	sp.ref_kind = classify_ref(sp.ref, rlen);
	if (sp.ref_kind == GITSRC_REF_HEAD)
		sp.ref[0] = '\0';
	*ret = sp;
	return 0;
}

void
gitsrc_spec_done(struct gitsrc_spec *sp)
{
	free(sp->url);
	free(sp->ref);
	free(sp->subdir);
	*sp = (struct gitsrc_spec){0};
}

char *
gitsrc_spec_url_key(const struct gitsrc_spec *sp, const char *resolved_path)
{
	char *key, *host, *host_end;
	size_t n;

	if (sp->url_kind == GITSRC_URL_LOCAL || sp->url_kind == GITSRC_URL_FILE)
		return xasprintf("file://%s", resolved_path);
	key = xstrdup(sp->url);
	n = strlen(key);
	while (n > 1 && key[n - 1] == '/')
		key[--n] = '\0';
	if (sp->url_kind == GITSRC_URL_REMOTE) {
		host = strstr(key, "://");
		for (char *p = key; p < host; p++)
			*p = (char)tolower((unsigned char)*p);
		host += 3;
		host_end = host + strcspn(host, "/");
	} else {
		host_end = strchr(key, ':');
		host = key;
	}
	/* user names keep their case; host names do not have one */
	for (char *p = host; p < host_end; p++)
		if (*p == '@')
			host = p + 1;
	for (char *p = host; p < host_end; p++)
		*p = (char)tolower((unsigned char)*p);
	return key;
}
