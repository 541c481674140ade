// SPDX-License-Identifier: Apache-2.0
/* Logical lines to BuildKit's raw parse nodes: instruction, flags, arguments, heredocs. */
#include "frontend/dockerfile-parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend/dockerfile-dump.h"
#include "frontend/dockerfile-expand.h"
#include "frontend/dockerfile-heredoc.h"
#include "frontend/dockerfile-internal.h"
#include "frontend/dockerfile-syntax.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define EMPTY_CONTINUATION_URL "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/"

struct parser {
	const struct dockerfile_source *src;
	struct dockerfile_lexer lx;
	struct dockerfile_error **error;
	struct kl_error **err;
	unsigned start, end; /* lines of the instruction being parsed */
	struct dockerfile *df;
};

enum line_parser {
	LP_IGNORE,
	LP_MAYBE_JSON,
	LP_MAYBE_JSON_TO_LIST,
	LP_NAME_VAL,
	LP_NAME_OR_NAME_VAL,
	LP_WHITESPACE,
	LP_STRING,
	LP_HEALTH,
	LP_SUBCOMMAND,
	_LP_MAX
};

static const struct {
	const char *name;
	enum line_parser lp;
} dispatch[] = {
    {"add", LP_MAYBE_JSON_TO_LIST},
    {"arg", LP_NAME_OR_NAME_VAL},
    {"cmd", LP_MAYBE_JSON},
    {"copy", LP_MAYBE_JSON_TO_LIST},
    {"entrypoint", LP_MAYBE_JSON},
    {"env", LP_NAME_VAL},
    {"expose", LP_WHITESPACE},
    {"from", LP_WHITESPACE},
    {"healthcheck", LP_HEALTH},
    {"label", LP_NAME_VAL},
    {"maintainer", LP_STRING},
    {"onbuild", LP_SUBCOMMAND},
    {"run", LP_MAYBE_JSON},
    {"shell", LP_MAYBE_JSON},
    {"stopsignal", LP_STRING},
    {"user", LP_STRING},
    {"volume", LP_MAYBE_JSON_TO_LIST},
    {"workdir", LP_STRING},
};

static int __attribute__((format(printf, 2, 3))) fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	r = dockerfile_error_at(p->src, p->start, p->end, 0, p->error, p->err, "%s", msg);
	free(msg);
	return r;
}

static void
add_arg(struct dockerfile_node *n, const char *s, size_t len)
{
	n->args = xrealloc(n->args, (n->n_args + 1) * sizeof(*n->args));
	n->args[n->n_args].s = xstrndup(s, len);
	n->args[n->n_args].len = len;
	if (memchr(s, '\0', len)) { /* xstrndup stops at a NUL */
		free(n->args[n->n_args].s);
		n->args[n->n_args].s = xmalloc(len + 1);
		memcpy(n->args[n->n_args].s, s, len);
		n->args[n->n_args].s[len] = '\0';
	}
	n->n_args++;
}

static void
add_flag(struct dockerfile_node *n, struct kl_strbuf *word)
{
	n->flags = xrealloc(n->flags, (n->n_flags + 1) * sizeof(*n->flags));
	n->flags[n->n_flags++] = kl_strbuf_steal(word, NULL);
}

/* Go's strings.TrimSpace. */
static void
trim_space(const char **s, size_t *n)
{
	size_t sp = dockerfile_space_prefix(*s, *n);

	*s += sp;
	*n = dockerfile_trim_space_right(*s, *n - sp);
}

static bool
is_ascii_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* BuildKit's extractBuilderFlags: leading words that start with "--" are flags (quotes and
 * backslash escapes processed, "--" alone ends them); returns where the arguments start.
 * BuildKit tests each byte with unicode.IsSpace, which also takes the UTF-8 bytes 0x85 and 0xA0
 * for blanks and re-encodes bytes past 0x7F; here only ASCII blanks separate and bytes stay. */
static size_t
extract_flags(struct dockerfile_node *node, const char *s, size_t n)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	_cleanup_(kl_strbuf_done) struct kl_strbuf word = {0};
	bool blank_ok = false;
	char quote = 0;

	for (size_t pos = 0; pos <= n; pos++) {
		char c = pos < n ? s[pos] : 0;

		if (phase == IN_SPACES) {
			if (pos == n)
				break;
			if (is_ascii_space(c))
				continue;
			if (c != '-' || pos + 1 == n || s[pos + 1] != '-')
				return pos;
			phase = IN_WORD;
		}
		if (pos == n) {
			if (!(word.len == 2 && memcmp(word.buf, "--", 2) == 0) &&
			    (blank_ok || word.len))
				add_flag(node, &word);
			break;
		}
		if (phase == IN_WORD) {
			if (is_ascii_space(c)) {
				phase = IN_SPACES;
				if (word.len == 2 && memcmp(word.buf, "--", 2) == 0)
					return pos;
				if (blank_ok || word.len)
					add_flag(node, &word);
				kl_strbuf_reset(&word);
				blank_ok = false;
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = c;
				blank_ok = true;
				phase = IN_QUOTE;
				continue;
			}
			if (c == '\\') {
				if (pos + 1 == n)
					continue;
				c = s[++pos];
			}
			kl_strbuf_putc(&word, c);
			continue;
		}
		/* IN_QUOTE */
		if (c == quote) {
			phase = IN_WORD;
			continue;
		}
		if (c == '\\') {
			if (pos + 1 == n) {
				phase = IN_WORD;
				continue;
			}
			c = s[++pos];
		}
		kl_strbuf_putc(&word, c);
	}
	return n;
}

/* BuildKit's parseWords: words at white space, quotes and escapes kept in the words. */
static void
parse_words(const char *s, size_t n, char escape, char ***ret, size_t *ret_n)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	struct kl_strbuf word = {0};
	char **v = NULL;
	size_t nv = 0, cap = 0, w = 0;
	bool blank_ok = false;
	uint32_t quote = 0, c = 0;

	for (size_t pos = 0; pos <= n; pos += w) {
		char enc[4];

		if (pos < n)
			w = dockerfile_utf8_decode(s + pos, n - pos, &c);
		if (phase == IN_SPACES) {
			if (pos == n)
				break;
			if (dockerfile_is_space_rune(c))
				continue;
			phase = IN_WORD;
		}
		if (pos == n) {
			if (blank_ok || word.len) {
				v = xgrow(v, &cap, nv + 1, sizeof(*v));
				v[nv++] = kl_strbuf_steal(&word, NULL);
			}
			break;
		}
		if (phase == IN_WORD) {
			if (dockerfile_is_space_rune(c)) {
				phase = IN_SPACES;
				if (blank_ok || word.len) {
					v = xgrow(v, &cap, nv + 1, sizeof(*v));
					v[nv++] = kl_strbuf_steal(&word, NULL);
				}
				kl_strbuf_reset(&word);
				blank_ok = false;
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = c;
				blank_ok = true;
				phase = IN_QUOTE;
			}
			if (c == (unsigned char)escape) {
				if (pos + w == n)
					continue; /* an escape at the end is dropped */
				kl_strbuf_append(&word, enc, dockerfile_utf8_encode(c, enc));
				pos += w;
				w = dockerfile_utf8_decode(s + pos, n - pos, &c);
			}
			kl_strbuf_append(&word, enc, dockerfile_utf8_encode(c, enc));
			continue;
		}
		/* IN_QUOTE */
		if (c == quote)
			phase = IN_WORD;
		/* the escape works in double quotes only */
		if (c == (unsigned char)escape && quote != '\'') {
			if (pos + w == n) {
				phase = IN_WORD;
				continue;
			}
			pos += w;
			kl_strbuf_append(&word, enc, dockerfile_utf8_encode(c, enc));
			w = dockerfile_utf8_decode(s + pos, n - pos, &c);
		}
		kl_strbuf_append(&word, enc, dockerfile_utf8_encode(c, enc));
	}
	kl_strbuf_done(&word);
	*ret = v;
	*ret_n = nv;
}

/* BuildKit's parseStringsWhitespaceDelimited: the text split at runs of [\t\v\f\r ]. */
static void
parse_whitespace(struct dockerfile_node *node, const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return;
	for (;;) {
		size_t j = i;

		while (j < n && !dockerfile_is_blank(s[j]))
			j++;
		add_arg(node, s + i, j - i);
		if (j == n)
			return;
		while (j < n && dockerfile_is_blank(s[j]))
			j++;
		i = j;
	}
}

/* Invalid UTF-8 as Go's decoder reads it: each bad byte is U+FFFD. */
static char *
sanitize_utf8(const char *s, size_t n, size_t *ret_len)
{
	struct kl_strbuf b = {0};

	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t w = dockerfile_utf8_decode(s + i, n - i, &c);
		char enc[4];

		if (c == DOCKERFILE_RUNE_ERROR && w == 1)
			kl_strbuf_append(&b, enc, dockerfile_utf8_encode(c, enc));
		else
			kl_strbuf_append(&b, s + i, w);
		i += w;
	}
	return kl_strbuf_steal(&b, ret_len);
}

/* BuildKit's parseJSON: 1 with the node's arguments from a JSON array of strings, 0 when the
 * text is no JSON array (the caller falls back), -EINVAL for an array holding a non-string. */
static int
parse_json(struct parser *p, struct dockerfile_node *node, const char *s, size_t n)
{
	_cleanup_free_ char *clean = NULL;
	json_error_t jerr;
	json_t *arr;
	size_t sp = dockerfile_space_prefix(s, n), i;
	json_t *el;

	s += sp, n -= sp;
	if (n == 0 || s[0] != '[')
		return 0;
	clean = sanitize_utf8(s, n, &n);
	arr = json_loadb(clean, n, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
	if (!arr)
		return 0;
	if (!json_is_array(arr)) {
		json_decref(arr);
		return 0;
	}
	json_array_foreach(arr, i, el)
	{
		if (!json_is_string(el)) {
			json_decref(arr);
			return fail(p, "when using JSON array syntax, arrays must be comprised of "
			               "strings only");
		}
	}
	json_array_foreach(arr, i, el)
	{
		add_arg(node, json_string_value(el), json_string_length(el));
	}
	json_decref(arr);
	node->json = true;
	return 1;
}

static int
parse_maybe_json(struct parser *p, struct dockerfile_node *node, const char *s, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	r = parse_json(p, node, s, n);
	if (r != 0)
		return r < 0 ? r : 0;
	add_arg(node, s, n);
	return 0;
}

static int
parse_maybe_json_to_list(struct parser *p, struct dockerfile_node *node, const char *s, size_t n)
{
	int r = parse_json(p, node, s, n);

	if (r != 0)
		return r < 0 ? r : 0;
	parse_whitespace(node, s, n);
	return 0;
}

static int
parse_name_val(struct parser *p, struct dockerfile_node *node, const char *s, size_t n,
               const char *key)
{
	char **words;
	size_t nw;
	int r = 0;

	parse_words(s, n, p->lx.escape, &words, &nw);
	if (nw == 0)
		return 0;
	if (!strchr(words[0], '=')) {
		/* the legacy form: KEY name value */
		size_t i = 0, j;

		while (i < n && !dockerfile_is_blank(s[i]))
			i++;
		j = i;
		while (j < n && dockerfile_is_blank(s[j]))
			j++;
		if (i == n) {
			r = fail(p, "%s must have two arguments", key);
		} else {
			add_arg(node, s, i);
			add_arg(node, s + j, n - j);
			add_arg(node, "", 0);
		}
		dockerfile_words_free(words, nw);
		return r;
	}
	for (size_t i = 0; i < nw && r == 0; i++) {
		char *eq = strchr(words[i], '=');

		if (!eq) {
			_cleanup_(kl_strbuf_done) struct kl_strbuf q = {0};

			dockerfile_go_quote(&q, words[i], strlen(words[i]));
			r = fail(
			    p, "Syntax error - can't find = in %s. Must be of the form: name=value",
			    q.buf);
			break;
		}
		add_arg(node, words[i], (size_t)(eq - words[i]));
		add_arg(node, eq + 1, strlen(eq + 1));
		add_arg(node, "=", 1);
	}
	dockerfile_words_free(words, nw);
	return r;
}

static int
parse_health(struct parser *p, struct dockerfile_node *node, const char *s, size_t n)
{
	size_t sep = 0, nx;

	while (sep < n && !is_ascii_space(s[sep]))
		sep++;
	if (sep == 0)
		return 0;
	for (nx = sep; nx < n && is_ascii_space(s[nx]); nx++)
		;
	add_arg(node, s, sep);
	return parse_maybe_json(p, node, s + nx, n - nx);
}

static int node_from_line(struct parser *p, const char *line, size_t len, unsigned depth,
                          struct dockerfile_node *node);

static enum line_parser
line_parser_of(const char *cmd)
{
	for (size_t i = 0; i < sizeof(dispatch) / sizeof(dispatch[0]); i++)
		if (strcasecmp(cmd, dispatch[i].name) == 0)
			return dispatch[i].lp;
	return LP_IGNORE;
}

/* BuildKit's newNodeFromLine: splitCommand, then the instruction's line parser. */
static int
node_from_line(struct parser *p, const char *line, size_t len, unsigned depth,
               struct dockerfile_node *node)
{
	const char *s = line, *rest = NULL;
	size_t n = len, rest_len = 0, k = 0;

	node->original = xstrndup(line, len);
	node->start_line = p->start;
	node->end_line = p->end;
	trim_space(&s, &n);
	while (k < n && !dockerfile_is_blank(s[k]))
		k++;
	node->value = xstrndup(s, k);
	if (k < n) {
		size_t j = k, f;

		while (j < n && dockerfile_is_blank(s[j]))
			j++;
		f = extract_flags(node, s + j, n - j);
		rest = s + j + f;
		rest_len = n - j - f;
		trim_space(&rest, &rest_len);
	}
	if (!rest)
		rest = "";
	switch (line_parser_of(node->value)) {
	case LP_MAYBE_JSON:
		return parse_maybe_json(p, node, rest, rest_len);
	case LP_MAYBE_JSON_TO_LIST:
		return parse_maybe_json_to_list(p, node, rest, rest_len);
	case LP_NAME_VAL:
		return parse_name_val(p, node, rest, rest_len,
		                      strcasecmp(node->value, "env") == 0 ? "ENV" : "LABEL");
	case LP_NAME_OR_NAME_VAL: {
		char **words;
		size_t nw;

		parse_words(rest, rest_len, p->lx.escape, &words, &nw);
		for (size_t i = 0; i < nw; i++)
			add_arg(node, words[i], strlen(words[i]));
		dockerfile_words_free(words, nw);
		return 0;
	}
	case LP_WHITESPACE:
		parse_whitespace(node, rest, rest_len);
		return 0;
	case LP_STRING:
		if (rest_len)
			add_arg(node, rest, rest_len);
		return 0;
	case LP_HEALTH:
		return parse_health(p, node, rest, rest_len);
	case LP_SUBCOMMAND:
		if (rest_len == 0)
			return 0;
		if (depth >= DOCKERFILE_MAX_ONBUILD_DEPTH)
			return fail(p, "ONBUILD nested deeper than %u levels",
			            DOCKERFILE_MAX_ONBUILD_DEPTH);
		node->sub = xcalloc(1, sizeof(*node->sub));
		return node_from_line(p, rest, rest_len, depth + 1, node->sub);
	case LP_IGNORE:
	default:
		add_arg(node, "", 0);
		return 0;
	}
}

static bool
can_contain_heredoc(const struct dockerfile_node *n)
{
	if (strcasecmp(n->value, "onbuild") == 0 && n->sub)
		n = n->sub;
	if (strcasecmp(n->value, "add") != 0 && strcasecmp(n->value, "copy") != 0 &&
	    strcasecmp(n->value, "run") != 0)
		return false;
	return !n->json;
}

static int
read_heredocs(struct parser *p, struct dockerfile_node *node, const char *line, size_t len)
{
	struct dockerfile_heredoc_marker *m;
	size_t nm;
	int r;

	if (!can_contain_heredoc(node) || !memmem(line, len, "<<", 2))
		return 0;
	r = dockerfile_heredocs_from_line(line, len, &m, &nm, p->err);
	if (r < 0)
		return dockerfile_error_locate(p->src, p->start, p->end, p->error, p->err, r);
	node->heredocs = nm ? xcalloc(nm, sizeof(*node->heredocs)) : NULL;
	for (size_t i = 0; i < nm; i++) {
		struct dockerfile_heredoc *h = &node->heredocs[node->n_heredocs];

		r = dockerfile_lexer_heredoc(&p->lx, m[i].name, m[i].chomp, p->start, &h->content,
		                             &h->content_len, p->error, p->err);
		if (r < 0)
			break;
		h->name = m[i].name;
		m[i].name = NULL;
		h->fd = m[i].fd;
		h->expand = m[i].expand;
		h->chomp = m[i].chomp;
		node->n_heredocs++;
	}
	dockerfile_heredoc_markers_free(m, nm);
	node->end_line = p->lx.line;
	return r < 0 ? r : 0;
}

/* BuildKit picks the frontend with DetectSyntax, which also skips a first "#!" line: a
 * `# syntax=` right after one counts there although the parser sees a comment. */
static void
syntax_after_shebang(struct parser *p)
{
	struct dockerfile_directive *d = &p->df->directives[DOCKERFILE_DIRECTIVE_SYNTAX];
	const char *data = p->src->data, *nl;
	size_t n = p->src->len, off = 0;
	struct dockerfile_source rest;
	struct dockerfile_lexer lx;
	struct dockerfile_logical_line ll;

	if (d->present)
		return;
	if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		off = 3;
	if (n - off < 2 || memcmp(data + off, "#!", 2) != 0)
		return;
	nl = memchr(data + off, '\n', n - off);
	if (!nl)
		return;
	rest = (struct dockerfile_source){p->src->name, nl + 1, n - (size_t)(nl + 1 - data)};
	if (dockerfile_lexer_init(&lx, &rest, NULL, NULL) < 0)
		return;
	if (dockerfile_lexer_next(&lx, &ll, NULL, NULL) > 0)
		free(ll.text);
	if (lx.directives[DOCKERFILE_DIRECTIVE_SYNTAX].present) {
		*d = lx.directives[DOCKERFILE_DIRECTIVE_SYNTAX];
		d->line++;
		memset(&lx.directives[DOCKERFILE_DIRECTIVE_SYNTAX], 0, sizeof(*d));
	}
	dockerfile_lexer_done(&lx);
}

static void
check_syntax(struct parser *p)
{
	const struct dockerfile_directive *d = &p->df->directives[DOCKERFILE_DIRECTIVE_SYNTAX];

	if (!d->present || dockerfile_syntax_is_builtin(d->value))
		return;
	dockerfile_warnings_add(&p->df->warnings, d->line,
	                        "kiln runs no frontend images and builds with its built-in "
	                        "Dockerfile frontend",
	                        NULL, "unsupported frontend image in \"# syntax=%s\"", d->value);
}

/* Frees what a node holds (not the node itself). */
static void
dockerfile_node_done(struct dockerfile_node *n)
{
	free(n->value);
	for (size_t i = 0; i < n->n_flags; i++)
		free(n->flags[i]);
	free(n->flags);
	for (size_t i = 0; i < n->n_args; i++)
		free(n->args[i].s);
	free(n->args);
	if (n->sub) {
		dockerfile_node_done(n->sub);
		free(n->sub);
	}
	for (size_t i = 0; i < n->n_heredocs; i++) {
		free(n->heredocs[i].name);
		free(n->heredocs[i].content);
	}
	free(n->heredocs);
	free(n->original);
	memset(n, 0, sizeof(*n));
}

struct dockerfile *
dockerfile_free(struct dockerfile *df)
{
	if (!df)
		return NULL;
	for (size_t i = 0; i < df->n_nodes; i++)
		dockerfile_node_done(&df->nodes[i]);
	free(df->nodes);
	for (size_t i = 0; i < _DOCKERFILE_DIRECTIVE_MAX; i++)
		free(df->directives[i].value);
	dockerfile_warnings_done(&df->warnings);
	free(df);
	return NULL;
}

int
dockerfile_parse(const struct dockerfile_source *src, const struct dockerfile_parse_options *opts,
                 struct dockerfile **ret, struct kl_error **err)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df = xcalloc(1, sizeof(*df));
	struct parser p = {.src = src, .err = err, .df = df, .error = opts ? opts->error : NULL};
	size_t cap = 0;
	int r;

	r = dockerfile_lexer_init(&p.lx, src, p.error, err);
	if (r < 0)
		return r;
	for (;;) {
		struct dockerfile_logical_line ll;
		struct dockerfile_node *node;

		r = dockerfile_lexer_next(&p.lx, &ll, p.error, err);
		if (r <= 0)
			break;
		p.start = ll.start_line;
		p.end = ll.end_line;
		if (ll.empty_continuation)
			dockerfile_warnings_add(&df->warnings, ll.end_line,
			                        "Empty continuation lines will become errors in a "
			                        "future release",
			                        EMPTY_CONTINUATION_URL,
			                        "Empty continuation line found in: %s", ll.text);
		df->nodes = xgrow(df->nodes, &cap, df->n_nodes + 1, sizeof(*df->nodes));
		node = &df->nodes[df->n_nodes++];
		memset(node, 0, sizeof(*node));
		r = node_from_line(&p, ll.text, ll.len, 0, node);
		if (r == 0)
			r = read_heredocs(&p, node, ll.text, ll.len);
		free(ll.text);
		if (r < 0)
			break;
	}
	if (r == 0 && df->n_nodes == 0)
		r = dockerfile_error_at(src, 0, 0, 0, p.error, err, "file with no instructions");
	if (r < 0) {
		dockerfile_lexer_done(&p.lx);
		return r;
	}
	df->escape = p.lx.escape;
	memcpy(df->directives, p.lx.directives, sizeof(df->directives));
	memset(p.lx.directives, 0, sizeof(p.lx.directives));
	syntax_after_shebang(&p);
	check_syntax(&p);
	*ret = TAKE_PTR(df);
	return 0;
}
