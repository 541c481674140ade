// SPDX-License-Identifier: Apache-2.0
/* kiln mount|umount: show any source at a mount point through lazyfs, and take it away. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/daemon.h"
#include "fs/lazyfs.h"
#include "fs/mountpoint.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "oci/registry.h"
#include "sources/ctxsrc.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char mount_usage[] =
    "usage: kiln mount [-f] [--log FILE] [--passthrough] [--registry-timeout DURATION]\n"
    "                  [--pull POLICY] SOURCE DIR\n"
    "\n"
    "Shows SOURCE at DIR, read-only; file contents are read only when first used.\n"
    "SOURCE is a tree id (sha256:<hex>) in the store, a local directory, which is scanned\n"
    "as a build context (.dockerignore applied, metadata only) and whose files are read,\n"
    "verified, when first used, the name of an image in kiln's image index ('kiln\n"
    "images'), or any source a build accepts: a git URL or repository with #ref[:subdir],\n"
    "docker-image://REF, oci-layout://DIR[:tag] (only metadata is fetched before the\n"
    "mount is ready).\n"
    "\n"
    "  -f, --foreground  serve in the foreground until unmounted or interrupted\n"
    "  --log FILE        in the background, append log lines to FILE (default: discard)\n"
    "  --passthrough     files whose contents are already verified blobs in the store are\n"
    "                    read by the kernel straight from them (FUSE passthrough, as root,\n"
    "                    where the kernel has it): large files at native speed, but every\n"
    "                    open of a file then costs a round trip to the server\n"
    "  --platform P      images: the platform to pick from a multi-platform image\n"
    "                    (OS/ARCH[/VARIANT], default linux/amd64)\n"
    "  --insecure-registry HOST  images: allow plain HTTP to HOST[:PORT] (loopback always\n"
    "                    is); repeatable\n"
    "  --registry-timeout D  images: give up when a registry sends nothing for D (like\n"
    "                    10s, 500ms, 2m; default 30s), now and in the reads of file\n"
    "                    contents later\n"
    "  --pull POLICY     image names: never (the default) takes the image index alone;\n"
    "                    missing pulls a name it lacks, always pulls (as 'kiln pull')\n"
    "\n"
    "Without -f, kiln returns once the mount is ready. A mount left by a killed kiln is\n"
    "cleaned up first. Stop it with 'kiln umount DIR' (or SIGINT/SIGTERM to the server).\n";

static const char umount_usage[] =
    "usage: kiln umount DIR\n"
    "\n"
    "Unmounts what 'kiln mount' put at DIR, or cleans up a mount left\n"
    "behind by a kiln that was killed.\n";

/* The lazyfs mount in the making; sources and providers fill it, serve() mounts it. */
struct mount_job {
	struct store *store;
	struct digest tree;
	char *local_root; /* set when SOURCE is a directory: local reads stay inside it */
	char *mountpoint;
	const char *log_file;
	bool foreground;
	bool passthrough;
	struct cli_daemon *daemon;    /* background: the handshake with the waiting parent */
	struct source_options source; /* git and image sources */
};

/* Resolves SOURCE to a tree id, scanning a directory as a build context (metadata only); an
 * image name is looked up in kiln's image index (source.c). */
static int
resolve_source(const char *source, struct mount_job *job, struct kl_error **err)
{
	const struct ctxsrc_options opts = {.locate_only = true};
	struct stat st;

	if (strncmp(source, "sha256:", 7) == 0)
		return digest_parse(source, strlen(source), &job->tree, err);
	if (source_classify(source) != SOURCE_CONTEXT)
		return source_resolve(job->store, source, &job->source, &job->tree, err);
	/* A directory is shown as a build would see it: .dockerignore applied. */
	if (stat(source, &st) < 0)
		return kl_error_set(err, errno, "source '%s'", source);
	if (!S_ISDIR(st.st_mode))
		return kl_error_setf(err, EINVAL,
		                     "source '%s' is neither a tree id nor a directory", source);
	job->local_root = realpath(source, NULL);
	if (!job->local_root)
		return kl_error_set(err, errno, "resolving '%s'", source);
	/* errors name the context */
	return ctxsrc_scan(job->store, job->local_root, &opts, &job->tree, err);
}

/* Clears a mount a killed kiln left at dir, and checks that dir can take a new one; the
 * canonical path goes to ret. */
static int
prepare_mountpoint(const char *dir, char **ret, struct kl_error **err)
{
	_cleanup_free_ char *real = NULL;
	struct stat st;
	int r;

	r = mountpoint_clear_stale(dir, err);
	if (r < 0)
		return r;
	if (r > 0)
		kl_log(KL_LOG_INFO, "removed a mount at '%s' left behind by a server that died",
		       dir);
	if (stat(dir, &st) < 0)
		return kl_error_set(err, errno, "mount point '%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return kl_error_set(err, ENOTDIR, "mount point '%s'", dir);
	real = realpath(dir, NULL);
	if (!real)
		return kl_error_set(err, errno, "resolving '%s'", dir);
	r = mountpoint_is_mounted(real, MOUNTPOINT_FSTYPE_LAZYFS, err);
	if (r < 0)
		return r;
	if (r > 0)
		return kl_error_setf(err, EBUSY,
		                     "'%s' is already a kiln mount; 'kiln umount' it first", real);
	*ret = TAKE_PTR(real);
	return 0;
}

/* Runs in a FUSE thread once the kernel completed the handshake: the mount is usable. */
static void
on_ready(void *userdata)
{
	struct mount_job *job = userdata;

	cli_daemon_ready(job->daemon, job->log_file);
}

/* Mounts and serves until unmounted or signalled; returns 0 or -errno with err set. */
static int
serve(struct mount_job *job, struct kl_error **err)
{
	struct provider_set *ps = provider_set_new_default(job->store, job->local_root);
	const struct lazyfs_options opts = {
	    .root_tree = &job->tree,
	    .providers = ps, /* owned by the lazyfs from here */
	    .handle_signals = true,
	    .passthrough = job->passthrough,
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
	source_add_providers(ps, job->store, &job->source);
	r = lazyfs_new(job->store, &opts, &fs, err);
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

/* The background server: the same, with the parent waiting for on_ready. */
static int
serve_in_background(struct cli_daemon *d, void *userdata, struct kl_error **err)
{
	struct mount_job *job = userdata;

	job->daemon = d;
	return serve(job, err);
}

static int
parse_mount_args(struct cli *c, int argc, char **argv, struct mount_job *job, const char **insecure,
                 struct kl_error **err)
{
	static const struct option opts[] = {
	    {"foreground", no_argument, NULL, 'f'},
	    {"passthrough", no_argument, NULL, 'T'},
	    {"log", required_argument, NULL, 'l'},
	    {"platform", required_argument, NULL, 'p'},
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"registry-timeout", required_argument, NULL, 't'},
	    {"pull", required_argument, NULL, 'P'},
	    {NULL, 0, NULL, 0},
	};
	struct kl_error *perr = NULL;
	int opt, r;

	job->source.insecure_registries = insecure;
	/* as `podman image mount`: a name is an image kiln has, unless asked to pull */
	job->source.pull_policy = IMGSRC_PULL_NEVER;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:f", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			job->foreground = true;
			break;
		case 'T':
			job->passthrough = true;
			break;
		case 'l':
			job->log_file = optarg;
			break;
		case 'p':
			job->source.platform = optarg;
			break;
		case 'i':
			insecure[job->source.n_insecure_registries++] = optarg;
			break;
		case 't':
			r = registry_parse_duration(optarg, &job->source.registry_timeout_ms,
			                            &perr);
			if (r < 0) {
				r = cli_usage_error(c, err, "mount", "--registry-timeout: %s",
				                    perr->msg);
				kl_error_free(perr);
				return r;
			}
			break;
		case 'P':
			if (imgsrc_pull_policy_parse(optarg, &job->source.pull_policy, &perr) < 0) {
				r = cli_usage_error(c, err, "mount", "--pull: %s", perr->msg);
				kl_error_free(perr);
				return r;
			}
			break;
		default:
			return cli_option_error(c, err, "mount", opt, argv);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(c, err, "mount", "expected a source and a mount point");
	return 0;
}

int
cmd_mount(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	_cleanup_free_ const char **insecure = NULL;
	struct mount_job job = {0};
	int r;

	if (cli_wants_help(argc, argv, mount_usage))
		return 0;
	insecure = xcalloc((size_t)argc + 1, sizeof(*insecure));
	r = parse_mount_args(c, argc, argv, &job, insecure, err);
	if (r < 0)
		return r;
	job.source.auth_file = c->auth_file;
	r = prepare_mountpoint(argv[optind + 1], &job.mountpoint, err);
	if (r < 0)
		goto failed;
	r = cli_store(c, &job.store, err);
	if (r < 0)
		goto out; /* the message is complete */
	r = resolve_source(argv[optind], &job, err);
	if (r < 0)
		goto failed;
	if (job.foreground)
		r = serve(&job, err);
	else
		r = cli_daemon_run("mount", serve_in_background, &job, err);
failed:
	if (r < 0)
		kl_error_prefix(err, "mount");
out:
	free(job.local_root);
	free(job.mountpoint);
	return r;
}

/* Unmounts the kiln mount at dir, or clears a dead one. */
static int
unmount_kiln(const char *dir, struct kl_error **err)
{
	_cleanup_free_ char *path = NULL;
	int r;

	r = mountpoint_clear_stale(dir, err);
	if (r > 0)
		kl_log(KL_LOG_INFO, "removed a mount at '%s' left behind by a server that died",
		       dir);
	if (r != 0)
		return r < 0 ? r : 0;
	path = realpath(dir, NULL);
	if (!path)
		return kl_error_set(err, errno, "'%s'", dir);
	r = mountpoint_is_mounted(path, MOUNTPOINT_FSTYPE_LAZYFS, err);
	if (r < 0)
		return r;
	if (r == 0)
		return kl_error_setf(err, EINVAL, "'%s' is not a kiln mount", path);
	return mountpoint_unmount(path, /* flags= */ 0, err);
}

int
cmd_umount(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	int r;

	if (cli_wants_help(argc, argv, umount_usage))
		return 0;
	if (argc != 2)
		return cli_usage_error(c, err, "umount", "expected a mount point");
	r = unmount_kiln(argv[1], err);
	if (r < 0)
		kl_error_prefix(err, "umount");
	return r;
}
