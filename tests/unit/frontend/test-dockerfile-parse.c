// SPDX-License-Identifier: Apache-2.0
/* Unit tests for frontend/dockerfile-parse.c (with the lexer, the dump and the diagnostics):
 * directives, continuations, comments, heredocs, exec and shell forms, flags, every line
 * parser, exact dumps, exact errors with their lines, warnings, limits, and every fixture of
 * tests/data/dockerfile/ against its result. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/dockerfile-dump.h"
#include "frontend/dockerfile-parse.h"
#include "util/error.h"
#include "util/io.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

static struct dockerfile *
parse_ok(const char *text)
{
	struct dockerfile_source src = {"Dockerfile", text, strlen(text)};
	struct kl_error *err = NULL;
	struct dockerfile *df = NULL;

	if (dockerfile_parse(&src, NULL, &df, &err) < 0)
		fail_msg("parse failed: %s", err->msg);
	return df;
}

/* The dump of text must be want exactly. */
static void
dump_is(const char *text, const char *want)
{
	struct dockerfile *df = parse_ok(text);
	size_t len;
	char *out = dockerfile_dump(df, &len);

	if (strcmp(out, want) != 0)
		fail_msg("dump of:\n%s\ngot:\n%s\nwant:\n%s", text, out, want);
	free(out);
	dockerfile_free(df);
}

/* Parsing text must fail with exactly msg, and the details must name line and its text. */
static void
error_is(const char *text, const char *msg, unsigned line, const char *source_line)
{
	struct dockerfile_source src = {"Dockerfile", text, strlen(text)};
	struct dockerfile_error *e = NULL;
	struct dockerfile_parse_options opts = {.error = &e};
	struct kl_error *err = NULL;
	struct dockerfile *df = NULL;

	assert_int_equal(dockerfile_parse(&src, &opts, &df, &err), -EINVAL);
	assert_null(df);
	if (strcmp(err->msg, msg) != 0)
		fail_msg("message '%s', want '%s'", err->msg, msg);
	assert_non_null(e);
	assert_int_equal(e->line, line);
	assert_string_equal(e->file, "Dockerfile");
	if (source_line)
		assert_string_equal(e->source_line, source_line);
	else
		assert_null(e->source_line);
	dockerfile_error_free(e);
	kl_error_freep(&err);
}

static void
test_instruction_forms(void **state)
{
	(void)state;
	dump_is("FROM busybox AS base\n", "(from \"busybox\" \"AS\" \"base\")\n");
	dump_is("from\tbusybox\n", "(from \"busybox\")\n");
	dump_is("RUN echo  hi  \n", "(run \"echo  hi\")\n");
	dump_is("RUN [\"echo\", \"hi\"]\n", "(run \"echo\" \"hi\")\n");
	dump_is("RUN [\"echo\", 'hi']\n", "(run \"[\\\"echo\\\", 'hi']\")\n");
	dump_is("RUN [\"echo\"] trailing\n", "(run \"[\\\"echo\\\"] trailing\")\n");
	dump_is("CMD\n", "(cmd)\n");
	dump_is("CMD []\n", "(cmd)\n");
	dump_is("ENTRYPOINT [\"a\\u00e9\\n\"]\n", "(entrypoint \"aé\\n\")\n");
	dump_is("COPY a b c/\n", "(copy \"a\" \"b\" \"c/\")\n");
	dump_is("COPY [\"a b\", \"c\"]\n", "(copy \"a b\" \"c\")\n");
	dump_is("VOLUME /a /b\n", "(volume \"/a\" \"/b\")\n");
	dump_is("EXPOSE 80/tcp 443\n", "(expose \"80/tcp\" \"443\")\n");
	dump_is("USER  a b \n", "(user \"a b\")\n");
	dump_is("WORKDIR /x y\n", "(workdir \"/x y\")\n");
	dump_is("STOPSIGNAL SIGKILL\n", "(stopsignal \"SIGKILL\")\n");
	dump_is("MAINTAINER me <me@x>\n", "(maintainer \"me <me@x>\")\n");
	dump_is("SHELL [\"/bin/sh\", \"-c\"]\n", "(shell \"/bin/sh\" \"-c\")\n");
	dump_is("ARG a b=1 c=\"x y\"\n", "(arg \"a\" \"b=1\" \"c=\\\"x y\\\"\")\n");
	dump_is("HEALTHCHECK NONE\n", "(healthcheck \"NONE\")\n");
	dump_is("HEALTHCHECK --retries=2 CMD [\"a\"]\n",
	        "(healthcheck [\"--retries=2\"] \"CMD\" \"a\")\n");
	dump_is("BOGUS a b\n", "(bogus \"\")\n");
}

static void
test_env_and_label_pairs(void **state)
{
	(void)state;
	dump_is("ENV a=1 b=\"2 3\"\n", "(env \"a\" \"1\" \"=\" \"b\" \"\\\"2 3\\\"\" \"=\")\n");
	dump_is("ENV a 1 2\n", "(env \"a\" \"1 2\" \"\")\n");
	dump_is("LABEL \"a b\"=c\n", "(label \"\\\"a b\\\"\" \"c\" \"=\")\n");
	dump_is("ENV a=\n", "(env \"a\" \"\" \"=\")\n");
	dump_is("ENV\n", "(env)\n");
	error_is("FROM x\nENV a\n", "Dockerfile:2: ENV must have two arguments", 2, "ENV a");
	error_is("LABEL a=1 b\n",
	         "Dockerfile:1: Syntax error - can't find = in \"b\". Must be of the form: "
	         "name=value",
	         1, "LABEL a=1 b");
}

static void
test_flags(void **state)
{
	(void)state;
	dump_is("COPY --from=a --chown=1:1 x y\n",
	        "(copy [\"--from=a\" \"--chown=1:1\"] \"x\" \"y\")\n");
	dump_is("RUN --mount=type=cache,target=/c --network=none make\n",
	        "(run [\"--mount=type=cache,target=/c\" \"--network=none\"] \"make\")\n");
	dump_is("COPY --chown=\"a b\" x y\n", "(copy [\"--chown=a b\"] \"x\" \"y\")\n");
	dump_is("COPY --link -- --x y\n", "(copy [\"--link\"] \"--x\" \"y\")\n");
	dump_is("RUN -x --y\n", "(run \"-x --y\")\n");
	dump_is("RUN --a\n", "(run [\"--a\"])\n");
}

static void
test_onbuild(void **state)
{
	(void)state;
	dump_is("ONBUILD RUN echo hi\n", "(onbuild (run \"echo hi\"))\n");
	dump_is("ONBUILD COPY --from=a x y\n", "(onbuild (copy [\"--from=a\"] \"x\" \"y\"))\n");
	dump_is("ONBUILD ONBUILD RUN x\n", "(onbuild (onbuild (run \"x\")))\n");
	dump_is("ONBUILD\n", "(onbuild)\n");
}

static void
test_continuations(void **state)
{
	(void)state;
	dump_is("RUN a \\\n  b\n", "(run \"a   b\")\n");
	dump_is("RUN a \\  \t\n  b\n", "(run \"a   b\")\n"); /* blanks after the escape */
	dump_is("RUN a \\\n# a comment\n  b\n", "(run \"a   b\")\n");
	dump_is("RUN a \\\n  # indented comment\n  b\n", "(run \"a   b\")\n");
	dump_is("RUN a\\\\\nRUN b\n",
	        "(run \"a\\\\\\\\\")\n(run \"b\")\n"); /* \\ does not continue */
	dump_is("RUN a \\", "(run \"a\")\n");
	dump_is("RUN a \\\r\n b\r\n", "(run \"a  b\")\n");
	dump_is("  RUN indented\n", "(run \"indented\")\n");
	dump_is("RUN echo # not a comment\n", "(run \"echo # not a comment\")\n");
	dump_is("\\\nRUN x\n", "(run \"x\")\n");
}

static void
test_empty_continuation_warns(void **state)
{
	struct dockerfile *df;

	(void)state;
	df = parse_ok("FROM a\nRUN x \\\n\n  y\nRUN ok \\\n# c\n  z\n");
	assert_int_equal(df->n_nodes, 3);
	assert_int_equal(df->warnings.n, 1);
	assert_string_equal(df->warnings.v[0].message,
	                    "Empty continuation line found in: RUN x   y");
	assert_string_equal(df->warnings.v[0].detail,
	                    "Empty continuation lines will become errors in a future release");
	assert_int_equal(df->warnings.v[0].line, 4);
	assert_int_equal(df->nodes[1].start_line, 2);
	assert_int_equal(df->nodes[1].end_line, 4);
	dockerfile_free(df);
}

static void
test_directives(void **state)
{
	struct dockerfile *df;

	(void)state;
	df = parse_ok("# syntax = docker/dockerfile:1.7 \n#ESCAPE=`\n# check=skip=all\n"
	              "FROM a\nRUN x `\n y\n");
	assert_int_equal(df->escape, '`');
	assert_true(df->directives[DOCKERFILE_DIRECTIVE_SYNTAX].present);
	assert_string_equal(df->directives[DOCKERFILE_DIRECTIVE_SYNTAX].value,
	                    "docker/dockerfile:1.7");
	assert_int_equal(df->directives[DOCKERFILE_DIRECTIVE_ESCAPE].line, 2);
	assert_string_equal(df->directives[DOCKERFILE_DIRECTIVE_CHECK].value, "skip=all");
	assert_int_equal(df->warnings.n, 0);
	assert_int_equal(df->n_nodes, 2);
	assert_string_equal(df->nodes[1].args[0].s, "x  y");
	dockerfile_free(df);

	/* a blank line, a comment or an unknown directive ends the directives */
	df = parse_ok("\n# escape=`\nRUN a `\n");
	assert_int_equal(df->escape, '\\');
	dockerfile_free(df);
	df = parse_ok("# hello\n# escape=`\nRUN a\n");
	assert_int_equal(df->escape, '\\');
	dockerfile_free(df);
	df = parse_ok("# foo=bar\n# escape=`\nRUN a\n");
	assert_int_equal(df->escape, '\\');
	dockerfile_free(df);
	/* leading white space before '#' is dropped first, as BuildKit does */
	df = parse_ok("  # escape=`\nRUN a\n");
	assert_int_equal(df->escape, '`');
	dockerfile_free(df);
	/* a BOM goes */
	df = parse_ok("\xEF\xBB\xBF# escape=`\nRUN a\n");
	assert_int_equal(df->escape, '`');
	dockerfile_free(df);

	error_is("# escape=`\n# escape=\\\nFROM a\n",
	         "Dockerfile:2: only one escape parser directive can be used", 2, "# escape=\\");
	error_is("# escape=x\nFROM a\n",
	         "Dockerfile:1: invalid escape token 'x' does not match ` or \\", 1, "# escape=x");
}

static void
test_syntax_directive_warns_on_other_frontends(void **state)
{
	struct dockerfile *df;

	(void)state;
	df = parse_ok("# syntax=docker/dockerfile:1-labs\nFROM a\n");
	assert_int_equal(df->warnings.n, 0);
	dockerfile_free(df);
	df = parse_ok("# syntax=example.com/my/frontend:2\nFROM a\n");
	assert_int_equal(df->warnings.n, 1);
	assert_int_equal(df->warnings.v[0].line, 1);
	assert_string_equal(df->warnings.v[0].message,
	                    "unsupported frontend image in \"# syntax=example.com/my/frontend:2\"");
	dockerfile_free(df);
	/* as BuildKit's DetectSyntax, after a #! line too */
	df = parse_ok("#!/usr/bin/env buildx\n# syntax=other/frontend\nFROM a\n");
	assert_int_equal(df->warnings.n, 1);
	assert_int_equal(df->warnings.v[0].line, 2);
	assert_string_equal(df->directives[DOCKERFILE_DIRECTIVE_SYNTAX].value, "other/frontend");
	dockerfile_free(df);
	df = parse_ok("#!/bin/sh\n\n# syntax=other/frontend\nFROM a\n");
	assert_int_equal(df->warnings.n, 0);
	dockerfile_free(df);
}

static void
test_heredocs(void **state)
{
	struct dockerfile *df;
	const struct dockerfile_node *n;

	(void)state;
	df = parse_ok("FROM a\nRUN <<EOF\necho $A\nEOF\n"
	              "COPY <<A <<'B' /dst\na\nA\n\tb\nB\n"
	              "RUN <<-X cat\n\tx\n\tX\n"
	              "RUN 3<<EO\"F\" sh\nEOF\n"
	              "RUN [\"<<EOF\"]\n"
	              "USER <<NOPE\n");
	assert_int_equal(df->n_nodes, 7);
	n = &df->nodes[1];
	assert_int_equal(n->n_heredocs, 1);
	assert_string_equal(n->heredocs[0].name, "EOF");
	assert_string_equal(n->heredocs[0].content, "echo $A\n");
	assert_true(n->heredocs[0].expand);
	assert_int_equal(n->start_line, 2);
	assert_int_equal(n->end_line, 4);
	n = &df->nodes[2];
	assert_int_equal(n->n_heredocs, 2);
	assert_string_equal(n->heredocs[0].content, "a\n");
	assert_true(n->heredocs[0].expand);
	assert_string_equal(n->heredocs[1].name, "B");
	assert_string_equal(n->heredocs[1].content, "\tb\n");
	assert_false(n->heredocs[1].expand);
	n = &df->nodes[3];
	assert_true(n->heredocs[0].chomp);
	assert_string_equal(n->heredocs[0].content, "\tx\n"); /* tabs go later */
	n = &df->nodes[4];
	assert_int_equal(n->heredocs[0].fd, 3);
	assert_false(n->heredocs[0].expand);
	assert_string_equal(n->heredocs[0].name, "EOF");
	assert_int_equal(df->nodes[5].n_heredocs, 0); /* exec form */
	assert_int_equal(df->nodes[6].n_heredocs, 0); /* USER takes none */
	dockerfile_free(df);

	df = parse_ok("ONBUILD RUN <<EOF\nx\nEOF\n");
	assert_int_equal(df->nodes[0].n_heredocs, 1);
	dockerfile_free(df);

	dump_is("RUN <<EOF\n# not a comment\nEOF\nRUN next\n", "(run \"<<EOF\")\n(run \"next\")\n");
	error_is(
	    "FROM a\nRUN <<EOF\nnever closed\n",
	    "Dockerfile:2: unterminated heredoc 'EOF' (it starts on line 2, no line closes it)", 2,
	    "RUN <<EOF");
}

static void
test_exec_form_errors(void **state)
{
	(void)state;
	error_is("FROM a\nCMD [\"a\", 1]\n",
	         "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings "
	         "only",
	         2, "CMD [\"a\", 1]");
	error_is("HEALTHCHECK CMD [null]\n",
	         "Dockerfile:1: when using JSON array syntax, arrays must be comprised of strings "
	         "only",
	         1, "HEALTHCHECK CMD [null]");
	/* not JSON at all: the shell form */
	dump_is("CMD [1e999]\n", "(cmd \"[1e999]\")\n");
	dump_is("CMD [\"\xff\"]\n", "(cmd \"\xef\xbf\xbd\")\n");
}

static void
test_whole_file_errors(void **state)
{
	char *big;
	size_t n = 70000;

	(void)state;
	error_is("", "Dockerfile: file with no instructions", 0, NULL);
	error_is("# only\n\n   \n# comments\n", "Dockerfile: file with no instructions", 0, NULL);
	big = xmalloc(n + 20);
	memcpy(big, "FROM a\nRUN ", 11);
	memset(big + 11, 'x', n);
	strcpy(big + 11 + n, "\n");
	{
		char *line = xstrndup(big + 7, n + 4);

		error_is(big,
		         "Dockerfile:2: dockerfile line greater than max allowed size of 65535", 2,
		         line);
		free(line);
	}
	free(big);
}

static void
test_onbuild_depth_is_bounded(void **state)
{
	struct kl_strbuf b = {0};

	(void)state;
	for (int i = 0; i < 40; i++)
		kl_strbuf_puts(&b, "ONBUILD ");
	kl_strbuf_puts(&b, "RUN x\n");
	b.buf[b.len - 1] = '\0'; /* the source line has no newline */
	{
		char *line = xstrdup(b.buf);

		b.buf[b.len - 1] = '\n';
		error_is(b.buf, "Dockerfile:1: ONBUILD nested deeper than 16 levels", 1, line);
		free(line);
	}
	kl_strbuf_done(&b);
}

static void
test_go_quote(void **state)
{
	struct kl_strbuf b = {0};

	(void)state;
	dockerfile_go_quote(&b, "a\"\\\t\n\r\x01\x7f\x00\xc2\x80\xe2\x99\xa5\xff", 15);
	assert_string_equal(b.buf, "\"a\\\"\\\\\\t\\n\\r\\x01\\x7f\\x00\\u0080♥\\xff\"");
	kl_strbuf_done(&b);
}

static char *
read_file(const char *path, size_t *len)
{
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (kl_io_read_all(fd, 1u << 24, &buf, len) < 0)
		buf = NULL;
	close(fd);
	return buf;
}

/* Every tests/data/dockerfile/<case>/Dockerfile dumps to <case>/result. */
static void
test_fixtures_match_their_results(void **state)
{
	const char *root = getenv("KILN_SOURCE_DIR");
	char *dir;
	struct dirent *de;
	DIR *d;
	size_t checked = 0;

	(void)state;
	assert_non_null(root);
	dir = xasprintf("%s/tests/data/dockerfile", root);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		char *df_path, *res_path, *text, *want, *got;
		struct dockerfile_source src;
		struct kl_error *err = NULL;
		struct dockerfile *df = NULL;
		size_t tl, wl, gl;

		if (de->d_name[0] == '.')
			continue;
		df_path = xasprintf("%s/%s/Dockerfile", dir, de->d_name);
		res_path = xasprintf("%s/%s/result", dir, de->d_name);
		text = read_file(df_path, &tl);
		want = read_file(res_path, &wl);
		if (text && want) {
			src = (struct dockerfile_source){"Dockerfile", text, tl};
			if (dockerfile_parse(&src, NULL, &df, &err) < 0)
				fail_msg("%s: %s", de->d_name, err->msg);
			got = dockerfile_dump(df, &gl);
			if (gl != wl || memcmp(got, want, wl) != 0)
				fail_msg("%s: dump differs:\n%s\nwant:\n%s", de->d_name, got, want);
			free(got);
			dockerfile_free(df);
			checked++;
		}
		free(text);
		free(want);
		free(df_path);
		free(res_path);
	}
	closedir(d);
	free(dir);
	assert_true(checked >= 30);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_instruction_forms),
	    cmocka_unit_test(test_env_and_label_pairs),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_onbuild),
	    cmocka_unit_test(test_continuations),
	    cmocka_unit_test(test_empty_continuation_warns),
	    cmocka_unit_test(test_directives),
	    cmocka_unit_test(test_syntax_directive_warns_on_other_frontends),
	    cmocka_unit_test(test_heredocs),
	    cmocka_unit_test(test_exec_form_errors),
	    cmocka_unit_test(test_whole_file_errors),
	    cmocka_unit_test(test_onbuild_depth_is_bounded),
	    cmocka_unit_test(test_go_quote),
	    cmocka_unit_test(test_fixtures_match_their_results),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
