// SPDX-License-Identifier: Apache-2.0
/* RUN --mount=… values: CSV fields, expanded values, BuildKit's rules between options. */
#include "frontend/dockerfile-mount.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend/dockerfile-dump.h"
#include "frontend/dockerfile-expand.h"
#include "frontend/dockerfile-suggest.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

static const char *const type_names[_DOCKERFILE_MOUNT_MAX] = {"bind", "cache", "tmpfs", "secret",
                                                              "ssh"};
static const char *const sharing_names[_DOCKERFILE_SHARING_MAX] = {"", "shared", "private",
                                                                   "locked"};
static const char *const all_keys[] = {
    "type", "from", "source", "target", "readonly",    "id", "sharing", "required",  "size", "mode",
    "uid",  "gid",  "src",    "dst",    "destination", "ro", "rw",      "readwrite", "env",
};

void
dockerfile_mount_done(struct dockerfile_mount *m)
{
	free(m->spec);
	free(m->from);
	free(m->source);
	free(m->target);
	free(m->id);
	free(m->env);
	memset(m, 0, sizeof(*m));
}

struct fields {
	char **v;
	size_t n;
};

static void
fields_done(struct fields *f)
{
	dockerfile_words_free(f->v, f->n);
}

static void
fields_push(struct fields *f, struct kl_strbuf *b)
{
	f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
	f->v[f->n++] = kl_strbuf_steal(b, NULL);
}

/* One record as Go's encoding/csv reads it: fields at ',', a field starting with '"' quoted
 * (a doubled "" inside is one "), a quote anywhere else an error. */
static int
csv_record(const char *s, struct fields *f, char **ret_msg)
{
	_cleanup_(kl_strbuf_done) struct kl_strbuf b = {0};
	size_t i = 0, n = strlen(s);

	if (n == 0) {
		*ret_msg = xstrdup("failed to parse csv mounts: EOF");
		return -EINVAL;
	}
	for (;;) {
		kl_strbuf_append(&b, "", 0);
		if (i < n && s[i] == '"') {
			size_t start = i++;

			for (;;) {
				if (i >= n) {
					*ret_msg = xasprintf(
					    "failed to parse csv mounts: parse error on "
					    "line 1, column %zu: extraneous or missing \" "
					    "in quoted-field",
					    start + 1);
					return -EINVAL;
				}
				if (s[i] == '"' && i + 1 < n && s[i + 1] == '"') {
					kl_strbuf_putc(&b, '"');
					i += 2;
				} else if (s[i] == '"') {
					i++;
					break;
				} else {
					kl_strbuf_putc(&b, s[i++]);
				}
			}
			if (i < n && s[i] != ',') {
				*ret_msg = xasprintf(
				    "failed to parse csv mounts: parse error on line 1, "
				    "column %zu: extraneous or missing \" in quoted-field",
				    i + 1);
				return -EINVAL;
			}
		} else {
			for (; i < n && s[i] != ','; i++) {
				if (s[i] == '"') {
					*ret_msg = xasprintf(
					    "failed to parse csv mounts: parse error on "
					    "line 1, column %zu: bare \" in non-quoted-field",
					    i + 1);
					return -EINVAL;
				}
				kl_strbuf_putc(&b, s[i]);
			}
		}
		fields_push(f, &b);
		if (i >= n)
			return 0;
		i++; /* the ',' */
	}
}

/* Go's strconv.ParseBool */
static int
parse_bool(const char *s, bool *ret)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};

	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(s, f[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Go's strconv.ParseUint(s, base, 32) for base 8 or 10. */
static int
parse_u32(const char *s, unsigned base, uint32_t *ret)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s >= (char)('0' + base))
			return -EINVAL;
		v = v * base + (uint64_t)(*s - '0');
		if (v > 0xFFFFFFFFu)
			return -ERANGE;
	}
	*ret = (uint32_t)v;
	return 0;
}

/* docker/go-units' RAMInBytes: "64m", "1.5GiB", "512 kb" (binary multiples). */
static int
ram_in_bytes(const char *s, int64_t *ret)
{
	const char *p = s, *num_end;
	double v, mult = 1;
	char *end;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p == s)
		return -EINVAL;
	while (*p == '.') {
		const char *q = ++p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == q)
			return -EINVAL;
	}
	num_end = p;
	if (*p == ' ')
		p++;
	if (*p && strchr("kKmMgGtTpP", *p)) {
		int e = (int)(strchr("kmgtp", *p | 0x20) - "kmgtp") + 1;

		for (int i = 0; i < e; i++)
			mult *= 1024;
		p++;
	}
	if (*p == 'i' || *p == 'I')
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return -EINVAL;
	{
		char *num = xstrndup(s, (size_t)(num_end - s));

		v = strtod(num, &end);
		if (*end) { /* "1.2.3": Go's ParseFloat refuses it */
			free(num);
			return -EINVAL;
		}
		free(num);
	}
	v *= mult;
	if (!isfinite(v) || v >= 9.2233720368547758e18)
		return -EINVAL;
	*ret = (int64_t)v;
	return 0;
}

static int __attribute__((format(printf, 2, 3))) fail(char **ret_msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	return -EINVAL;
}

static int
fail_suggest(char **ret_msg, const char *msg, const char *val, const char *const *opts, size_t n)
{
	char *s = dockerfile_suggest(val, opts, n, true);

	if (s)
		*ret_msg = xasprintf("%s (did you mean %s?)", msg, s);
	else
		*ret_msg = xstrdup(msg);
	free(s);
	return -EINVAL;
}

static char *
quoted(const char *s)
{
	struct kl_strbuf b = {0};

	dockerfile_go_quote(&b, s, strlen(s));
	return kl_strbuf_steal(&b, NULL);
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static int
apply(struct dockerfile_mount *m, const char *key, const char *value, const char *field,
      bool *ro_auto, char **ret_msg)
{
	bool b;

	if (strcmp(key, "type") == 0) {
		_cleanup_free_ char *lower = xstrdup(value), *q = quoted(value), *msg = NULL;
		size_t k;

		for (char *p = lower; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p += 32;
		for (k = 0; k < _DOCKERFILE_MOUNT_MAX; k++)
			if (strcmp(lower, type_names[k]) == 0)
				break;
		if (k == _DOCKERFILE_MOUNT_MAX) {
			msg = xasprintf("unsupported mount type %s", q);
			return fail_suggest(ret_msg, msg, value, type_names, _DOCKERFILE_MOUNT_MAX);
		}
		m->type = (enum dockerfile_mount_type)k;
	} else if (strcmp(key, "from") == 0) {
		set_str(&m->from, value);
	} else if (strcmp(key, "source") == 0 || strcmp(key, "src") == 0) {
		set_str(&m->source, value);
	} else if (strcmp(key, "target") == 0 || strcmp(key, "dst") == 0 ||
	           strcmp(key, "destination") == 0) {
		set_str(&m->target, value);
	} else if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0 ||
	           strcmp(key, "readwrite") == 0 || strcmp(key, "rw") == 0) {
		if (parse_bool(value, &b) < 0)
			return fail(ret_msg, "invalid value for %s: %s", key, value);
		m->readonly = strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0 ? b : !b;
		*ro_auto = false;
	} else if (strcmp(key, "required") == 0) {
		if (m->type != DOCKERFILE_MOUNT_SECRET && m->type != DOCKERFILE_MOUNT_SSH)
			return fail(ret_msg, "unexpected key '%s' for mount type '%s'", key,
			            type_names[m->type]);
		if (parse_bool(value, &m->required) < 0)
			return fail(ret_msg, "invalid value for %s: %s", key, value);
	} else if (strcmp(key, "size") == 0) {
		if (m->type != DOCKERFILE_MOUNT_TMPFS)
			return fail(ret_msg, "unexpected key '%s' for mount type '%s'", key,
			            type_names[m->type]);
		if (ram_in_bytes(value, &m->size) < 0)
			return fail(ret_msg, "invalid value for %s: %s", key, value);
	} else if (strcmp(key, "id") == 0) {
		set_str(&m->id, value);
	} else if (strcmp(key, "sharing") == 0) {
		_cleanup_free_ char *q = quoted(value), *msg = NULL;
		size_t k;

		for (k = 1; k < _DOCKERFILE_SHARING_MAX; k++)
			if (strcasecmp(value, sharing_names[k]) == 0)
				break;
		if (k == _DOCKERFILE_SHARING_MAX) {
			msg = xasprintf("unsupported sharing value %s", q);
			return fail_suggest(ret_msg, msg, value, sharing_names + 1,
			                    _DOCKERFILE_SHARING_MAX - 1);
		}
		m->sharing = (enum dockerfile_mount_sharing)k;
	} else if (strcmp(key, "mode") == 0) {
		if (parse_u32(value, 8, &m->mode) < 0)
			return fail(ret_msg, "invalid value %s for mode", value);
		m->has_mode = true;
	} else if (strcmp(key, "uid") == 0) {
		if (parse_u32(value, 10, &m->uid) < 0)
			return fail(ret_msg, "invalid value %s for uid", value);
		m->has_uid = true;
	} else if (strcmp(key, "gid") == 0) {
		if (parse_u32(value, 10, &m->gid) < 0)
			return fail(ret_msg, "invalid value %s for gid", value);
		m->has_gid = true;
	} else if (strcmp(key, "env") == 0) {
		set_str(&m->env, value);
	} else {
		_cleanup_free_ char *msg = xasprintf("unexpected key '%s' in '%s'", key, field);

		return fail_suggest(ret_msg, msg, key, all_keys,
		                    sizeof(all_keys) / sizeof(*all_keys));
	}
	return 0;
}

static int
validate(struct dockerfile_mount *m, bool ro_auto, char **ret_msg)
{
	bool file_info = m->type == DOCKERFILE_MOUNT_SECRET || m->type == DOCKERFILE_MOUNT_SSH ||
	                 m->type == DOCKERFILE_MOUNT_CACHE;
	const char *t = type_names[m->type];

	if (!file_info && m->has_mode)
		return fail(ret_msg, "mode not allowed for \"%s\" type mounts", t);
	if (!file_info && m->has_uid)
		return fail(ret_msg, "uid not allowed for \"%s\" type mounts", t);
	if (!file_info && m->has_gid)
		return fail(ret_msg, "gid not allowed for \"%s\" type mounts", t);
	if (ro_auto)
		m->readonly =
		    !(m->type == DOCKERFILE_MOUNT_CACHE || m->type == DOCKERFILE_MOUNT_TMPFS);
	if (m->type == DOCKERFILE_MOUNT_SECRET) {
		bool src = m->source && *m->source, id = m->id && *m->id;

		if (m->from && *m->from)
			return fail(ret_msg, "secret mount should not have a from");
		if (m->sharing != DOCKERFILE_SHARING_UNSET)
			return fail(ret_msg, "secret mount should not define sharing");
		if (!src && !(m->target && *m->target) && !id)
			return fail(ret_msg,
			            "invalid secret mount. one of source, target required");
		if (src && id)
			return fail(ret_msg, "both source and id can't be set");
	}
	if (m->sharing != DOCKERFILE_SHARING_UNSET && m->type != DOCKERFILE_MOUNT_CACHE)
		return fail(ret_msg, "invalid cache sharing set for %s mount", t);
	return 0;
}

/* The checks BuildKit makes before variables are known: the CSV, and from= taking none. */
static int
check_deferred(const struct fields *f, char **ret_msg)
{
	for (size_t i = 0; i < f->n; i++) {
		const char *eq = strchr(f->v[i], '='), *d;

		if (!eq || (size_t)(eq - f->v[i]) != 4 || strncasecmp(f->v[i], "from", 4) != 0)
			continue;
		d = strchr(eq + 1, '$');
		if (d && d[1])
			return fail(ret_msg,
			            "'from' doesn't support variable expansion, define alias stage "
			            "instead");
	}
	return 0;
}

int
dockerfile_mount_parse(const char *spec, const struct dockerfile_expander *ex,
                       struct dockerfile_mount *ret, char **ret_msg)
{
	struct dockerfile_expander literal = {.escape = '\\'};
	struct dockerfile_mount m = {.type = DOCKERFILE_MOUNT_BIND};
	struct fields f = {0};
	bool ro_auto = true;
	int r;

	r = csv_record(spec, &f, ret_msg);
	if (r < 0)
		goto out;
	if (!ex && strchr(spec, '$')) {
		r = check_deferred(&f, ret_msg);
		if (r < 0)
			goto out;
		m.deferred = true;
		goto done;
	}
	if (!ex)
		ex = &literal;
	for (size_t i = 0; i < f.n; i++) {
		_cleanup_free_ char *key = NULL, *value = NULL;
		struct kl_error *err = NULL;
		const char *eq = strchr(f.v[i], '=');

		key = xstrndup(f.v[i], eq ? (size_t)(eq - f.v[i]) : strlen(f.v[i]));
		for (char *p = key; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p += 32;
		if (!eq) {
			if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0) {
				m.readonly = true, ro_auto = false;
			} else if (strcmp(key, "readwrite") == 0 || strcmp(key, "rw") == 0) {
				m.readonly = false, ro_auto = false;
			} else if (strcmp(key, "required") == 0 &&
			           (m.type == DOCKERFILE_MOUNT_SECRET ||
			            m.type == DOCKERFILE_MOUNT_SSH)) {
				m.required = true;
			} else if (strcmp(key, "required") == 0) {
				r = fail(ret_msg, "unexpected key '%s' for mount type '%s'", key,
				         type_names[m.type]);
				goto out;
			} else {
				r = fail(ret_msg, "invalid field '%s' must be a key=value pair",
				         f.v[i]);
				goto out;
			}
			continue;
		}
		r = dockerfile_expand(ex, eq + 1, strlen(eq + 1), &value, NULL, &err);
		if (r < 0) {
			*ret_msg = xstrdup(err->msg);
			kl_error_free(err);
			goto out;
		}
		r = apply(&m, key, value, f.v[i], &ro_auto, ret_msg);
		if (r < 0)
			goto out;
	}
	r = validate(&m, ro_auto, ret_msg);
	if (r < 0)
		goto out;
done:
	m.spec = xstrdup(spec);
	*ret = m;
	fields_done(&f);
	return 0;
out:
	fields_done(&f);
	dockerfile_mount_done(&m);
	return r;
}
