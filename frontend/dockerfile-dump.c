// SPDX-License-Identifier: Apache-2.0
/* BuildKit's Node.Dump S-expressions, with Go's string quoting. */
#include "frontend/dockerfile-dump.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "frontend/dockerfile-internal.h"
#include "frontend/dockerfile-parse.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

/* Code points Go's unicode.IsPrint refuses (beyond ASCII controls): C1 controls, spaces but
 * U+0020, format characters, separators, private use, noncharacters. */
static bool
is_print(uint32_t c)
{
	static const uint32_t ranges[][2] = {
	    {0x0080, 0x00A0},    {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},
	    {0x06DD, 0x06DD},    {0x070F, 0x070F},   {0x08E2, 0x08E2},   {0x1680, 0x1680},
	    {0x180E, 0x180E},    {0x2000, 0x200F},   {0x2028, 0x202F},   {0x205F, 0x2064},
	    {0x2066, 0x206F},    {0x3000, 0x3000},   {0xD800, 0xF8FF},   {0xFDD0, 0xFDEF},
	    {0xFEFF, 0xFEFF},    {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
	    {0x1BCA0, 0x1BCA3},  {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
	    {0xF0000, 0x10FFFF},
	};

	if (c < 0x20 || c == 0x7F)
		return false;
	if ((c & 0xFFFE) == 0xFFFE)
		return false;
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (c >= ranges[i][0] && c <= ranges[i][1])
			return false;
	return true;
}

void
dockerfile_go_quote(struct kl_strbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	kl_strbuf_putc(b, '"');
	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t w = dockerfile_utf8_decode(s + i, n - i, &c);

		if (c == DOCKERFILE_RUNE_ERROR && w == 1) {
			unsigned char x = (unsigned char)s[i];

			kl_strbuf_printf(b, "\\x%c%c", hex[x >> 4], hex[x & 15]);
		} else if (c == '"' || c == '\\') {
			kl_strbuf_putc(b, '\\');
			kl_strbuf_putc(b, (char)c);
		} else if (is_print(c)) {
			kl_strbuf_append(b, s + i, w);
		} else {
			switch (c) {
			case '\a':
				kl_strbuf_puts(b, "\\a");
				break;
			case '\b':
				kl_strbuf_puts(b, "\\b");
				break;
			case '\f':
				kl_strbuf_puts(b, "\\f");
				break;
			case '\n':
				kl_strbuf_puts(b, "\\n");
				break;
			case '\r':
				kl_strbuf_puts(b, "\\r");
				break;
			case '\t':
				kl_strbuf_puts(b, "\\t");
				break;
			case '\v':
				kl_strbuf_puts(b, "\\v");
				break;
			default:
				if (c < ' ' || c == 0x7F)
					kl_strbuf_printf(b, "\\x%c%c", hex[c >> 4], hex[c & 15]);
				else if (c < 0x10000)
					kl_strbuf_printf(b, "\\u%04x", (unsigned)c);
				else
					kl_strbuf_printf(b, "\\U%08x", (unsigned)c);
			}
		}
		i += w;
	}
	kl_strbuf_putc(b, '"');
}

static void
dump_into(struct kl_strbuf *b, const struct dockerfile_node *n)
{
	for (const char *p = n->value; *p; p++)
		kl_strbuf_putc(b, (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p);
	if (n->n_flags) {
		kl_strbuf_puts(b, " [");
		for (size_t i = 0; i < n->n_flags; i++) {
			if (i)
				kl_strbuf_putc(b, ' ');
			dockerfile_go_quote(b, n->flags[i], strlen(n->flags[i]));
		}
		kl_strbuf_putc(b, ']');
	}
	if (n->sub) {
		kl_strbuf_puts(b, " (");
		dump_into(b, n->sub);
		kl_strbuf_putc(b, ')');
	}
	for (size_t i = 0; i < n->n_args; i++) {
		kl_strbuf_putc(b, ' ');
		dockerfile_go_quote(b, n->args[i].s, n->args[i].len);
	}
}

/* Appends one node's S-expression (no parentheses of its own, no newline), as BuildKit's
 * Node.Dump does for a child. */
static void
dockerfile_dump_node(struct kl_strbuf *b, const struct dockerfile_node *n)
{
	struct kl_strbuf tmp = {0};
	size_t sp, len;

	/* Node.Dump ends with strings.TrimSpace */
	dump_into(&tmp, n);
	sp = dockerfile_space_prefix(tmp.buf, tmp.len);
	len = dockerfile_trim_space_right(tmp.buf + sp, tmp.len - sp);
	kl_strbuf_append(b, tmp.buf + sp, len);
	kl_strbuf_done(&tmp);
}

char *
dockerfile_dump(const struct dockerfile *df, size_t *ret_len)
{
	struct kl_strbuf b = {0};

	for (size_t i = 0; i < df->n_nodes; i++) {
		kl_strbuf_putc(&b, '(');
		dockerfile_dump_node(&b, &df->nodes[i]);
		kl_strbuf_puts(&b, ")\n");
	}
	return kl_strbuf_steal(&b, ret_len);
}
