// SPDX-License-Identifier: Apache-2.0
/* exec-harness: runs one RUN step through exec_run, as the engine will, for the integration
 * tests: a private mount namespace, the store's lazy filesystem served from a thread, a vertex
 * made from the command line, the result printed.
 *
 * usage: exec-harness --store DIR [options] -- ARG...
 *   --root TREE            the input tree (default: scratch)
 *   --runtime NAME|PATH    crun, runc or a path (default: crun, else runc)
 *   --env K=V  --proxy-env K=V  --cwd DIR  --user U[:G]  --hostname H  --extra-host H=IP
 *   --network host|none    --insecure (asks for security=insecure)  --allow-insecure
 *   --mount SPEC           type=bind|cache|tmpfs|secret|ssh,target=P,from=TREE,source=P,
 *                          id=ID,sharing=shared|private|locked,mode=OCTAL,uid=N,gid=N,
 *                          size=BYTES,env=NAME,rw,ro,required
 *   --secret ID=FILE       --ssh ID=SOCKET
 *   --log FILE             the step's output (default: stderr)
 *   --cancel-after MS      cancel the step after MS milliseconds
 *   --check-clean          afterwards, fail when a mount or a file of the step is left
 * Prints "tree ID", "diff ID" and "exit N" (a failing step: "failed_tree ID" and "exit N"),
 * the error on stderr. Exit status: 0 ran, 1 error, 3 the command failed, 4 cancelled,
 * 5 refused (EPERM), 6 leftovers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/lazyfs.h"
#include "fs/store.h"
#include "solver/exec.h"
#include "solver/graph.h"
#include "solver/solve.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

#define MAX_ITEMS 64

struct harness {
	struct graph_vertex v;
	char *args[MAX_ITEMS], *env[MAX_ITEMS], *proxy[MAX_ITEMS], *hosts[MAX_ITEMS];
	struct graph_mount mounts[MAX_ITEMS];
	struct digest inputs[MAX_ITEMS];
	const struct digest *input_ptrs[MAX_ITEMS];
	struct solve_secret secrets[MAX_ITEMS];
	struct solve_ssh ssh[MAX_ITEMS];
	size_t n_secrets, n_ssh;
	int log_fd;
	int cancel_pipe[2];
	long cancel_after_ms;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "exec-harness: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
parse_digest(const char *s, struct digest *d)
{
	struct kl_error *err = NULL;

	if (digest_parse(s, strlen(s), d, &err) < 0)
		die("bad tree id '%s'", s);
}

static void
parse_mount(struct harness *h, char *spec)
{
	size_t i = h->v.exec.n_mounts++;
	struct graph_mount *m = &h->mounts[i];
	char *save = NULL;

	*m = (struct graph_mount){.input = GRAPH_NO_INPUT, .readonly = true};
	for (char *kv = strtok_r(spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		char *val = eq ? eq + 1 : NULL;

		if (eq)
			*eq = '\0';
		if (!strcmp(kv, "type")) {
			static const char *const kinds[] = {"bind", "cache", "tmpfs", "secret",
			                                    "ssh"};
			for (int k = 0; k < 5; k++)
				if (!strcmp(val, kinds[k]))
					m->kind = (enum graph_mount_kind)k;
			if (m->kind == GRAPH_MOUNT_CACHE)
				m->readonly = false;
		} else if (!strcmp(kv, "target")) {
			m->target = val;
		} else if (!strcmp(kv, "from")) {
			parse_digest(val, &h->inputs[i]);
			h->input_ptrs[i] = &h->inputs[i];
			m->input = (uint32_t)i + 1;
		} else if (!strcmp(kv, "source")) {
			m->source = val;
		} else if (!strcmp(kv, "id")) {
			m->id = val;
		} else if (!strcmp(kv, "sharing")) {
			m->sharing = !strcmp(val, "private")  ? GRAPH_CACHE_PRIVATE
			             : !strcmp(val, "locked") ? GRAPH_CACHE_LOCKED
			                                      : GRAPH_CACHE_SHARED;
		} else if (!strcmp(kv, "mode")) {
			m->has_mode = true;
			m->mode = (uint32_t)strtoul(val, NULL, 8);
		} else if (!strcmp(kv, "uid")) {
			m->uid = (uint32_t)strtoul(val, NULL, 10);
		} else if (!strcmp(kv, "gid")) {
			m->gid = (uint32_t)strtoul(val, NULL, 10);
		} else if (!strcmp(kv, "size")) {
			m->size = strtoull(val, NULL, 10);
		} else if (!strcmp(kv, "env")) {
			m->env = val;
		} else if (!strcmp(kv, "rw")) {
			m->readonly = false;
		} else if (!strcmp(kv, "ro")) {
			m->readonly = true;
		} else if (!strcmp(kv, "required")) {
			m->required = true;
		} else {
			die("unknown mount field '%s'", kv);
		}
	}
}

static void
add_secret(struct harness *h, char *arg)
{
	char *eq = strchr(arg, '=');
	struct solve_secret *s = &h->secrets[h->n_secrets++];
	char *buf;
	size_t len;
	int fd;

	if (!eq)
		die("--secret wants ID=FILE, not '%s'", arg);
	*eq = '\0';
	fd = open(eq + 1, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || kl_io_read_all(fd, 1 << 20, &buf, &len) < 0)
		die("reading secret file '%s'", eq + 1);
	close(fd);
	*s = (struct solve_secret){.id = arg, .value = buf, .len = len};
}

static void
on_log(void *userdata, int stream, const char *data, size_t len)
{
	struct harness *h = userdata;

	(void)stream;
	(void)kl_io_write_all(h->log_fd, data, len);
}

static void *
serve_main(void *arg)
{
	(void)lazyfs_serve(arg, NULL);
	return NULL;
}

static void *
cancel_main(void *arg)
{
	struct harness *h = arg;
	struct timespec ts = {h->cancel_after_ms / 1000, (h->cancel_after_ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
	(void)!write(h->cancel_pipe[1], "x", 1);
	return NULL;
}

/* Mounts under dir left in this (private) namespace, and files left in it. */
static int
check_clean(const char *dir)
{
	char line[8192];
	int left = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	while (f && fgets(line, sizeof(line), f)) {
		if (strstr(line, dir)) {
			fprintf(stderr, "exec-harness: mount left: %s", line);
			left = 1;
		}
	}
	if (f)
		fclose(f);
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			fprintf(stderr, "exec-harness: left in the state dir: %s\n", de->d_name);
			left = 1;
		}
	}
	if (d)
		closedir(d);
	return left;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"store", required_argument, NULL, 'S'},
	    {"root", required_argument, NULL, 'R'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"env", required_argument, NULL, 'e'},
	    {"proxy-env", required_argument, NULL, 'p'},
	    {"cwd", required_argument, NULL, 'w'},
	    {"user", required_argument, NULL, 'u'},
	    {"hostname", required_argument, NULL, 'H'},
	    {"extra-host", required_argument, NULL, 'x'},
	    {"network", required_argument, NULL, 'n'},
	    {"insecure", no_argument, NULL, 'I'},
	    {"allow-insecure", no_argument, NULL, 'A'},
	    {"mount", required_argument, NULL, 'm'},
	    {"secret", required_argument, NULL, 's'},
	    {"ssh", required_argument, NULL, 'a'},
	    {"log", required_argument, NULL, 'l'},
	    {"cancel-after", required_argument, NULL, 'c'},
	    {"check-clean", no_argument, NULL, 'C'},
	    {NULL, 0, NULL, 0},
	};
	static struct harness h;
	struct exec_env env = {.cancel_fd = -1};
	struct exec_result res = {0};
	struct lazyfs_options lo = {0};
	struct kl_error *err = NULL;
	struct lazyfs *fs = NULL;
	struct store *s = NULL;
	const char *store_dir = NULL;
	struct digest root;
	bool has_root = false, check = false;
	char id[DIGEST_STRING_SIZE], *mnt, *state;
	pthread_t server, canceller;
	int opt, r, status;

	h.log_fd = 2;
	h.v.kind = GRAPH_OP_EXEC;
	h.v.id = "harness";
	h.v.exec.args.v = h.args;
	h.v.exec.env.v = h.env;
	h.v.exec.proxy_env.v = h.proxy;
	h.v.exec.extra_hosts.v = h.hosts;
	h.v.exec.mounts = h.mounts;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 'S':
			store_dir = optarg;
			break;
		case 'R':
			parse_digest(optarg, &root);
			has_root = true;
			break;
		case 'r':
			env.runtime = optarg;
			break;
		case 'e':
			h.env[h.v.exec.env.n++] = optarg;
			break;
		case 'p':
			h.proxy[h.v.exec.proxy_env.n++] = optarg;
			break;
		case 'w':
			h.v.exec.cwd = optarg;
			break;
		case 'u':
			h.v.exec.user = optarg;
			break;
		case 'H':
			h.v.exec.hostname = optarg;
			break;
		case 'x':
			h.hosts[h.v.exec.extra_hosts.n++] = optarg;
			break;
		case 'n':
			h.v.exec.network =
			    !strcmp(optarg, "none") ? GRAPH_NET_NONE : GRAPH_NET_HOST;
			break;
		case 'I':
			h.v.exec.security = GRAPH_SECURITY_INSECURE;
			break;
		case 'A':
			env.allow_insecure = true;
			break;
		case 'm':
			parse_mount(&h, optarg);
			break;
		case 's':
			add_secret(&h, optarg);
			break;
		case 'a': {
			char *eq = strchr(optarg, '=');
			if (!eq)
				die("--ssh wants ID=SOCKET, not '%s'", optarg);
			*eq = '\0';
			h.ssh[h.n_ssh++] = (struct solve_ssh){optarg, eq + 1};
			break;
		}
		case 'l':
			h.log_fd = open(optarg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (h.log_fd < 0)
				die("opening '%s'", optarg);
			break;
		case 'c':
			h.cancel_after_ms = strtol(optarg, NULL, 10);
			break;
		case 'C':
			check = true;
			break;
		default:
			die("bad option");
		}
	}
	if (!store_dir || optind >= argc)
		die("usage: exec-harness --store DIR [options] -- ARG...");
	for (int i = optind; i < argc; i++)
		h.args[h.v.exec.args.n++] = argv[i];
	/* as solve_run does: every mount of the step lives in a namespace of its own */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("unsharing the mount namespace: %s", strerror(errno));
	if (store_open(store_dir, &(struct store_options){.flags = STORE_NO_SYNC}, &s, &err) < 0)
		die("%s", err->msg);
	mnt = xasprintf("%s/lazy.%d", store_root(s), (int)getpid());
	state = xasprintf("%s/state.%d", store_root(s), (int)getpid());
	if (mkdir(mnt, 0755) < 0 || mkdir(state, 0700) < 0)
		die("making '%s'", mnt);
	if (lazyfs_new(s, &lo, &fs, &err) < 0 || lazyfs_mount(fs, mnt, &err) < 0)
		die("%s", err->msg);
	pthread_create(&server, NULL, serve_main, fs);
	env.store = s;
	env.lazy_root = mnt;
	env.state_dir = state;
	env.secrets = h.secrets;
	env.n_secrets = h.n_secrets;
	env.ssh = h.ssh;
	env.n_ssh = h.n_ssh;
	env.log = on_log;
	env.log_userdata = &h;
	if (h.cancel_after_ms > 0) {
		if (pipe2(h.cancel_pipe, O_CLOEXEC) < 0)
			die("pipe: %s", strerror(errno));
		env.cancel_fd = h.cancel_pipe[0];
		pthread_create(&canceller, NULL, cancel_main, &h);
	}
	h.v.inputs = NULL;
	r = exec_run(&env, &h.v, has_root ? &root : NULL, h.input_ptrs, &res, &err);
	if (r == 0) {
		printf("tree %s\n", digest_to_string(&res.tree, id));
		printf("diff %s\n", digest_to_string(&res.diff, id));
		printf("exit %d\n", res.exit_code);
		status = 0;
	} else {
		if (res.has_failed_tree)
			printf("failed_tree %s\nexit %d\n", digest_to_string(&res.failed_tree, id),
			       res.exit_code);
		fprintf(stderr, "exec-harness: error: %s\n", err ? err->msg : strerror(-r));
		status = r == -ECHILD ? 3 : r == -ECANCELED ? 4 : r == -EPERM ? 5 : 1;
	}
	fflush(stdout);
	if (h.cancel_after_ms > 0)
		pthread_join(canceller, NULL);
	if (check && check_clean(state))
		status = 6;
	lazyfs_stop(fs);
	lazyfs_unmount(fs);
	pthread_join(server, NULL);
	lazyfs_free(fs);
	(void)rmdir(mnt);
	(void)kl_path_rm_rf_at(AT_FDCWD, state);
	free(mnt);
	free(state);
	for (size_t i = 0; i < h.n_secrets; i++)
		free((void *)h.secrets[i].value);
	kl_error_free(err);
	store_unref(s);
	return status;
}
