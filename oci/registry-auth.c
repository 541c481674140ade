// SPDX-License-Identifier: Apache-2.0
/* Registry auth without HTTP: WWW-Authenticate challenges, Docker config.json credentials and
 * what docker credential helpers answer. */
#include "oci/registry.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include "oci/reference.h"
#include "util/base64.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

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
	out = kl_base64_encode(up, strlen(up));
	free(up);
	return out;
}

void
registry_auth_done(struct registry_auth *a)
{
	free(a->helper);
	free(a->basic);
	free(a->identity_token);
	*a = (struct registry_auth){0};
}

/* A credential helper's name from credHelpers or credsStore ("" means none, as in docker);
 * 1 when there is one. It becomes part of a program name looked up on PATH: no paths. */
static int
helper_name(json_t *v, const char *what, char **ret, struct kl_error **err)
{
	const char *name = json_string_value(v);

	if (!json_is_string(v))
		return kl_error_setf(err, EBADMSG, "docker config: %s is not a string", what);
	if (!*name)
		return 0;
	if (strlen(name) > 255 || strchr(name, '/'))
		return kl_error_setf(err, EBADMSG,
		                     "docker config: %s: '%s' is not a credential helper name",
		                     what, name);
	*ret = xstrdup(name);
	return 1;
}

/* The docker CLI's order: a credHelpers entry for the host, else credsStore. */
static int
lookup_helper(json_t *j, const char *host, char **ret, struct kl_error **err)
{
	json_t *helpers = json_object_get(j, "credHelpers"), *store, *e;
	const char *key;

	if (json_is_object(helpers)) {
		json_object_foreach(helpers, key, e)
		{
			if (key_matches(key, host)) {
				_cleanup_free_ char *what = xasprintf("credHelpers['%s']", key);

				return helper_name(e, what, ret, err);
			}
		}
	}
	store = json_object_get(j, "credsStore");
	return store ? helper_name(store, "credsStore", ret, err) : 0;
}

static void
lookup_auths(json_t *j, const char *host, struct registry_auth *a)
{
	json_t *auths = json_object_get(j, "auths"), *e, *tok;
	const char *key;

	if (!json_is_object(auths))
		return;
	json_object_foreach(auths, key, e)
	{
		if (!json_is_object(e) || !key_matches(key, host))
			continue;
		a->basic = entry_basic(e);
		tok = json_object_get(e, "identitytoken");
		if (json_is_string(tok) && json_string_length(tok) > 0)
			a->identity_token = xstrdup(json_string_value(tok));
		if (a->basic || a->identity_token)
			return;
	}
}

int
registry_auth_lookup(const char *json, size_t len, const char *host, struct registry_auth *ret,
                     struct kl_error **err)
{
	struct registry_auth a = {0};
	json_error_t je;
	json_t *j;
	int r;

	if (len > REGISTRY_MAX_AUTH_FILE)
		return kl_error_setf(err, EFBIG, "docker config: larger than %u bytes",
		                     REGISTRY_MAX_AUTH_FILE);
	j = json_loadb(json, len, 0, &je);
	if (!j)
		return kl_error_setf(err, EBADMSG, "docker config: malformed JSON at %d:%d: %s",
		                     je.line, je.column, je.text);
	r = json_is_object(j) ? lookup_helper(j, host, &a.helper, err)
	                      : kl_error_setf(err, EBADMSG, "docker config: not a JSON object");
	if (r == 0)
		lookup_auths(j, host, &a);
	json_decref(j);
	if (r < 0)
		return r;
	if (!a.helper && !a.basic && !a.identity_token)
		return -ENOENT;
	*ret = a;
	return 0;
}

const char *
registry_credhelper_server(const char *host)
{
	return strcmp(host, OCI_DOCKER_HUB_API) ? host : "https://index.docker.io/v1/";
}

static void
trim(const char **p, size_t *n)
{
	while (*n && memchr(" \t\r\n", **p, 4))
		(*p)++, (*n)--;
	while (*n && memchr(" \t\r\n", (*p)[*n - 1], 4))
		(*n)--;
}

/* What a failed helper said, for a message: its stdout, else its stderr, trimmed to one short
 * printable line. */
static char *
helper_said(const char *out, size_t out_len, const char *msg)
{
	const char *p = out;
	size_t n = out_len, o = 0;
	char *s;

	trim(&p, &n);
	if (!n && msg) {
		p = msg;
		n = strlen(msg);
		trim(&p, &n);
	}
	if (!n)
		return xstrdup("it said nothing");
	s = xmalloc(n < 200 ? n + 1 : 204);
	for (size_t i = 0; i < n && i < 200; i++)
		s[o++] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : ' ';
	if (n > 200) {
		memcpy(s + o, "...", 3);
		o += 3;
	}
	s[o] = '\0';
	return s;
}

/* docker-credential-helpers' "credentials not found in native keychain", and the shorter
 * forms other helpers print. */
static bool
says_not_found(const char *out, size_t out_len, const char *msg)
{
	static const char text[] = "credentials not found";

	return memmem(out, out_len, text, sizeof(text) - 1) || (msg && strstr(msg, text));
}

int
registry_credhelper_answer(const char *helper, int status, const char *out, size_t out_len,
                           const char *msg, struct registry_auth *ret, struct kl_error **err)
{
	json_error_t je;
	json_t *j, *user, *secret;
	const char *u, *sec;
	int r = 0;

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		_cleanup_free_ char *said = NULL;

		if (WIFEXITED(status) && says_not_found(out, out_len, msg))
			return -ENOENT;
		said = helper_said(out, out_len, msg);
		if (WIFSIGNALED(status))
			return kl_error_setf(err, EIO,
			                     "credential helper 'docker-credential-%s' was killed "
			                     "by signal %d: %s",
			                     helper, WTERMSIG(status), said);
		return kl_error_setf(err, EIO,
		                     "credential helper 'docker-credential-%s' failed (exit "
		                     "status %d): %s",
		                     helper, WEXITSTATUS(status), said);
	}
	j = json_loadb(out, out_len, 0, &je);
	if (!j)
		return kl_error_setf(err, EBADMSG,
		                     "credential helper 'docker-credential-%s': malformed JSON "
		                     "answer at %d:%d: %s",
		                     helper, je.line, je.column, je.text);
	user = json_object_get(j, "Username");
	secret = json_object_get(j, "Secret");
	u = json_string_value(user);
	sec = json_string_value(secret);
	if (!json_is_object(j) || !json_is_string(user) || !json_is_string(secret))
		r = kl_error_setf(err, EBADMSG,
		                  "credential helper 'docker-credential-%s': its answer has no "
		                  "'%s' string",
		                  helper, json_is_string(user) ? "Secret" : "Username");
	else if (!strcmp(u, "<token>") && !*sec)
		r = kl_error_setf(err, EBADMSG,
		                  "credential helper 'docker-credential-%s': an empty identity "
		                  "token in 'Secret'",
		                  helper);
	if (r >= 0 && !strcmp(u, "<token>")) {
		ret->identity_token = xstrdup(sec);
	} else if (r >= 0) {
		_cleanup_free_ char *up = xasprintf("%s:%s", u, sec);

		ret->basic = kl_base64_encode(up, strlen(up));
	}
	json_decref(j);
	return r;
}
