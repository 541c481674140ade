// SPDX-License-Identifier: Apache-2.0
/* .dockerignore parsing and matching, ported from moby's ignorefile and patternmatcher and Go's
 * path/filepath.Match, with the regular expressions replaced by a small NFA over runes. */
#include "sources/dockerignore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/xalloc.h"

#define RUNE_ERROR 0xfffdu
#define RUNE_BYTE 0x110000u /* + an invalid byte: matches only that same byte */

/* How a pattern matches, as patternmatcher decides it: literally, as a prefix ("foo/" + "**"),
 * as a suffix ("**" + literal), or through its tokens. */
enum match_type { MATCH_EXACT, MATCH_PREFIX, MATCH_SUFFIX, MATCH_TOKENS, _MATCH_MAX };

enum tok_kind {
	TOK_RUNE,      /* one given rune */
	TOK_ANY,       /* '?': one rune but '/' */
	TOK_STAR,      /* '*': any run of runes but '/' */
	TOK_CLASS,     /* "[…]": one rune in (or, negated, not in) the ranges */
	TOK_DSTAR_DIR, /* "**" or "**" + "/" inside: nothing, or anything ending with '/' */
	TOK_DSTAR_END, /* "**" at the end, after wildcards: anything */
	_TOK_MAX
};

struct rune_range {
	uint32_t lo, hi;
};

struct tok {
	enum tok_kind kind;
	uint32_t rune;
	bool negated;
	uint32_t first, n; /* TOK_CLASS: ranges[first..first+n) */
};

struct pattern {
	char *text; /* cleaned, without '!' */
	size_t len;
	bool exception;
	enum match_type type;
	struct tok *toks;
	size_t n_toks;
	struct rune_range *ranges;
	size_t n_ranges;
};

struct dockerignore {
	struct pattern *patterns;
	size_t n;
	bool has_exceptions;
	bool wild_exceptions; /* an exception holds '*', '?' or '[' */
};

/* Decodes one rune as Go's utf8.DecodeRune: an invalid sequence is RUNE_ERROR, 1 byte. */
static size_t
decode_rune(const char *str, size_t n, uint32_t *ret)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char lo = 0x80, hi = 0xbf;
	uint32_t r;
	size_t len;

	*ret = RUNE_ERROR;
	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*ret = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		r = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		r = s[0] & 0x0f;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		hi = s[0] == 0xed ? 0x9f : 0xbf;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		r = s[0] & 0x07;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 1;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 1;
	for (size_t i = 1; i < len; i++) {
		if (i > 1 && (s[i] < 0x80 || s[i] > 0xbf))
			return 1;
		r = (r << 6) | (s[i] & 0x3f);
	}
	*ret = r;
	return len;
}

/* As decode_rune, but an invalid byte becomes a value of its own, so it matches itself. */
static size_t
next_rune(const char *s, size_t n, uint32_t *ret)
{
	size_t k = decode_rune(s, n, ret);

	if (k == 1 && *ret == RUNE_ERROR)
		*ret = RUNE_BYTE + (unsigned char)s[0];
	return k;
}

/* Length of the Unicode space (Go's unicode.IsSpace) starting at s, or 0. */
static size_t
space_at(const char *s, size_t n)
{
	uint32_t r;
	size_t k = decode_rune(s, n, &r);

	if (k == 0)
		return 0;
	switch (r) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xa0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202f:
	case 0x205f:
	case 0x3000:
		return k;
	default:
		return r >= 0x2000 && r <= 0x200a ? k : 0;
	}
}

/* Trims Unicode spaces at both ends, as Go's strings.TrimSpace. */
static void
trim_space(const char **s, size_t *n)
{
	size_t k;

	while ((k = space_at(*s, *n)) > 0) {
		*s += k;
		*n -= k;
	}
	while (*n > 0) {
		k = 0;
		for (size_t w = 1; w <= 3 && w <= *n && !k; w++)
			if (space_at(*s + *n - w, w) == w)
				k = w;
		if (!k)
			break;
		*n -= k;
	}
}

/* Go's filepath.Clean on a slash-separated path; returns a new string. */
static char *
go_clean(const char *p, size_t n, size_t *ret_len)
{
	char *out = xmalloc(n + 2);
	bool rooted = n > 0 && p[0] == '/';
	size_t r = 0, w = 0, dotdot = 0;

	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && p[r] != '/'; r++)
				out[w++] = p[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	*ret_len = w;
	return out;
}

/* Go's filepath.Match, ported to find syntax errors the way patternmatcher.New does. */

static int
go_get_esc(const char **chunk, size_t *clen, uint32_t *ret)
{
	const char *c = *chunk;
	size_t n = *clen, k;

	if (n == 0 || c[0] == '-' || c[0] == ']')
		return -EINVAL;
	if (c[0] == '\\') {
		c++;
		n--;
		if (n == 0)
			return -EINVAL;
	}
	k = decode_rune(c, n, ret);
	if (*ret == RUNE_ERROR && k == 1)
		return -EINVAL;
	c += k;
	n -= k;
	if (n == 0)
		return -EINVAL;
	*chunk = c;
	*clen = n;
	return 0;
}

/* Matches chunk at the start of s: 1 with *ret_used bytes of s consumed, 0 no match, or
 * -EINVAL for a malformed chunk. */
static int
go_match_chunk(const char *chunk, size_t clen, const char *s, size_t slen, size_t *ret_used)
{
	bool failed = false;
	size_t si = 0;
	uint32_t r;

	while (clen > 0) {
		if (!failed && si == slen)
			failed = true;
		switch (chunk[0]) {
		case '[': {
			bool negated = false, match = false;
			unsigned nrange = 0;

			r = 0;
			if (!failed)
				si += decode_rune(s + si, slen - si, &r);
			chunk++;
			clen--;
			if (clen > 0 && chunk[0] == '^') {
				negated = true;
				chunk++;
				clen--;
			}
			for (;;) {
				uint32_t lo, hi;

				if (clen > 0 && chunk[0] == ']' && nrange > 0) {
					chunk++;
					clen--;
					break;
				}
				if (go_get_esc(&chunk, &clen, &lo) < 0)
					return -EINVAL;
				hi = lo;
				if (chunk[0] == '-') {
					chunk++;
					clen--;
					if (go_get_esc(&chunk, &clen, &hi) < 0)
						return -EINVAL;
				}
				if (lo <= r && r <= hi)
					match = true;
				nrange++;
			}
			if (match == negated)
				failed = true;
			break;
		}
		case '?':
			if (!failed) {
				if (s[si] == '/')
					failed = true;
				si += decode_rune(s + si, slen - si, &r);
			}
			chunk++;
			clen--;
			break;
		case '\\':
			chunk++;
			clen--;
			if (clen == 0)
				return -EINVAL;
			/* fallthrough */
		default:
			if (!failed) {
				if (chunk[0] != s[si])
					failed = true;
				si++;
			}
			chunk++;
			clen--;
			break;
		}
	}
	if (failed)
		return 0;
	*ret_used = si;
	return 1;
}

static void
go_scan_chunk(const char **pat, size_t *plen, bool *star, const char **chunk, size_t *clen)
{
	const char *p = *pat;
	size_t n = *plen, i;
	bool inrange = false;

	*star = false;
	while (n > 0 && p[0] == '*') {
		p++;
		n--;
		*star = true;
	}
	for (i = 0; i < n; i++) {
		if (p[i] == '\\') {
			if (i + 1 < n)
				i++;
		} else if (p[i] == '[') {
			inrange = true;
		} else if (p[i] == ']') {
			inrange = false;
		} else if (p[i] == '*' && !inrange) {
			break;
		}
	}
	*chunk = p;
	*clen = i;
	*pat = p + i;
	*plen = n - i;
}

/* 1 match, 0 no match, -EINVAL malformed pattern. */
static int
go_match(const char *pat, size_t plen, const char *name, size_t nlen)
{
	const char *chunk;
	size_t clen, used;
	bool star;
	int r;

next_chunk:
	while (plen > 0) {
		go_scan_chunk(&pat, &plen, &star, &chunk, &clen);
		if (star && clen == 0)
			return memchr(name, '/', nlen) ? 0 : 1;
		r = go_match_chunk(chunk, clen, name, nlen, &used);
		if (r > 0 && (used == nlen || plen > 0)) {
			name += used;
			nlen -= used;
			continue;
		}
		if (r < 0)
			return r;
		if (star) {
			for (size_t i = 0; i < nlen && name[i] != '/'; i++) {
				r = go_match_chunk(chunk, clen, name + i + 1, nlen - i - 1, &used);
				if (r > 0) {
					if (plen == 0 && used < nlen - i - 1)
						continue;
					name += i + 1 + used;
					nlen -= i + 1 + used;
					goto next_chunk;
				}
				if (r < 0)
					return r;
			}
		}
		while (plen > 0) {
			go_scan_chunk(&pat, &plen, &star, &chunk, &clen);
			if (go_match_chunk(chunk, clen, "", 0, &used) < 0)
				return -EINVAL;
		}
		return 0;
	}
	return nlen == 0;
}

/* Compiling a pattern to tokens, following patternmatcher's Pattern.compile. */

static void
add_tok(struct pattern *p, size_t *cap, enum tok_kind kind, uint32_t rune)
{
	p->toks = xgrow(p->toks, cap, p->n_toks + 1, sizeof(*p->toks));
	p->toks[p->n_toks++] = (struct tok){.kind = kind, .rune = rune};
}

/* Parses the class starting after '[' at s (already known to be well formed). Fails only for
 * a range whose ends are reversed, which Go's regexp rejects. */
static int
compile_class(struct pattern *p, size_t *tok_cap, size_t *range_cap, const char *s, size_t n,
              size_t *ret_used)
{
	const char *start = s;
	struct tok *t;
	unsigned nrange = 0;

	add_tok(p, tok_cap, TOK_CLASS, 0);
	t = &p->toks[p->n_toks - 1];
	t->first = (uint32_t)p->n_ranges;
	if (n > 0 && s[0] == '^') {
		t->negated = true;
		s++;
		n--;
	}
	for (;;) {
		uint32_t lo, hi;

		if (n > 0 && s[0] == ']' && nrange > 0) {
			s++;
			break;
		}
		if (go_get_esc(&s, &n, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (s[0] == '-') {
			s++;
			n--;
			if (go_get_esc(&s, &n, &hi) < 0)
				return -EINVAL;
		}
		if (lo > hi)
			return -EINVAL;
		p->ranges = xgrow(p->ranges, range_cap, p->n_ranges + 1, sizeof(*p->ranges));
		p->ranges[p->n_ranges++] = (struct rune_range){lo, hi};
		nrange++;
	}
	t->n = nrange;
	*ret_used = (size_t)(s - start);
	return 0;
}

static int
compile(struct pattern *p)
{
	const char *s = p->text;
	size_t n = p->len, pos = 0, tok_cap = 0, range_cap = 0, used;
	uint32_t ch;

	p->type = MATCH_EXACT;
	for (size_t i = 0; pos < n; i++) {
		pos += next_rune(s + pos, n - pos, &ch);
		if (ch == '*' && pos < n && s[pos] == '*') {
			pos++;
			if (pos < n && s[pos] == '/')
				pos++;
			if (pos == n) {
				if (p->type == MATCH_EXACT) {
					p->type = MATCH_PREFIX;
				} else {
					add_tok(p, &tok_cap, TOK_DSTAR_END, 0);
					p->type = MATCH_TOKENS;
				}
			} else {
				add_tok(p, &tok_cap, TOK_DSTAR_DIR, 0);
				p->type = MATCH_TOKENS;
			}
			if (i == 0)
				p->type = MATCH_SUFFIX;
		} else if (ch == '*') {
			add_tok(p, &tok_cap, TOK_STAR, 0);
			p->type = MATCH_TOKENS;
		} else if (ch == '?') {
			add_tok(p, &tok_cap, TOK_ANY, 0);
			p->type = MATCH_TOKENS;
		} else if (ch == '\\' && pos < n) {
			pos += next_rune(s + pos, n - pos, &ch);
			add_tok(p, &tok_cap, TOK_RUNE, ch);
			p->type = MATCH_TOKENS;
		} else if (ch == '[') {
			if (compile_class(p, &tok_cap, &range_cap, s + pos, n - pos, &used) < 0)
				return -EINVAL;
			pos += used;
			p->type = MATCH_TOKENS;
		} else {
			if (ch == ']')
				p->type = MATCH_TOKENS;
			add_tok(p, &tok_cap, TOK_RUNE, ch);
		}
	}
	return 0;
}

static bool
class_has(const struct pattern *p, const struct tok *t, uint32_t r)
{
	bool in = false;

	for (uint32_t i = 0; i < t->n && !in; i++)
		in = p->ranges[t->first + i].lo <= r && r <= p->ranges[t->first + i].hi;
	return in != t->negated;
}

/* Follows the empty moves of a state set; moves only go forward, so one pass suffices.
 * State 2i: before token i; 2i+1: inside the "anything" of a TOK_DSTAR_DIR i. */
static void
close_states(const struct pattern *p, uint8_t *set)
{
	for (size_t i = 0; i < p->n_toks; i++) {
		if (!set[2 * i])
			continue;
		switch (p->toks[i].kind) {
		case TOK_STAR:
		case TOK_DSTAR_END:
			set[2 * (i + 1)] = 1;
			break;
		case TOK_DSTAR_DIR:
			set[2 * i + 1] = 1;
			set[2 * (i + 1)] = 1;
			break;
		default:
			break;
		}
	}
}

/* Moves every state of cur over rune r into next; returns whether any state is left. */
static bool
step_states(const struct pattern *p, const uint8_t *cur, uint8_t *next, uint32_t r)
{
	bool any = false;

	memset(next, 0, 2 * (p->n_toks + 1));
	for (size_t i = 0; i < p->n_toks; i++) {
		const struct tok *t = &p->toks[i];
		bool adv = false, stay = false;

		if (cur[2 * i + 1]) { /* ".*" then "/": '.' is any rune but newline */
			if (r != '\n')
				next[2 * i + 1] = 1;
			if (r == '/')
				next[2 * (i + 1)] = 1;
			any = true;
		}
		if (!cur[2 * i])
			continue;
		switch (t->kind) {
		case TOK_RUNE:
			adv = r == t->rune;
			break;
		case TOK_ANY:
			adv = r != '/';
			break;
		case TOK_STAR:
			stay = r != '/';
			break;
		case TOK_CLASS:
			adv = class_has(p, t, r);
			break;
		case TOK_DSTAR_END:
			stay = r != '\n';
			break;
		default:
			break;
		}
		if (adv)
			next[2 * (i + 1)] = 1;
		if (stay)
			next[2 * i] = 1;
		any = any || adv || stay;
	}
	close_states(p, next);
	return any;
}

static bool
match_tokens(const struct pattern *p, const char *path, size_t len)
{
	uint8_t small[2][128];
	size_t n = 2 * (p->n_toks + 1), pos = 0;
	uint8_t *cur, *next, *heap = NULL, *tmp;
	bool alive = true, ok;
	uint32_t r;

	if (n <= sizeof(small[0])) {
		cur = small[0];
		next = small[1];
	} else {
		heap = xmalloc(2 * n);
		cur = heap;
		next = heap + n;
	}
	memset(cur, 0, n);
	cur[0] = 1;
	close_states(p, cur);
	while (pos < len && alive) {
		pos += next_rune(path + pos, len - pos, &r);
		alive = step_states(p, cur, next, r);
		tmp = cur;
		cur = next;
		next = tmp;
	}
	ok = alive && cur[2 * p->n_toks];
	free(heap);
	return ok;
}

static bool
pattern_match(const struct pattern *p, const char *path, size_t len)
{
	switch (p->type) {
	case MATCH_EXACT:
		return len == p->len && memcmp(path, p->text, len) == 0;
	case MATCH_PREFIX:
		return len >= p->len - 2 && memcmp(path, p->text, p->len - 2) == 0;
	case MATCH_SUFFIX: {
		const char *suffix = p->text + 2;
		size_t sl = p->len - 2;

		if (len >= sl && memcmp(path + len - sl, suffix, sl) == 0)
			return true;
		return suffix[0] == '/' && len == sl - 1 && memcmp(path, suffix + 1, len) == 0;
	}
	default:
		return match_tokens(p, path, len);
	}
}

/* Parsing the file. */

/* fsutil's test for an exception that may match anywhere: after a trailing "/" + "**" and then a
 * trailing "/" + "*" are cut off, a pattern character is left. */
static bool
has_wildcards(const char *s, size_t n)
{
	if (n >= 3 && !memcmp(s + n - 3, "/**", 3))
		n -= 3;
	if (n >= 2 && !memcmp(s + n - 2, "/*", 2))
		n -= 2;
	for (size_t i = 0; i < n; i++)
		if (strchr("*[]?^\\", s[i]) && s[i])
			return true;
	return false;
}

static void
pattern_done(struct pattern *p)
{
	free(p->text);
	free(p->toks);
	free(p->ranges);
}

struct dockerignore *
dockerignore_free(struct dockerignore *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		pattern_done(&d->patterns[i]);
	free(d->patterns);
	free(d);
	return NULL;
}

/* One line, as ignorefile.ReadAll then patternmatcher.New see it; 0 when it holds no
 * pattern, 1 with *p filled, or -EINVAL with err set. */
static int
parse_line(const char *line, size_t n, const char *name, unsigned line_no, struct pattern *p,
           struct kl_error **err)
{
	_cleanup_free_ char *cleaned = NULL, *joined = NULL, *again = NULL;
	size_t cl = 0, jl, al;
	const char *s;
	bool invert;

	if (n > 0 && line[0] == '#')
		return 0;
	trim_space(&line, &n);
	if (n == 0)
		return 0;
	invert = line[0] == '!';
	if (invert) {
		line++;
		n--;
		trim_space(&line, &n);
	}
	if (n > 0) {
		cleaned = go_clean(line, n, &cl);
		if (cl > 1 && cleaned[0] == '/')
			memmove(cleaned, cleaned + 1, cl--);
	}
	/* patternmatcher.New cleans "!" + pattern once more */
	jl = (invert ? 1 : 0) + cl;
	joined = xmalloc(jl + 1);
	joined[0] = '!';
	if (cl)
		memcpy(joined + (invert ? 1 : 0), cleaned, cl);
	again = go_clean(joined, jl, &al);
	s = again;
	if (s[0] == '!') {
		if (al == 1)
			return kl_error_setf(err, EINVAL, "%s:%u: illegal exclusion pattern '!'",
			                     name, line_no);
		p->exception = true;
		s++;
		al--;
	}
	if (go_match(s, al, ".", 1) < 0)
		return kl_error_setf(err, EINVAL, "%s:%u: syntax error in pattern '%.*s'", name,
		                     line_no, (int)al, s);
	p->text = xmalloc(al + 1);
	memcpy(p->text, s, al);
	p->text[al] = '\0';
	p->len = al;
	if (compile(p) < 0)
		return kl_error_setf(err, EINVAL, "%s:%u: reversed range in pattern '%.*s'", name,
		                     line_no, (int)al, s);
	return 1;
}

int
dockerignore_parse(const char *text, size_t len, const char *name, struct dockerignore **ret,
                   struct kl_error **err)
{
	_cleanup_(dockerignore_freep) struct dockerignore *d = xcalloc(1, sizeof(*d));
	size_t cap = 0, pos = 0;
	unsigned line_no = 0;
	int r;

	if (len > DOCKERIGNORE_MAX_SIZE)
		return kl_error_setf(err, EFBIG, "%s: larger than %u bytes", name,
		                     DOCKERIGNORE_MAX_SIZE);
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		struct pattern p = {0};

		pos += n + (nl ? 1 : 0);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (++line_no == 1 && n >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
			line += 3;
			n -= 3;
		}
		if (n > DOCKERIGNORE_MAX_LINE)
			return kl_error_setf(err, EINVAL, "%s:%u: line too long", name, line_no);
		r = parse_line(line, n, name, line_no, &p, err);
		if (r < 0)
			pattern_done(&p);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		d->patterns = xgrow(d->patterns, &cap, d->n + 1, sizeof(*d->patterns));
		d->patterns[d->n++] = p;
		if (p.exception) {
			d->has_exceptions = true;
			d->wild_exceptions = d->wild_exceptions || has_wildcards(p.text, p.len);
		}
	}
	*ret = TAKE_PTR(d);
	return 0;
}

size_t
dockerignore_count(const struct dockerignore *d)
{
	return d->n;
}

const char *
dockerignore_pattern(const struct dockerignore *d, size_t i, bool *ret_exception)
{
	if (ret_exception)
		*ret_exception = d->patterns[i].exception;
	return d->patterns[i].text;
}

/* Whether p matches one of path's parent directories. */
static bool
match_parents(const struct pattern *p, const char *path, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (path[i] == '/' && pattern_match(p, path, i))
			return true;
	return false;
}

bool
dockerignore_match(const struct dockerignore *d, const char *path, size_t len,
                   const uint8_t *parent_info, uint8_t *ret_info)
{
	bool matched = false;

	for (size_t i = 0; i < d->n; i++) {
		const struct pattern *p = &d->patterns[i];
		bool m = parent_info && parent_info[i];

		if (!m) {
			/* Cannot change the outcome: skipped, as patternmatcher does. */
			if (p->exception != matched) {
				if (ret_info)
					ret_info[i] = 0;
				continue;
			}
			m = pattern_match(p, path, len);
			if (!m && !parent_info)
				m = match_parents(p, path, len);
		}
		if (ret_info)
			ret_info[i] = m;
		if (m)
			matched = !p->exception;
	}
	return matched;
}

bool
dockerignore_walk_excluded_dir(const struct dockerignore *d, const char *dir, size_t len)
{
	if (!d->has_exceptions)
		return false;
	if (d->wild_exceptions)
		return true;
	for (size_t i = 0; i < d->n; i++) {
		const struct pattern *p = &d->patterns[i];

		/* (pattern + "/") starts with (dir + "/") */
		if (p->exception && p->len + 1 >= len + 1 && memcmp(p->text, dir, len) == 0 &&
		    (p->len == len || p->text[len] == '/'))
			return true;
	}
	return false;
}

int
dockerignore_filepath_match(const char *pattern, size_t plen, const char *name, size_t nlen)
{
	return go_match(pattern, plen, name, nlen);
}
