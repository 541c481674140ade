// SPDX-License-Identifier: Apache-2.0
/* kiln tree import|export|ls: plumbing over the tree format, for tests and debugging. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "cli/cli.h"
#include "fs/store.h"
#include "fs/tree-import.h"
#include "fs/tree.h"
#include "util/cleanup.h"
#include "util/error.h"

static const char usage[] =
    "usage: kiln tree import DIR\n"
    "       kiln tree export TREE-ID DIR\n"
    "       kiln tree ls [-r] TREE-ID [PATH]\n"
    "\n"
    "import   scan DIR (symlinks not followed), store every file's content, print the tree id\n"
    "export   write the tree into DIR (created if missing, else it must be empty)\n"
    "ls       list the entries of the directory PATH (default: the root), or PATH itself;\n"
    "         -r lists the whole subtree\n";

/* Loads the tree named by id_text for command cmd; errors are complete ("tree ls: …"). */
static int
load_tree(struct cli *c, const char *cmd, const char *id_text, struct tree **ret,
          struct kl_error **err)
{
	struct store *s;
	struct digest id;
	int r;

	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = digest_parse(id_text, strlen(id_text), &id, err);
	if (r >= 0)
		r = tree_load(s, &id, ret, err);
	if (r == -ENOENT)
		return kl_error_setf(err, ENOENT, "%s: tree %s is not in the store", cmd, id_text);
	if (r < 0)
		kl_error_prefix(err, "%s", cmd);
	return r;
}

static int
tree_import(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	struct digest d;
	struct store *s;
	int r;

	if (argc != 2)
		return cli_usage_error(c, err, "tree import", "expected one directory");
	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = tree_import_dir(s, argv[1], /* opts= */ NULL, &d, err);
	if (r < 0) {
		kl_error_prefix(err, "tree import");
		return r;
	}
	printf("%s\n", digest_to_string(&d, id));
	return 0;
}

static int
tree_export(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	int r;

	if (argc != 3)
		return cli_usage_error(c, err, "tree export", "expected a tree id and a directory");
	r = load_tree(c, "tree export", argv[1], &t, err);
	if (r < 0)
		return r;
	r = tree_export_dir(c->store, t, argv[2], err);
	if (r < 0)
		kl_error_prefix(err, "tree export");
	return r;
}

/* Prints bytes as C-style escapes where they are not printable ASCII. */
static void
print_escaped(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\\')
			fputs("\\\\", stdout);
		else if (ch == '\n')
			fputs("\\n", stdout);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\x%02x", ch);
		else
			putchar(ch);
	}
}

static void
print_entry(const struct tree *t, const struct tree_entry *e)
{
	static const char type_chars[_TREE_TYPE_MAX] = "-dlhcbpw";
	char mode[11], when[32], id[DIGEST_STRING_SIZE];
	struct tm tm;
	time_t sec = (time_t)e->mtime_sec;

	mode[0] = type_chars[e->type];
	for (int i = 0; i < 9; i++)
		mode[1 + i] = (e->mode & (0400 >> i)) ? "rwxrwxrwx"[i] : '-';
	if (e->mode & 04000)
		mode[3] = (e->mode & 0100) ? 's' : 'S';
	if (e->mode & 02000)
		mode[6] = (e->mode & 010) ? 's' : 'S';
	if (e->mode & 01000)
		mode[9] = (e->mode & 01) ? 't' : 'T';
	mode[10] = '\0';
	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("%s %" PRIu32 ":%" PRIu32 " ", mode, e->uid, e->gid);
	if (e->type == TREE_CHAR || e->type == TREE_BLOCK)
		printf("%u,%u", major((dev_t)e->rdev), minor((dev_t)e->rdev));
	else
		printf("%" PRIu64, e->size);
	printf(" %s.%09" PRIu32 "Z ", when, e->mtime_nsec);
	if (e->path_len)
		print_escaped(e->path, e->path_len);
	else
		putchar('.');
	if (e->type == TREE_SYMLINK || e->type == TREE_HARDLINK) {
		fputs(e->type == TREE_SYMLINK ? " -> " : " => ", stdout);
		print_escaped(e->link, e->link_len);
	}
	if (e->flags & TREE_ENTRY_OPAQUE)
		fputs(" (opaque)", stdout);
	if (e->flags & TREE_ENTRY_HAS_DIGEST)
		printf(" %s", digest_to_string(&e->digest, id));
	else if (e->locator) {
		putchar(' ');
		print_escaped(e->locator, e->locator_len);
	}
	for (uint32_t i = 0; i < e->n_xattrs; i++) {
		struct tree_xattr x;
		tree_entry_xattr(t, e, i, &x);
		printf(" [%s]", x.name);
	}
	putchar('\n');
}

static int
tree_ls(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option no_long_opts[] = {{NULL, 0, NULL, 0}};
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	bool recursive = false;
	const char *path = "";
	struct tree_entry e;
	uint32_t idx;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:r", no_long_opts, NULL)) != -1) {
		if (opt != 'r')
			return cli_option_error(c, err, "tree ls", opt, argv);
		recursive = true;
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage_error(c, err, "tree ls",
		                       "expected a tree id and an optional path");
	r = load_tree(c, "tree ls", argv[optind], &t, err);
	if (r < 0)
		return r;
	if (argc - optind == 2)
		path = argv[optind + 1];
	while (*path == '/')
		path++;
	if (tree_lookup(t, path, strlen(path), &idx) < 0)
		return kl_error_setf(err, ENOENT, "tree ls: '%s' is not in %s", path, argv[optind]);
	tree_entry_at(t, idx, &e);
	if (recursive) {
		for (uint32_t i = idx; i < tree_subtree_end(t, idx); i++) {
			tree_entry_at(t, i, &e);
			print_entry(t, &e);
		}
	} else if (e.type != TREE_DIR) {
		print_entry(t, &e);
	} else {
		for (uint32_t i = tree_first_child(t, idx); i != TREE_NONE;
		     i = tree_next_sibling(t, i)) {
			tree_entry_at(t, i, &e);
			print_entry(t, &e);
		}
	}
	return 0;
}

int
cmd_tree(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc < 2)
		return cli_usage_error(c, err, "tree", "expected 'import', 'export' or 'ls'");
	if (!strcmp(argv[1], "import"))
		return tree_import(c, argc - 1, argv + 1, err);
	if (!strcmp(argv[1], "export"))
		return tree_export(c, argc - 1, argv + 1, err);
	if (!strcmp(argv[1], "ls"))
		return tree_ls(c, argc - 1, argv + 1, err);
	return cli_usage_error(c, err, "tree", "unknown subcommand '%s'", argv[1]);
}
