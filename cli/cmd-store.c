// SPDX-License-Identifier: Apache-2.0
/* kiln store du|verify: what the content store holds, and whether its bytes are intact. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "fs/store.h"
#include "util/error.h"

static const char usage[] =
    "usage: kiln store du\n"
    "       kiln store verify\n"
    "\n"
    "du       print the number of blobs and their total bytes\n"
    "verify   re-hash every blob; list each corrupt one and exit 1 if there is any\n";

struct tally {
	struct store *store;
	uint64_t blobs, bytes, bad;
};

static int
count_blob(const struct digest *d, uint64_t size, void *userdata)
{
	struct tally *t = userdata;

	(void)d;
	t->blobs++;
	t->bytes += size;
	return 0;
}

static int
verify_blob(const struct digest *d, uint64_t size, void *userdata)
{
	char id[DIGEST_STRING_SIZE];
	struct tally *t = userdata;
	int r;

	t->blobs++;
	t->bytes += size;
	r = store_verify_blob(t->store, d);
	if (r == -ENOENT)
		return 0; /* removed since listed */
	if (r == -EBADMSG) {
		printf("corrupt %s\n", digest_to_string(d, id));
		t->bad++;
	} else if (r < 0) {
		printf("unreadable %s: %s\n", digest_to_string(d, id), strerror(-r));
		t->bad++;
	}
	return 0;
}

int
cmd_store(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	struct tally t = {0};
	bool verify;
	int r;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc != 2 || (strcmp(argv[1], "du") && strcmp(argv[1], "verify")))
		return cli_usage_error(c, err, "store", "expected 'du' or 'verify'");
	verify = !strcmp(argv[1], "verify");
	r = cli_store(c, &t.store, err);
	if (r < 0)
		return r;
	r = store_foreach_blob(t.store, verify ? verify_blob : count_blob, &t, err);
	if (r < 0) {
		kl_error_prefix(err, "store %s", argv[1]);
		return r;
	}
	if (!verify) {
		printf("blobs %" PRIu64 "\nbytes %" PRIu64 "\n", t.blobs, t.bytes);
		return 0;
	}
	printf("%" PRIu64 " blobs checked, %" PRIu64 " corrupt\n", t.blobs, t.bad);
	if (t.bad)
		return kl_error_setf(err, EBADMSG,
		                     "store verify: %" PRIu64 " of %" PRIu64
		                     " blobs failed verification",
		                     t.bad, t.blobs);
	return 0;
}
