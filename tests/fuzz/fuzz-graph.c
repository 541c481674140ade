// SPDX-License-Identifier: Apache-2.0
/* Fuzz target for graph_parse: any input is refused with a one-line message naming where, or
 * parses into a graph whose JSON form reads back into the same digests and the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "solver/graph.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct graph *g = NULL, *g2 = NULL;
	struct kl_error *err = NULL;
	char *j1, *j2;

	if (graph_parse((const char *)data, size, "fuzz", &g, &err) < 0) {
		CHECK(!g && err && err->msg && !strchr(err->msg, '\n'));
		CHECK(!strncmp(err->msg, "fuzz", 4));
		kl_error_free(err);
		return 0;
	}
	CHECK(!err && g && graph_count(g) > 0 && graph_result(g) < graph_count(g));
	for (uint32_t i = 0; i < graph_count(g); i++) {
		const struct graph_vertex *v = graph_vertex(g, i);

		CHECK(graph_vertex_display_name(v) && !strchr(graph_vertex_display_name(v), '\n'));
		for (size_t k = 0; k < v->n_inputs; k++)
			CHECK(v->inputs[k] == GRAPH_NO_INPUT || v->inputs[k] < i);
	}
	j1 = graph_to_json(g);
	CHECK(graph_parse(j1, strlen(j1), "again", &g2, NULL) == 0);
	j2 = graph_to_json(g2);
	CHECK(!strcmp(j1, j2));
	CHECK(graph_count(g) == graph_count(g2) && graph_result(g) == graph_result(g2));
	for (uint32_t i = 0; i < graph_count(g); i++)
		CHECK(digest_equal(&graph_vertex(g, i)->digest, &graph_vertex(g2, i)->digest));
	free(j1);
	free(j2);
	graph_free(g);
	graph_free(g2);
	return 0;
}
