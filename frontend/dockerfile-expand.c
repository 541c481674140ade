// SPDX-License-Identifier: Apache-2.0
/* Docker's shell lexer: quotes, escapes, $var and ${var…} expansion and word splitting. */
#include "frontend/dockerfile-expand.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-dump.h"
#include "frontend/dockerfile-internal.h"
#include "frontend/dockerfile-pattern.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define END (-1)

/* The words being split out of the text (BuildKit's wordsStruct). */
struct words {
	struct kl_strbuf word;
	bool in_word;
	char **v;
	size_t n, cap;
};

struct lex {
	const struct dockerfile_expander *ex;
	const char *s;
	size_t n, pos;
	uint32_t escape;
	bool raw_escapes; /* changes inside ${v#p}, ${v%p}, ${v/p/r} */
	unsigned depth;
	size_t expanded; /* bytes every ${…} and $name gave, nested ones too */
	char *msg;       /* the error, once one happened */
	int code;        /* its -errno */
};

static void
words_push(struct words *w)
{
	w->v = xgrow(w->v, &w->cap, w->n + 1, sizeof(*w->v));
	w->v[w->n++] = kl_strbuf_steal(&w->word, NULL);
	w->in_word = false;
}

static void
words_add_raw(struct words *w, const char *s, size_t n)
{
	kl_strbuf_append(&w->word, s, n);
	w->in_word = true;
}

static void
words_add_rune(struct words *w, uint32_t c, bool raw)
{
	char enc[4];

	if (!raw && dockerfile_is_space_rune(c)) {
		/* an empty word (from "") is not one: BuildKit checks the length */
		if (w->in_word && w->word.len)
			words_push(w);
		return;
	}
	words_add_raw(w, enc, dockerfile_utf8_encode(c, enc));
}

/* Expanded text is split as if it had been written there unquoted. */
static void
words_add_string(struct words *w, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t c;

		i += dockerfile_utf8_decode(s + i, n - i, &c);
		words_add_rune(w, c, false);
	}
}

static void
words_done(struct words *w)
{
	kl_strbuf_done(&w->word);
	dockerfile_words_free(w->v, w->n);
}

static int32_t
peek(const struct lex *lx)
{
	uint32_t c;

	if (lx->pos >= lx->n)
		return END;
	dockerfile_utf8_decode(lx->s + lx->pos, lx->n - lx->pos, &c);
	return (int32_t)c;
}

static int32_t
next(struct lex *lx)
{
	uint32_t c;

	if (lx->pos >= lx->n)
		return END;
	lx->pos += dockerfile_utf8_decode(lx->s + lx->pos, lx->n - lx->pos, &c);
	return (int32_t)c;
}

static void
put_rune(struct kl_strbuf *b, int32_t c)
{
	char enc[4];

	kl_strbuf_append(b, enc, dockerfile_utf8_encode((uint32_t)c, enc));
}

static int __attribute__((format(printf, 3, 4)))
fail(struct lex *lx, int code, const char *fmt, ...)
{
	va_list ap;

	if (!lx->msg) {
		va_start(ap, fmt);
		if (vasprintf(&lx->msg, fmt, ap) < 0)
			abort();
		va_end(ap);
		lx->code = code;
	}
	return code;
}

static int
check_size(struct lex *lx, const struct kl_strbuf *b, size_t more)
{
	if (b->len + more > DOCKERFILE_MAX_EXPANSION)
		return fail(lx, -E2BIG, "expansion larger than %u bytes",
		            (unsigned)DOCKERFILE_MAX_EXPANSION);
	return 0;
}

static bool
lookup(struct lex *lx, const char *name, const char **ret, size_t *ret_len)
{
	*ret = "";
	*ret_len = 0;
	if (!lx->ex->lookup)
		return false;
	if (!lx->ex->lookup(lx->ex->userdata, name, ret, ret_len)) {
		*ret = "", *ret_len = 0;
		return false;
	}
	return true;
}

static bool
is_special_param(int32_t c)
{
	return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' ||
	       c == '0';
}

static bool
is_name_char(int32_t c)
{
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* A name after '$': digits (positional), one special character, or a run of name chars. */
static void
process_name(struct lex *lx, struct kl_strbuf *name)
{
	int32_t c = peek(lx);

	if (c >= '0' && c <= '9') {
		while ((c = peek(lx)) >= '0' && c <= '9')
			kl_strbuf_putc(name, (char)next(lx));
		return;
	}
	if (is_special_param(c)) {
		kl_strbuf_putc(name, (char)next(lx));
		return;
	}
	while (is_name_char(c = peek(lx)))
		kl_strbuf_putc(name, (char)next(lx));
}

static int process_stop_on(struct lex *lx, int32_t stop, bool raw_escapes, struct kl_strbuf *out,
                           struct words *w);

static int
process_single_quote(struct lex *lx, struct kl_strbuf *out)
{
	bool raw = lx->ex->flags & DOCKERFILE_EXPAND_RAW_QUOTES;
	int32_t c = next(lx);

	if (raw)
		put_rune(out, c);
	for (;;) {
		c = next(lx);
		if (c == END)
			return fail(
			    lx, -EINVAL,
			    "unexpected end of statement while looking for matching single-quote");
		if (c == '\'') {
			if (raw)
				put_rune(out, c);
			return 0;
		}
		put_rune(out, c);
	}
}

static int process_dollar(struct lex *lx, struct kl_strbuf *out);

static int
process_double_quote(struct lex *lx, struct kl_strbuf *out)
{
	bool raw = lx->ex->flags & DOCKERFILE_EXPAND_RAW_QUOTES;
	int32_t c = next(lx);
	int r;

	if (raw)
		put_rune(out, c);
	for (;;) {
		c = peek(lx);
		if (c == END)
			return fail(
			    lx, -EINVAL,
			    "unexpected end of statement while looking for matching double-quote");
		if (c == '"') {
			next(lx);
			if (raw)
				put_rune(out, c);
			return 0;
		}
		if (c == '$') {
			r = process_dollar(lx, out);
			if (r < 0)
				return r;
			continue;
		}
		c = next(lx);
		if ((uint32_t)c == lx->escape) {
			int32_t n2 = peek(lx);

			if (lx->raw_escapes)
				put_rune(out, c);
			if (n2 == END)
				continue; /* the loop then reports the missing quote */
			if (n2 == '"' || n2 == '$' || (uint32_t)n2 == lx->escape)
				c = next(lx);
		}
		put_rune(out, c);
		r = check_size(lx, out, 0);
		if (r < 0)
			return r;
	}
}

/* "<<" and the blanks after it stay in one word, so "<< EOF" is seen as one heredoc word. */
static void
process_possible_heredoc(struct lex *lx, struct kl_strbuf *out)
{
	next(lx);
	kl_strbuf_putc(out, '<');
	if (peek(lx) != '<')
		return;
	next(lx);
	kl_strbuf_putc(out, '<');
	while (peek(lx) == ' ' || peek(lx) == '\t' || peek(lx) == '\r')
		kl_strbuf_putc(out, (char)next(lx));
}

/* Reads the word of ${name<op>word} up to stop into word; at the end of the text the error is
 * BuildKit's missing message instead of the inner one. */
static int
modifier_word(struct lex *lx, int32_t stop, bool raw_escapes, struct kl_strbuf *word,
              const char *missing)
{
	int r = process_stop_on(lx, stop, raw_escapes, word, NULL);

	if (r < 0 && r != -E2BIG && peek(lx) == END) {
		free(lx->msg);
		lx->msg = NULL;
		return fail(lx, -EINVAL, "%s", missing);
	}
	return r;
}

static int
apply_modifier(struct lex *lx, const char *name, const char *chs, int32_t op, bool null_is_unset,
               struct kl_strbuf *out)
{
	bool raw = op == '#' || op == '%';
	_cleanup_(kl_strbuf_done) struct kl_strbuf word = {0};
	_cleanup_free_ char *msg = NULL;
	const char *value;
	size_t vlen;
	bool set;
	int r;

	r = modifier_word(lx, '}', raw, &word, "syntax error: missing '}'");
	if (r < 0)
		return r;
	set = lookup(lx, name, &value, &vlen);
	if (!set && (lx->ex->flags & DOCKERFILE_EXPAND_SKIP_UNSET)) {
		kl_strbuf_printf(out, "${%s%s", name, chs);
		kl_strbuf_append(out, word.buf ? word.buf : "", word.len);
		kl_strbuf_putc(out, '}');
		return 0;
	}
	switch (op) {
	case '-':
		if (!set || (null_is_unset && vlen == 0))
			kl_strbuf_append(out, word.buf ? word.buf : "", word.len);
		else
			kl_strbuf_append(out, value, vlen);
		return 0;
	case '+':
		if (set && !(null_is_unset && vlen == 0))
			kl_strbuf_append(out, word.buf ? word.buf : "", word.len);
		return 0;
	case '?':
		if (!set)
			return fail(lx, -EINVAL, "%s: %s", name,
			            word.len ? word.buf : "is not allowed to be unset");
		if (null_is_unset && vlen == 0)
			return fail(lx, -EINVAL, "%s: %s", name,
			            word.len ? word.buf : "is not allowed to be empty");
		kl_strbuf_append(out, value, vlen);
		return 0;
	case '#':
	case '%': {
		/* '#'/'%' take the shortest match, '##'/'%%' the longest */
		const char *pat = word.buf ? word.buf : "";
		size_t plen = word.len;
		bool greedy = plen > 0 && pat[0] == (char)op;

		if (greedy)
			pat++, plen--;
		r = dockerfile_pattern_trim(pat, plen, value, vlen, op == '%', greedy, out, &msg);
		if (r < 0)
			return fail(lx, r, "invalid pattern (%.*s) in substitution: %s", (int)plen,
			            pat, msg);
		return 0;
	}
	default:
		return fail(lx, -EINVAL, "unsupported modifier (%s) in substitution", chs);
	}
}

static int
apply_replace(struct lex *lx, const char *name, struct kl_strbuf *out)
{
	_cleanup_(kl_strbuf_done) struct kl_strbuf pat = {0}, repl = {0};
	_cleanup_free_ char *msg = NULL;
	bool all = peek(lx) == '/';
	const char *value;
	size_t vlen;
	int r;

	if (all)
		next(lx);
	r = modifier_word(lx, '/', true, &pat, "syntax error: missing '/' in ${}");
	if (r < 0)
		return r;
	r = modifier_word(lx, '}', true, &repl, "syntax error: missing '}'");
	if (r < 0)
		return r;
	if (!lookup(lx, name, &value, &vlen) && (lx->ex->flags & DOCKERFILE_EXPAND_SKIP_UNSET)) {
		kl_strbuf_printf(out, "${%s/%s/%s}", name, pat.buf ? pat.buf : "",
		                 repl.buf ? repl.buf : "");
		return 0;
	}
	r = dockerfile_pattern_replace(pat.buf ? pat.buf : "", pat.len, value, vlen,
	                               repl.buf ? repl.buf : "", repl.len, all,
	                               DOCKERFILE_MAX_EXPANSION, out, &msg);
	if (r == -E2BIG)
		return check_size(lx, out, DOCKERFILE_MAX_EXPANSION);
	if (r < 0)
		return fail(lx, r, "invalid pattern (%s) in substitution: %s",
		            pat.buf ? pat.buf : "", msg);
	return 0;
}

/* ${…}: the '$' and '{' are consumed. */
static int
process_braces(struct lex *lx, struct kl_strbuf *out)
{
	_cleanup_(kl_strbuf_done) struct kl_strbuf name = {0};
	char chs[16];
	int32_t c = peek(lx), op;
	bool null_is_unset = false;
	const char *value;
	size_t vlen, nc;

	if (c == END)
		return fail(lx, -EINVAL, "syntax error: missing '}'");
	if (c == '{' || c == '}' || c == ':')
		return fail(lx, -EINVAL, "syntax error: bad substitution");
	process_name(lx, &name);
	kl_strbuf_append(&name, "", 0);
	op = next(lx);
	if (op == END)
		return fail(lx, -EINVAL, "syntax error: missing '}'");
	nc = dockerfile_utf8_encode((uint32_t)op, chs);
	chs[nc] = '\0';
	switch (op) {
	case '}':
		if (!lookup(lx, name.buf, &value, &vlen) &&
		    (lx->ex->flags & DOCKERFILE_EXPAND_SKIP_UNSET))
			kl_strbuf_printf(out, "${%s}", name.buf);
		else
			kl_strbuf_append(out, value, vlen);
		return 0;
	case ':':
		/* whatever follows the ':' is the modifier, as in BuildKit */
		null_is_unset = true;
		op = next(lx);
		if (op != END)
			nc += dockerfile_utf8_encode((uint32_t)op, chs + nc);
		else
			nc += dockerfile_utf8_encode(DOCKERFILE_RUNE_ERROR, chs + nc);
		chs[nc] = '\0';
		return apply_modifier(lx, name.buf, chs, op, null_is_unset, out);
	case '+':
	case '-':
	case '?':
	case '#':
	case '%':
		return apply_modifier(lx, name.buf, chs, op, null_is_unset, out);
	case '/':
		return apply_replace(lx, name.buf, out);
	default:
		return fail(lx, -EINVAL, "unsupported modifier (%s) in substitution", chs);
	}
}

static int
process_dollar(struct lex *lx, struct kl_strbuf *out)
{
	_cleanup_(kl_strbuf_done) struct kl_strbuf name = {0};
	const char *value;
	size_t vlen;
	int r;

	next(lx);
	if (peek(lx) != '{') {
		process_name(lx, &name);
		if (name.len == 0) {
			kl_strbuf_putc(out, '$');
			return 0;
		}
		if (!lookup(lx, name.buf, &value, &vlen) &&
		    (lx->ex->flags & DOCKERFILE_EXPAND_SKIP_UNSET)) {
			kl_strbuf_putc(out, '$');
			kl_strbuf_append(out, name.buf, name.len);
			return 0;
		}
		r = check_size(lx, out, vlen);
		if (r < 0)
			return r;
		kl_strbuf_append(out, value, vlen);
		return 0;
	}
	next(lx);
	if (++lx->depth > DOCKERFILE_MAX_NESTING)
		return fail(lx, -E2BIG, "substitutions nested deeper than %u",
		            (unsigned)DOCKERFILE_MAX_NESTING);
	r = process_braces(lx, out);
	lx->depth--;
	if (r == 0)
		r = check_size(lx, out, 0);
	return r;
}

/* BuildKit's processStopOn: text up to stop (END: the end), into out and, when w is not NULL,
 * split into words. */
static int
process_stop_on(struct lex *lx, int32_t stop, bool raw_escapes, struct kl_strbuf *out,
                struct words *w)
{
	bool saved = lx->raw_escapes;
	bool quotes = !(lx->ex->flags & DOCKERFILE_EXPAND_SKIP_QUOTES);
	int r = 0;

	kl_strbuf_append(out, "", 0); /* out->buf is not NULL below */
	lx->raw_escapes = raw_escapes;
	for (;;) {
		int32_t c = peek(lx);
		size_t mark = out->len;

		if (c == END)
			break;
		if (stop != END && c == stop) {
			next(lx);
			lx->raw_escapes = saved;
			return 0;
		}
		if (c == '$' || c == '<' || (quotes && (c == '\'' || c == '"'))) {
			if (c == '$')
				r = process_dollar(lx, out);
			else if (c == '<')
				process_possible_heredoc(lx, out);
			else if (c == '\'')
				r = process_single_quote(lx, out);
			else
				r = process_double_quote(lx, out);
			if (r < 0)
				break;
			/* each expansion is bounded, but a word of many (or nested ones) could
			 * still make gigabytes to copy: bound what one word expands to in all */
			if (c == '$') {
				lx->expanded += out->len - mark;
				if (lx->expanded > DOCKERFILE_MAX_EXPANDED) {
					r = fail(lx, -E2BIG,
					         "expansions larger than %u bytes in all",
					         (unsigned)DOCKERFILE_MAX_EXPANDED);
					break;
				}
			}
			if (w && c == '$')
				words_add_string(w, out->buf + mark, out->len - mark);
			else if (w)
				words_add_raw(w, out->buf + mark, out->len - mark);
			continue;
		}
		c = next(lx);
		if ((uint32_t)c == lx->escape) {
			if (lx->raw_escapes) {
				put_rune(out, c);
				if (w)
					words_add_rune(w, (uint32_t)c, true);
			}
			/* the escape escapes the next character; at the end it is dropped */
			c = next(lx);
			if (c == END)
				break;
			if (w)
				words_add_rune(w, (uint32_t)c, true);
		} else if (w) {
			words_add_rune(w, (uint32_t)c, false);
		}
		put_rune(out, c);
		r = check_size(lx, out, 0);
		if (r < 0)
			break;
	}
	lx->raw_escapes = saved;
	if (r < 0)
		return r;
	if (stop != END) {
		char enc[4];
		size_t n = dockerfile_utf8_encode((uint32_t)stop, enc);

		return fail(lx, -EINVAL,
		            "unexpected end of statement while looking for matching %.*s", (int)n,
		            enc);
	}
	return 0;
}

static int
process(const struct dockerfile_expander *ex, const char *word, size_t len, struct kl_strbuf *out,
        struct words *w, struct kl_error **err)
{
	struct lex lx = {.ex = ex, .s = word, .n = len, .escape = (unsigned char)ex->escape};
	int r;

	/* Go's text/scanner skips a byte order mark at the start */
	if (len >= 3 && memcmp(word, "\xEF\xBB\xBF", 3) == 0)
		lx.pos = 3;
	lx.raw_escapes = ex->flags & DOCKERFILE_EXPAND_RAW_ESCAPES;
	r = process_stop_on(&lx, END, lx.raw_escapes, out, w);
	if (r < 0) {
		_cleanup_(kl_strbuf_done) struct kl_strbuf q = {0};

		dockerfile_go_quote(&q, word, len);
		kl_error_setf(err, -r, "failed to process %s: %s", q.buf,
		              lx.msg ? lx.msg : "error");
		free(lx.msg);
		return r;
	}
	free(lx.msg);
	return 0;
}

int
dockerfile_expand(const struct dockerfile_expander *ex, const char *word, size_t len, char **ret,
                  size_t *ret_len, struct kl_error **err)
{
	_cleanup_(kl_strbuf_done) struct kl_strbuf out = {0};
	int r = process(ex, word, len, &out, NULL, err);

	if (r < 0)
		return r;
	*ret = kl_strbuf_steal(&out, ret_len);
	return 0;
}

int
dockerfile_expand_words(const struct dockerfile_expander *ex, const char *word, size_t len,
                        char ***ret, size_t *ret_n, struct kl_error **err)
{
	_cleanup_(kl_strbuf_done) struct kl_strbuf out = {0};
	struct words w = {0};
	int r = process(ex, word, len, &out, &w, err);

	if (r < 0) {
		words_done(&w);
		return r;
	}
	if (w.word.len)
		words_push(&w);
	kl_strbuf_done(&w.word);
	*ret = w.v ? w.v : xcalloc(1, sizeof(char *));
	*ret_n = w.n;
	return 0;
}

void
dockerfile_words_free(char **words, size_t n)
{
	if (!words)
		return;
	for (size_t i = 0; i < n; i++)
		free(words[i]);
	free(words);
}

bool
dockerfile_envlist_lookup(void *userdata, const char *name, const char **ret_value, size_t *ret_len)
{
	const struct dockerfile_envlist *env = userdata;
	size_t nl = strlen(name);

	for (size_t i = env->n; i-- > 0;) {
		const char *kv = env->kv[i], *eq = strchr(kv, '=');
		size_t kl = eq ? (size_t)(eq - kv) : strlen(kv);

		if (kl == nl && memcmp(kv, name, nl) == 0) {
			*ret_value = eq ? eq + 1 : "";
			*ret_len = strlen(*ret_value);
			return true;
		}
	}
	return false;
}
