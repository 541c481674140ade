/* graph-internal — what the graph's files and the cache keys share: the op objects of the JSON
 * form (docs/graph.md), written from a vertex, and the names of kinds and enums. */
#pragma once
#include <jansson.h>
#include <stdint.h>

#include "solver/graph.h"

enum graph_emit_flags {
	GRAPH_EMIT_CANONICAL = 1 << 0, /* modes as numbers (the digest's form) */
	GRAPH_EMIT_NO_PROXY = 1 << 1,  /* proxy_env left out (cache keys) */
};

/* The value of v's op member ("source", "file", "exec", "merge" or "diff"), fields at their
 * defaults left out, so a field added later leaves older digests unchanged. A new reference;
 * NULL only for a string jansson refuses, which graph_add never lets in. */
json_t *graph_emit_op(const struct graph_vertex *v, unsigned flags);

/* One file action's object, as in the op's "actions" (for keys of what one action does). */
json_t *graph_emit_action(const struct graph_file_action *a, unsigned flags);

/* The op member's name of a kind: "source", "file", "exec", "merge", "diff". */
const char *graph_op_name(enum graph_op_kind k);
const char *graph_source_name(enum graph_source_kind k);
const char *graph_action_name(enum graph_file_action_kind k);
const char *graph_mount_name(enum graph_mount_kind k);
const char *graph_sharing_name(enum graph_cache_sharing k);
const char *graph_network_name(enum graph_network k);
const char *graph_security_name(enum graph_security k);

/* Frees what a vertex owns (its inputs, strings and op) and zeroes it. */
void graph_vertex_done(struct graph_vertex *v);

/* The canonical JSON text of v with its inputs named by ids[0..v->n_inputs) (NULL entries for
 * empty slots): what the digest hashes. A new string. */
char *graph_canonical_json(const struct graph_vertex *v, const struct digest *const *ids);
