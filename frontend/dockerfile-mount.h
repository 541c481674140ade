/* dockerfile-mount — RUN --mount values, parsed as BuildKit parses them: a CSV record of
 * key=value fields (type=bind|cache|tmpfs|secret|ssh, from, source|src, target|dst|destination,
 * readonly|ro, readwrite|rw, required, id, sharing=shared|private|locked, mode (octal), uid,
 * gid, size (tmpfs), env (secret)), each value expanded like a shell word, then the rules
 * between the options checked. Pure. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct dockerfile_expander;
struct kl_error;

enum dockerfile_mount_type {
	DOCKERFILE_MOUNT_BIND, /* the default */
	DOCKERFILE_MOUNT_CACHE,
	DOCKERFILE_MOUNT_TMPFS,
	DOCKERFILE_MOUNT_SECRET,
	DOCKERFILE_MOUNT_SSH,
	_DOCKERFILE_MOUNT_MAX
};

enum dockerfile_mount_sharing {
	DOCKERFILE_SHARING_UNSET, /* a cache mount then shares (BuildKit's default) */
	DOCKERFILE_SHARING_SHARED,
	DOCKERFILE_SHARING_PRIVATE,
	DOCKERFILE_SHARING_LOCKED,
	_DOCKERFILE_SHARING_MAX
};

struct dockerfile_mount {
	char *spec;    /* the --mount value as written */
	bool deferred; /* it uses variables: the fields below are filled only by
	                * dockerfile_mount_parse() with the stage's expander, at conversion */
	enum dockerfile_mount_type type;
	char *from;    /* a stage or image to take source from; NULL when not given */
	char *source;  /* NULL when not given */
	char *target;  /* NULL when not given */
	char *id;      /* cache or secret id; NULL when not given */
	char *env;     /* secret exposed as this environment variable; NULL when not given */
	bool readonly; /* explicit, or the default: false for cache and tmpfs, true otherwise */
	bool required; /* secret and ssh only */
	enum dockerfile_mount_sharing sharing;
	bool has_mode, has_uid, has_gid; /* secret, ssh and cache only */
	uint32_t mode, uid, gid;
	int64_t size; /* tmpfs size limit in bytes, 0 when not given */
};

/* Parses spec into *ret (free with dockerfile_mount_done). Each value goes through ex (escape
 * character, variables; NULL: as written). With ex NULL a spec holding '$' is only checked the
 * way BuildKit checks it before variables are known (CSV syntax; no variable in from=) and comes
 * back deferred. -EINVAL with *ret_msg (malloc'd), worded as BuildKit's: "unsupported mount type
 * "x" (did you mean cache?)", "unexpected key 'x' in 'x=1'", "invalid value for ro: maybe",
 * "mode not allowed for "bind" type mounts", "invalid secret mount. one of source, target
 * required", …; an expansion error's message as the expander words it. */
int dockerfile_mount_parse(const char *spec, const struct dockerfile_expander *ex,
                           struct dockerfile_mount *ret, char **ret_msg);

/* Frees what m holds. */
void dockerfile_mount_done(struct dockerfile_mount *m);
