/* graph — a build graph: vertices, each one op with its inputs, in the order they are given
 * (inputs before the vertices that use them), and one result vertex.
 *
 * A graph comes from its versioned JSON form (docs/graph.md), read by graph_parse(), or is built
 * by a frontend with graph_new() and graph_add(); graph_to_json() writes the JSON form back.
 * Each vertex has a digest: the sha256 of its canonical form (its op's definition, with inputs
 * named by their own digests; names, descriptions and the ignore-cache flag left out), so the
 * same op on the same inputs has the same digest in every graph.
 *
 * Strings are owned by the graph (graph_add copies them). A graph is immutable once
 * graph_finish() ran (graph_parse does it) and may then be read from any thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "util/cleanup.h"

struct kl_error;
struct graph;

#define GRAPH_VERSION 1
#define GRAPH_MAX_VERTICES 65536u
#define GRAPH_MAX_INPUTS 256u      /* inputs of one vertex */
#define GRAPH_MAX_JSON (64u << 20) /* bytes of a graph's JSON form */
#define GRAPH_NO_INPUT UINT32_MAX  /* an input slot left empty: the empty tree (scratch) */

enum graph_op_kind {
	GRAPH_OP_SOURCE, /* a tree from outside the graph */
	GRAPH_OP_FILE,   /* file actions applied to a base tree */
	GRAPH_OP_EXEC,   /* a command run over a root tree; the result is the root after it */
	GRAPH_OP_MERGE,  /* inputs stacked in order, later ones over earlier ones */
	GRAPH_OP_DIFF,   /* inputs[1] (upper) minus inputs[0] (lower), as a diff tree */
	_GRAPH_OP_MAX
};

/* Sources. */

enum graph_source_kind {
	GRAPH_SOURCE_SCRATCH, /* the empty tree */
	GRAPH_SOURCE_LOCAL,   /* a local directory bound by name at solve time (--local NAME=DIR) */
	GRAPH_SOURCE_GIT,     /* a git URL#ref[:subdir] */
	GRAPH_SOURCE_IMAGE,   /* an image reference (docker-image://, oci-layout://, or a name) */
	GRAPH_SOURCE_HTTP,    /* one file downloaded over http(s) */
	_GRAPH_SOURCE_MAX
};

struct graph_strv {
	char **v;
	size_t n;
};

struct graph_source {
	enum graph_source_kind kind;
	char *name;                /* local: the binding name ("context") */
	struct graph_strv include; /* local: only paths matching these (.dockerignore syntax) */
	struct graph_strv exclude; /* local: not paths matching these */
	struct graph_strv
	    followpaths;   /* local: only these paths (and symlink targets among them) */
	char *ref;         /* git: URL#ref[:subdir]; image: reference; http: URL */
	bool keep_git_dir; /* git: keep .git in the tree */
	char *platform;    /* image: "os/arch[/variant]"; NULL: the build's platform */
	char *checksum;    /* http: the expected "sha256:<hex>", or NULL */
	char *filename;    /* http: the file's name in the tree; NULL: from the URL */
	uint32_t mode;     /* http: the file's mode (0: 0600, as BuildKit) */
	uint32_t uid, gid; /* http: the file's owner */
};

/* File actions, applied in order to the vertex's base tree (inputs[0], or the empty tree). */

enum graph_file_action_kind {
	GRAPH_FILE_COPY,
	GRAPH_FILE_MKDIR,
	GRAPH_FILE_MKFILE,
	GRAPH_FILE_RM,
	GRAPH_FILE_SYMLINK,
	_GRAPH_FILE_ACTION_MAX
};

/* A user or group as a Dockerfile gives it: a name, resolved in the destination tree's
 * /etc/passwd and /etc/group, or a number; NULL: unchanged (copy) or 0 (created entries). */
struct graph_owner {
	char *user;
	char *group; /* NULL with user set: the user's primary group (a number user: the same) */
};

struct graph_file_action {
	enum graph_file_action_kind kind;
	/* copy: the vertex input (index into inputs) the files come from */
	uint32_t from;
	/* copy: the source path or glob in from's tree; mkdir, mkfile, rm: the path; symlink:
	 * the link's path. Absolute, or relative to cwd. */
	char *src;
	char *dest;   /* copy: the destination (a trailing '/' means "into this directory") */
	char *target; /* symlink: what the link points to */
	char *cwd;    /* for relative paths: the working directory (NULL: "/") */
	char *data;   /* mkfile: the bytes (data_len of them) */
	size_t data_len;
	bool has_mode;
	/* copy: chmod (07777) of every copied entry, directories too, symlinks not; mkdir,
	 * mkfile: the mode, its permission bits as BuildKit keeps them (without has_mode: 0755,
	 * 0644) */
	uint32_t mode;
	struct graph_owner owner;
	bool has_timestamp;
	/* seconds since the epoch: the mtime of written entries (copy: else kept; others: else
	 * 0) */
	int64_t timestamp;
	/* copy: a src (or glob match) that is a symlink is copied as its target, under its own
	 * name; symlinks inside copied directories stay links */
	bool follow_symlinks;
	bool dir_contents;   /* copy: a src directory's contents go into dest, not the dir */
	bool create_parents; /* copy: missing parents of dest are made (0755, owner, timestamp),
	                      * else dest's parent must exist; mkdir: made with mode and owner */
	bool allow_wildcard; /* copy, rm: src may be a glob (Go's filepath.Match syntax) */
	bool allow_empty_wildcard; /* copy: a glob matching nothing is no error */
	bool allow_not_found;      /* rm: a missing path is no error */
	/* copy: a src that is a tar archive (plain, gzip, bzip2, xz or zstd, told by its content)
	 * is extracted into dest, a directory; any other file is copied */
	bool unpack;
	struct graph_strv include; /* copy: only paths below each match matching these */
	struct graph_strv exclude; /* copy: not paths below each match matching these */
};

struct graph_file {
	struct graph_file_action *actions;
	size_t n_actions;
};

/* Exec. */

enum graph_network { GRAPH_NET_HOST, GRAPH_NET_NONE, _GRAPH_NET_MAX }; /* default: host */
enum graph_security { GRAPH_SECURITY_SANDBOX, GRAPH_SECURITY_INSECURE, _GRAPH_SECURITY_MAX };

enum graph_mount_kind {
	GRAPH_MOUNT_BIND,
	GRAPH_MOUNT_CACHE,
	GRAPH_MOUNT_TMPFS,
	GRAPH_MOUNT_SECRET,
	GRAPH_MOUNT_SSH,
	_GRAPH_MOUNT_MAX
};

enum graph_cache_sharing {
	GRAPH_CACHE_SHARED,
	GRAPH_CACHE_PRIVATE,
	GRAPH_CACHE_LOCKED,
	_GRAPH_CACHE_SHARING_MAX
};

struct graph_mount {
	enum graph_mount_kind kind;
	char *target;   /* absolute path in the container; secret: NULL with env set (graph_add
	                 * fills /run/secrets/<id> when both are NULL, and ssh's
	                 * /run/buildkit/ssh_agent.<n>) */
	uint32_t input; /* bind: the vertex input mounted; cache: the input seeding an empty
	                 * cache ("from"); GRAPH_NO_INPUT: none (set it: 0 is the first input).
	                 * Ignored (made GRAPH_NO_INPUT) for tmpfs, secret and ssh. */
	char *source;   /* bind, cache: the path inside input ("/" when NULL) */
	bool readonly;  /* bind: false means writable, changes discarded */
	char *id;       /* cache: the cache's id (NULL: target); secret: the id (required);
	                 * ssh: the id (NULL: "default") */
	enum graph_cache_sharing sharing;
	bool has_mode;
	uint32_t mode; /* cache: of a new cache dir (0755); secret: 0400; ssh: 0600 */
	uint32_t uid, gid;
	uint64_t size; /* tmpfs: bytes, 0: the kernel's default */
	char *env;     /* secret: the variable it is also (or only) given as */
	bool required; /* secret, ssh: a missing one is an error (else the mount is skipped) */
};

struct graph_exec {
	struct graph_strv args;
	struct graph_strv env;       /* "K=V"; PATH defaults to Docker's when absent */
	struct graph_strv proxy_env; /* HTTP_PROXY… "K=V": given to the step, never in its key */
	char *cwd;                   /* NULL: "/" */
	char *user;                  /* "user[:group]", names or ids; NULL: root */
	char *hostname;              /* NULL: "kiln" */
	struct graph_strv extra_hosts; /* "host=ip" lines added to /etc/hosts */
	enum graph_network network;
	enum graph_security security;
	struct graph_mount *mounts;
	size_t n_mounts;
};

/* A vertex. Only the member of its kind is set. */
struct graph_vertex {
	char *id;   /* the JSON id, for messages */
	char *name; /* what progress shows: "[stage-0 2/3] RUN make" (NULL: from the op) */
	enum graph_op_kind kind;
	uint32_t *inputs; /* indices of earlier vertices, or GRAPH_NO_INPUT */
	size_t n_inputs;
	bool ignore_cache; /* run even when a cached result exists (and record the new one) */
	struct graph_source source;
	struct graph_file file;
	struct graph_exec exec;
	struct digest digest; /* after graph_finish: sha256 of the canonical form */
	char *display_name;   /* set by graph_add: name, else one made from the op */
};

/* Reads a graph's JSON form (at most GRAPH_MAX_JSON bytes). Errors name the field by its JSON
 * path ("vertices[3].exec.mounts[0].sharing: expected shared, private or locked") prefixed with
 * origin (a file name, "-" for stdin): an unknown version or field, a wrong type, an input that
 * is not an earlier vertex, a missing result. */
int graph_parse(const char *json, size_t len, const char *origin, struct graph **ret,
                struct kl_error **err);
/* Writes the JSON form (the same that graph_parse reads); a new NUL-terminated string. */
char *graph_to_json(const struct graph *g);

/* Building: add vertices in order (inputs must be earlier vertices), set the result, finish. */
struct graph *graph_new(void);
/* Copies v (its digest and display_name are ignored; a NULL id becomes "v<index>"); returns
 * the new vertex's index, or -EINVAL with a message for a bad input index, a missing required
 * field, a string that is not UTF-8 or a repeated id. Fills the defaults the header names
 * (secret and ssh targets, ssh id) so the canonical form holds them. */
int graph_add(struct graph *g, const struct graph_vertex *v, struct kl_error **err);
/* Validates and computes every digest; the graph is immutable afterwards. */
int graph_finish(struct graph *g, uint32_t result, struct kl_error **err);
/* NULL-safe; returns NULL. */
struct graph *graph_free(struct graph *g);
KL_DEFINE_CLEANUP(struct graph *, graph_free)

size_t graph_count(const struct graph *g);
/* The index of the vertex with that id, or -ENOENT. */
int graph_find(const struct graph *g, const char *id, uint32_t *ret);
const struct graph_vertex *graph_vertex(const struct graph *g, uint32_t idx);
uint32_t graph_result(const struct graph *g);
/* The name progress shows for v: its name, else one made from the op ("exec /bin/sh -c …");
 * valid as long as the graph. */
const char *graph_vertex_display_name(const struct graph_vertex *v);
