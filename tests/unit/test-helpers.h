/* test-helpers — temp directories for unit tests (removed with everything in them), and
 * counting the files below one. */
#pragma once
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/path.h"
#include "util/xalloc.h"

static inline char *
test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p = xasprintf("%s/kiln-unit.XXXXXX", base && *base ? base : "/tmp");

	if (!mkdtemp(p))
		abort();
	return p;
}

static inline void
test_rmdir(char *p)
{
	(void)kl_path_rm_rf_at(-100 /* AT_FDCWD */, p);
	free(p);
}

/* The entries of dir itself, those whose names start with '.' too when hidden (a temporary
 * file may be one); aborts when dir cannot be read. */
static inline size_t
test_count_entries(const char *dir, bool hidden)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		abort();
	while ((de = readdir(d)))
		n += hidden ? strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0
		            : de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The files below dir, in its subdirectories too (a store's temporary files are in
 * ingest/<token>/); aborts when dir cannot be read. */
static inline size_t
test_count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		abort();
	while ((de = readdir(d))) {
		char *p;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(p, &st) < 0)
			abort();
		n += S_ISDIR(st.st_mode) ? test_count_files(p) : 1;
		free(p);
	}
	closedir(d);
	return n;
}
