/* daemon — a server in the background: the command returns once the server is ready, or fails
 * with the server's own error, as if it had run in the foreground. */
#pragma once

struct kl_error;
struct cli_daemon; /* the child's end of the handshake with the waiting parent */

/* The server: runs in the child; calls cli_daemon_ready(d, …) once it serves. */
typedef int (*cli_daemon_fn)(struct cli_daemon *d, void *userdata, struct kl_error **err);

/* Forks a child that runs fn in a new session, with stdin on /dev/null, "/" as its working
 * directory and SIGPIPE ignored. The parent returns 0 once the child called cli_daemon_ready(),
 * fn's error (its code and message) when fn failed before that, or -ECHILD when the child
 * exited without either. The child never returns: it exits 0 when fn returned >= 0, else 1,
 * after writing an error that came too late for the parent to its stderr (by then the log) as
 * "kiln: <name>: <message>". */
int cli_daemon_run(const char *name, cli_daemon_fn fn, void *userdata, struct kl_error **err);

/* In the child, from any thread: tells the parent the server is ready, and points stdout and
 * stderr at log_file (appended to; NULL or unopenable: /dev/null), since nobody reads the
 * terminal after. Only the first call counts; d NULL (a server in the foreground) does nothing.
 */
void cli_daemon_ready(struct cli_daemon *d, const char *log_file);
