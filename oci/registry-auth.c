// SPDX-License-Identifier: Apache-2.0
/* Registry auth without HTTP: WWW-Authenticate challenges and Docker config.json credentials. */
#include "oci/registry.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "oci/reference.h"
#include "util/error.h"
#include "util/xalloc.h"

static char *
base64_encode(const char *in, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
	return out;
}

/* One auth-param value: quoted (with \-escapes) or a token; returns a new string and advances. */
static char *
param_value(const char **pp)
{
	const char *p = *pp;
	char *out, *o;

	if (*p != '"') {
		size_t n = strcspn(p, ", \t");

		*pp = p + n;
		return xstrndup(p, n);
	}
	out = o = xmalloc(strlen(p) + 1);
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		*o++ = *p;
	}
	*o = '\0';
	*pp = *p == '"' ? p + 1 : p;
	return out;
}

int
registry_parse_challenge(const char *value, struct registry_challenge *ret)
{
	struct registry_challenge c = {0};
	const char *p = value;

	p += strspn(p, " \t");
	if (!strncasecmp(p, "Bearer", 6) && (p[6] == ' ' || p[6] == '\0'))
		c.scheme = REGISTRY_AUTH_BEARER, p += 6;
	else if (!strncasecmp(p, "Basic", 5) && (p[5] == ' ' || p[5] == '\0'))
		c.scheme = REGISTRY_AUTH_BASIC, p += 5;
	else
		return -EINVAL;
	while (*p) {
		const char *name;
		size_t name_len;
		char **slot = NULL;

		p += strspn(p, " \t,");
		name = p;
		name_len = strcspn(p, "= \t,");
		p += name_len;
		if (*p != '=')
			break;
		p++;
		if (name_len == 5 && !strncasecmp(name, "realm", 5))
			slot = &c.realm;
		else if (name_len == 7 && !strncasecmp(name, "service", 7))
			slot = &c.service;
		else if (name_len == 5 && !strncasecmp(name, "scope", 5))
			slot = &c.scope;
		if (slot) {
			free(*slot);
			*slot = param_value(&p);
		} else {
			free(param_value(&p));
		}
	}
	if (c.scheme == REGISTRY_AUTH_BEARER && (!c.realm || !*c.realm)) {
		registry_challenge_done(&c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

void
registry_challenge_done(struct registry_challenge *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	*c = (struct registry_challenge){0};
}

/* Does an auths key name host? "host", "https://host", "http://host/v1/"… */
static bool
key_matches(const char *key, const char *host)
{
	const char *k = key, *slash;
	size_t n;

	if (!strncmp(k, "https://", 8))
		k += 8;
	else if (!strncmp(k, "http://", 7))
		k += 7;
	slash = strchr(k, '/');
	n = slash ? (size_t)(slash - k) : strlen(k);
	if (strlen(host) == n && !strncmp(k, host, n))
		return true;
	/* Docker Hub's credentials live under its old index name. */
	return !strcmp(host, OCI_DOCKER_HUB_API) && n == 15 && !strncmp(k, "index.docker.io", 15);
}

static char *
entry_basic(json_t *e)
{
	json_t *auth = json_object_get(e, "auth"), *u, *p;
	char *up, *out;

	if (json_is_string(auth) && json_string_length(auth) > 0)
		return xstrdup(json_string_value(auth));
	u = json_object_get(e, "username");
	p = json_object_get(e, "password");
	if (!json_is_string(u) || !json_is_string(p))
		return NULL;
	up = xasprintf("%s:%s", json_string_value(u), json_string_value(p));
	out = base64_encode(up, strlen(up));
	free(up);
	return out;
}

int
registry_auth_lookup(const char *json, size_t len, const char *host, char **ret_basic,
                     struct kl_error **err)
{
	json_error_t je;
	json_t *j, *auths, *e;
	const char *key;
	char *basic = NULL;

	if (len > REGISTRY_MAX_AUTH_FILE)
		return kl_error_setf(err, EFBIG, "docker config: larger than %u bytes",
		                     REGISTRY_MAX_AUTH_FILE);
	j = json_loadb(json, len, 0, &je);
	if (!j)
		return kl_error_setf(err, EBADMSG, "docker config: malformed JSON at %d:%d: %s",
		                     je.line, je.column, je.text);
	auths = json_object_get(j, "auths");
	if (json_is_object(auths)) {
		json_object_foreach(auths, key, e)
		{
			if (json_is_object(e) && key_matches(key, host)) {
				basic = entry_basic(e);
				if (basic)
					break;
			}
		}
	}
	json_decref(j);
	if (!basic)
		return -ENOENT;
	*ret_basic = basic;
	return 0;
}
