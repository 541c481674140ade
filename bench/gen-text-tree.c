// SPDX-License-Identifier: Apache-2.0
/* gen-text-tree DIR FILES MIB — writes a reproducible tree of FILES files holding MIB MiB in all
 * that compresses like source code and text (gzip -6 about 3x): lines of words drawn from a
 * Zipf-like vocabulary with hexadecimal ids and numbers mixed in. Four files of 64 MiB (or less
 * when MIB is small), the rest from 1 KiB to ~200 KiB around the mean, 100 per directory, two
 * levels deep. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WORDS 4096
#define TABLE 65536

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static char words[WORDS][24];
static uint16_t pick[TABLE]; /* uniform 16 bits → a word, more often the first ones */

static void
vocabulary(void)
{
	static const char *syl[] = {"ka",  "lo",  "mi",  "ne",  "ru",  "ta",  "shi",
	                            "pe",  "do",  "gu",  "an",  "el",  "or",  "is",
	                            "um",  "ex",  "va",  "zo",  "bi",  "fa",  "_",
	                            "get", "set", "int", "str", "buf", "len", "ptr"};
	double total = 0, acc = 0;
	size_t k = 0;

	for (int i = 0; i < WORDS; i++) {
		int n = 1 + (int)(rnd() % 4);

		words[i][0] = '\0';
		for (int j = 0; j < n; j++)
			strcat(words[i], syl[rnd() % (sizeof(syl) / sizeof(syl[0]))]);
		total += 1.0 / (i + 1);
	}
	for (int i = 0; i < WORDS; i++) {
		acc += 1.0 / (i + 1) / total;
		while (k < TABLE && (double)k / TABLE < acc)
			pick[k++] = (uint16_t)i;
	}
	while (k < TABLE)
		pick[k++] = WORDS - 1;
}

/* Fills buf with n bytes of text. */
static void
text(char *buf, size_t n)
{
	size_t o = 0;

	while (o < n) {
		char line[512];
		int len = 0, nw = 4 + (int)(rnd() % 13);

		if (rnd() % 8 == 0)
			len +=
			    snprintf(line + len, sizeof(line) - len, "%08" PRIx64 " %" PRIu64 " ",
			             rnd() & 0xffffffffu, rnd() % 100000);
		for (int i = 0; i < nw; i++)
			len += snprintf(line + len, sizeof(line) - len, "%s%s", i ? " " : "",
			                words[pick[rnd() % TABLE]]);
		line[len++] = '\n';
		for (int i = 0; i < len && o < n; i++)
			buf[o++] = line[i];
	}
}

#define BUF (1u << 20)

static int
write_file(const char *path, size_t size, char *buf)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return -errno;
	while (size) {
		size_t n = size < BUF ? size : BUF;

		text(buf, n);
		if (fwrite(buf, 1, n, f) != n) {
			fclose(f);
			return -EIO;
		}
		size -= n;
	}
	return fclose(f) ? -errno : 0;
}

int
main(int argc, char **argv)
{
	size_t files, total, big = 64u << 20, rest, mean;
	char path[4096], *buf;

	if (argc != 4) {
		fprintf(stderr, "usage: gen-text-tree DIR FILES MIB\n");
		return 2;
	}
	files = strtoul(argv[2], NULL, 10);
	total = strtoul(argv[3], NULL, 10) << 20;
	if (files < 5 || total < files * 1024) {
		fprintf(stderr, "gen-text-tree: at least 5 files of 1 KiB\n");
		return 2;
	}
	if (4 * big > total / 2)
		big = total / 8;
	rest = total - 4 * big;
	mean = rest / (files - 4);
	buf = malloc(BUF);
	vocabulary();
	snprintf(path, sizeof(path), "%s", argv[1]);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/big", argv[1]);
	mkdir(path, 0755);
	for (int j = 0; j < 4; j++) {
		snprintf(path, sizeof(path), "%s/big/large-%d.txt", argv[1], j);
		if (write_file(path, big, buf) < 0)
			goto fail;
	}
	for (size_t i = 0; i < files - 4; i++) {
		/* sizes from mean/16 to ~3.5 mean, the mean kept over the whole run */
		size_t size =
		    i + 1 == files - 4 ? rest : (size_t)(mean / 16 + rnd() % (mean * 15 / 8));

		if (size > rest)
			size = rest;
		if (size < 1024)
			size = 1024;
		if (i % 100 == 0) {
			snprintf(path, sizeof(path), "%s/d%03zu", argv[1], i / 10000);
			mkdir(path, 0755);
			snprintf(path, sizeof(path), "%s/d%03zu/s%03zu", argv[1], i / 10000,
			         (i / 100) % 100);
			mkdir(path, 0755);
		}
		snprintf(path, sizeof(path), "%s/d%03zu/s%03zu/file-%06zu.txt", argv[1], i / 10000,
		         (i / 100) % 100, i);
		if (write_file(path, size, buf) < 0)
			goto fail;
		rest -= size < rest ? size : rest;
	}
	free(buf);
	return 0;
fail:
	fprintf(stderr, "gen-text-tree: writing '%s': %s\n", path, strerror(errno));
	free(buf);
	return 1;
}
