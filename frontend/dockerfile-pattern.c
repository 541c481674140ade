// SPDX-License-Identifier: Apache-2.0
/* Shell patterns of ${v#p} ${v%p} ${v/p/r}: compiled to a few items, matched by a Pike VM. */
#include "frontend/dockerfile-pattern.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-internal.h"
#include "util/cleanup.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

enum item_kind { ITEM_LIT, ITEM_ANY, ITEM_STAR, _ITEM_MAX };

struct item {
	enum item_kind kind;
	uint32_t rune; /* ITEM_LIT */
};

/* A value as runes, each with its byte offset; off[n] is the value's length. */
struct runes {
	uint32_t *r;
	size_t *off;
	size_t n;
};

struct prog {
	struct item *items;
	size_t n;
	bool greedy;
};

static void
runes_done(struct runes *rs)
{
	free(rs->r);
	free(rs->off);
}

static void
runes_decode(const char *s, size_t len, struct runes *rs)
{
	size_t i = 0;

	rs->r = xcalloc(len + 1, sizeof(*rs->r));
	rs->off = xcalloc(len + 1, sizeof(*rs->off));
	rs->n = 0;
	while (i < len) {
		rs->off[rs->n] = i;
		i += dockerfile_utf8_decode(s + i, len - i, &rs->r[rs->n]);
		rs->n++;
	}
	rs->off[rs->n] = len;
}

/* BuildKit's convertShellPatternToRegex, to items; consecutive stars are one. */
static int
compile(const char *pat, size_t plen, struct prog *p, char **ret_msg)
{
	size_t i = 0;

	p->items = xcalloc(plen + 1, sizeof(*p->items));
	p->n = 0;
	while (i < plen) {
		uint32_t c;
		struct item it = {ITEM_LIT, 0};

		i += dockerfile_utf8_decode(pat + i, plen - i, &c);
		if (c == '*') {
			if (p->n && p->items[p->n - 1].kind == ITEM_STAR)
				continue;
			it.kind = ITEM_STAR;
		} else if (c == '?') {
			it.kind = ITEM_ANY;
		} else if (c == '\\') {
			/* "}" and "/" are escaped inside ${}, but the escape is not the pattern's
			 */
			if (i < plen && (pat[i] == '}' || pat[i] == '/'))
				continue;
			if (i >= plen) {
				*ret_msg = xstrdup("invalid escape '\\'");
				return -EINVAL;
			}
			i += dockerfile_utf8_decode(pat + i, plen - i, &c);
			if (c != '*' && c != '?' && c != '\\') {
				char enc[4];
				size_t w = dockerfile_utf8_encode(c, enc);

				*ret_msg = xasprintf("invalid escape '\\%.*s'", (int)w, enc);
				return -EINVAL;
			}
			it.rune = c;
		} else {
			it.rune = c;
		}
		p->items[p->n++] = it;
	}
	return 0;
}

static void
reverse_items(struct prog *p)
{
	for (size_t i = 0, j = p->n; i + 1 < j; i++, j--) {
		struct item t = p->items[i];

		p->items[i] = p->items[j - 1];
		p->items[j - 1] = t;
	}
}

struct thread {
	size_t state; /* an item index waiting for a rune, or n: a match */
	size_t start; /* rune index where the match began */
};

struct vm {
	const struct prog *p;
	struct thread *cur, *next;
	size_t ncur, nnext;
	unsigned *mark;
	unsigned gen;
};

static void
push(struct vm *vm, struct thread *list, size_t *n, size_t state, size_t start)
{
	if (vm->mark[state] == vm->gen)
		return;
	vm->mark[state] = vm->gen;
	list[(*n)++] = (struct thread){state, start};
}

/* The epsilon closure of state j in priority order: a star prefers to take more (greedy) or
 * to move on (lazy); stars never follow stars, so this needs no recursion. */
static void
add(struct vm *vm, struct thread *list, size_t *n, size_t j, size_t start)
{
	const struct prog *p = vm->p;

	if (j < p->n && p->items[j].kind == ITEM_STAR) {
		if (p->greedy)
			push(vm, list, n, j, start);
		push(vm, list, n, j + 1, start);
		if (!p->greedy)
			push(vm, list, n, j, start);
		return;
	}
	push(vm, list, n, j, start);
}

static bool
item_takes(const struct item *it, uint32_t c)
{
	switch (it->kind) {
	case ITEM_LIT:
		return it->rune == c;
	case ITEM_ANY:
	case ITEM_STAR:
		return c != '\n';
	default:
		return false;
	}
}

/* Finds the leftmost-first match in rs[from..] (anchored: starting at from only). Returns true
 * with *ret_start / *ret_end (rune indexes) when there is one. */
static bool
vm_search(const struct prog *p, const struct runes *rs, size_t from, bool anchored,
          size_t *ret_start, size_t *ret_end)
{
	struct vm vm = {.p = p};
	bool found = false;
	size_t ms = 0, me = 0;

	vm.cur = xcalloc(p->n + 1, sizeof(*vm.cur));
	vm.next = xcalloc(p->n + 1, sizeof(*vm.next));
	vm.mark = xcalloc(p->n + 1, sizeof(*vm.mark));
	vm.gen = 1;
	for (size_t pos = from;; pos++) {
		struct thread *t;

		if (!found && (!anchored || pos == from))
			add(&vm, vm.cur, &vm.ncur, 0, pos);
		if (vm.ncur == 0)
			break;
		vm.gen++;
		vm.nnext = 0;
		for (size_t i = 0; i < vm.ncur; i++) {
			const struct thread *th = &vm.cur[i];

			if (th->state == p->n) {
				found = true, ms = th->start, me = pos;
				break; /* lower-priority threads lose */
			}
			if (pos < rs->n && item_takes(&p->items[th->state], rs->r[pos]))
				add(&vm, vm.next, &vm.nnext,
				    p->items[th->state].kind == ITEM_STAR ? th->state
				                                          : th->state + 1,
				    th->start);
		}
		if (pos >= rs->n) {
			/* threads still waiting for a rune cannot match; a match reached only
			 * through the closure was seen above */
			break;
		}
		t = vm.cur, vm.cur = vm.next, vm.next = t;
		vm.ncur = vm.nnext;
	}
	free(vm.cur);
	free(vm.next);
	free(vm.mark);
	if (found)
		*ret_start = ms, *ret_end = me;
	return found;
}

int
dockerfile_pattern_trim(const char *pat, size_t plen, const char *val, size_t vlen, bool suffix,
                        bool greedy, struct kl_strbuf *out, char **ret_msg)
{
	struct prog p = {.greedy = greedy};
	struct runes rs;
	size_t s, e;
	int r;

	r = compile(pat, plen, &p, ret_msg);
	if (r < 0) {
		free(p.items);
		return r;
	}
	runes_decode(val, vlen, &rs);
	if (!suffix) {
		if (vm_search(&p, &rs, 0, true, &s, &e))
			kl_strbuf_append(out, val + rs.off[e], vlen - rs.off[e]);
		else
			kl_strbuf_append(out, val, vlen);
	} else {
		/* BuildKit reverses pattern and value and trims a prefix */
		size_t keep = rs.n;

		reverse_items(&p);
		for (size_t i = 0, j = rs.n; i + 1 < j; i++, j--) {
			uint32_t t = rs.r[i];

			rs.r[i] = rs.r[j - 1];
			rs.r[j - 1] = t;
		}
		if (vm_search(&p, &rs, 0, true, &s, &e))
			keep = rs.n - e;
		for (size_t i = 0; i < keep; i++) {
			char enc[4];

			kl_strbuf_append(out, enc, dockerfile_utf8_encode(rs.r[rs.n - 1 - i], enc));
		}
	}
	runes_done(&rs);
	free(p.items);
	return 0;
}

/* Go's Regexp.Expand for a pattern without groups: $$, $0/${0}, other names are empty. */
static void
expand_template(struct kl_strbuf *out, const char *repl, size_t rlen, const char *m, size_t mlen)
{
	for (size_t i = 0; i < rlen; i++) {
		const char *dollar = memchr(repl + i, '$', rlen - i);
		size_t j, nb, ne;

		/* the text up to the next '$' in one piece: replacements can be large */
		if (!dollar || dollar != repl + i) {
			size_t lit = dollar ? (size_t)(dollar - (repl + i)) : rlen - i;

			kl_strbuf_append(out, repl + i, lit);
			i += lit - 1;
			continue;
		}
		if (i + 1 >= rlen) {
			kl_strbuf_putc(out, '$');
			continue;
		}
		if (repl[i + 1] == '$') {
			kl_strbuf_putc(out, '$');
			i++;
			continue;
		}
		j = i + 1;
		if (repl[j] == '{') {
			nb = j + 1;
			for (ne = nb; ne < rlen &&
			              (repl[ne] == '_' || (repl[ne] >= '0' && repl[ne] <= '9') ||
			               ((repl[ne] | 0x20) >= 'a' && (repl[ne] | 0x20) <= 'z'));
			     ne++)
				;
			if (ne == nb || ne >= rlen || repl[ne] != '}') {
				kl_strbuf_putc(out, '$');
				continue;
			}
			j = ne + 1;
		} else {
			nb = j;
			for (ne = nb; ne < rlen &&
			              (repl[ne] == '_' || (repl[ne] >= '0' && repl[ne] <= '9') ||
			               ((repl[ne] | 0x20) >= 'a' && (repl[ne] | 0x20) <= 'z'));
			     ne++)
				;
			if (ne == nb) {
				kl_strbuf_putc(out, '$');
				continue;
			}
			j = ne;
		}
		if (ne - nb == 1 && repl[nb] == '0')
			kl_strbuf_append(out, m, mlen);
		i = j - 1;
	}
}

int
dockerfile_pattern_replace(const char *pat, size_t plen, const char *val, size_t vlen,
                           const char *repl, size_t rlen, bool all, size_t max,
                           struct kl_strbuf *out, char **ret_msg)
{
	struct prog p = {.greedy = true};
	struct runes rs;
	size_t s, e, search = 0, last_end = 0; /* rune indexes */
	size_t base = out->len;
	int r;

	r = compile(pat, plen, &p, ret_msg);
	if (r < 0) {
		free(p.items);
		return r;
	}
	runes_decode(val, vlen, &rs);
	while (search <= rs.n && vm_search(&p, &rs, search, false, &s, &e)) {
		kl_strbuf_append(out, val + rs.off[last_end], rs.off[s] - rs.off[last_end]);
		if (!all) {
			kl_strbuf_append(out, repl, rlen);
			last_end = e;
			break;
		}
		/* no replacement for an empty match right after another match */
		if (e > last_end || s == 0)
			expand_template(out, repl, rlen, val + rs.off[s], rs.off[e] - rs.off[s]);
		last_end = e;
		search = search + 1 > e ? search + 1 : e;
		if (out->len - base > max) {
			r = -E2BIG;
			break;
		}
	}
	if (r == 0)
		kl_strbuf_append(out, val + rs.off[last_end], vlen - rs.off[last_end]);
	runes_done(&rs);
	free(p.items);
	if (r == 0 && out->len - base > max)
		r = -E2BIG;
	return r;
}
