// SPDX-License-Identifier: Apache-2.0
/* Fuzz target for gitsrc_spec_parse: any input is rejected with a message or parses into a
 * consistent spec (a valid ref, a clean subdir, a URL that reparses to the same kind and key). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/gitsrc-spec.h"
#include "util/error.h"
#include "util/path.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void
check_reparse(const struct gitsrc_spec *sp)
{
	char *again = xasprintf("%s%s%s#%s:%s", sp->url_kind == GITSRC_URL_FILE ? "file://" : "",
	                        sp->url, "", sp->ref, sp->subdir);
	struct gitsrc_spec sp2;
	char *k1, *k2;

	CHECK(gitsrc_spec_parse(again, &sp2, NULL) == 0);
	CHECK(sp2.url_kind == sp->url_kind && sp2.ref_kind == sp->ref_kind);
	CHECK(strcmp(sp2.url, sp->url) == 0 && strcmp(sp2.ref, sp->ref) == 0);
	CHECK(strcmp(sp2.subdir, sp->subdir) == 0);
	k1 = gitsrc_spec_url_key(sp, "/r");
	k2 = gitsrc_spec_url_key(&sp2, "/r");
	CHECK(strcmp(k1, k2) == 0);
	free(k1);
	free(k2);
	gitsrc_spec_done(&sp2);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = xstrndup((const char *)data, size);
	struct kl_error *err = NULL;
	struct gitsrc_spec sp;
	size_t n;

	(void)gitsrc_spec_url_kind(spec, strlen(spec));
	if (gitsrc_spec_parse(spec, &sp, &err) < 0) {
		CHECK(err && err->msg && !strchr(err->msg, '\n'));
		kl_error_free(err);
		free(spec);
		return 0;
	}
	CHECK(!err);
	CHECK((unsigned)sp.url_kind < _GITSRC_URL_MAX && (unsigned)sp.ref_kind < _GITSRC_REF_MAX);
	CHECK(sp.url[0] != '\0' && !strchr(sp.url, '#'));
	n = strlen(sp.ref);
	CHECK((sp.ref_kind == GITSRC_REF_HEAD) == (n == 0));
	CHECK(n == 0 || gitsrc_ref_is_valid(sp.ref, n));
	CHECK(sp.ref_kind != GITSRC_REF_COMMIT || n == 40);
	CHECK(sp.subdir[0] == '\0' || kl_path_is_clean_relative(sp.subdir, strlen(sp.subdir)));
	/* a ref holds no ':', a URL no '#': the parts reassemble into the same spec */
	CHECK(!strchr(sp.ref, ':'));
	check_reparse(&sp);
	gitsrc_spec_done(&sp);
	free(spec);
	return 0;
}
