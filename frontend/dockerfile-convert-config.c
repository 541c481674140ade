// SPDX-License-Identifier: Apache-2.0
/* The image config a stage makes: its base's, changed by the Dockerfile's instructions, with
 * one history entry per instruction as BuildKit writes them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend/dockerfile-convert-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/timestamp.h"
#include "util/xalloc.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define HISTORY_COMMENT "buildkit.dockerfile.v0"

static void
set_platform(json_t *image, const char *platform)
{
	_cleanup_free_ char *p = xstrdup(platform ? platform : "linux/amd64");
	char *arch = strchr(p, '/'), *variant = NULL;

	if (arch) {
		*arch++ = '\0';
		variant = strchr(arch, '/');
		if (variant)
			*variant++ = '\0';
	}
	json_object_set_new(image, "architecture", json_string(arch ? arch : "amd64"));
	json_object_set_new(image, "os", json_string(p));
	if (variant && *variant)
		json_object_set_new(image, "variant", json_string(variant));
	else
		json_object_del(image, "variant");
}

json_t *
cv_config_obj(json_t *image)
{
	json_t *c = json_object_get(image, "config");

	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(image, "config", c);
	}
	return c;
}

json_t *
cv_config_empty(const char *platform)
{
	json_t *image = json_object(), *c, *rootfs;

	set_platform(image, platform);
	c = cv_config_obj(image);
	json_object_set_new(c, "Env", json_pack("[s]", DEFAULT_PATH));
	json_object_set_new(c, "WorkingDir", json_string("/"));
	rootfs = json_pack("{s:s,s:[]}", "type", "layers", "diff_ids");
	json_object_set_new(image, "rootfs", rootfs);
	return image;
}

int
cv_config_parse(const char *text, const char *platform, json_t **ret, struct kl_error **err)
{
	json_error_t je;
	json_t *image;

	if (!text) {
		*ret = cv_config_empty(platform);
		json_object_set_new(cv_config_obj(*ret), "Env", json_array());
		return 0;
	}
	image = json_loads(text, 0, &je);
	if (!json_is_object(image)) {
		json_decref(image);
		return kl_error_setf(err, EINVAL,
		                     "the base image's config is not a JSON object: %s", je.text);
	}
	cv_config_obj(image);
	if (!json_is_object(json_object_get(image, "rootfs")))
		json_object_set_new(image, "rootfs",
		                    json_pack("{s:s,s:[]}", "type", "layers", "diff_ids"));
	if (!json_is_string(json_object_get(image, "architecture")))
		set_platform(image, platform);
	*ret = image;
	return 0;
}

static void
cv_config_set_env(struct cv_stage *st, const char *key, const char *value)
{
	json_t *env = json_array();

	cv_vars_set(&st->env, key, value);
	for (size_t i = 0; i < st->env.n; i++)
		json_array_append_new(env, json_string(st->env.kv[i]));
	json_object_set_new(cv_config_obj(st->image), "Env", env);
}

void
cv_config_history(struct cv *cv, struct cv_stage *st, const char *created_by, bool empty_layer)
{
	json_t *h = json_object_get(st->image, "history"), *e;

	if (!json_is_array(h)) {
		h = json_array();
		json_object_set_new(st->image, "history", h);
	}
	e = json_pack("{s:s,s:s,s:s}", "created", cv->created, "created_by", created_by, "comment",
	              HISTORY_COMMENT);
	if (empty_layer)
		json_object_set_new(e, "empty_layer", json_true());
	json_array_append_new(h, e);
}

/* Go's %q of a string vector: ["a" "b"]. */
static char *
cv_go_quote_list(char *const *v, size_t n)
{
	struct kl_strbuf b = {0};

	kl_strbuf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			kl_strbuf_putc(&b, ' ');
		kl_strbuf_putc(&b, '"');
		for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				kl_strbuf_printf(&b, "\\%c", *p);
			else if (*p == '\n')
				kl_strbuf_puts(&b, "\\n");
			else if (*p == '\t')
				kl_strbuf_puts(&b, "\\t");
			else if (*p < 0x20 || *p == 0x7f)
				kl_strbuf_printf(&b, "\\x%02x", *p);
			else
				kl_strbuf_putc(&b, (char)*p);
		}
		kl_strbuf_putc(&b, '"');
	}
	kl_strbuf_putc(&b, ']');
	return kl_strbuf_steal(&b, NULL);
}

/* Go's %v of a string slice: [a b]. */
static char *
go_list(char *const *v, size_t n)
{
	struct kl_strbuf b = {0};

	kl_strbuf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			kl_strbuf_putc(&b, ' ');
		kl_strbuf_puts(&b, v[i]);
	}
	kl_strbuf_putc(&b, ']');
	return kl_strbuf_steal(&b, NULL);
}

static json_t *
strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* CMD and ENTRYPOINT: the shell form runs in the stage's shell. */
static json_t *
cmdline_json(const struct cv_stage *st, const struct dockerfile_cmdline *c, char ***ret_v,
             size_t *ret_n)
{
	char **shell = NULL;
	size_t n_shell = cv_shell(st, &shell), n = 0;
	char **v = xcalloc(n_shell + c->args.n + 1, sizeof(*v));

	if (c->shell_form)
		for (size_t i = 0; i < n_shell; i++)
			v[n++] = xstrdup(shell[i]);
	dockerfile_words_free(shell, n_shell);
	for (size_t i = 0; i < c->args.n; i++)
		v[n++] = xstrdup(c->args.v[i]);
	*ret_v = v;
	*ret_n = n;
	return strv_json(v, n);
}

static void
free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
instr_kvs(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	bool env = in->kind == DOCKERFILE_ENV;
	json_t *c = cv_config_obj(st->image), *labels;
	struct kl_strbuf msg = {0};
	int r = 0;

	labels = json_object_get(c, "Labels");
	if (!env && !json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(c, "Labels", labels);
	}
	kl_strbuf_puts(&msg, env ? "ENV" : "LABEL");
	for (size_t i = 0; i < in->u.kvs.n && r >= 0; i++) {
		_cleanup_free_ char *k = NULL, *v = NULL;

		r = cv_expand(cv, st, in, in->u.kvs.v[i].key, &k);
		if (r >= 0)
			r = cv_expand(cv, st, in, in->u.kvs.v[i].value ? in->u.kvs.v[i].value : "",
			              &v);
		if (r < 0)
			break;
		if (env) {
			cv_config_set_env(st, k, v);
			kl_strbuf_printf(&msg, " %s=%s", k, v);
		} else {
			json_object_set_new(labels, k, json_string(v));
			/* BuildKit quotes label values in its history line */
			kl_strbuf_printf(&msg, " %s=%s", k, v);
		}
	}
	if (r >= 0)
		cv_config_history(cv, st, msg.buf, true);
	kl_strbuf_done(&msg);
	return r;
}

/* "80", "80/udp", "8000-8002/tcp" into the ExposedPorts object. */
static int
expose_port(struct cv *cv, const struct dockerfile_instr *in, json_t *ports, const char *spec)
{
	const char *slash = strchr(spec, '/');
	_cleanup_free_ char *proto = xstrdup(slash ? slash + 1 : "tcp");
	_cleanup_free_ char *range = xstrndup(spec, slash ? (size_t)(slash - spec) : strlen(spec));
	char *dash = strchr(range, '-'), *end = NULL;
	unsigned long lo, hi;

	for (char *p = proto; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	if (dash)
		*dash++ = '\0';
	/* a "host:container" form is refused as Docker does for EXPOSE */
	lo = strtoul(range, &end, 10);
	if (!*range || *end || lo > 65535)
		return cv_fail(cv, in, "invalid containerPort: %s", range);
	hi = lo;
	if (dash) {
		hi = strtoul(dash, &end, 10);
		if (!*dash || *end || hi > 65535 || hi < lo)
			return cv_fail(cv, in, "invalid range specified for the Port: %s", spec);
	}
	if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
		return cv_fail(cv, in, "invalid proto: %s", proto);
	for (unsigned long p = lo; p <= hi; p++) {
		_cleanup_free_ char *k = xasprintf("%lu/%s", p, proto);

		json_object_set_new(ports, k, json_object());
	}
	return 0;
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
instr_expose(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	json_t *c = cv_config_obj(st->image), *ports = json_object_get(c, "ExposedPorts");
	struct kl_strbuf msg = {0};
	const char *key;
	json_t *val;
	bool first = true;
	int r = 0;

	if (!json_is_object(ports)) {
		ports = json_object();
		json_object_set_new(c, "ExposedPorts", ports);
	}
	for (size_t i = 0; i < in->u.list.n && r >= 0; i++) {
		char **w = NULL;
		size_t n = 0;

		r = cv_expand_words(cv, st, in, in->u.list.v[i], &w, &n);
		for (size_t k = 0; r >= 0 && k < n; k++)
			r = expose_port(cv, in, ports, w[k]);
		dockerfile_words_free(w, n);
	}
	if (r < 0)
		return r;
	/* Go's %v of map[nat.Port]struct{}: sorted keys, "map[80/tcp:{} 443/tcp:{}]" */
	kl_strbuf_puts(&msg, "EXPOSE map[");
	{
		const char **keys = xcalloc(json_object_size(ports) + 1, sizeof(*keys));
		size_t n = 0;

		json_object_foreach(ports, key, val) keys[n++] = key;
		qsort(keys, n, sizeof(*keys), compare_strings);
		for (size_t i = 0; i < n; i++) {
			kl_strbuf_printf(&msg, "%s%s:{}", first ? "" : " ", keys[i]);
			first = false;
		}
		free(keys);
	}
	kl_strbuf_putc(&msg, ']');
	cv_config_history(cv, st, msg.buf, true);
	kl_strbuf_done(&msg);
	return 0;
}

static int
instr_volume(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	json_t *c = cv_config_obj(st->image), *vols = json_object_get(c, "Volumes");
	char **all = NULL;
	size_t n_all = 0;
	int r = 0;

	if (!json_is_object(vols)) {
		vols = json_object();
		json_object_set_new(c, "Volumes", vols);
	}
	for (size_t i = 0; i < in->u.list.n && r >= 0; i++) {
		char *v = NULL;

		r = cv_expand(cv, st, in, in->u.list.v[i], &v);
		if (r < 0)
			break;
		if (!*v) {
			free(v);
			r = cv_fail(cv, in, "VOLUME specified can not be an empty string");
			break;
		}
		json_object_set_new(vols, v, json_object());
		all = xrealloc(all, (n_all + 1) * sizeof(*all));
		all[n_all++] = v;
	}
	if (r >= 0) {
		_cleanup_free_ char *l = go_list(all, n_all);
		_cleanup_free_ char *msg = xasprintf("VOLUME %s", l);

		cv_config_history(cv, st, msg, true);
	}
	free_strv(all, n_all);
	return r;
}

static void
set_health(json_t *c, const struct dockerfile_healthcheck *h)
{
	json_t *o;

	if (h->none) {
		json_object_set_new(c, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
		return;
	}
	o = json_object();
	json_object_set_new(o, "Test", strv_json(h->test.v, h->test.n));
	if (h->interval_ns)
		json_object_set_new(o, "Interval", json_integer(h->interval_ns));
	if (h->timeout_ns)
		json_object_set_new(o, "Timeout", json_integer(h->timeout_ns));
	if (h->start_period_ns)
		json_object_set_new(o, "StartPeriod", json_integer(h->start_period_ns));
	if (h->start_interval_ns)
		json_object_set_new(o, "StartInterval", json_integer(h->start_interval_ns));
	if (h->retries)
		json_object_set_new(o, "Retries", json_integer(h->retries));
	json_object_set_new(c, "Healthcheck", o);
}

/* Go's %q of *HealthConfig, as BuildKit's history line prints it. */
static char *
health_text(const struct dockerfile_healthcheck *h)
{
	_cleanup_free_ char *test = NULL;
	static char *const none[] = {"NONE"};

	if (h->none)
		test = cv_go_quote_list(none, 1);
	else
		test = cv_go_quote_list(h->test.v, h->test.n);
	return xasprintf("HEALTHCHECK &{%s \"%gs\" \"%gs\" \"%gs\" \"%gs\" '\\x%02x'}", test,
	                 (double)h->interval_ns / 1e9, (double)h->timeout_ns / 1e9,
	                 (double)h->start_period_ns / 1e9, (double)h->start_interval_ns / 1e9,
	                 (unsigned)h->retries & 0xff);
}

static int
instr_word(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in, char **ret)
{
	return cv_expand(cv, st, in, in->u.str ? in->u.str : "", ret);
}

int
cv_config_instr(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	json_t *c = cv_config_obj(st->image);
	_cleanup_free_ char *v = NULL, *msg = NULL, *q = NULL;
	char **argv = NULL;
	size_t argc = 0;
	int r;

	switch (in->kind) {
	case DOCKERFILE_ENV:
	case DOCKERFILE_LABEL:
		return instr_kvs(cv, st, in);
	case DOCKERFILE_EXPOSE:
		return instr_expose(cv, st, in);
	case DOCKERFILE_VOLUME:
		return instr_volume(cv, st, in);
	case DOCKERFILE_USER:
		r = instr_word(cv, st, in, &v);
		if (r < 0)
			return r;
		json_object_set_new(c, "User", json_string(v));
		msg = xasprintf("USER %s", v);
		break;
	case DOCKERFILE_STOPSIGNAL:
		r = instr_word(cv, st, in, &v);
		if (r < 0)
			return r;
		json_object_set_new(c, "StopSignal", json_string(v));
		msg = xasprintf("STOPSIGNAL %s", v);
		break;
	case DOCKERFILE_MAINTAINER:
		r = instr_word(cv, st, in, &v);
		if (r < 0)
			return r;
		json_object_set_new(st->image, "author", json_string(v));
		msg = xasprintf("MAINTAINER %s", v);
		break;
	case DOCKERFILE_CMD:
		json_object_set_new(c, "Cmd", cmdline_json(st, &in->u.cmd, &argv, &argc));
		q = cv_go_quote_list(argv, argc);
		msg = xasprintf("CMD %s", q);
		st->cmd_set = true;
		break;
	case DOCKERFILE_ENTRYPOINT:
		json_object_set_new(c, "Entrypoint", cmdline_json(st, &in->u.cmd, &argv, &argc));
		/* Docker: an ENTRYPOINT resets the CMD the base image had */
		if (!st->cmd_set)
			json_object_del(c, "Cmd");
		q = cv_go_quote_list(argv, argc);
		msg = xasprintf("ENTRYPOINT %s", q);
		break;
	case DOCKERFILE_SHELL:
		json_object_set_new(c, "Shell", strv_json(in->u.list.v, in->u.list.n));
		q = go_list(in->u.list.v, in->u.list.n);
		msg = xasprintf("SHELL %s", q);
		break;
	case DOCKERFILE_HEALTHCHECK:
		set_health(c, &in->u.health);
		msg = health_text(&in->u.health);
		break;
	case DOCKERFILE_ONBUILD: {
		json_t *ob = json_object_get(c, "OnBuild");

		if (!json_is_array(ob)) {
			ob = json_array();
			json_object_set_new(c, "OnBuild", ob);
		}
		json_array_append_new(ob, json_string(in->u.onbuild));
		msg = xasprintf("ONBUILD %s", in->u.onbuild);
		break;
	}
	default:
		return cv_fail(cv, in, "%s is not a config instruction",
		               dockerfile_instr_name(in->kind));
	}
	free_strv(argv, argc);
	cv_config_history(cv, st, msg, true);
	return 0;
}

const char *
cv_workdir(const struct cv_stage *st)
{
	const char *w = json_string_value(json_object_get(cv_config_obj(st->image), "WorkingDir"));

	return w && *w ? w : "/";
}

const char *
cv_user(const struct cv_stage *st)
{
	const char *u = json_string_value(json_object_get(cv_config_obj(st->image), "User"));

	return u && *u ? u : NULL;
}

size_t
cv_shell(const struct cv_stage *st, char ***ret)
{
	json_t *sh = json_object_get(cv_config_obj(st->image), "Shell");
	size_t n = json_is_array(sh) ? json_array_size(sh) : 0;
	char **v;

	if (n == 0) {
		v = xcalloc(3, sizeof(*v));
		v[0] = xstrdup("/bin/sh");
		v[1] = xstrdup("-c");
		*ret = v;
		return 2;
	}
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(sh, i));

		v[i] = xstrdup(s ? s : "");
	}
	*ret = v;
	return n;
}

/* The times of the build's own history entries (those past the base image's), from when
 * the results of their vertices were made (dockerfile_stage_config tells the rule). */
static void
set_times(json_t *image, const struct dockerfile_stage_result *st, const int64_t *created)
{
	json_t *h = json_object_get(image, "history");
	size_t n = json_array_size(h), first = st->n_base_history < n ? st->n_base_history : n;
	_cleanup_free_ int64_t *t = xcalloc(n + 1, sizeof(*t));
	char buf[KL_TIMESTAMP_SIZE];
	int64_t known = 0, latest = 0;
	json_t *when;

	for (size_t i = 0; i < st->n_layers; i++)
		if (st->layers[i].history >= first && st->layers[i].history < n && created[i] > 0)
			t[st->layers[i].history] = created[i];
	for (size_t i = first; i < n && !known; i++)
		known = t[i]; /* entries before the first layer take the first layer's time */
	for (size_t i = first; i < n; i++) {
		if (t[i])
			known = t[i];
		t[i] = known;
		latest = t[i] > latest ? t[i] : latest;
	}
	if (latest) {
		for (size_t i = first; i < n; i++)
			json_object_set_new(json_array_get(h, i), "created",
			                    json_string(kl_timestamp_format(t[i], buf)));
		json_object_set_new(image, "created",
		                    json_string(kl_timestamp_format(latest, buf)));
		return;
	}
	/* no time of the build's own: the base image's last one, else the epoch itself */
	when = first ? json_object_get(json_array_get(h, first - 1), "created") : NULL;
	when = json_is_string(when) ? json_incref(when) : json_string(kl_timestamp_format(0, buf));
	for (size_t i = first; i < n; i++)
		json_object_set(json_array_get(h, i), "created", when);
	json_object_set_new(image, "created", when);
}

char *
dockerfile_stage_config(const struct dockerfile_stage_result *st, const bool *empty,
                        const int64_t *created)
{
	json_t *image = json_loads(st->config, 0, NULL);
	json_t *h = json_object_get(image, "history");
	char *out;

	if (empty && json_is_array(h))
		for (size_t i = 0; i < st->n_layers; i++) {
			json_t *e = json_array_get(h, st->layers[i].history);

			if (empty[i] && e)
				json_object_set_new(e, "empty_layer", json_true());
		}
	if (created)
		set_times(image, st, created);
	out = json_dumps(image, JSON_COMPACT);
	json_decref(image);
	return out;
}
