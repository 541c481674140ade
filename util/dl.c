// SPDX-License-Identifier: Apache-2.0
/* Loading a shared library on first use and resolving its functions into a table. */
#include "util/dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static int
resolve(struct kl_dl_library *lib, void *handle, struct kl_error **err)
{
	for (size_t i = 0; i < lib->n_symbols; i++) {
		const struct kl_dl_symbol *s = &lib->symbols[i];
		void *p;

		(void)dlerror();
		p = dlsym(handle, s->name);
		if (!p)
			return kl_error_setf(err, ELIBACC, "loading %s: no function '%s' in %s",
			                     lib->name, s->name, lib->soname);
		/* POSIX makes dlsym()'s object pointer convertible to the function pointer */
		memcpy((char *)lib->table + s->offset, &p, sizeof(p));
	}
	return 0;
}

int
kl_dl_load(struct kl_dl_library *lib, struct kl_error **err)
{
	void *handle;
	int r = 0;

	if (atomic_load_explicit(&lib->loaded, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&lib->lock);
	if (atomic_load_explicit(&lib->loaded, memory_order_relaxed))
		goto out;
	handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		const char *why = dlerror();

		r = kl_error_setf(err, ELIBACC, "loading %s: %s", lib->name,
		                  why ? why : "unknown error");
		goto out;
	}
	r = resolve(lib, handle, err);
	if (r < 0) {
		(void)dlclose(handle);
		goto out;
	}
	atomic_store_explicit(&lib->loaded, true, memory_order_release);
out:
	pthread_mutex_unlock(&lib->lock);
	return r;
}

const void *
kl_dl_table(struct kl_dl_library *lib)
{
	if (kl_dl_load(lib, /* err= */ NULL) < 0)
		abort();
	return lib->table;
}
