/* dockerfile-dump — the S-expression form of a parse, as BuildKit's parser tests compare it:
 * one line per instruction, `(copy ["--chown=1:1"] "a" "b")`: the instruction lowercased, its
 * flags as a bracketed list of quoted strings when there are any, then each argument quoted
 * with Go's escapes (\" \\ \t \n \x00 …); ONBUILD's instruction nested as `(onbuild (run "x"))`;
 * a bare instruction is `(cmd)`. Pure. */
#pragma once
#include <stddef.h>

struct dockerfile;
struct dockerfile_node;
struct kl_strbuf;

/* Appends s[0..n) quoted as Go's strconv.Quote does: "\"" and "\\" escaped, \a \b \f \n \r
 * \t \v, other control characters and invalid UTF-8 bytes as \xHH, unprintable runes as \uHHHH
 * or \UHHHHHHHH (Go's unicode.IsPrint, up to code points Unicode has not assigned, which are
 * printed as they are), everything else as it is. */
void dockerfile_go_quote(struct kl_strbuf *b, const char *s, size_t n);

/* The whole dump: "(" node ")\n" for each instruction. A new string (*ret_len bytes). */
char *dockerfile_dump(const struct dockerfile *df, size_t *ret_len);
