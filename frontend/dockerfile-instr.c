// SPDX-License-Identifier: Apache-2.0
/* Raw parse nodes to typed, checked instructions (BuildKit's instructions package). */
#include "frontend/dockerfile-instr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend/dockerfile-diag.h"
#include "frontend/dockerfile-dump.h"
#include "frontend/dockerfile-duration.h"
#include "frontend/dockerfile-expand.h"
#include "frontend/dockerfile-flags.h"
#include "frontend/dockerfile-heredoc.h"
#include "frontend/dockerfile-internal.h"
#include "frontend/dockerfile-parse.h"
#include "frontend/dockerfile-suggest.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define MAINTAINER_URL "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/"

static const char *const instr_names[_DOCKERFILE_INSTR_MAX] = {
    [DOCKERFILE_ADD] = "ADD",
    [DOCKERFILE_ARG] = "ARG",
    [DOCKERFILE_CMD] = "CMD",
    [DOCKERFILE_COPY] = "COPY",
    [DOCKERFILE_ENTRYPOINT] = "ENTRYPOINT",
    [DOCKERFILE_ENV] = "ENV",
    [DOCKERFILE_EXPOSE] = "EXPOSE",
    [DOCKERFILE_FROM] = "FROM",
    [DOCKERFILE_HEALTHCHECK] = "HEALTHCHECK",
    [DOCKERFILE_LABEL] = "LABEL",
    [DOCKERFILE_MAINTAINER] = "MAINTAINER",
    [DOCKERFILE_ONBUILD] = "ONBUILD",
    [DOCKERFILE_RUN] = "RUN",
    [DOCKERFILE_SHELL] = "SHELL",
    [DOCKERFILE_STOPSIGNAL] = "STOPSIGNAL",
    [DOCKERFILE_USER] = "USER",
    [DOCKERFILE_VOLUME] = "VOLUME",
    [DOCKERFILE_WORKDIR] = "WORKDIR",
};

const char *
dockerfile_instr_name(enum dockerfile_instr_kind k)
{
	return (unsigned)k < _DOCKERFILE_INSTR_MAX ? instr_names[k] : "?";
}

/* What BuildKit's parseRequest holds. */
struct req {
	const struct dockerfile_node *node;
	char **args; /* lent from the node (ONBUILD: the trigger's word first) */
	size_t n_args;
	bool json;
	char escape;
	struct dockerfile_warnings *warnings;
	char **ret_msg;
};

static int __attribute__((format(printf, 2, 3))) fail(struct req *rq, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(rq->ret_msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	return -EINVAL;
}

static int
flags(struct req *rq, const struct dockerfile_flag_spec *specs, size_t n,
      struct dockerfile_flag_value *vals)
{
	memset(vals, 0, n * sizeof(*vals));
	return dockerfile_flags_parse(rq->node->flags, rq->node->n_flags, specs, n, vals,
	                              rq->ret_msg);
}

static int
no_flags(struct req *rq)
{
	return dockerfile_flags_parse(rq->node->flags, rq->node->n_flags, NULL, 0, NULL,
	                              rq->ret_msg);
}

static void
strv_add(struct dockerfile_strv *sv, const char *s)
{
	sv->v = xrealloc(sv->v, (sv->n + 1) * sizeof(*sv->v));
	sv->v[sv->n++] = xstrdup(s);
}

static void
strv_done(struct dockerfile_strv *sv)
{
	dockerfile_words_free(sv->v, sv->n);
	sv->v = NULL;
	sv->n = 0;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static char *
go_quote(const char *s)
{
	struct kl_strbuf b = {0};

	dockerfile_go_quote(&b, s, strlen(s));
	return kl_strbuf_steal(&b, NULL);
}

/* BuildKit's handleJSONArgs: exec form as it is, shell form joined into one string. */
static void
json_args(struct req *rq, char **args, size_t n, struct dockerfile_strv *out)
{
	struct kl_strbuf b = {0};

	if (n == 0)
		return;
	if (rq->json) {
		for (size_t i = 0; i < n; i++)
			strv_add(out, args[i]);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i)
			kl_strbuf_putc(&b, ' ');
		kl_strbuf_puts(&b, args[i]);
	}
	out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	out->v[out->n++] = kl_strbuf_steal(&b, NULL);
}

static int
kvps(struct req *rq, const char *cmd, struct dockerfile_kvs *out)
{
	if (rq->n_args == 0)
		return fail(rq, "%s requires at least one argument", cmd);
	if (rq->n_args % 3 != 0)
		return fail(rq, "Bad input to %s, too many arguments", cmd);
	for (size_t i = 0; i < rq->n_args; i += 3)
		if (rq->args[i][0] == '\0')
			return fail(rq, "%s names can not be blank", cmd);
	out->v = xcalloc(rq->n_args / 3 + 1, sizeof(*out->v));
	for (size_t i = 0; i < rq->n_args; i += 3) {
		struct dockerfile_kv *kv = &out->v[out->n++];

		kv->key = xstrdup(rq->args[i]);
		kv->value = xstrdup(rq->args[i + 1]);
		kv->no_equals = rq->args[i + 2][0] == '\0';
	}
	return 0;
}

static void
kvs_done(struct dockerfile_kvs *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].key);
		free(k->v[i].value);
	}
	free(k->v);
	memset(k, 0, sizeof(*k));
}

static int
exactly_one(struct req *rq, const char *cmd, char **ret)
{
	if (rq->n_args != 1)
		return fail(rq, "%s requires exactly one argument", cmd);
	*ret = xstrdup(rq->args[0]);
	return 0;
}

static void
inline_file_done(struct dockerfile_inline_file *f)
{
	free(f->name);
	free(f->data);
}

static const struct dockerfile_heredoc *
heredoc_named(const struct dockerfile_node *n, const char *name)
{
	const struct dockerfile_heredoc *found = NULL;

	/* BuildKit looks the name up in a map: the last heredoc of that name wins */
	for (size_t i = 0; i < n->n_heredocs; i++)
		if (strcmp(n->heredocs[i].name, name) == 0)
			found = &n->heredocs[i];
	return found;
}

/* BuildKit's parseSourcesAndDest: heredoc sources become inline files. */
static int
sources_and_dest(struct req *rq, const char *cmd, struct dockerfile_copy *c)
{
	struct dockerfile_heredoc_marker m = {0};
	const char *dest = rq->args[rq->n_args - 1];

	if (dockerfile_heredoc_parse_word(dest, strlen(dest), &m, NULL) > 0) {
		dockerfile_heredoc_marker_done(&m);
		return fail(rq, "%s cannot accept a heredoc as a destination", cmd);
	}
	c->dest = xstrdup(dest);
	for (size_t i = 0; i + 1 < rq->n_args; i++) {
		const char *src = rq->args[i];
		const struct dockerfile_heredoc *h;
		struct dockerfile_inline_file *f;

		if (dockerfile_heredoc_parse_word(src, strlen(src), &m, NULL) <= 0) {
			strv_add(&c->sources, src);
			continue;
		}
		c->inline_sources = xrealloc(c->inline_sources, (c->n_inline_sources + 1) *
		                                                    sizeof(*c->inline_sources));
		f = &c->inline_sources[c->n_inline_sources++];
		memset(f, 0, sizeof(*f));
		h = heredoc_named(rq->node, m.name);
		if (h && m.chomp)
			f->data = dockerfile_heredoc_chomp(h->content, h->content_len, &f->len);
		else if (h)
			f->data = xmemdup(h->content, h->content_len + 1), f->len = h->content_len;
		else
			f->data = xstrdup("");
		f->name = m.name;
		f->expand = m.expand;
		f->chomp = m.chomp;
		f->fd = m.fd;
	}
	return 0;
}

static int
parse_add_copy(struct req *rq, bool add, struct dockerfile_copy *c)
{
	static const struct dockerfile_flag_spec add_specs[] = {
	    {"exclude", DOCKERFILE_FLAG_STRINGS},   {"chown", DOCKERFILE_FLAG_STRING},
	    {"chmod", DOCKERFILE_FLAG_STRING},      {"link", DOCKERFILE_FLAG_BOOL},
	    {"keep-git-dir", DOCKERFILE_FLAG_BOOL}, {"checksum", DOCKERFILE_FLAG_STRING},
	    {"unpack", DOCKERFILE_FLAG_BOOL},
	};
	static const struct dockerfile_flag_spec copy_specs[] = {
	    {"exclude", DOCKERFILE_FLAG_STRINGS}, {"parents", DOCKERFILE_FLAG_BOOL},
	    {"chown", DOCKERFILE_FLAG_STRING},    {"from", DOCKERFILE_FLAG_STRING},
	    {"chmod", DOCKERFILE_FLAG_STRING},    {"link", DOCKERFILE_FLAG_BOOL},
	};
	const struct dockerfile_flag_spec *specs = add ? add_specs : copy_specs;
	size_t n = add ? 7 : 6;
	struct dockerfile_flag_value v[7];
	const char *cmd = add ? "ADD" : "COPY";
	int r;

	if (rq->n_args < 2)
		return fail(rq,
		            "%s requires at least two arguments, but only one was provided. "
		            "Destination could not be determined",
		            cmd);
	r = flags(rq, specs, n, v);
	if (r == 0)
		r = sources_and_dest(rq, cmd, c);
	if (r == 0) {
		for (size_t k = 0; k < v[0].n_values; k++)
			strv_add(&c->excludes, v[0].values[k]);
		if (add) {
			c->chown = dup_or_null(v[1].value);
			c->chmod = dup_or_null(v[2].value);
			c->link = v[3].on;
			c->keep_git_dir = v[4].on;
			c->checksum = dup_or_null(v[5].value);
			c->unpack = v[6].used ? v[6].on : -1;
		} else {
			c->parents = v[1].on;
			c->chown = dup_or_null(v[2].value);
			c->from = dup_or_null(v[3].value);
			c->chmod = dup_or_null(v[4].value);
			c->link = v[5].on;
			c->unpack = -1;
		}
	}
	dockerfile_flag_values_done(v, n);
	return r;
}

static void
copy_done(struct dockerfile_copy *c)
{
	strv_done(&c->sources);
	for (size_t i = 0; i < c->n_inline_sources; i++)
		inline_file_done(&c->inline_sources[i]);
	free(c->inline_sources);
	free(c->dest);
	free(c->from);
	free(c->chown);
	free(c->chmod);
	strv_done(&c->excludes);
	free(c->checksum);
}

static bool
valid_stage_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
	return true;
}

static int
parse_from(struct req *rq, struct dockerfile_from *f)
{
	static const struct dockerfile_flag_spec specs[] = {{"platform", DOCKERFILE_FLAG_STRING}};
	struct dockerfile_flag_value v[1];
	_cleanup_free_ char *name = NULL;
	int r;

	if (rq->n_args == 3 && strcasecmp(rq->args[1], "as") == 0) {
		name = xstrdup(rq->args[2]);
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p += 32;
		if (!valid_stage_name(name)) {
			_cleanup_free_ char *q = go_quote(rq->args[2]);

			return fail(
			    rq,
			    "invalid name for build stage: %s, name can't start with a number or "
			    "contain symbols",
			    q);
		}
	} else if (rq->n_args != 1) {
		return fail(rq, "FROM requires either one or three arguments");
	}
	r = flags(rq, specs, 1, v);
	if (r == 0) {
		f->image = xstrdup(rq->args[0]);
		f->name = TAKE_PTR(name);
		f->platform = dup_or_null(v[0].value);
	}
	dockerfile_flag_values_done(v, 1);
	return r;
}

/* (?i)^\s*ONBUILD\s* removed from the original line, then each heredoc's body and word. */
static int
parse_onbuild(struct req *rq, char **ret)
{
	const char *o = rq->node->original, *t = rq->args[0];
	_cleanup_free_ char *trig = NULL;
	struct kl_strbuf b = {0};
	size_t tl;
	int r;

	if (rq->n_args == 0)
		return fail(rq, "ONBUILD requires at least one argument");
	r = no_flags(rq);
	if (r < 0)
		return r;
	t += dockerfile_space_prefix(t, strlen(t));
	tl = dockerfile_trim_space_right(t, strlen(t));
	trig = xstrndup(t, tl);
	for (char *p = trig; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p -= 32;
	if (strcmp(trig, "ONBUILD") == 0)
		return fail(rq, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
	if (strcmp(trig, "MAINTAINER") == 0 || strcmp(trig, "FROM") == 0)
		return fail(rq, "%s isn't allowed as an ONBUILD trigger", trig);
	while (*o == ' ' || (*o >= '\t' && *o <= '\r'))
		o++;
	if (strncasecmp(o, "ONBUILD", 7) == 0) {
		o += 7;
		while (*o == ' ' || (*o >= '\t' && *o <= '\r'))
			o++;
	}
	kl_strbuf_puts(&b, o);
	for (size_t i = 0; i < rq->node->n_heredocs; i++) {
		const struct dockerfile_heredoc *h = &rq->node->heredocs[i];

		kl_strbuf_putc(&b, '\n');
		kl_strbuf_append(&b, h->content, h->content_len);
		kl_strbuf_puts(&b, h->name);
	}
	*ret = kl_strbuf_steal(&b, NULL);
	return 0;
}

static void
cmdline_done(struct dockerfile_cmdline *c)
{
	strv_done(&c->args);
	for (size_t i = 0; i < c->n_files; i++)
		inline_file_done(&c->files[i]);
	free(c->files);
}

/* BuildKit's parseShellDependentCommand. */
static void
cmdline(struct req *rq, struct dockerfile_cmdline *c, bool with_files)
{
	json_args(rq, rq->args, rq->n_args, &c->args);
	c->shell_form = !rq->json;
	if (!with_files || rq->node->n_heredocs == 0)
		return;
	c->files = xcalloc(rq->node->n_heredocs, sizeof(*c->files));
	for (size_t i = 0; i < rq->node->n_heredocs; i++) {
		const struct dockerfile_heredoc *h = &rq->node->heredocs[i];
		struct dockerfile_inline_file *f = &c->files[c->n_files++];

		f->name = xstrdup(h->name);
		f->data = xmemdup(h->content, h->content_len + 1);
		f->len = h->content_len;
		f->expand = h->expand;
		f->chomp = h->chomp;
		f->fd = h->fd;
	}
}

static int
parse_run(struct req *rq, struct dockerfile_run *run)
{
	static const struct dockerfile_flag_spec specs[] = {
	    {"mount", DOCKERFILE_FLAG_STRINGS},
	    {"network", DOCKERFILE_FLAG_STRING},
	    {"security", DOCKERFILE_FLAG_STRING},
	};
	static const char *const networks[] = {"default", "none", "host"};
	static const char *const securities[] = {"sandbox", "insecure"};
	struct dockerfile_flag_value v[3];
	int r = flags(rq, specs, 3, v);

	if (r < 0)
		goto out;
	cmdline(rq, &run->cmd, true);
	if (v[1].value) {
		size_t k;

		for (k = 0; k < _DOCKERFILE_NETWORK_MAX; k++)
			if (strcmp(v[1].value, networks[k]) == 0)
				break;
		if (k == _DOCKERFILE_NETWORK_MAX) {
			_cleanup_free_ char *q = go_quote(v[1].value);

			r = fail(rq, "invalid network mode %s", q);
			goto out;
		}
		run->network = (enum dockerfile_network)k;
	}
	if (v[2].value) {
		size_t k;

		for (k = 0; k < _DOCKERFILE_SECURITY_MAX; k++)
			if (strcmp(v[2].value, securities[k]) == 0)
				break;
		if (k == _DOCKERFILE_SECURITY_MAX) {
			_cleanup_free_ char *q = go_quote(v[2].value);

			r = fail(rq, "security %s is not valid", q);
			goto out;
		}
		run->security = (enum dockerfile_security)k;
	}
	run->mounts = v[0].n_values ? xcalloc(v[0].n_values, sizeof(*run->mounts)) : NULL;
	for (size_t k = 0; k < v[0].n_values; k++) {
		struct dockerfile_expander ex = {.escape = rq->escape};
		const char *spec = v[0].values[k];

		r = dockerfile_mount_parse(spec, strchr(spec, '$') ? NULL : &ex,
		                           &run->mounts[run->n_mounts], rq->ret_msg);
		if (r < 0)
			break;
		run->n_mounts++;
	}
out:
	dockerfile_flag_values_done(v, 3);
	return r;
}

static int
duration(struct req *rq, const struct dockerfile_flag_value *v, const char *name, int64_t *ret)
{
	int64_t d;
	int r;

	*ret = 0;
	if (!v->value || !*v->value)
		return 0;
	r = dockerfile_duration_parse(v->value, &d, rq->ret_msg);
	if (r < 0)
		return r;
	if (d != 0 && d < 1000000)
		return fail(rq, "Interval \"%s\" cannot be less than 1ms", name);
	*ret = d;
	return 0;
}

/* Go's strconv.ParseInt(s, 10, 32), with its error text. */
static int
parse_retries(struct req *rq, const char *s, int *ret)
{
	const char *p = s;
	long long v = 0;
	bool neg = false;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (*p == '\0')
		goto syntax;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			goto syntax;
		if (v < 10000000000LL)
			v = v * 10 + (*p - '0');
	}
	if (neg)
		v = -v;
	if (v > 2147483647LL || v < -2147483648LL)
		return fail(rq, "strconv.ParseInt: parsing \"%s\": value out of range", s);
	if (v < 0)
		return fail(rq, "--retries cannot be negative (%lld)", v);
	*ret = (int)v;
	return 0;
syntax:
	return fail(rq, "strconv.ParseInt: parsing \"%s\": invalid syntax", s);
}

static int
parse_healthcheck(struct req *rq, struct dockerfile_healthcheck *h)
{
	static const struct dockerfile_flag_spec specs[] = {
	    {"interval", DOCKERFILE_FLAG_STRING},     {"timeout", DOCKERFILE_FLAG_STRING},
	    {"start-period", DOCKERFILE_FLAG_STRING}, {"start-interval", DOCKERFILE_FLAG_STRING},
	    {"retries", DOCKERFILE_FLAG_STRING},
	};
	struct dockerfile_flag_value v[5];
	_cleanup_free_ char *typ = NULL;
	int r;

	if (rq->n_args == 0)
		return fail(rq, "HEALTHCHECK requires at least one argument");
	typ = xstrdup(rq->args[0]);
	for (char *p = typ; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p -= 32;
	if (strcmp(typ, "NONE") == 0) {
		/* BuildKit checks no flags here */
		if (rq->n_args != 1)
			return fail(rq, "HEALTHCHECK NONE takes no arguments");
		h->none = true;
		strv_add(&h->test, "NONE");
		return 0;
	}
	r = flags(rq, specs, 5, v);
	if (r < 0)
		goto out;
	if (strcmp(typ, "CMD") != 0) {
		_cleanup_free_ char *q = go_quote(typ);

		r = fail(rq, "Unknown type %s in HEALTHCHECK (try CMD)", q);
		goto out;
	}
	if (rq->n_args < 2) {
		r = fail(rq, "Missing command after HEALTHCHECK CMD");
		goto out;
	}
	strv_add(&h->test, rq->json ? "CMD" : "CMD-SHELL");
	json_args(rq, rq->args + 1, rq->n_args - 1, &h->test);
	r = duration(rq, &v[0], "interval", &h->interval_ns);
	if (r == 0)
		r = duration(rq, &v[1], "timeout", &h->timeout_ns);
	if (r == 0)
		r = duration(rq, &v[2], "start-period", &h->start_period_ns);
	if (r == 0)
		r = duration(rq, &v[3], "start-interval", &h->start_interval_ns);
	if (r == 0 && v[4].value && *v[4].value)
		r = parse_retries(rq, v[4].value, &h->retries);
out:
	dockerfile_flag_values_done(v, 5);
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
parse_list(struct req *rq, enum dockerfile_instr_kind k, struct dockerfile_strv *l)
{
	int r;

	if (rq->n_args == 0)
		return fail(rq, "%s requires at least one argument", instr_names[k]);
	r = no_flags(rq);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rq->n_args; i++) {
		const char *s = rq->args[i];
		size_t sp = dockerfile_space_prefix(s, strlen(s)), n;

		if (k == DOCKERFILE_EXPOSE) {
			strv_add(l, s);
			continue;
		}
		n = dockerfile_trim_space_right(s + sp, strlen(s + sp));
		if (n == 0)
			return fail(rq, "VOLUME specified can not be an empty string");
		l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = xstrndup(s + sp, n);
	}
	if (k == DOCKERFILE_EXPOSE)
		qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	return 0;
}

static int
parse_arg(struct req *rq, struct dockerfile_kvs *out)
{
	if (rq->n_args == 0)
		return fail(rq, "ARG requires at least one argument");
	for (size_t i = 0; i < rq->n_args; i++)
		if (rq->args[i][0] == '=')
			return fail(rq, "ARG names can not be blank");
	out->v = xcalloc(rq->n_args, sizeof(*out->v));
	for (size_t i = 0; i < rq->n_args; i++) {
		const char *eq = strchr(rq->args[i], '=');
		struct dockerfile_kv *kv = &out->v[out->n++];

		kv->key =
		    xstrndup(rq->args[i], eq ? (size_t)(eq - rq->args[i]) : strlen(rq->args[i]));
		kv->value = eq ? xstrdup(eq + 1) : NULL;
	}
	return 0;
}

/* BuildKit's errNotJSON, with its hint for Windows paths whose backslashes are not doubled. */
static int
not_json(struct req *rq, const char *cmd)
{
	_cleanup_free_ char *o = xstrdup(rq->node->original), *low = NULL;
	char prefix[32];
	const char *hit;
	struct kl_strbuf b = {0};
	bool hint = false;

	for (char *p = o; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 32;
	snprintf(prefix, sizeof(prefix), "%s ", cmd);
	for (char *p = prefix; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 32;
	for (const char *p = o; *p;) {
		const char *q = strstr(p, prefix);

		if (!q) {
			kl_strbuf_puts(&b, p);
			break;
		}
		kl_strbuf_append(&b, p, (size_t)(q - p));
		p = q + strlen(prefix);
	}
	low = kl_strbuf_steal(&b, NULL);
	for (hit = low; (hit = strchr(hit, '"')); hit++)
		if (hit[1] >= 'a' && hit[1] <= 'z' && hit[2] == ':' && hit[3] == '\\')
			break;
	hint = hit && !strstr(low, "\\\\") && strchr(low, '[') && strchr(low, ']');
	if (hint)
		return fail(
		    rq,
		    "%s requires the arguments to be in JSON form. It looks like '%s' includes "
		    "a file path without an escaped back-slash. JSON requires back-slashes to "
		    "be escaped such as [\"c:\\\\path\\\\to\\\\file.exe\", \"/parameter\"]",
		    cmd, low);
	return fail(rq, "%s requires the arguments to be in JSON form", cmd);
}

static int
parse_shell(struct req *rq, struct dockerfile_strv *l)
{
	int r = no_flags(rq);

	if (r < 0)
		return r;
	if (rq->n_args == 0)
		return fail(rq, "SHELL requires at least one argument");
	if (!rq->json)
		return not_json(rq, "SHELL");
	json_args(rq, rq->args, rq->n_args, l);
	return 0;
}

static int
unknown_instruction(struct req *rq)
{
	char *s = dockerfile_suggest(rq->node->value, instr_names, _DOCKERFILE_INSTR_MAX, false);
	int r;

	if (s)
		r = fail(rq, "unknown instruction: %s (did you mean %s?)", rq->node->value, s);
	else
		r = fail(rq, "unknown instruction: %s", rq->node->value);
	free(s);
	return r;
}

static int
dispatch(struct req *rq, struct dockerfile_instr *in)
{
	int r;

	switch (in->kind) {
	case DOCKERFILE_ENV:
	case DOCKERFILE_LABEL:
		r = no_flags(rq);
		return r < 0 ? r : kvps(rq, instr_names[in->kind], &in->u.kvs);
	case DOCKERFILE_MAINTAINER:
		if (rq->n_args != 1)
			return fail(rq, "MAINTAINER requires exactly one argument");
		r = no_flags(rq);
		if (r < 0)
			return r;
		in->u.str = xstrdup(rq->args[0]);
		if (rq->warnings)
			dockerfile_warnings_add(
			    rq->warnings, in->start_line,
			    "The MAINTAINER instruction is deprecated, use a label "
			    "instead to define an image author",
			    MAINTAINER_URL,
			    "Maintainer instruction is deprecated in favor of using "
			    "label");
		if (rq->warnings && rq->warnings->n)
			rq->warnings->v[rq->warnings->n - 1].from_lint = true;
		return 0;
	case DOCKERFILE_ADD:
	case DOCKERFILE_COPY:
		return parse_add_copy(rq, in->kind == DOCKERFILE_ADD, &in->u.copy);
	case DOCKERFILE_FROM:
		return parse_from(rq, &in->u.from);
	case DOCKERFILE_ONBUILD:
		return parse_onbuild(rq, &in->u.onbuild);
	case DOCKERFILE_WORKDIR:
	case DOCKERFILE_USER:
		r = exactly_one(rq, instr_names[in->kind], &in->u.str);
		return r < 0 ? r : no_flags(rq);
	case DOCKERFILE_STOPSIGNAL:
		return exactly_one(rq, "STOPSIGNAL", &in->u.str); /* BuildKit checks no flags */
	case DOCKERFILE_RUN:
		return parse_run(rq, &in->u.run);
	case DOCKERFILE_CMD:
	case DOCKERFILE_ENTRYPOINT:
		r = no_flags(rq);
		if (r == 0)
			cmdline(rq, &in->u.cmd, false);
		return r;
	case DOCKERFILE_HEALTHCHECK:
		return parse_healthcheck(rq, &in->u.health);
	case DOCKERFILE_EXPOSE:
	case DOCKERFILE_VOLUME:
		return parse_list(rq, in->kind, &in->u.list);
	case DOCKERFILE_ARG:
		return parse_arg(rq, &in->u.kvs); /* BuildKit checks no flags */
	case DOCKERFILE_SHELL:
		return parse_shell(rq, &in->u.list);
	default:
		return unknown_instruction(rq);
	}
}

int
dockerfile_instr_parse(const struct dockerfile_node *node, char escape,
                       struct dockerfile_instr *ret, struct dockerfile_warnings *warnings,
                       char **ret_msg)
{
	struct req rq = {.node = node,
	                 .json = node->json,
	                 .escape = escape,
	                 .warnings = warnings,
	                 .ret_msg = ret_msg};
	struct dockerfile_instr in = {.kind = _DOCKERFILE_INSTR_MAX,
	                              .node = node,
	                              .start_line = node->start_line,
	                              .end_line = node->end_line};
	size_t off = node->sub ? 1 : 0;
	int r;

	for (int k = 0; k < _DOCKERFILE_INSTR_MAX; k++)
		if (strcasecmp(node->value, instr_names[k]) == 0)
			in.kind = (enum dockerfile_instr_kind)k;
	rq.n_args = node->n_args + off;
	rq.args = xcalloc(rq.n_args + 1, sizeof(*rq.args));
	if (node->sub) /* BuildKit's nodeArgs: the trigger's word, then its arguments */
		rq.args[0] = node->sub->value;
	for (size_t i = 0; i < node->n_args; i++) {
		if (memchr(node->args[i].s, '\0', node->args[i].len)) {
			free(rq.args);
			return fail(&rq, "%s argument %zu holds a NUL character", node->value,
			            i + 1);
		}
		rq.args[i + off] = node->args[i].s;
	}
	r = dispatch(&rq, &in);
	free(rq.args);
	if (r < 0) {
		dockerfile_instr_done(&in);
		return r;
	}
	*ret = in;
	return 0;
}

void
dockerfile_instr_done(struct dockerfile_instr *in)
{
	switch (in->kind) {
	case DOCKERFILE_FROM:
		free(in->u.from.image);
		free(in->u.from.name);
		free(in->u.from.platform);
		break;
	case DOCKERFILE_RUN:
		cmdline_done(&in->u.run.cmd);
		for (size_t i = 0; i < in->u.run.n_mounts; i++)
			dockerfile_mount_done(&in->u.run.mounts[i]);
		free(in->u.run.mounts);
		break;
	case DOCKERFILE_CMD:
	case DOCKERFILE_ENTRYPOINT:
		cmdline_done(&in->u.cmd);
		break;
	case DOCKERFILE_ADD:
	case DOCKERFILE_COPY:
		copy_done(&in->u.copy);
		break;
	case DOCKERFILE_ENV:
	case DOCKERFILE_LABEL:
	case DOCKERFILE_ARG:
		kvs_done(&in->u.kvs);
		break;
	case DOCKERFILE_EXPOSE:
	case DOCKERFILE_VOLUME:
	case DOCKERFILE_SHELL:
		strv_done(&in->u.list);
		break;
	case DOCKERFILE_USER:
	case DOCKERFILE_WORKDIR:
	case DOCKERFILE_STOPSIGNAL:
	case DOCKERFILE_MAINTAINER:
		free(in->u.str);
		break;
	case DOCKERFILE_HEALTHCHECK:
		strv_done(&in->u.health.test);
		break;
	case DOCKERFILE_ONBUILD:
		free(in->u.onbuild);
		break;
	default:
		break;
	}
	memset(&in->u, 0, sizeof(in->u));
}

int
dockerfile_instrs_parse(struct dockerfile *df, const struct dockerfile_source *src,
                        struct dockerfile_instrs *ret, struct dockerfile_error **ret_error,
                        struct kl_error **err)
{
	struct dockerfile_instrs l = {0};
	bool staged = false;
	int r = 0;

	l.v = xcalloc(df->n_nodes + 1, sizeof(*l.v));
	for (size_t i = 0; i < df->n_nodes; i++) {
		const struct dockerfile_node *n = &df->nodes[i];
		_cleanup_free_ char *msg = NULL;
		struct dockerfile_instr in;

		r = dockerfile_instr_parse(n, df->escape, &in, &df->warnings, &msg);
		if (r < 0) {
			r = dockerfile_error_at(src, n->start_line, n->end_line, 0, ret_error, err,
			                        "%s", msg);
			break;
		}
		if (in.kind == DOCKERFILE_FROM) {
			staged = true;
		} else if (!staged && in.kind != DOCKERFILE_ARG) {
			dockerfile_instr_done(&in);
			r = dockerfile_error_at(src, n->start_line, n->end_line, 0, ret_error, err,
			                        "no build stage in current context");
			break;
		} else if (!staged) {
			l.n_meta_args++;
		}
		l.v[l.n++] = in;
	}
	if (r < 0) {
		dockerfile_instrs_done(&l);
		return r;
	}
	*ret = l;
	return 0;
}

void
dockerfile_instrs_done(struct dockerfile_instrs *l)
{
	for (size_t i = 0; i < l->n; i++)
		dockerfile_instr_done(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int
dockerfile_instr_expand(const struct dockerfile_instr *in, const struct dockerfile_source *src,
                        const struct dockerfile_expander *ex, const char *word, char **ret,
                        struct dockerfile_error **ret_error, struct kl_error **err)
{
	struct kl_error *e = NULL;
	int r = dockerfile_expand(ex, word, strlen(word), ret, NULL, &e);

	if (r < 0) {
		r = dockerfile_error_locate(src, in->start_line, in->end_line, ret_error, &e, r);
		if (err && !*err)
			*err = e;
		else
			kl_error_free(e);
	}
	return r;
}
