/* solve-args — the options `kiln solve` and `kiln build` share: local directories, secrets, ssh
 * agents (a key file becomes an agent kiln starts and stops), insecure registries, and the
 * SIGINT/SIGTERM pipe that cancels a solve. */
#pragma once
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "exporters/export.h"
#include "solver/solve.h"
#include "util/strpool.h"

struct cli;
struct kl_error;
struct source_options;

struct cli_solve_args {
	struct solve_local *locals;
	size_t n_locals;
	struct solve_secret *secrets;
	size_t n_secrets;
	struct solve_ssh *ssh;
	size_t n_ssh;
	const char **insecure;
	size_t n_insecure;
	struct kl_strpool owned; /* strings made while parsing */
	pid_t agent_pid;         /* an ssh-agent kiln started for key files; 0: none */
	char *agent_dir;         /* its private directory (socket inside) */
	char *agent_sock;        /* the agent's socket */
};

/* "NAME=DIR" (a directory that exists). Usage errors name cmd. */
int cli_solve_args_local(struct cli *c, struct cli_solve_args *a, const char *cmd, const char *arg,
                         struct kl_error **err);
/* The same binding given as name and dir (both copied); ignore_file may be NULL. */
void cli_solve_args_add_local(struct cli_solve_args *a, const char *name, const char *dir,
                              const char *ignore_file);
/* "id=ID,src=PATH" or "id=ID,env=VAR" (docker's "source=" and "type=file|env" accepted); the
 * value is read now and held in memory. */
int cli_solve_args_secret(struct cli *c, struct cli_solve_args *a, const char *cmd, const char *arg,
                          struct kl_error **err);
/* "ID", "ID=SOCKET" or "ID=KEYFILE[,KEYFILE…]": ID alone takes $SSH_AUTH_SOCK; key files are
 * loaded into one ssh-agent that kiln starts (ssh-agent and ssh-add from openssh-client) and
 * cli_solve_args_done() stops. */
int cli_solve_args_ssh(struct cli *c, struct cli_solve_args *a, const char *cmd, const char *arg,
                       struct kl_error **err);
/* HOST[:PORT] allowed over plain HTTP. */
void cli_solve_args_insecure(struct cli_solve_args *a, const char *host);
/* Points o's locals, secrets and ssh and src's insecure registries at a's (a outlives them). */
void cli_solve_args_apply(const struct cli_solve_args *a, struct solve_options *o,
                          struct source_options *src);
/* Frees a and stops the agent it started. */
void cli_solve_args_done(struct cli_solve_args *a);

/* --provenance VALUE (export_provenance_parse's forms: mode=min, max, false…) into *ret; a
 * usage error of cmd otherwise. */
int cli_provenance_parse(struct cli *c, const char *cmd, const char *value,
                         enum export_provenance *ret, struct kl_error **err);

struct build_output;
/* --output SPEC (builder/build-output.h) appended to *v, *n of them; a usage error of cmd
 * otherwise. */
int cli_output_add(struct cli *c, const char *cmd, const char *spec, struct build_output ***v,
                   size_t *n, struct kl_error **err);

/* SIGINT and SIGTERM make *ret_fd readable (solve_options.cancel_fd) and are remembered. */
int cli_cancel_install(int *ret_fd, struct kl_error **err);
/* The signal caught since cli_cancel_install(), 0 when none. */
int cli_cancel_signal(void);
/* Restores the default handlers and closes the pipe. */
void cli_cancel_remove(void);
