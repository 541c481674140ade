/* gitsrc-spec — parsing a git SOURCE string ("URL#ref:subdir", Docker's syntax) without touching
 * the network or the filesystem, so it can be unit-tested and fuzzed.
 *
 * URL forms: git://, http://, https://, ssh://, file:// (scheme case-insensitive), scp-like
 * "user@host:path", and anything else is taken for a local path (whether it is a repository is
 * for the caller to find out). The fragment after the first '#' is "ref", "ref:subdir" or
 * ":subdir"; an empty ref means the remote's HEAD. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct kl_error;

#define GITSRC_MAX_SPEC 8192u /* bytes in a whole spec */
#define GITSRC_MAX_REF 1024u  /* bytes in a ref */

enum gitsrc_url_kind {
	GITSRC_URL_REMOTE, /* git://, http://, https://, ssh:// */
	GITSRC_URL_SCP,    /* user@host:path */
	GITSRC_URL_FILE,   /* file://PATH */
	GITSRC_URL_LOCAL,  /* a path */
	_GITSRC_URL_MAX
};

enum gitsrc_ref_kind {
	GITSRC_REF_HEAD,   /* none given, or "HEAD": the remote's default branch */
	GITSRC_REF_FULL,   /* "refs/…": that exact remote ref */
	GITSRC_REF_NAME,   /* a branch or tag name (tags win, as in git) */
	GITSRC_REF_SHORT,  /* 4 to 39 hex digits: a name if the remote has one, else a commit prefix
	                    */
	GITSRC_REF_COMMIT, /* 40 hex digits, lowercased */
	_GITSRC_REF_MAX
};

struct gitsrc_spec {
	char *url;    /* as written, without the fragment; for GITSRC_URL_FILE the path only */
	char *ref;    /* "" for GITSRC_REF_HEAD; lowercased for COMMIT, as written otherwise */
	char *subdir; /* "" for the root, else a clean relative path */
	enum gitsrc_url_kind url_kind;
	enum gitsrc_ref_kind ref_kind;
};

/* The kind of URL spec's text (up to its '#') has; cheap, pure. */
enum gitsrc_url_kind gitsrc_spec_url_kind(const char *spec, size_t len);

/* Parses spec into *ret (fields malloc'd; free with gitsrc_spec_done). -EINVAL with a message
 * naming the spec for: an empty or over-long spec or URL, control characters, a URL without a
 * host, a ref git would refuse (see gitsrc_ref_is_valid), a subdir with "." or ".." parts. */
int gitsrc_spec_parse(const char *spec, struct gitsrc_spec *ret, struct kl_error **err);
void gitsrc_spec_done(struct gitsrc_spec *sp);

/* git check-ref-format's rules for a name given on a command line ("main", "v1.2",
 * "refs/pull/1/head"): no control or space characters, none of ~^:?*[\, no "..", "@{", "//",
 * no leading '-' or '/', no trailing '/', '.' or ".lock", no component starting with '.'. */
bool gitsrc_ref_is_valid(const char *ref, size_t len);

/* The repository key of a remote URL: scheme and host lowercased, trailing slashes dropped, so
 * spellings of one remote share a bare repository. For local and file URLs the caller passes
 * an absolute, resolved path and gets "file://" + path. Returns a new string. */
char *gitsrc_spec_url_key(const struct gitsrc_spec *sp, const char *resolved_path);
