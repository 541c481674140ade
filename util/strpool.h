/* strpool — strings a parser makes while filling structs that only borrow them, freed
 * together once the structs are done with. Not thread-safe: one owner at a time. */
#pragma once
#include <stddef.h>

struct kl_strpool {
	char **v;
	size_t n;
}; /* { 0 }: empty */

/* Takes ownership of s (NULL is kept as is) and returns it, to store where it is borrowed. */
char *kl_strpool_own(struct kl_strpool *p, char *s);
/* Frees every string of p and empties it. */
void kl_strpool_done(struct kl_strpool *p);
