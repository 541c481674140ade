// SPDX-License-Identifier: Apache-2.0
/* Physical lines to logical lines: BOM, directives, comments, continuations, heredoc bodies. */
#include "frontend/dockerfile-lex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend/dockerfile-diag.h"
#include "frontend/dockerfile-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

static const char *const directive_names[_DOCKERFILE_DIRECTIVE_MAX] = {
    [DOCKERFILE_DIRECTIVE_SYNTAX] = "syntax",
    [DOCKERFILE_DIRECTIVE_ESCAPE] = "escape",
    [DOCKERFILE_DIRECTIVE_CHECK] = "check",
};

int
dockerfile_lexer_init(struct dockerfile_lexer *lx, const struct dockerfile_source *src,
                      struct dockerfile_error **ret_error, struct kl_error **err)
{
	memset(lx, 0, sizeof(*lx));
	lx->src = src;
	lx->escape = '\\';
	if (src->len > DOCKERFILE_MAX_SIZE)
		return dockerfile_error_at(src, 0, 0, 0, ret_error, err,
		                           "file is larger than %u MiB (%zu bytes)",
		                           DOCKERFILE_MAX_SIZE >> 20, src->len);
	if (src->len >= 3 && memcmp(src->data, "\xEF\xBB\xBF", 3) == 0)
		lx->pos = 3;
	return 0;
}

void
dockerfile_lexer_done(struct dockerfile_lexer *lx)
{
	for (size_t i = 0; i < _DOCKERFILE_DIRECTIVE_MAX; i++)
		free(lx->directives[i].value);
	memset(lx->directives, 0, sizeof(lx->directives));
}

/* A physical line: [*ret, *ret + *ret_len) without its trailing CRs and LFs. */
static int
read_line(struct dockerfile_lexer *lx, const char **ret, size_t *ret_len,
          struct dockerfile_error **ret_error, struct kl_error **err)
{
	const char *p = lx->src->data + lx->pos, *end = lx->src->data + lx->src->len, *nl;
	size_t n;

	if (p >= end)
		return 0;
	nl = memchr(p, '\n', (size_t)(end - p));
	n = nl ? (size_t)(nl - p) : (size_t)(end - p);
	lx->line++;
	if (n > DOCKERFILE_MAX_LINE)
		return dockerfile_error_at(lx->src, lx->line, lx->line, 0, ret_error, err,
		                           "dockerfile line greater than max allowed size of %u",
		                           DOCKERFILE_MAX_LINE);
	lx->pos += n + (nl ? 1 : 0);
	/* Go's bytes.TrimRight(line, "\r\n") */
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	*ret = p;
	*ret_len = n;
	return 1;
}

static bool
is_comment(const char *s, size_t n)
{
	size_t sp = dockerfile_space_prefix(s, n);

	return sp < n && s[sp] == '#';
}

static bool
is_alpha(char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* Go's \s: [\t\n\f\r ] */
static bool
is_re_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* BuildKit's DirectiveParser.ParseLine on a line whose leading white space is gone: "#", then
 * `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` after white space. The first line that is not a
 * known directive ends the directive section. */
static int
directive(struct dockerfile_lexer *lx, const char *s, size_t n, struct dockerfile_error **ret_error,
          struct kl_error **err)
{
	size_t i, name_start, name_end, v_start, v_end;
	struct dockerfile_directive *d;
	int kind = -1;

	if (lx->directives_done)
		return 0;
	if (n == 0 || s[0] != '#')
		goto done;
	i = 1 + dockerfile_space_prefix(s + 1, n - 1);
	name_start = i;
	if (i >= n || !is_alpha(s[i]))
		goto done;
	while (i < n && (is_alpha(s[i]) || (s[i] >= '0' && s[i] <= '9')))
		i++;
	name_end = i;
	while (i < n && is_re_space(s[i]))
		i++;
	if (i >= n || s[i] != '=')
		goto done;
	i++;
	while (i < n && is_re_space(s[i]))
		i++;
	v_start = i;
	v_end = n;
	while (v_end > v_start && is_re_space(s[v_end - 1]))
		v_end--;
	if (v_end == v_start)
		goto done;
	for (int k = 0; k < _DOCKERFILE_DIRECTIVE_MAX; k++)
		if (strlen(directive_names[k]) == name_end - name_start &&
		    strncasecmp(directive_names[k], s + name_start, name_end - name_start) == 0)
			kind = k;
	if (kind < 0)
		goto done;
	d = &lx->directives[kind];
	if (d->present)
		return dockerfile_error_at(lx->src, lx->line, lx->line, 0, ret_error, err,
		                           "only one %s parser directive can be used",
		                           directive_names[kind]);
	if (v_end - v_start > DOCKERFILE_MAX_DIRECTIVE_VALUE)
		return dockerfile_error_at(lx->src, lx->line, lx->line, 0, ret_error, err,
		                           "the %s parser directive is longer than %u bytes",
		                           directive_names[kind], DOCKERFILE_MAX_DIRECTIVE_VALUE);
	if (kind == DOCKERFILE_DIRECTIVE_ESCAPE) {
		if (v_end - v_start != 1 || (s[v_start] != '`' && s[v_start] != '\\'))
			return dockerfile_error_at(
			    lx->src, lx->line, lx->line, 0, ret_error, err,
			    "invalid escape token '%.*s' does not match ` or \\",
			    (int)(v_end - v_start), s + v_start);
		lx->escape = s[v_start];
	}
	d->present = true;
	d->value = xstrndup(s + v_start, v_end - v_start);
	d->line = lx->line;
	return 1;
done:
	lx->directives_done = true;
	return 0;
}

/* BuildKit's lineContinuationRegex, `([^E])E[ \t]*$|^E[ \t]*$`: true and the new length when
 * the line continues. An escaped escape ("\\") at the end does not continue it. */
static bool
continues(const struct dockerfile_lexer *lx, const char *s, size_t n, size_t *ret_len)
{
	size_t k = n;

	while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	if (k == 0 || s[k - 1] != lx->escape)
		return false;
	if (k >= 2 && s[k - 2] == lx->escape)
		return false;
	*ret_len = k - 1;
	return true;
}

int
dockerfile_lexer_next(struct dockerfile_lexer *lx, struct dockerfile_logical_line *ret,
                      struct dockerfile_error **ret_error, struct kl_error **err)
{
	_cleanup_(kl_strbuf_done) struct kl_strbuf buf = {0};
	bool more = false, empty_cont = false;
	unsigned start;
	const char *s;
	size_t n;
	int r;

	for (;;) {
		r = read_line(lx, &s, &n, ret_error, err);
		if (r <= 0)
			return r;
		/* leading white space goes on the first line of an instruction */
		{
			size_t sp = dockerfile_space_prefix(s, n);

			s += sp, n -= sp;
		}
		r = directive(lx, s, n, ret_error, err);
		if (r < 0)
			return r;
		if (r > 0 || is_comment(s, n))
			n = 0;
		start = lx->line;
		more = continues(lx, s, n, &n);
		if (!more && n == 0)
			continue;
		break;
	}
	kl_strbuf_append(&buf, s, n);
	while (more) {
		r = read_line(lx, &s, &n, ret_error, err);
		if (r < 0)
			return r;
		if (r == 0)
			break; /* a continuation may end the file */
		r = directive(lx, s, n, ret_error, err);
		if (r < 0)
			return r;
		if (is_comment(s, n))
			continue;
		if (dockerfile_space_prefix(s, n) == n) {
			empty_cont = true;
			continue;
		}
		more = continues(lx, s, n, &n);
		if (buf.len + n > DOCKERFILE_MAX_SIZE)
			return dockerfile_error_at(lx->src, start, lx->line, 0, ret_error, err,
			                           "instruction longer than %u bytes",
			                           DOCKERFILE_MAX_SIZE);
		kl_strbuf_append(&buf, s, n);
	}
	ret->start_line = start;
	ret->end_line = lx->line;
	ret->empty_continuation = empty_cont;
	ret->text = kl_strbuf_steal(&buf, &ret->len);
	return 1;
}

int
dockerfile_lexer_heredoc(struct dockerfile_lexer *lx, const char *name, bool chomp,
                         unsigned start_line, char **ret, size_t *ret_len,
                         struct dockerfile_error **ret_error, struct kl_error **err)
{
	_cleanup_(kl_strbuf_done) struct kl_strbuf body = {0};
	size_t name_len = strlen(name);

	for (;;) {
		const char *raw = lx->src->data + lx->pos, *s;
		size_t n, rawlen;
		int r = read_line(lx, &s, &n, ret_error, err);

		if (r < 0)
			return r;
		if (r == 0)
			return dockerfile_error_at(
			    lx->src, start_line, lx->line, 0, ret_error, err,
			    "unterminated heredoc '%s' (it starts on line %u, no line closes it)",
			    name, start_line);
		rawlen = (size_t)(lx->src->data + lx->pos - raw);
		if (chomp)
			while (n > 0 && s[0] == '\t')
				s++, n--;
		if (n == name_len && memcmp(s, name, n) == 0)
			break;
		kl_strbuf_append(&body, raw, rawlen);
	}
	*ret = kl_strbuf_steal(&body, ret_len);
	return 0;
}
