// SPDX-License-Identifier: Apache-2.0
/* Variables in a conversion's scopes: KEY=VALUE lists, the ENV-over-ARG lookup, expansion. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-convert-internal.h"
#include "frontend/dockerfile-diag.h"
#include "frontend/dockerfile-parse.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

static size_t
key_len(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq ? (size_t)(eq - kv) : strlen(kv);
}

static char **
find(const struct cv_vars *v, const char *key, size_t len)
{
	for (size_t i = 0; i < v->n; i++)
		if (key_len(v->kv[i]) == len && memcmp(v->kv[i], key, len) == 0)
			return &v->kv[i];
	return NULL;
}

void
cv_vars_set(struct cv_vars *v, const char *key, const char *value)
{
	char *kv = xasprintf("%s=%s", key, value ? value : "");
	char **slot = find(v, key, strlen(key));

	if (slot) {
		free(*slot);
		*slot = kv;
		return;
	}
	v->kv = xgrow(v->kv, &v->cap, v->n + 1, sizeof(*v->kv));
	v->kv[v->n++] = kv;
}

const char *
cv_vars_get(const struct cv_vars *v, const char *key)
{
	char **slot = find(v, key, strlen(key));

	if (!slot)
		return NULL;
	return (*slot)[key_len(*slot)] == '=' ? *slot + key_len(*slot) + 1 : "";
}

void
cv_vars_copy(struct cv_vars *dst, const struct cv_vars *src)
{
	for (size_t i = 0; i < src->n; i++) {
		_cleanup_free_ char *k = xstrndup(src->kv[i], key_len(src->kv[i]));

		cv_vars_set(dst, k, cv_vars_get(src, k));
	}
}

void
cv_vars_done(struct cv_vars *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->kv[i]);
	free(v->kv);
	*v = (struct cv_vars){0};
}

static bool
cv_lookup_fn(void *userdata, const char *name, const char **ret_value, size_t *ret_len)
{
	const struct cv_lookup *lk = userdata;
	const char *v = NULL;

	if (lk->first)
		v = cv_vars_get(lk->first, name);
	if (!v && lk->second)
		v = cv_vars_get(lk->second, name);
	if (!v)
		return false;
	*ret_value = v;
	*ret_len = strlen(v);
	return true;
}

void
cv_expander(const struct cv *cv, const struct cv_stage *st, struct cv_lookup *lk,
            struct dockerfile_expander *ret)
{
	if (st)
		*lk = (struct cv_lookup){&st->env, &st->args};
	else
		*lk = (struct cv_lookup){&cv->meta, NULL};
	*ret = (struct dockerfile_expander){
	    .escape = cv->df->escape,
	    .lookup = cv_lookup_fn,
	    .userdata = lk,
	};
}

int
cv_expand(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in, const char *word,
          char **ret)
{
	struct dockerfile_expander ex;
	struct cv_lookup lk;

	cv_expander(cv, st, &lk, &ex);
	return dockerfile_instr_expand(in, cv->o->src, &ex, word, ret, cv->o->error, cv->err);
}

int
cv_expand_words(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in,
                const char *word, char ***ret, size_t *ret_n)
{
	struct dockerfile_expander ex;
	struct cv_lookup lk;
	int r;

	cv_expander(cv, st, &lk, &ex);
	r = dockerfile_expand_words(&ex, word, strlen(word), ret, ret_n, cv->err);
	if (r < 0)
		return dockerfile_error_locate(cv->o->src, in->start_line, in->end_line,
		                               cv->o->error, cv->err, r);
	return 0;
}

int
cv_fail(struct cv *cv, const struct dockerfile_instr *in, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (!in)
		return kl_error_setf(cv->err, EINVAL, "%s: %s",
		                     cv->o->src->name ? cv->o->src->name : "Dockerfile", msg);
	return dockerfile_error_at(cv->o->src, in->start_line, in->end_line, 0, cv->o->error,
	                           cv->err, "%s", msg);
}

void
cv_run_env(const struct cv_stage *st, struct cv_vars *ret)
{
	cv_vars_copy(ret, &st->env);
	for (size_t i = 0; i < st->args.n; i++) {
		_cleanup_free_ char *k = xstrndup(st->args.kv[i], key_len(st->args.kv[i]));

		if (!cv_vars_get(&st->env, k))
			cv_vars_set(ret, k, cv_vars_get(&st->args, k));
	}
}
