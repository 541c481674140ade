// SPDX-License-Identifier: Apache-2.0
/* The overlays of a step (its rootfs over the lazy view of its input, writable binds) and
 * directories made inside a rootfs without following its symlinks out of it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

/* Escapes what overlayfs's option parser treats specially in a path: ',' (between options),
 * ':' (between lower dirs) and '\'. */
static void
put_escaped(FILE *f, const char *path)
{
	for (const char *p = path; *p; p++) {
		if (*p == ',' || *p == ':' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
}

int
exec_overlay_mount(const char *lower, const char *upper, const char *work, const char *merged,
                   struct kl_error **err)
{
	_cleanup_free_ char *opts = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&opts, &len);

	if (!f)
		abort();
	fputs("lowerdir=", f);
	put_escaped(f, lower);
	fputs(",upperdir=", f);
	put_escaped(f, upper);
	fputs(",workdir=", f);
	put_escaped(f, work);
	/* the upper must be a plain diff: no redirects, no metadata-only copies, no index; and
	 * volatile: the overlay never syncs the upper, not even at unmount, since the step's files
	 * that are kept are made durable where they land (the store's batch syncfs) and the rest is
	 * removed with the step */
	fputs(",redirect_dir=off,metacopy=off,index=off,xino=off,volatile", f);
	fclose(f);
	if (mount("overlay", merged, "overlay", MS_NODEV, opts) < 0)
		return kl_error_set(err, errno, "mounting an overlay of '%s' at '%s'", lower,
		                    merged);
	return 0;
}

int
exec_unmount(const char *path)
{
	if (umount2(path, UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno != EBUSY)
		return -errno;
	/* still used (a process of the step not yet reaped): detach it */
	return umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 ? -errno : 0;
}

char *
exec_lazy_path(const struct exec_env *env, const struct digest *id)
{
	char s[DIGEST_STRING_SIZE];

	return xasprintf("%s/%s", env->lazy_root, digest_to_string(id, s));
}

/* Opens path inside the rootfs at root_fd, resolving it there; -errno. */
static int
open_in_root(int root_fd, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC,
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

int
exec_rootfs_mkdir_p(int root_fd, const char *path, uint32_t uid, uint32_t gid,
                    struct kl_error **err)
{
	_cleanup_free_ char *p = exec_path_clean(path);
	size_t len = strlen(p);

	/* each missing component, made in its parent as resolved inside the root */
	for (size_t i = 1; i <= len; i++) {
		_cleanup_close_ int parent = -1, fd = -1;
		char saved;
		const char *name;

		if (i < len && p[i] != '/')
			continue;
		saved = p[i];
		p[i] = '\0';
		fd = open_in_root(root_fd, p, O_PATH | O_DIRECTORY);
		if (fd >= 0 || fd != -ENOENT) {
			p[i] = saved;
			if (fd < 0)
				return kl_error_set(err, -fd, "working directory '%s'", path);
			continue;
		}
		name = strrchr(p, '/') + 1;
		{
			_cleanup_free_ char *dir = xstrndup(p, (size_t)(name - p));
			parent = open_in_root(root_fd, dir, O_PATH | O_DIRECTORY);
		}
		if (parent < 0)
			return kl_error_set(err, -parent, "working directory '%s'", path);
		if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
			return kl_error_set(err, errno, "making working directory '%s'", path);
		if (fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return kl_error_set(err, errno, "chown of working directory '%s'", path);
		p[i] = saved;
	}
	return 0;
}
