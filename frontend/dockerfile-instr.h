/* dockerfile-instr — typed instructions from the raw parse, with their flags parsed and checked
 * as BuildKit's instructions package does (the same rules, the same messages), ready for
 * conversion to a build graph:
 *
 *   FROM [--platform=P] image [AS name]      RUN [--mount=…]… [--network=M] [--security=S] cmd
 *   COPY [--from --chown --chmod --link --parents --exclude]… src… dest
 *   ADD [--chown --chmod --checksum --link --keep-git-dir --unpack --exclude]… src… dest
 *   CMD / ENTRYPOINT / SHELL (JSON only)     ENV / LABEL key=value…  ARG name[=default]…
 *   HEALTHCHECK NONE | [--interval --timeout --start-period --start-interval --retries] CMD …
 *   EXPOSE VOLUME USER WORKDIR STOPSIGNAL MAINTAINER ONBUILD
 *
 * Nothing is expanded here: values keep their $variables for the conversion, which expands
 * them with the stage's variables (dockerfile-expand.h) — as BuildKit does, only HEALTHCHECK's
 * durations and retries, RUN's --network and --security, and --mount values without variables
 * are checked now; a --mount with variables is checked when conversion expands it
 * (dockerfile_mount_parse). Strings are NUL-terminated; an argument holding a NUL is refused. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/dockerfile-mount.h"

struct dockerfile;
struct dockerfile_error;
struct dockerfile_expander;
struct dockerfile_node;
struct dockerfile_source;
struct dockerfile_warnings;
struct kl_error;

enum dockerfile_instr_kind {
	DOCKERFILE_ADD,
	DOCKERFILE_ARG,
	DOCKERFILE_CMD,
	DOCKERFILE_COPY,
	DOCKERFILE_ENTRYPOINT,
	DOCKERFILE_ENV,
	DOCKERFILE_EXPOSE,
	DOCKERFILE_FROM,
	DOCKERFILE_HEALTHCHECK,
	DOCKERFILE_LABEL,
	DOCKERFILE_MAINTAINER,
	DOCKERFILE_ONBUILD,
	DOCKERFILE_RUN,
	DOCKERFILE_SHELL,
	DOCKERFILE_STOPSIGNAL,
	DOCKERFILE_USER,
	DOCKERFILE_VOLUME,
	DOCKERFILE_WORKDIR,
	_DOCKERFILE_INSTR_MAX
};

/* The instruction's name in capitals ("RUN"). */
const char *dockerfile_instr_name(enum dockerfile_instr_kind k);

struct dockerfile_strv {
	char **v;
	size_t n;
};

struct dockerfile_kv {
	char *key;
	char *value;    /* ARG: NULL when no default is given */
	bool no_equals; /* ENV/LABEL in the legacy "key value" form */
};

struct dockerfile_kvs {
	struct dockerfile_kv *v;
	size_t n;
};

/* A heredoc used as a file: COPY <<EOF /dst, RUN's inline scripts. */
struct dockerfile_inline_file {
	char *name; /* the heredoc's word: COPY's source file name */
	char *data; /* the body; for COPY/ADD already without leading tabs when chomp */
	size_t len;
	bool expand; /* the word was not quoted: expand variables in data (quotes untouched) */
	bool chomp;  /* <<-: RUN strips the tabs at conversion, COPY/ADD already did */
	unsigned fd; /* RUN: N of N<<EOF (0: stdin of the shell) */
};

/* RUN, CMD, ENTRYPOINT: exec form (argv as written), or shell form (one element, the command
 * line, run as SHELL + it). ENTRYPOINT [] unsets the entrypoint: n == 0 with exec form. */
struct dockerfile_cmdline {
	struct dockerfile_strv args;
	bool shell_form;
	struct dockerfile_inline_file *files; /* RUN's heredocs, in order */
	size_t n_files;
};

enum dockerfile_network {
	DOCKERFILE_NETWORK_DEFAULT,
	DOCKERFILE_NETWORK_NONE,
	DOCKERFILE_NETWORK_HOST,
	_DOCKERFILE_NETWORK_MAX
};

enum dockerfile_security {
	DOCKERFILE_SECURITY_SANDBOX,
	DOCKERFILE_SECURITY_INSECURE,
	_DOCKERFILE_SECURITY_MAX
};

struct dockerfile_run {
	struct dockerfile_cmdline cmd;
	struct dockerfile_mount *mounts;
	size_t n_mounts;
	enum dockerfile_network network;
	enum dockerfile_security security;
};

/* COPY and ADD. Every string keeps its $variables for the conversion to expand. */
struct dockerfile_copy {
	struct dockerfile_strv sources;                /* paths, URLs, git URLs, as written */
	struct dockerfile_inline_file *inline_sources; /* heredoc sources */
	size_t n_inline_sources;
	char *dest;
	char *from;  /* COPY --from; NULL when not given */
	char *chown; /* NULL when not given */
	char *chmod; /* NULL when not given */
	bool link;
	bool parents; /* COPY only */
	struct dockerfile_strv excludes;
	char *checksum;    /* ADD only; NULL when not given */
	bool keep_git_dir; /* ADD only */
	int unpack;        /* ADD only: -1 not given (archives from the context unpack, URLs not),
	                    * 0 --unpack=false, 1 --unpack */
};

struct dockerfile_from {
	char *image;    /* the base: an image reference, a stage name, "scratch" */
	char *name;     /* the stage name after AS, lowercased; NULL without AS */
	char *platform; /* --platform; NULL when not given */
};

struct dockerfile_healthcheck {
	bool none;                   /* HEALTHCHECK NONE: disable the base image's check */
	struct dockerfile_strv test; /* "CMD" + argv, or "CMD-SHELL" + command line */
	int64_t interval_ns, timeout_ns, start_period_ns, start_interval_ns; /* 0: not given */
	int retries;                                                         /* 0: not given */
};

struct dockerfile_instr {
	enum dockerfile_instr_kind kind;
	const struct dockerfile_node *node; /* lent: the raw node (lines, original text) */
	unsigned start_line, end_line;
	union {
		struct dockerfile_from from;
		struct dockerfile_run run;
		struct dockerfile_cmdline cmd; /* CMD, ENTRYPOINT */
		struct dockerfile_copy copy;   /* COPY, ADD */
		struct dockerfile_kvs kvs;     /* ENV, LABEL, ARG */
		struct dockerfile_strv list;   /* EXPOSE (sorted), VOLUME, SHELL */
		char *str;                     /* USER, WORKDIR, STOPSIGNAL, MAINTAINER */
		struct dockerfile_healthcheck health;
		char *onbuild; /* the trigger's text, heredocs included */
	} u;
};

struct dockerfile_instrs {
	struct dockerfile_instr *v;
	size_t n;
	size_t n_meta_args; /* the ARGs before the first FROM: v[0..n_meta_args) */
};

/* Builds one typed instruction from a raw node. escape is the Dockerfile's escape character
 * (for --mount values). -EINVAL with *ret_msg (malloc'd) worded as BuildKit's messages
 * ("unknown instruction: FORM (did you mean FROM?)", "unknown flag: --form (did you mean
 * from?)", "COPY requires at least two arguments, but only one was provided. Destination could
 * not be determined", "SHELL requires the arguments to be in JSON form", …). Lint warnings
 * (MAINTAINER is deprecated) go to warnings when it is not NULL. */
int dockerfile_instr_parse(const struct dockerfile_node *node, char escape,
                           struct dockerfile_instr *ret, struct dockerfile_warnings *warnings,
                           char **ret_msg);

/* Frees what an instruction holds. */
void dockerfile_instr_done(struct dockerfile_instr *in);

/* All of df's instructions (BuildKit's instructions.Parse): the ARGs before the first FROM
 * are the meta args, anything else needs a FROM before it. Errors are "NAME:LINE: message"
 * (the instruction's first line) with details in *ret_error when it is not NULL; warnings are
 * added to df's. */
int dockerfile_instrs_parse(struct dockerfile *df, const struct dockerfile_source *src,
                            struct dockerfile_instrs *ret, struct dockerfile_error **ret_error,
                            struct kl_error **err);

/* Frees the list's contents. */
void dockerfile_instrs_done(struct dockerfile_instrs *l);

/* Expands one of in's words for the conversion (dockerfile_expand with ex): an error (an
 * unterminated quote, ${v:?m}) reads "NAME:LINE: failed to process …" at the instruction's
 * first line, with details in *ret_error when it is not NULL. */
int dockerfile_instr_expand(const struct dockerfile_instr *in, const struct dockerfile_source *src,
                            const struct dockerfile_expander *ex, const char *word, char **ret,
                            struct dockerfile_error **ret_error, struct kl_error **err);
