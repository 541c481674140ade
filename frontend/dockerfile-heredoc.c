// SPDX-License-Identifier: Apache-2.0
/* Heredoc markers ([N]<<[-]WORD) in instruction words, and the <<- tab stripping. */
#include "frontend/dockerfile-heredoc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-expand.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

static size_t
count_quotes(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\'' || *s == '"';
	return n;
}

int
dockerfile_heredoc_parse_word(const char *word, size_t len, struct dockerfile_heredoc_marker *ret,
                              struct kl_error **err)
{
	struct dockerfile_expander ex = {.escape = '\\', .flags = DOCKERFILE_EXPAND_SKIP_UNSET};
	char **words = NULL, **raw = NULL;
	size_t i = 0, digits, nw = 0, nr = 0;
	unsigned long long fd = 0;
	bool chomp = false, overflow = false;
	const char *rest;
	size_t rest_len;
	int r;

	/* ^(\d*)<<(-?)\s*([^<]*)$ */
	while (i < len && word[i] >= '0' && word[i] <= '9') {
		if (fd > 0xFFFFFFFFull / 10)
			overflow = true;
		fd = fd * 10 + (unsigned)(word[i] - '0');
		i++;
	}
	digits = i;
	if (len - i < 2 || word[i] != '<' || word[i + 1] != '<')
		return 0;
	i += 2;
	if (i < len && word[i] == '-')
		chomp = true, i++;
	while (i < len && strchr(" \t\n\f\r", word[i]) && word[i])
		i++;
	rest = word + i;
	rest_len = len - i;
	if (memchr(rest, '<', rest_len) || rest_len == 0)
		return 0;
	/* Lexed once with and once without quotes: a difference means some part was quoted. */
	r = dockerfile_expand_words(&ex, rest, rest_len, &words, &nw, err);
	if (r < 0)
		return r;
	if (nw != 1) {
		dockerfile_words_free(words, nw);
		return 0;
	}
	ex.flags |= DOCKERFILE_EXPAND_RAW_QUOTES;
	r = dockerfile_expand_words(&ex, rest, rest_len, &raw, &nr, err);
	if (r < 0) {
		dockerfile_words_free(words, nw);
		return r;
	}
	if (nr != nw) {
		dockerfile_words_free(words, nw);
		dockerfile_words_free(raw, nr);
		return kl_error_setf(
		    err, EINVAL, "internal lexing of heredoc produced inconsistent results: %.*s",
		    (int)rest_len, rest);
	}
	ret->expand = count_quotes(words[0]) == count_quotes(raw[0]);
	ret->name = words[0];
	words[0] = NULL;
	ret->chomp = chomp;
	/* Go's ParseUint fails on "" or an overflow, and BuildKit ignores the error */
	ret->fd = digits && !overflow && fd <= 0xFFFFFFFFull ? (unsigned)fd : 0;
	dockerfile_words_free(words, nw);
	dockerfile_words_free(raw, nr);
	return 1;
}

int
dockerfile_heredocs_from_line(const char *line, size_t len, struct dockerfile_heredoc_marker **ret,
                              size_t *ret_n, struct kl_error **err)
{
	struct dockerfile_expander ex = {
	    .escape = '\\',
	    .flags = DOCKERFILE_EXPAND_RAW_QUOTES | DOCKERFILE_EXPAND_RAW_ESCAPES |
	             DOCKERFILE_EXPAND_SKIP_UNSET,
	};
	struct dockerfile_heredoc_marker *v = NULL;
	size_t n = 0, cap = 0, nw = 0;
	char **words = NULL;
	int r;

	*ret = NULL;
	*ret_n = 0;
	/* BuildKit ignores a lexing error here: such a line has no heredocs */
	if (dockerfile_expand_words(&ex, line, len, &words, &nw, NULL) < 0)
		return 0;
	for (size_t i = 0; i < nw; i++) {
		struct dockerfile_heredoc_marker m = {0};

		r = dockerfile_heredoc_parse_word(words[i], strlen(words[i]), &m, err);
		if (r < 0) {
			dockerfile_heredoc_markers_free(v, n);
			dockerfile_words_free(words, nw);
			return r;
		}
		if (r == 0)
			continue;
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		v[n++] = m;
	}
	dockerfile_words_free(words, nw);
	*ret = v;
	*ret_n = n;
	return 0;
}

void
dockerfile_heredoc_marker_done(struct dockerfile_heredoc_marker *m)
{
	free(m->name);
	m->name = NULL;
}

void
dockerfile_heredoc_markers_free(struct dockerfile_heredoc_marker *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dockerfile_heredoc_marker_done(&v[i]);
	free(v);
}

char *
dockerfile_heredoc_chomp(const char *body, size_t len, size_t *ret_len)
{
	struct kl_strbuf out = {0};
	bool bol = true;

	for (size_t i = 0; i < len; i++) {
		if (bol && body[i] == '\t')
			continue;
		bol = body[i] == '\n';
		kl_strbuf_putc(&out, body[i]);
	}
	return kl_strbuf_steal(&out, ret_len);
}
