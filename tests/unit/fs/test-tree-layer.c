// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/tree-layer: a layer's entries in order → a diff tree (replacement, the root,
 * whiteouts that hide only lower layers, hardlinks bound when they come, errors), applied over a
 * lower tree, and walked back in tar order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/digest.h"
#include "fs/tree-layer.h"
#include "fs/tree.h"
#include "fs/tree-writer.h"
#include "util/error.h"
#include "util/xalloc.h"

/* One step of a layer: 'f' file (data: content), 'd' dir, 'l' symlink and 'h' hardlink (data:
 * target), 'c' char device, 'w' whiteout, 'o' opaque marker in the dir at path. */
struct step {
	char kind;
	const char *path;
	const char *data;
	uint32_t mode;
};

static void
release(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

static int
add_step(struct tree_layer *l, const struct step *s, struct kl_error **err)
{
	static const struct tree_xattr x = {"user.k", 6, "v", 1};
	struct tree_entry e = {.path = s->path,
	                       .path_len = strlen(s->path),
	                       .mode = s->mode ? s->mode : 0644,
	                       .uid = 1000,
	                       .gid = 100,
	                       .mtime_sec = 1700000000};

	switch (s->kind) {
	case 'o':
		return tree_layer_add_opaque(l, s->path, strlen(s->path), err);
	case 'w':
		e.type = TREE_WHITEOUT;
		break;
	case 'd':
		e.type = TREE_DIR;
		e.mode = s->mode ? s->mode : 0755;
		break;
	case 'f':
		e.type = TREE_REG;
		e.size = strlen(s->data);
		digest_buffer(s->data, e.size, &e.digest);
		e.flags = TREE_ENTRY_HAS_DIGEST;
		return tree_layer_add(l, &e, &x, 1, err);
	case 'l':
	case 'h':
		e.type = s->kind == 'l' ? TREE_SYMLINK : TREE_HARDLINK;
		e.link = s->data;
		e.link_len = strlen(s->data);
		break;
	case 'c':
		e.type = TREE_CHAR;
		e.rdev = 0x0103;
		break;
	default:
		fail_msg("bad step kind '%c'", s->kind);
	}
	return tree_layer_add(l, &e, NULL, 0, err);
}

/* The diff tree of steps; fails the test on an error. */
static struct tree *
layer(const struct step *steps, size_t n)
{
	_cleanup_(tree_layer_freep) struct tree_layer *l = tree_layer_new("test");
	struct tree_builder *b;
	struct kl_error *err = NULL;
	struct tree *t;
	char *buf;
	size_t len;

	for (size_t i = 0; i < n; i++)
		if (add_step(l, &steps[i], &err) < 0)
			fail_msg("step %zu ('%s'): %s", i, steps[i].path, err->msg);
	if (tree_layer_finish(l, &b, &err) < 0)
		fail_msg("finish: %s", err->msg);
	if (tree_builder_serialize(b, &buf, &len, &err) < 0)
		fail_msg("serialize: %s", err->msg);
	tree_builder_free(b);
	assert_int_equal(tree_parse(buf, len, release, &t, NULL), 0);
	return t;
}

/* The steps fail with a message holding pattern and naming the layer. */
static void
layer_fails(const struct step *steps, size_t n, const char *pattern)
{
	_cleanup_(tree_layer_freep) struct tree_layer *l = tree_layer_new("test");
	struct kl_error *err = NULL;
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++)
		r = add_step(l, &steps[i], &err);
	if (r >= 0)
		fail_msg("steps were accepted (wanted '%s')", pattern);
	if (!strstr(err->msg, pattern) || !strstr(err->msg, "layer test"))
		fail_msg("message '%s' lacks '%s'", err->msg, pattern);
	kl_error_free(err);
}

static char
type_char(enum tree_entry_type t)
{
	return "fdlhcbpw"[t];
}

/* "path type flags mode [-> link] [=content]" per entry, one line each, in tree order; the
 * root is ".", flags o (opaque) i (implicit). */
static char *
listing(const struct tree *t)
{
	char *out = xstrdup("");

	for (uint32_t i = 0; i < tree_count(t); i++) {
		struct tree_entry e;
		char *line, *next, content[40] = "";

		tree_entry_at(t, i, &e);
		if (e.flags & TREE_ENTRY_HAS_DIGEST) {
			struct digest d;

			/* names the content by one of the test's strings */
			for (const char *const *c = (const char *const[]){"A", "B", "C", "x", NULL};
			     *c; c++) {
				digest_buffer(*c, strlen(*c), &d);
				if (digest_equal(&d, &e.digest))
					snprintf(content, sizeof(content), " =%s", *c);
			}
		}
		line =
		    xasprintf("%s %c %s%s %o%s%.*s%s\n", e.path_len ? e.path : ".",
		              type_char(e.type), e.flags & TREE_ENTRY_OPAQUE ? "o" : "",
		              e.flags & TREE_ENTRY_IMPLICIT ? "i" : "-", e.mode,
		              e.link ? " -> " : "", (int)e.link_len, e.link ? e.link : "", content);
		next = xasprintf("%s%s", out, line);
		free(out);
		free(line);
		out = next;
	}
	return out;
}

static void
assert_listing(const struct step *steps, size_t n, const char *want)
{
	struct tree *t = layer(steps, n);
	char *got = listing(t);

	if (strcmp(got, want))
		fail_msg("got:\n%s\nwanted:\n%s", got, want);
	free(got);
	tree_unref(t);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_a_later_entry_replaces_an_earlier_one(void **state)
{
	static const struct step s[] = {
	    {'f', "a", "A", 0600},  {'f', "a", "B", 0640}, {'l', "s", "x", 0777},
	    {'c', "s", NULL, 0600}, {'f', "c", "C", 0},    {'l', "c", "target", 0777},
	};

	(void)state;
	assert_listing(s, N(s),
	               ". d i 755\n"
	               "a f - 640 =B\n"
	               "c l - 777 -> target\n"
	               "s c - 600\n");
}

static void
test_a_dir_over_a_dir_keeps_children_and_takes_metadata(void **state)
{
	static const struct step s[] = {
	    {'d', "d", NULL, 0700},
	    {'f', "d/x", "x", 0},
	    {'d', "d", NULL, 0750},
	};

	(void)state;
	assert_listing(s, N(s),
	               ". d i 755\n"
	               "d d - 750\n"
	               "d/x f - 644 =x\n");
}

static void
test_a_file_over_a_dir_drops_its_subtree(void **state)
{
	static const struct step s[] = {
	    {'d', "d", NULL, 0},  {'d', "d/e", NULL, 0}, {'f', "d/e/x", "x", 0},
	    {'f', "d/y", "A", 0}, {'f', "d", "B", 0},    {'f', "z", "C", 0},
	};

	(void)state;
	assert_listing(s, N(s),
	               ". d i 755\n"
	               "d f - 644 =B\n"
	               "z f - 644 =C\n");
}

static void
test_a_dir_over_a_file_hides_lower_below_it(void **state)
{
	static const struct step s[] = {{'f', "a", "A", 0}, {'d', "a", NULL, 0700}};

	(void)state;
	assert_listing(s, N(s),
	               ". d i 755\n"
	               "a d o- 700\n");
}

static void
test_root_entries_set_the_root(void **state)
{
	static const struct step s[] = {
	    {'d', "", NULL, 0700}, {'f', "a", "A", 0}, {'d', "", NULL, 0750}};

	(void)state;
	assert_listing(s, N(s),
	               ". d - 750\n"
	               "a f - 644 =A\n");
}

static void
test_a_whiteout_never_hides_the_same_layer(void **state)
{
	static const struct step before_dir[] = {
	    {'w', "d", NULL, 0}, {'d', "d", NULL, 0700}, {'f', "d/x", "x", 0}};
	static const struct step before_child[] = {{'w', "d", NULL, 0}, {'f', "d/x", "x", 0}};
	static const struct step after_dir[] = {
	    {'d', "d", NULL, 0700}, {'f', "d/x", "x", 0}, {'w', "d", NULL, 0}};
	static const struct step after_file[] = {{'f', "a", "A", 0}, {'w', "a", NULL, 0}};
	static const struct step before_file[] = {{'w', "a", NULL, 0}, {'f', "a", "A", 0}};

	(void)state;
	assert_listing(before_dir, N(before_dir),
	               ". d i 755\n"
	               "d d o- 700\n"
	               "d/x f - 644 =x\n");
	assert_listing(before_child, N(before_child),
	               ". d i 755\n"
	               "d d o- 755\n"
	               "d/x f - 644 =x\n");
	assert_listing(after_dir, N(after_dir),
	               ". d i 755\n"
	               "d d o- 700\n"
	               "d/x f - 644 =x\n");
	assert_listing(after_file, N(after_file), ". d i 755\na f - 644 =A\n");
	assert_listing(before_file, N(before_file), ". d i 755\na f - 644 =A\n");
}

static void
test_opaque_markers_wherever_they_come(void **state)
{
	static const struct step unlisted[] = {{'o', "a", NULL, 0}, {'f', "a/b/c", "C", 0}};
	static const struct step then_dir[] = {{'o', "a", NULL, 0}, {'d', "a", NULL, 0700}};
	static const struct step after[] = {{'d', "a", NULL, 0700}, {'o', "a", NULL, 0}};
	static const struct step root[] = {{'o', "", NULL, 0}, {'f', "x", "x", 0}};

	(void)state;
	assert_listing(unlisted, N(unlisted),
	               ". d i 755\n"
	               "a d oi 755\n"
	               "a/b d i 755\n"
	               "a/b/c f - 644 =C\n");
	assert_listing(then_dir, N(then_dir), ". d i 755\na d o- 700\n");
	assert_listing(after, N(after), ". d i 755\na d o- 700\n");
	assert_listing(root, N(root), ". d oi 755\nx f - 644 =x\n");
}

static void
test_a_hardlink_keeps_the_file_its_target_held(void **state)
{
	static const struct step one[] = {
	    {'f', "a", "A", 0}, {'h', "b", "a", 0}, {'f', "a", "B", 0}};
	static const struct step two[] = {
	    {'f', "a", "A", 0}, {'h', "c", "a", 0}, {'h', "b", "a", 0}, {'d', "a", NULL, 0}};
	static const struct step chain[] = {
	    {'f', "a", "A", 0}, {'h', "b", "a", 0}, {'h', "c", "b", 0}};
	static const struct step relink[] = {
	    {'f', "a", "A", 0}, {'h', "b", "a", 0}, {'h', "a", "b", 0}};

	(void)state;
	assert_listing(one, N(one),
	               ". d i 755\n"
	               "a f - 644 =B\n"
	               "b f - 644 =A\n");
	assert_listing(two, N(two),
	               ". d i 755\n"
	               "a d o- 755\n"
	               "b f - 644 =A\n"
	               "c h - 644 -> b\n");
	assert_listing(chain, N(chain),
	               ". d i 755\n"
	               "a f - 644 =A\n"
	               "b h - 644 -> a\n"
	               "c h - 644 -> a\n");
	/* a relinked to its own content through b: one inode, a first in tree order */
	assert_listing(relink, N(relink),
	               ". d i 755\n"
	               "a f - 644 =A\n"
	               "b h - 644 -> a\n");
}

static void
test_a_hardlink_to_a_symlink_or_device_is_a_copy(void **state)
{
	static const struct step s[] = {
	    {'l', "s", "/t", 0777}, {'h', "h", "s", 0}, {'c', "n", NULL, 0600}, {'h', "m", "n", 0}};

	(void)state;
	assert_listing(s, N(s),
	               ". d i 755\n"
	               "h l - 777 -> /t\n"
	               "m c - 600\n"
	               "n c - 600\n"
	               "s l - 777 -> /t\n");
}

static void
test_bad_layers_are_refused(void **state)
{
	static const struct step missing[] = {{'h', "b", "a", 0}};
	static const struct step to_dir[] = {{'d', "d", NULL, 0}, {'h', "b", "d", 0}};
	static const struct step to_whiteout[] = {{'w', "a", NULL, 0}, {'h', "b", "a", 0}};
	static const struct step gone[] = {
	    {'f', "a", "A", 0}, {'w', "x", NULL, 0}, {'d', "a", NULL, 0}, {'h', "b", "a", 0}};
	static const struct step below_file[] = {{'f', "a", "A", 0}, {'f', "a/b", "B", 0}};
	static const struct step below_link[] = {{'l', "a", "/etc", 0}, {'w', "a/b", NULL, 0}};
	static const struct step opaque_file[] = {{'f', "a", "A", 0}, {'o', "a", NULL, 0}};
	static const struct step root_file[] = {{'f', "", "A", 0}};
	static const struct step unclean[] = {{'f', "a//b", "A", 0}};

	(void)state;
	layer_fails(missing, N(missing), "hardlink 'b' to 'a', which is not a file of this layer");
	layer_fails(to_dir, N(to_dir), "which is a directory");
	layer_fails(to_whiteout, N(to_whiteout), "not a file of this layer");
	layer_fails(gone, N(gone), "is a directory");
	layer_fails(below_file, N(below_file), "'a/b' is below 'a', which is not a directory");
	layer_fails(below_link, N(below_link), "'a/b' is below 'a', which is not a directory");
	layer_fails(opaque_file, N(opaque_file), "opaque marker in 'a', which is not a directory");
	layer_fails(root_file, N(root_file), "the root entry is not a directory");
	layer_fails(unclean, N(unclean), "not a clean relative path");
}

static void
test_an_empty_layer_is_an_implicit_root(void **state)
{
	(void)state;
	assert_listing(NULL, 0, ". d i 755\n");
}

/* Applying over a lower tree: whiteouts and opaque markers hide lower, not the layer. */

static struct tree *
apply(const struct step *lower, size_t nl, const struct step *upper, size_t nu)
{
	struct tree *lo = layer(lower, nl), *up = layer(upper, nu), *t = NULL;
	struct tree_writer *w = NULL;
	struct kl_error *err = NULL;

	if (tree_apply(lo, up, &w, &err) < 0 || tree_writer_finish_tree(w, &t, &err) < 0)
		fail_msg("apply: %s", err->msg);
	tree_writer_free(w);
	tree_unref(lo);
	tree_unref(up);
	return t;
}

static void
assert_applied(const struct step *lower, size_t nl, const struct step *upper, size_t nu,
               const char *want)
{
	struct tree *t = apply(lower, nl, upper, nu);
	char *got = listing(t);

	if (strcmp(got, want))
		fail_msg("got:\n%s\nwanted:\n%s", got, want);
	free(got);
	tree_unref(t);
}

static const struct step lower_d[] = {
    {'d', "", NULL, 0700}, {'d', "d", NULL, 0700}, {'f', "d/old", "A", 0}, {'f', "keep", "B", 0}};

static void
test_whiteouts_hide_only_lower_layers(void **state)
{
	static const struct step wh_then_dir[] = {
	    {'w', "d", NULL, 0}, {'d', "d", NULL, 0750}, {'f', "d/new", "C", 0}};
	static const struct step wh_then_child[] = {{'f', "d/new", "C", 0}, {'w', "d", NULL, 0}};
	static const struct step file_then_dir[] = {{'f', "d", "C", 0}, {'d', "d", NULL, 0750}};

	(void)state;
	assert_applied(lower_d, N(lower_d), wh_then_dir, N(wh_then_dir),
	               ". d - 700\n"
	               "d d - 750\n"
	               "d/new f - 644 =C\n"
	               "keep f - 644 =B\n");
	assert_applied(lower_d, N(lower_d), wh_then_child, N(wh_then_child),
	               ". d - 700\n"
	               "d d - 755\n"
	               "d/new f - 644 =C\n"
	               "keep f - 644 =B\n");
	assert_applied(lower_d, N(lower_d), file_then_dir, N(file_then_dir),
	               ". d - 700\n"
	               "d d - 750\n"
	               "keep f - 644 =B\n");
}

static void
test_an_opaque_marker_in_an_unlisted_dir_keeps_lower_metadata(void **state)
{
	static const struct step upper[] = {{'o', "d", NULL, 0}, {'f', "d/new", "C", 0}};
	static const struct step root[] = {{'f', "new", "C", 0}, {'o', "", NULL, 0}};

	(void)state;
	assert_applied(lower_d, N(lower_d), upper, N(upper),
	               ". d - 700\n"
	               "d d - 700\n"
	               "d/new f - 644 =C\n"
	               "keep f - 644 =B\n");
	assert_applied(lower_d, N(lower_d), root, N(root),
	               ". d - 700\n"
	               "new f - 644 =C\n");
}

/* The walk. */

struct walked {
	char *text;
};

static int
on_item(const struct tree *diff, enum tree_layer_item item, const struct tree_entry *e,
        void *userdata)
{
	struct walked *w = userdata;
	char *next;

	(void)diff;
	if (item == TREE_LAYER_WHITEOUT)
		next = xasprintf("%swhiteout %s\n", w->text, e->path);
	else if (item == TREE_LAYER_OPAQUE)
		next = xasprintf("%sopaque %s\n", w->text, e->path_len ? e->path : ".");
	else
		next = xasprintf("%s%s %c %o%s%.*s\n", w->text, e->path_len ? e->path : ".",
		                 type_char(e->type), e->mode, e->link ? " -> " : "",
		                 (int)e->link_len, e->link ? e->link : "");
	free(w->text);
	w->text = next;
	return 0;
}

static char *
walk(const struct tree *t)
{
	struct walked w = {xstrdup("")};

	assert_int_equal(tree_layer_walk(t, on_item, &w), 0);
	return w.text;
}

static void
test_the_walk_gives_back_the_layer_in_tar_order(void **state)
{
	static const struct step s[] = {
	    {'d', "etc", NULL, 0750}, {'f', "etc/a", "A", 0},     {'w', "etc/gone", NULL, 0},
	    {'o', "var", NULL, 0},    {'f', "var/x", "x", 0},     {'d', "usr", NULL, 0},
	    {'o', "usr", NULL, 0},    {'h', "etc/b", "etc/a", 0},
	};
	struct tree *t = layer(s, N(s));
	char *got = walk(t);

	(void)state;
	assert_string_equal(got, "etc d 750\n"
	                         "etc/a f 644\n"
	                         "etc/b h 644 -> etc/a\n"
	                         "whiteout etc/gone\n"
	                         "usr d 755\n"
	                         "opaque usr\n"
	                         "opaque var\n"
	                         "var/x f 644\n");
	free(got);
	tree_unref(t);
}

static void
test_the_walk_gives_content_to_the_first_name(void **state)
{
	static const struct step s[] = {
	    {'f', "z", "A", 0}, {'h', "a", "z", 0}, {'h', "m", "z", 0}, {'d', "", NULL, 0700}};
	struct tree *t = layer(s, N(s));
	char *got = walk(t);

	(void)state;
	assert_string_equal(got, ". d 700\n"
	                         "a f 644\n"
	                         "m h 644 -> a\n"
	                         "z h 644 -> a\n");
	free(got);
	tree_unref(t);
}

static int
stop_at_second(const struct tree *diff, enum tree_layer_item item, const struct tree_entry *e,
               void *userdata)
{
	int *n = userdata;

	(void)diff;
	(void)item;
	(void)e;
	return ++*n == 2 ? -ECANCELED : 0;
}

static void
test_the_walk_stops_when_told(void **state)
{
	static const struct step s[] = {{'f', "a", "A", 0}, {'f', "b", "B", 0}, {'f', "c", "C", 0}};
	struct tree *t = layer(s, N(s));
	int n = 0;

	(void)state;
	assert_int_equal(tree_layer_walk(t, stop_at_second, &n), -ECANCELED);
	assert_int_equal(n, 2);
	tree_unref(t);
}

static void
test_many_entries_and_replaced_subtrees_stay_linear(void **state)
{
	_cleanup_(tree_layer_freep) struct tree_layer *l = tree_layer_new("big");
	struct tree_builder *b;
	char path[64];
	struct step s = {'f', path, "A", 0};

	(void)state;
	/* 200k files in 200 dirs, every dir then replaced by a file and listed again */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 200000; i++) {
			snprintf(path, sizeof(path), "d%03d/f%06d", i % 200, i);
			assert_int_equal(add_step(l, &s, NULL), 0);
		}
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "d%03d", i);
		assert_int_equal(add_step(l, &s, NULL), 0);
	}
	assert_int_equal(tree_layer_finish(l, &b, NULL), 0);
	tree_builder_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_later_entry_replaces_an_earlier_one),
	    cmocka_unit_test(test_a_dir_over_a_dir_keeps_children_and_takes_metadata),
	    cmocka_unit_test(test_a_file_over_a_dir_drops_its_subtree),
	    cmocka_unit_test(test_a_dir_over_a_file_hides_lower_below_it),
	    cmocka_unit_test(test_root_entries_set_the_root),
	    cmocka_unit_test(test_a_whiteout_never_hides_the_same_layer),
	    cmocka_unit_test(test_opaque_markers_wherever_they_come),
	    cmocka_unit_test(test_a_hardlink_keeps_the_file_its_target_held),
	    cmocka_unit_test(test_a_hardlink_to_a_symlink_or_device_is_a_copy),
	    cmocka_unit_test(test_bad_layers_are_refused),
	    cmocka_unit_test(test_an_empty_layer_is_an_implicit_root),
	    cmocka_unit_test(test_whiteouts_hide_only_lower_layers),
	    cmocka_unit_test(test_an_opaque_marker_in_an_unlisted_dir_keeps_lower_metadata),
	    cmocka_unit_test(test_the_walk_gives_back_the_layer_in_tar_order),
	    cmocka_unit_test(test_the_walk_gives_content_to_the_first_name),
	    cmocka_unit_test(test_the_walk_stops_when_told),
	    cmocka_unit_test(test_many_entries_and_replaced_subtrees_stay_linear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
