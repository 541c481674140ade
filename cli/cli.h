/* cli — what every `kiln` subcommand shares: global options, the store, usage errors. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

struct cli {
	const char *root; /* store root: --root, $KILN_ROOT, or the per-user default */
	bool debug;
	const char *auth_file; /* registry credentials: $DOCKER_CONFIG/config.json or
	                        * ~/.docker/config.json, as docker looks for them */
	struct store *store;   /* opened on first cli_store() */
};

/* A subcommand: argv[0] is its name; returns the process exit status (0, 1 failure, 2 usage). */
typedef int (*cmd_fn)(struct cli *c, int argc, char **argv);

/* Opens the store on first use; on failure reports it and returns NULL. */
struct store *cli_store(struct cli *c);
/* Prints "kiln: <cmd>: <message>" and a hint to use --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True (after printing usage to stdout) when argv holds -h/--help. */
bool cli_wants_help(int argc, char **argv, const char *usage);

/* The subcommands, one file each (cli/cmd-*.c). */
int cmd_tree(struct cli *c, int argc, char **argv);
int cmd_context(struct cli *c, int argc, char **argv);
int cmd_pull(struct cli *c, int argc, char **argv);
int cmd_store(struct cli *c, int argc, char **argv);
int cmd_mount(struct cli *c, int argc, char **argv);
int cmd_umount(struct cli *c, int argc, char **argv);
int cmd_solve(struct cli *c, int argc, char **argv);
int cmd_du(struct cli *c, int argc, char **argv);
int cmd_prune(struct cli *c, int argc, char **argv);

/* "1.23MB": n bytes in decimal units (cmd-du.c). */
void cli_format_size(uint64_t n, char *buf, size_t len);
int cmd_cache(struct cli *c, int argc, char **argv);
