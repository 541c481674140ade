/* cli — what every `kiln` subcommand shares: global options, the store, and how a command
 * fails.
 *
 * A command parses its flags, calls a library and returns 0, or -errno with *err filled. main()
 * reports the error once, as "kiln: <message>", and exits 1. A command puts its name in front
 * of what a library said ("tree import: …"); the messages of cli_store() and of the usage
 * helpers below are complete as they are.
 *
 * Usage errors (an unknown option, a missing or extra argument) exit 2 instead, with a hint.
 * cli_usage_error() and cli_option_error() fill *err like any failure, return -EINVAL, and mark
 * the failure as one of usage by recording in c->usage_cmd the command the user got wrong;
 * main() sees the mark, prints "Try 'kiln <usage_cmd> --help'." after the message and exits 2.
 * The code alone does not tell: libraries fail with -EINVAL too (a malformed digest), and
 * those exit 1. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct export_options;
struct export_result;
struct imgstore_image;
struct kl_error;
struct source_options;
struct store;

struct cli {
	const char *root; /* store root: --root, $KILN_ROOT, or the per-user default */
	bool debug;
	const char *auth_file; /* registry credentials: $DOCKER_CONFIG/config.json or
	                        * ~/.docker/config.json, as docker looks for them */
	struct store *store;   /* opened on first cli_store() */
	/* Set by the usage helpers: the command ("tree ls", "" for kiln itself) whose --help
	 * main() points to; its failure exits 2. */
	const char *usage_cmd;
	/* Set by a command whose failure has an exit status of its own (128 + N for a build a
	 * signal N cancelled); main() exits with it after reporting the error. */
	int exit_status;
};

/* A subcommand: argv[0] is its name. Returns 0, or -errno with *err filled (see above). */
typedef int (*cmd_fn)(struct cli *c, int argc, char **argv, struct kl_error **err);

/* The store at c->root, opened on first use and kept in c (lent to the caller). Errors read
 * "opening the store: …". */
int cli_store(struct cli *c, struct store **ret, struct kl_error **err);
/* A usage error of command cmd (a string that outlives the call, such as a literal; "" for
 * kiln's own options): fills *err with "<cmd>: <message>", sets c->usage_cmd, returns
 * -EINVAL. */
int cli_usage_error(struct cli *c, struct kl_error **err, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The usage error for the option getopt_long() just refused; opt is what it returned: '?'
 * for an unknown option, ':' for a missing argument (so the optstring starts with ':', after
 * a '+' if any). main() sets opterr to 0: getopt itself prints nothing. */
int cli_option_error(struct cli *c, struct kl_error **err, const char *cmd, int opt, char **argv);
/* True (after printing text to stdout) when argv holds -h or --help before any "--". */
bool cli_wants_help(int argc, char **argv, const char *text);

/* The image named name in kiln's index (cli-image.c); a missing one is -ENOENT with a message
 * saying how images get there. Free with imgstore_image_done. */
int cli_image_load(struct cli *c, const char *name, struct imgstore_image *ret,
                   struct kl_error **err);
/* Writes an export's --metadata-file JSON to path (atomically). */
int cli_write_metadata(const char *path, const struct export_result *res, struct kl_error **err);
/* Sets export option key to value, as --exporter-opt would; a bad one is a usage error of
 * cmd (a literal, as for cli_usage_error). */
int cli_export_set(struct cli *c, const char *cmd, struct export_options *o, const char *key,
                   const char *value, struct kl_error **err);
/* Exports the image name of kiln's index with o, its layers read through the default providers
 * and the image sources of so (both get c's auth file), into res (free with
 * export_result_done); then writes the metadata file when metadata is set. Errors of the
 * export read "<cmd>: …". */
int cli_image_export(struct cli *c, const char *cmd, const char *name, struct export_options *o,
                     struct source_options *so, const char *metadata, struct export_result *res,
                     struct kl_error **err);

/* The subcommands, one file each (cli/cmd-*.c). */
int cmd_tree(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_context(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_pull(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_store(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_mount(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_umount(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_cache(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_dockerfile(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_solve(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_du(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_prune(struct cli *c, int argc, char **argv, struct kl_error **err);

/* "1.23MB": n bytes in decimal units (cmd-du.c). */
void cli_format_size(uint64_t n, char *buf, size_t len);

int cmd_push(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_save(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_layer(struct cli *c, int argc, char **argv, struct kl_error **err);
/* cli/cmd-images.c: kiln's image index */
int cmd_images(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_tag(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_rmi(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_inspect(struct cli *c, int argc, char **argv, struct kl_error **err);
int cmd_build(struct cli *c, int argc, char **argv, struct kl_error **err);
