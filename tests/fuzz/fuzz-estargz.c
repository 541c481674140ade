// SPDX-License-Identifier: Apache-2.0
/* Fuzz target: eStargz metadata — the input as a footer (its last 51 bytes: eStargz's footer,
 * or legacy stargz's 47-byte one), as a TOC member (gzip of a tar holding stargz.index.json)
 * and as TOC JSON → a diff tree, serialized in memory (no store: parsing and the layer
 * collector are what is fuzzed, not file I/O). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fs/tree.h"
#include "sources/imgsrc-internal.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
from_toc(const char *toc, size_t len, uint64_t toc_off)
{
	struct kl_error *err = NULL;
	struct tree_builder *b = NULL;
	struct digest blob;
	char *buf;
	size_t n;

	digest_buffer("fuzz", 4, &blob);
	if (imgsrc_toc_parse(toc, len, &blob, /* estargz= */ true, toc_off, "fuzz", &b, &err) < 0) {
		kl_error_freep(&err);
		return;
	}
	if (tree_builder_serialize(b, &buf, &n, &err) < 0)
		abort(); /* the collector made a diff tree the builder refuses */
	free(buf);
	tree_builder_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kl_error *err = NULL;
	uint64_t toc_off = size;
	char *toc = NULL;
	size_t len, tail;

	tail = size < IMGSRC_ESTARGZ_FOOTER_SIZE ? size : IMGSRC_ESTARGZ_FOOTER_SIZE;
	(void)imgsrc_estargz_footer(data + size - tail, tail, size, &toc_off);
	if (imgsrc_estargz_toc(data, size, &toc, &len, &err) >= 0) {
		from_toc(toc, len, toc_off);
		free(toc);
	} else {
		kl_error_freep(&err);
	}
	from_toc((const char *)data, size, toc_off);
	return 0;
}
