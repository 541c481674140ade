/* dl — a shared library loaded with dlopen() on first use, its functions resolved into a table.
 *
 * kiln links only the libraries every command needs; the big ones that only some commands use
 * (libcurl, libgit2, libarchive: util/dl-*.h) are loaded by the code that calls them, so that
 * every other command starts without them. Thread-safe: any thread may load, once per process. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct kl_error;

/* One function a loader resolves: its name in the library and where its address goes in the
 * table (offsetof a function pointer field). */
struct kl_dl_symbol {
	const char *name;
	size_t offset;
};

/* A library loaded on first use. A loader defines one, static, with KL_DL_LIBRARY(); the
 * fields below table are kl_dl_load()'s. */
struct kl_dl_library {
	const char *name; /* as a person knows it: "libcurl" */
	const char *soname;
	const struct kl_dl_symbol *symbols;
	size_t n_symbols;
	void *table;          /* filled before loaded is set; read-only after */
	pthread_mutex_t lock; /* serialises the first load */
	atomic_bool loaded;
};

/* A struct kl_dl_library for name, loaded as soname, whose symbols (an array) go into *tbl. */
#define KL_DL_LIBRARY(nm, so, syms, tbl)                                                           \
	{                                                                                          \
		.name = (nm), .soname = (so), .symbols = (syms),                                   \
		.n_symbols = sizeof(syms) / sizeof((syms)[0]), .table = (tbl),                     \
		.lock = PTHREAD_MUTEX_INITIALIZER,                                                 \
	}

/* Loads lib and resolves every symbol into its table on the first call; later calls return 0
 * at once. The library is never unloaded. -ELIBACC, with err naming the library and what the
 * dynamic loader said, when it or one of its functions cannot be found; a later call tries
 * again. */
int kl_dl_load(struct kl_dl_library *lib, struct kl_error **err);
/* lib's table, loaded if it was not: for the accessors kiln calls the library through. Aborts
 * when it cannot be loaded — only reached when a caller skipped its kl_*_load(), which reports
 * the error: a bug, not a condition to handle. */
const void *kl_dl_table(struct kl_dl_library *lib);
