/* dockerfile-internal — small text helpers shared by the frontend's files: UTF-8 decoding as Go
 * does it (an invalid byte is U+FFFD of width 1) and Go's notion of white space, so the lexer,
 * parser and expander split text exactly where BuildKit does. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOCKERFILE_RUNE_ERROR 0xFFFDu

/* Decodes the rune at s (n > 0 bytes available) into *ret and returns its width; an invalid or
 * truncated sequence decodes as DOCKERFILE_RUNE_ERROR of width 1, as Go's utf8.DecodeRune. */
static inline size_t
dockerfile_utf8_decode(const char *s, size_t n, uint32_t *ret)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c, min;
	size_t w;

	if (p[0] < 0x80) {
		*ret = p[0];
		return 1;
	}
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		w = 2, c = p[0] & 0x1F, min = 0x80;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		w = 3, c = p[0] & 0x0F, min = 0x800;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		w = 4, c = p[0] & 0x07, min = 0x10000;
	else
		goto bad;
	if (n < w)
		goto bad;
	for (size_t i = 1; i < w; i++) {
		if ((p[i] & 0xC0) != 0x80)
			goto bad;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		goto bad;
	*ret = c;
	return w;
bad:
	*ret = DOCKERFILE_RUNE_ERROR;
	return 1;
}

/* Encodes rune c as UTF-8 into out (4 bytes room); returns the length. */
static inline size_t
dockerfile_utf8_encode(uint32_t c, char *out)
{
	unsigned char *o = (unsigned char *)out;

	if (c < 0x80) {
		o[0] = (unsigned char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (unsigned char)(0xC0 | (c >> 6));
		o[1] = (unsigned char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (c >> 12));
		o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (c >> 18));
	o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (c & 0x3F));
	return 4;
}

/* Go's unicode.IsSpace. */
static inline bool
dockerfile_is_space_rune(uint32_t c)
{
	switch (c) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xA0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202F:
	case 0x205F:
	case 0x3000:
		return true;
	default:
		return c >= 0x2000 && c <= 0x200A;
	}
}

/* The characters of BuildKit's reWhitespace, `[\t\v\f\r ]`. */
static inline bool
dockerfile_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* Length of the leading Unicode white space of s[0..n). */
static inline size_t
dockerfile_space_prefix(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t c;
		size_t w = dockerfile_utf8_decode(s + i, n - i, &c);

		if (!dockerfile_is_space_rune(c))
			break;
		i += w;
	}
	return i;
}

/* Length of s[0..n) without its trailing Unicode white space (Go's strings.TrimRightFunc). */
static inline size_t
dockerfile_trim_space_right(const char *s, size_t n)
{
	size_t end = 0, i = 0;

	while (i < n) {
		uint32_t c;
		size_t w = dockerfile_utf8_decode(s + i, n - i, &c);

		i += w;
		if (!dockerfile_is_space_rune(c))
			end = i;
	}
	return end;
}
