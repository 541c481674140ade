/* cleanup — scope-bound release of memory, fds and objects (the one copy in kiln). */
#pragma once
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(kl_freep)
#define _cleanup_close_ _cleanup_(kl_closep)

static inline void
kl_freep(void *p)
{
	free(*(void **)p);
}

/* Closing keeps errno: cleanup runs after an error was read from it. */
static inline void
kl_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd);
		errno = saved;
	}
}

/* Hands a pointer (or fd) out of a cleanup scope: returns it and clears the variable. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _taken = (p);                                                        \
		(p) = NULL;                                                                        \
		_taken;                                                                            \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _taken = (fd);                                                                 \
		(fd) = -1;                                                                         \
		_taken;                                                                            \
	})

/* KL_DEFINE_CLEANUP(struct tree *, tree_unref) defines tree_unrefp(), which sets the variable
 * to what tree_unref() returns (NULL), so a cleaned variable never dangles. */
#define KL_DEFINE_CLEANUP(type, func)                                                              \
	static inline void func##p(type *p)                                                        \
	{                                                                                          \
		if (*p)                                                                            \
			*p = func(*p);                                                             \
	}
