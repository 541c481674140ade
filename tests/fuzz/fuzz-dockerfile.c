// SPDX-License-Identifier: Apache-2.0
/* Fuzz target for the Dockerfile parser, its dump and the typed instructions: any input is
 * refused with one located message or parses into nodes whose dump is stable, whose lines are
 * in order, and whose instructions either type-check or are refused with one message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-dump.h"
#include "frontend/dockerfile-instr.h"
#include "frontend/dockerfile-parse.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void
check_nodes(const struct dockerfile *df)
{
	unsigned last = 0;

	for (size_t i = 0; i < df->n_nodes; i++) {
		const struct dockerfile_node *n = &df->nodes[i];

		CHECK(n->value && n->original); /* a name may start with a NUL byte */
		CHECK(n->start_line > last && n->end_line >= n->start_line);
		last = n->end_line;
		for (size_t k = 0; k < n->n_args; k++)
			CHECK(n->args[k].s && n->args[k].s[n->args[k].len] == '\0');
		for (size_t k = 0; k < n->n_flags; k++)
			CHECK(strncmp(n->flags[k], "--", 2) == 0);
		for (size_t k = 0; k < n->n_heredocs; k++)
			CHECK(n->heredocs[k].name && n->heredocs[k].content);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dockerfile_source src = {"Dockerfile", (const char *)data, size};
	struct dockerfile_error *e = NULL;
	struct dockerfile_parse_options opts = {.error = &e};
	struct dockerfile_instrs in = {0};
	struct kl_error *err = NULL;
	struct dockerfile *df = NULL;
	char *dump, *again;
	size_t len, len2;

	if (dockerfile_parse(&src, &opts, &df, &err) < 0) {
		CHECK(err && err->msg && !strchr(err->msg, '\n') &&
		      strncmp(err->msg, "Dockerfile", 10) == 0);
		CHECK(e && e->message &&
		      (e->line == 0) == (e->source_line == NULL || e->line == 0));
		kl_error_free(err);
		dockerfile_error_free(e);
		return 0;
	}
	CHECK(!err && !e && df->n_nodes > 0 && (df->escape == '\\' || df->escape == '`'));
	check_nodes(df);
	dump = dockerfile_dump(df, &len);
	again = dockerfile_dump(df, &len2);
	CHECK(len == len2 && memcmp(dump, again, len) == 0);
	CHECK(len > 0 && dump[len - 1] == '\n');
	free(dump);
	free(again);
	if (dockerfile_instrs_parse(df, &src, &in, &e, &err) < 0) {
		CHECK(err && err->msg && e && e->line > 0);
		kl_error_free(err);
		dockerfile_error_free(e);
	} else {
		CHECK(in.n == df->n_nodes && in.n_meta_args <= in.n);
		for (size_t i = 0; i < in.n; i++)
			CHECK((unsigned)in.v[i].kind < _DOCKERFILE_INSTR_MAX);
		dockerfile_instrs_done(&in);
	}
	dockerfile_free(df);
	return 0;
}
