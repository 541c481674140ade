// SPDX-License-Identifier: Apache-2.0
/* Feeds every file of a corpus directory (argv[1]) to a fuzz target, for `meson test`. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	char *buf, *exact;
	size_t len;
	int r;

	if (fd < 0)
		return -1;
	r = kl_io_read_all(fd, 64u << 20, &buf, &len);
	close(fd);
	if (r < 0)
		return -1;
	/* An exactly sized copy, so a sanitizer sees any read past the input. */
	exact = malloc(len ? len : 1);
	if (!exact)
		abort();
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput((const uint8_t *)exact, len);
	free(exact);
	return 0;
}

int
main(int argc, char **argv)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	d = opendir(argv[1]);
	if (!d) {
		perror(argv[1]);
		return 1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (replay(dirfd(d), de->d_name) < 0) {
			fprintf(stderr, "%s/%s: cannot read\n", argv[1], de->d_name);
			closedir(d);
			return 1;
		}
		n++;
	}
	closedir(d);
	printf("replayed %zu inputs from %s\n", n, argv[1]);
	return n ? 0 : 1;
}
