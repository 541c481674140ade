// SPDX-License-Identifier: Apache-2.0
/* The mount table read from /proc/self/mountinfo, dead-mount detection, and unmounting. */
#include "fs/mountpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

#define OVERLAYFS_MAGIC 0x794c7630 /* linux/magic.h OVERLAYFS_SUPER_MAGIC */

struct mountpoint_table {
	char *text; /* the lines, cut and unescaped in place; entries point into it */
	struct mountpoint_entry *entries;
	size_t n;
};

/* Undoes the kernel's \ooo escapes in place; -EINVAL for one that decodes to NUL. */
static int
unescape_octal(char *s)
{
	char *w = s;

	for (const char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			if (*w++ == '\0')
				return -EINVAL;
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return 0;
}

static int
parse_uint(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT_MAX)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int
parse_dev(char *s, unsigned *ret_major, unsigned *ret_minor)
{
	char *colon = strchr(s, ':');

	if (!colon)
		return -EINVAL;
	*colon = '\0';
	return parse_uint(s, ret_major) < 0 ? -EINVAL : parse_uint(colon + 1, ret_minor);
}

int
mountpoint_parse_line(char *line, struct mountpoint_entry *ret, struct kl_error **err)
{
	/* id parent major:minor root path options [optional…] - fstype source super_options */
	enum { ID, PARENT, DEV, ROOT, PATH, OPTIONS, N_FIXED };
	char *f[N_FIXED], *tail[3], *tok, *p = line;
	struct mountpoint_entry e;
	size_t n = 0;

	p[strcspn(p, "\n")] = '\0';
	while (n < N_FIXED && (tok = strsep(&p, " ")))
		f[n++] = tok;
	if (n < N_FIXED)
		return kl_error_setf(err, EINVAL, "too few fields");
	/* optional fields ("shared:1 master:2") end at a lone "-" */
	while ((tok = strsep(&p, " ")) && strcmp(tok, "-") != 0)
		;
	if (!tok)
		return kl_error_setf(err, EINVAL, "no ' - ' separator");
	for (n = 0; n < 3 && (tok = strsep(&p, " "));)
		tail[n++] = tok;
	if (n < 3 || p)
		return kl_error_setf(err, EINVAL,
		                     "expected a type, a source and options after ' - '");
	if (parse_uint(f[ID], &e.id) < 0 || parse_uint(f[PARENT], &e.parent_id) < 0)
		return kl_error_setf(err, EINVAL, "bad mount id");
	if (parse_dev(f[DEV], &e.dev_major, &e.dev_minor) < 0)
		return kl_error_setf(err, EINVAL, "bad major:minor");
	if (unescape_octal(f[ROOT]) < 0 || unescape_octal(f[PATH]) < 0 ||
	    unescape_octal(tail[0]) < 0 || unescape_octal(tail[1]) < 0)
		return kl_error_setf(err, EINVAL, "an escape decodes to NUL");
	if (f[PATH][0] != '/')
		return kl_error_setf(err, EINVAL, "the mount point is not an absolute path");
	e.root = f[ROOT];
	e.path = f[PATH];
	e.options = f[OPTIONS];
	e.fstype = tail[0];
	e.source = tail[1];
	e.super_options = tail[2];
	*ret = e;
	return 0;
}

int
mountpoint_table_load(const char *path, struct mountpoint_table **ret, struct kl_error **err)
{
	_cleanup_(mountpoint_table_freep) struct mountpoint_table *t = NULL;
	_cleanup_close_ int fd = -1;
	size_t len, cap = 0, lineno = 0;
	char *line, *next;
	int r;

	if (!path)
		path = "/proc/self/mountinfo";
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kl_error_set(err, errno, "reading the mount table '%s'", path);
	t = xcalloc(1, sizeof(*t));
	r = kl_io_read_all(fd, MOUNTPOINT_MAX_TABLE, &t->text, &len);
	if (r < 0)
		return kl_error_set(err, -r, "reading the mount table '%s'", path);
	for (line = t->text; *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		lineno++;
		if (!*line)
			continue;
		t->entries = xgrow(t->entries, &cap, t->n + 1, sizeof(*t->entries));
		r = mountpoint_parse_line(line, &t->entries[t->n], err);
		if (r < 0) {
			kl_error_prefix(err, "%s:%zu", path, lineno);
			return r;
		}
		t->n++;
	}
	*ret = TAKE_PTR(t);
	return 0;
}

struct mountpoint_table *
mountpoint_table_free(struct mountpoint_table *t)
{
	if (t) {
		free(t->entries);
		free(t->text);
		free(t);
	}
	return NULL;
}

size_t
mountpoint_table_count(const struct mountpoint_table *t)
{
	return t->n;
}

const struct mountpoint_entry *
mountpoint_table_entry(const struct mountpoint_table *t, size_t i)
{
	return i < t->n ? &t->entries[i] : NULL;
}

const struct mountpoint_entry *
mountpoint_table_find(const struct mountpoint_table *t, const char *path)
{
	for (size_t i = t->n; i-- > 0;)
		if (strcmp(t->entries[i].path, path) == 0)
			return &t->entries[i];
	return NULL;
}

char *
mountpoint_entry_option(const struct mountpoint_entry *e, const char *key)
{
	size_t key_len = strlen(key);

	/* A ',' inside a value is escaped (\054), so every raw ',' separates options. */
	for (const char *o = e->super_options; *o;) {
		size_t len = strcspn(o, ",");

		if (len >= key_len && strncmp(o, key, key_len) == 0 &&
		    (len == key_len || o[key_len] == '=')) {
			char *v = len == key_len ? xstrdup("")
			                         : xstrndup(o + key_len + 1, len - key_len - 1);
			if (unescape_octal(v) < 0)
				v[0] = '\0'; /* a NUL cut it short: nothing usable */
			return v;
		}
		o += len;
		if (*o == ',')
			o++;
	}
	return NULL;
}

/* Copies an overlay directory option's value into buf (at least strlen(value) + 1 bytes),
 * undoing overlayfs's "\x" escapes; with at_colons (lowerdir), as one string per unescaped
 * ':' ("::" comes before data-only layers). Returns the number of strings written. */
static size_t
unescape_dirs(const char *value, bool at_colons, char *buf)
{
	size_t n = 0;
	char *w = buf, *start = buf;

	for (const char *r = value;; r++) {
		if (*r == '\\' && r[1]) {
			*w++ = *++r;
		} else if ((at_colons && *r == ':') || *r == '\0') {
			if (w > start) { /* an empty piece is the second ':' of "::" */
				*w++ = '\0';
				n++;
				start = w;
			}
			if (*r == '\0')
				return n;
		} else {
			*w++ = *r;
		}
	}
}

/* The bytes n consecutive NUL-terminated strings at buf take. */
static size_t
strings_size(const char *buf, size_t n)
{
	size_t size = 0;

	for (size_t i = 0; i < n; i++)
		size += strlen(buf + size) + 1;
	return size;
}

int
mountpoint_overlay_dirs(const struct mountpoint_entry *e, char ***ret)
{
	_cleanup_free_ char *lower = NULL, *upper = NULL, *buf = NULL;
	size_t n = 0, text;
	char **v, *w;

	if (strcmp(e->fstype, "overlay") == 0) {
		lower = mountpoint_entry_option(e, "lowerdir");
		upper = mountpoint_entry_option(e, "upperdir");
	}
	buf = xmalloc((lower ? strlen(lower) + 1 : 0) + (upper ? strlen(upper) + 1 : 0) + 1);
	if (lower)
		n = unescape_dirs(lower, /* at_colons= */ true, buf);
	if (upper)
		n += unescape_dirs(upper, /* at_colons= */ false, buf + strings_size(buf, n));
	text = strings_size(buf, n);
	/* one block: the pointers, then the strings they point to */
	v = xmalloc(sizeof(char *) * (n + 1) + text);
	w = (char *)(v + n + 1);
	memcpy(w, buf, text);
	for (size_t i = 0; i < n; i++) {
		v[i] = w;
		w += strlen(w) + 1;
	}
	v[n] = NULL;
	*ret = v;
	return (int)n;
}

int
mountpoint_is_mounted(const char *path, const char *fstype, struct kl_error **err)
{
	_cleanup_(mountpoint_table_freep) struct mountpoint_table *t = NULL;
	const struct mountpoint_entry *e;
	int r;

	r = mountpoint_table_load(/* path= */ NULL, &t, err);
	if (r < 0)
		return r;
	e = mountpoint_table_find(t, path);
	return e && (!fstype || strcmp(e->fstype, fstype) == 0);
}

static bool
is_dead_fuse(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) < 0 && errno == ENOTCONN;
}

int
mountpoint_is_stale(const char *path)
{
	_cleanup_(mountpoint_table_freep) struct mountpoint_table *t = NULL;
	_cleanup_free_ char *real = NULL;
	_cleanup_free_ char **dirs = NULL;
	const struct mountpoint_entry *e;
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return errno == ENOTCONN;
	/* An overlay answers statfs from its upper layer: look at its layers themselves. */
	if (sf.f_type != OVERLAYFS_MAGIC)
		return 0;
	real = realpath(path, NULL);
	if (!real || mountpoint_table_load(/* path= */ NULL, &t, /* err= */ NULL) < 0)
		return 0;
	e = mountpoint_table_find(t, real);
	if (!e)
		return 0;
	(void)mountpoint_overlay_dirs(e, &dirs);
	for (char **d = dirs; *d; d++)
		if (is_dead_fuse(*d))
			return 1;
	return 0;
}

/* Runs fusermount3 -u[z] path with its stderr captured; returns its exit status (128 + signal
 * when killed) or -errno when it cannot run, and its first line of complaint in *ret_said. */
static int
run_fusermount(const char *path, bool detach, char **ret_said)
{
	char *argv[] = {"fusermount3", detach ? "-uz" : "-u", "--", (char *)path, NULL};
	posix_spawn_file_actions_t fa;
	char said[1024];
	ssize_t n;
	int p[2], status, r;
	pid_t pid;

	*ret_said = NULL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
	r = posix_spawnp(&pid, "fusermount3", &fa, /* attrp= */ NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	(void)close(p[1]);
	if (r != 0) {
		(void)close(p[0]);
		return -r;
	}
	n = kl_io_read_full(p[0], said, sizeof(said) - 1);
	(void)close(p[0]); /* anything past the buffer: fusermount3 gets EPIPE, we wait anyway */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (n > 0) {
		said[n] = '\0';
		said[strcspn(said, "\n")] = '\0';
		if (said[0])
			*ret_said = xstrdup(said);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* umount2, then fusermount3 where umount2 is not permitted. Returns 0 or -errno, with what
 * fusermount3 said about its failure (if it ran) in *ret_said. */
static int
unmount_path(const char *path, enum mountpoint_unmount_flags flags, char **ret_said)
{
	int e;

	*ret_said = NULL;
	if (umount2(path, (flags & MOUNTPOINT_DETACH) ? MNT_DETACH : 0) == 0)
		return 0;
	e = errno;
	if (e == EPERM && run_fusermount(path, flags & MOUNTPOINT_DETACH, ret_said) == 0)
		return 0;
	return -e;
}

int
mountpoint_unmount(const char *path, enum mountpoint_unmount_flags flags, struct kl_error **err)
{
	_cleanup_free_ char *said = NULL;
	int r = unmount_path(path, flags, &said);

	if (r < 0 && said)
		return kl_error_setf(err, -r, "unmounting '%s': %s", path, said);
	if (r < 0)
		return kl_error_set(err, -r, "unmounting '%s'", path);
	return 0;
}

int
mountpoint_clear_stale(const char *path, struct kl_error **err)
{
	_cleanup_free_ char *said = NULL;
	int r;

	if (!mountpoint_is_stale(path))
		return 0;
	r = unmount_path(path, MOUNTPOINT_DETACH, &said);
	if (r < 0 && said)
		return kl_error_setf(err, -r, "removing the dead mount at '%s': %s", path, said);
	if (r < 0)
		return kl_error_set(err, -r, "removing the dead mount at '%s'", path);
	return 1;
}
