// SPDX-License-Identifier: Apache-2.0
/* Path helpers: joining, mkdir -p, rm -rf, spreading subdirectories, checking relative paths. */
#include "util/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

char *
kl_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	if (la == 0)
		return xstrdup(b);
	if (*b == '\0')
		return xstrdup(a);
	if (a[la - 1] == '/')
		return xasprintf("%s%s", a, b);
	return xasprintf("%s/%s", a, b);
}

int
kl_path_mkdir_p(const char *dir, unsigned mode)
{
	_cleanup_free_ char *p = xstrdup(dir);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
kl_path_rm_rf_at(int dir_fd, const char *name)
{
	_cleanup_close_ int fd = -1;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d)
		return -errno;
	fd = -1; /* owned by d now */
	while ((de = readdir(d))) {
		int k;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		k = kl_path_rm_rf_at(dirfd(d), de->d_name);
		if (k < 0 && r == 0)
			r = k;
	}
	closedir(d);
	if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	return r;
}

bool
kl_path_is_clean_relative(const char *p, size_t len)
{
	size_t i = 0;

	if (len == 0 || p[0] == '/')
		return false;
	while (i < len) {
		size_t j = i;
		while (j < len && p[j] != '/')
			j++;
		if (j == i)
			return false;
		if ((j - i == 1 && p[i] == '.') || (j - i == 2 && p[i] == '.' && p[i + 1] == '.'))
			return false;
		if (memchr(p + i, '\0', j - i))
			return false;
		i = j + 1;
		if (j + 1 == len)
			return false; /* trailing slash */
	}
	return true;
}

void
kl_path_spread_subdirs(int dir_fd)
{
	int flags;

	if (ioctl(dir_fd, FS_IOC_GETFLAGS, &flags) < 0 || (flags & FS_TOPDIR_FL))
		return;
	flags |= FS_TOPDIR_FL;
	(void)ioctl(dir_fd, FS_IOC_SETFLAGS, &flags);
}
