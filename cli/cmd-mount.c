// SPDX-License-Identifier: Apache-2.0
/* kiln mount|umount: show a tree or a local directory at a mount point through lazyfs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fs/lazyfs.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "oci/registry.h"
#include "sources/ctxsrc.h"
#include "sources/source.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

extern char **environ;

static const char mount_usage[] =
    "usage: kiln mount [-f] [--log FILE] [--registry-timeout DURATION] SOURCE DIR\n"
    "\n"
    "Shows SOURCE at DIR, read-only; file contents are read only when first used.\n"
    "SOURCE is a tree id (sha256:<hex>) in the store, a local directory, which is scanned\n"
    "as a build context (.dockerignore applied, metadata only) and whose files are read,\n"
    "verified, when first used, or any source a build accepts: a git URL or repository\n"
    "with #ref[:subdir], docker-image://REF, oci-layout://DIR[:tag] (only metadata is\n"
    "fetched before the mount is ready).\n"
    "\n"
    "  -f, --foreground  serve in the foreground until unmounted or interrupted\n"
    "  --log FILE        in the background, append log lines to FILE (default: discard)\n"
    "  --platform P      images: the platform to pick from a multi-platform image\n"
    "                    (OS/ARCH[/VARIANT], default linux/amd64)\n"
    "  --insecure-registry HOST  images: allow plain HTTP to HOST[:PORT] (loopback always\n"
    "                    is); repeatable\n"
    "  --registry-timeout D  images: give up when a registry sends nothing for D (like\n"
    "                    10s, 500ms, 2m; default 30s), now and in the reads of file\n"
    "                    contents later\n"
    "\n"
    "Without -f, kiln returns once the mount is ready. A mount left by a killed kiln is\n"
    "cleaned up first. Stop it with 'kiln umount DIR' (or SIGINT/SIGTERM to the server).\n";

static const char umount_usage[] =
    "usage: kiln umount DIR\n"
    "\n"
    "Unmounts what 'kiln mount' put at DIR, or cleans up a mount left\n"
    "behind by a kiln that was killed.\n";

/* Runs fusermount3 with args (non-root unmounting); returns its exit status or -errno. */
static int
run_fusermount(const char *flags, const char *path)
{
	char *argv[] = {"fusermount3", (char *)flags, "--", (char *)path, NULL};
	int status;
	pid_t pid;
	int r;

	r = posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ);
	if (r != 0)
		return -r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* A FUSE mount whose server died answers requests with ENOTCONN: detach it. statfs, because it
 * always reaches the server, where stat is answered from attributes cached forever. Returns 1
 * when one was removed, 0 when there was none, -errno (err set) when it could not be removed. */
static int
clear_stale_mount(const char *path, struct kl_error **err)
{
	struct statfs sf;

	if (statfs(path, &sf) == 0 || errno != ENOTCONN)
		return 0;
	if (umount2(path, MNT_DETACH) < 0 && run_fusermount("-uz", path) != 0)
		return kl_error_set(err, ENOTCONN, "removing the dead mount at '%s'", path);
	kl_log(KL_LOG_INFO, "removed a mount at '%s' left behind by a server that died", path);
	return 1;
}

/* Decodes the octal escapes (\040 for space) of a /proc/self/mountinfo field in place. */
static void
unescape_mountinfo(char *s)
{
	char *w = s;

	for (char *r = s; *r; w++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3]) {
			*w = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			r += 4;
		} else {
			*w = *r++;
		}
	}
	*w = '\0';
}

/* True when a mount of type fstype_prefix* sits exactly at path (already canonical). */
static bool
mounted_at(const char *path, const char *fstype_prefix)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		char *fields[5], *save = NULL, *sep, *p = line;
		int n = 0;

		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		for (char *tok = strtok_r(p, " ", &save); tok && n < 5;
		     tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		if (n < 5)
			continue;
		unescape_mountinfo(fields[4]);
		found = strcmp(fields[4], path) == 0 &&
		        strncmp(sep + 3, fstype_prefix, strlen(fstype_prefix)) == 0;
	}
	fclose(f);
	return found;
}

struct mount_job {
	struct digest tree;
	char *local_root; /* set when SOURCE is a directory */
	char *mountpoint;
	const char *log_file;
	bool foreground;
	int ready_fd;                 /* background: the pipe to the waiting parent */
	struct source_options source; /* git and image sources */
	const char **insecure;        /* owned array behind source.insecure_registries */
};

/* Resolves SOURCE to a tree id, scanning a directory as a build context (metadata only). */
static int
resolve_source(struct store *s, const char *source, struct mount_job *job, struct kl_error **err)
{
	const struct ctxsrc_options opts = {.locate_only = true};
	struct stat st;
	char *real;

	if (strncmp(source, "sha256:", 7) == 0)
		return digest_parse(source, strlen(source), &job->tree, err);
	if (source_classify(source) != SOURCE_CONTEXT)
		return source_resolve(s, source, &job->source, &job->tree, err);
	/* A directory is shown as a build would see it: .dockerignore applied. */
	if (stat(source, &st) < 0)
		return kl_error_set(err, errno, "source '%s'", source);
	if (!S_ISDIR(st.st_mode))
		return kl_error_setf(err, EINVAL,
		                     "source '%s' is neither a tree id nor a directory", source);
	real = realpath(source, NULL);
	if (!real)
		return kl_error_set(err, errno, "resolving '%s'", source);
	job->local_root = real;
	return ctxsrc_scan(s, real, &opts, &job->tree, err); /* errors name the context */
}

/* Runs in a FUSE thread once the kernel completed the handshake: the mount is usable. */
static void
on_ready(void *userdata)
{
	struct mount_job *job = userdata;
	int fd;

	if (job->ready_fd < 0)
		return;
	/* From now on nobody waits on our output: log to the file, or nowhere. */
	fd = job->log_file ? open(job->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
	                   : -1;
	if (fd < 0)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		(void)close(fd);
	}
	(void)!write(job->ready_fd, "", 1);
	(void)close(job->ready_fd);
	job->ready_fd = -1;
}

/* Mounts and serves until unmounted or signalled; returns 0 or -errno with err set. */
static int
serve(struct store *s, struct mount_job *job, struct kl_error **err)
{
	struct provider_set *ps = provider_set_new_default(s, job->local_root);
	const struct lazyfs_options opts = {
	    .root_tree = &job->tree,
	    .providers = ps, /* owned by the lazyfs from here */
	    .handle_signals = true,
	    .ready = on_ready,
	    .ready_userdata = job,
	};
	_cleanup_(lazyfs_freep) struct lazyfs *fs = NULL;
	struct rlimit rl;
	int r;

	/* A shell starts background commands with SIGINT ignored, and the server only installs
	 * its handlers over the defaults: a kiln mount always stops on these signals. */
	(void)signal(SIGINT, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGHUP, SIG_DFL);
	/* Every file being read holds a verified blob fd: allow as many as the system does. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	source_add_providers(ps, s, &job->source);
	r = lazyfs_new(s, &opts, &fs, err);
	if (r == -ENOENT)
		return kl_error_setf(err, ENOENT, "tree %s is not in the store",
		                     digest_to_string(&job->tree, (char[DIGEST_STRING_SIZE]){0}));
	if (r < 0)
		return r;
	r = lazyfs_mount(fs, job->mountpoint, err);
	if (r < 0)
		return r;
	r = lazyfs_serve(fs, err);
	lazyfs_unmount(fs);
	return r < 0 ? r : 0;
}

/* Background: the child serves; the parent returns once the mount is ready, or with the
 * child's error. */
static int
serve_detached(struct store *s, struct mount_job *job)
{
	struct kl_error *err = NULL;
	char msg[4096];
	ssize_t n;
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return kl_error_set(&err, errno, "creating a pipe"), kl_log_error(&err, "mount");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return kl_error_set(&err, errno, "forking"), kl_log_error(&err, "mount");
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		(void)close(p[0]);
		(void)setsid();
		(void)!chdir("/");
		if (null >= 0)
			(void)dup2(null, STDIN_FILENO);
		job->ready_fd = p[1];
		if (serve(s, job, &err) < 0 && job->ready_fd >= 0) {
			(void)!write(p[1], err->msg, strlen(err->msg));
			kl_error_free(err);
			_exit(1);
		}
		kl_error_free(err);
		_exit(0); /* the parent's atexit state is not ours to run */
	}
	(void)close(p[1]);
	do
		n = read(p[0], msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	(void)close(p[0]);
	if (n == 1 && msg[0] == '\0')
		return 0;
	(void)waitpid(pid, &status, 0);
	if (n <= 0)
		return kl_error_setf(&err, EIO, "the server exited before the mount was ready"),
		       kl_log_error(&err, "mount");
	msg[n] = '\0';
	kl_error_setf(&err, EIO, "%s", msg);
	return kl_log_error(&err, "mount");
}

static int
parse_mount_args(int argc, char **argv, struct mount_job *job)
{
	static const struct option opts[] = {
	    {"foreground", no_argument, NULL, 'f'},
	    {"log", required_argument, NULL, 'l'},
	    {"platform", required_argument, NULL, 'p'},
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"registry-timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct kl_error *err = NULL;
	int opt;

	job->source.insecure_registries = job->insecure;
	while ((opt = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			job->foreground = true;
			break;
		case 'l':
			job->log_file = optarg;
			break;
		case 'p':
			job->source.platform = optarg;
			break;
		case 'i':
			job->insecure[job->source.n_insecure_registries++] = optarg;
			break;
		case 't':
			if (registry_parse_duration(optarg, &job->source.registry_timeout_ms,
			                            &err) < 0) {
				opt = cli_usage_error("mount", "--registry-timeout: %s", err->msg);
				kl_error_free(err);
				return opt;
			}
			break;
		case 'h':
			fputs(mount_usage, stdout);
			return 0;
		default:
			return cli_usage_error("mount", "unknown option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("mount", "expected a source and a mount point");
	return -1;
}

int
cmd_mount(struct cli *c, int argc, char **argv)
{
	struct mount_job job = {.ready_fd = -1};
	struct kl_error *err = NULL;
	struct stat st;
	_cleanup_free_ const char **insecure = xcalloc((size_t)argc + 1, sizeof(*insecure));
	struct store *s;
	int r;

	job.insecure = insecure;
	job.source.auth_file = c->auth_file;
	r = parse_mount_args(argc, argv, &job);
	if (r >= 0)
		return r;
	if (clear_stale_mount(argv[optind + 1], &err) < 0)
		return kl_log_error(&err, "mount");
	if (stat(argv[optind + 1], &st) < 0 || !S_ISDIR(st.st_mode)) {
		kl_error_set(&err, errno ? errno : ENOTDIR, "mount point '%s'", argv[optind + 1]);
		return kl_log_error(&err, "mount");
	}
	job.mountpoint = realpath(argv[optind + 1], NULL);
	if (!job.mountpoint)
		return kl_error_set(&err, errno, "resolving '%s'", argv[optind + 1]),
		       kl_log_error(&err, "mount");
	r = 1;
	if (mounted_at(job.mountpoint, "fuse.kiln")) {
		kl_error_setf(&err, EBUSY, "'%s' is already a kiln mount; 'kiln umount' it first",
		              job.mountpoint);
		kl_log_error(&err, "mount");
		goto out;
	}
	s = cli_store(c);
	if (!s)
		goto out;
	if (resolve_source(s, argv[optind], &job, &err) < 0) {
		kl_log_error(&err, "mount");
		goto out;
	}
	if (!job.foreground)
		r = serve_detached(s, &job);
	else if (serve(s, &job, &err) < 0)
		kl_log_error(&err, "mount");
	else
		r = 0;
out:
	free(job.local_root);
	free(job.mountpoint);
	return r;
}

int
cmd_umount(struct cli *c, int argc, char **argv)
{
	_cleanup_free_ char *path = NULL;
	struct kl_error *err = NULL;
	int r;

	(void)c;
	if (cli_wants_help(argc, argv, umount_usage))
		return 0;
	if (argc != 2)
		return cli_usage_error("umount", "expected a mount point");
	r = clear_stale_mount(argv[1], &err);
	if (r < 0)
		return kl_log_error(&err, "umount");
	if (r > 0)
		return 0;
	path = realpath(argv[1], NULL);
	if (!path)
		return kl_error_set(&err, errno, "'%s'", argv[1]), kl_log_error(&err, "umount");
	if (!mounted_at(path, "fuse.kiln"))
		return kl_error_setf(&err, EINVAL, "'%s' is not a kiln mount", path),
		       kl_log_error(&err, "umount");
	if (umount2(path, 0) == 0)
		return 0;
	r = errno;
	if (r == EPERM && run_fusermount("-u", path) == 0)
		return 0;
	return kl_error_set(&err, r, "unmounting '%s'", path), kl_log_error(&err, "umount");
}
