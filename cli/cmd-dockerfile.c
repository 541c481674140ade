// SPDX-License-Identifier: Apache-2.0
/* kiln dockerfile parse|expand: what the Dockerfile frontend sees, for people and tests. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "frontend/dockerfile-diag.h"
#include "frontend/dockerfile-dump.h"
#include "frontend/dockerfile-expand.h"
#include "frontend/dockerfile-instr.h"
#include "frontend/dockerfile-parse.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

static const char usage[] =
    "usage: kiln dockerfile parse [--dump] FILE|-\n"
    "       kiln dockerfile expand [--env K=V]... [--escape C] [--words] [--] STRING\n"
    "\n"
    "parse   read a Dockerfile (FILE, or - for stdin) as kiln's frontend does: parser\n"
    "        directives, continuations, heredocs, exec and shell forms, every instruction\n"
    "        and its flags checked; warnings go to stderr, an error shows the offending\n"
    "        lines and exits 1\n"
    "        --dump  print the parse tree instead, one S-expression per instruction as\n"
    "                BuildKit's parser tests write it: (copy [\"--chown=1:1\"] \"a\" \"b\");\n"
    "                instructions are not checked beyond the parser's own rules\n"
    "expand  print STRING after word expansion as Docker's shell lexer does it (quotes,\n"
    "        escapes, $var, ${var:-w} and the other operators)\n"
    "        --env K=V   a variable (repeatable; the last one wins; K alone is empty)\n"
    "        --escape C  the escape character, \\ (default) or `\n"
    "        --words     print the words it splits into, one per line\n";

static void
print_excerpt(const struct dockerfile_source *src, const struct dockerfile_error *e)
{
	_cleanup_free_ char *text = e ? dockerfile_excerpt(src, e->line, e->end_line) : NULL;

	if (text)
		fputs(text, stderr);
}

static void
print_warnings(const struct dockerfile_source *src, const struct dockerfile_warnings *w)
{
	for (size_t i = 0; i < w->n; i++) {
		if (w->v[i].line)
			fprintf(stderr, "%s:%u: warning: %s\n", src->name, w->v[i].line,
			        w->v[i].message);
		else
			fprintf(stderr, "%s: warning: %s\n", src->name, w->v[i].message);
		if (w->v[i].detail)
			fprintf(stderr, "  %s\n", w->v[i].detail);
	}
}

static int
read_input(const char *path, char **ret, size_t *ret_len, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	int r;

	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kl_error_set(err, errno, "opening '%s'", path);
	r = kl_io_read_all(fd, DOCKERFILE_MAX_SIZE, ret, ret_len);
	if (r == -EFBIG)
		return kl_error_setf(err, EFBIG, "'%s' is larger than %u MiB", path,
		                     DOCKERFILE_MAX_SIZE >> 20);
	if (r < 0)
		return kl_error_set(err, -r, "reading '%s'", path);
	return 0;
}

static int
dockerfile_parse_cmd(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"dump", no_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
	struct dockerfile_error *detail = NULL;
	struct dockerfile_parse_options popts = {.error = &detail};
	struct dockerfile_instrs instrs = {0};
	_cleanup_free_ char *data = NULL;
	struct dockerfile_source src;
	const char *path, *slash;
	bool dump = false;
	size_t len;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt != 'd')
			return cli_option_error(c, err, "dockerfile parse", opt, argv);
		dump = true;
	}
	if (argc - optind != 1)
		return cli_usage_error(c, err, "dockerfile parse", "expected one FILE (or -)");
	path = argv[optind];
	r = read_input(path, &data, &len, err);
	if (r < 0)
		return r;
	slash = strrchr(path, '/');
	src = (struct dockerfile_source){
	    .name = strcmp(path, "-") == 0 ? "Dockerfile" : (slash ? slash + 1 : path),
	    .data = data,
	    .len = len,
	};
	r = dockerfile_parse(&src, &popts, &df, err);
	if (r == 0 && !dump)
		r = dockerfile_instrs_parse(df, &src, &instrs, &detail, err);
	if (df)
		print_warnings(&src, &df->warnings);
	if (r < 0) {
		print_excerpt(&src, detail);
		dockerfile_error_free(detail);
		return r;
	}
	dockerfile_instrs_done(&instrs);
	if (dump) {
		_cleanup_free_ char *out = dockerfile_dump(df, &len);

		if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0)
			return kl_error_set(err, EIO, "dockerfile parse: writing the dump");
	}
	return 0;
}

static int
dockerfile_expand_cmd(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"env", required_argument, NULL, 'e'},
	    {"escape", required_argument, NULL, 'x'},
	    {"words", no_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_free_ const char **env = xcalloc((size_t)argc + 1, sizeof(*env));
	struct dockerfile_envlist list = {.kv = env};
	struct dockerfile_expander ex = {
	    .escape = '\\', .lookup = dockerfile_envlist_lookup, .userdata = &list};
	bool words = false;
	const char *s;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			env[list.n++] = optarg;
			break;
		case 'x':
			if (strcmp(optarg, "\\") != 0 && strcmp(optarg, "`") != 0)
				return cli_usage_error(c, err, "dockerfile expand",
				                       "--escape takes \\ or `, not '%s'", optarg);
			ex.escape = optarg[0];
			break;
		case 'w':
			words = true;
			break;
		default:
			return cli_option_error(c, err, "dockerfile expand", opt, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(c, err, "dockerfile expand", "expected one STRING");
	s = argv[optind];
	if (words) {
		char **v;
		size_t n;

		r = dockerfile_expand_words(&ex, s, strlen(s), &v, &n, err);
		if (r < 0) {
			kl_error_prefix(err, "dockerfile expand");
			return r;
		}
		for (size_t i = 0; i < n; i++)
			printf("%s\n", v[i]);
		dockerfile_words_free(v, n);
	} else {
		_cleanup_free_ char *out = NULL;
		size_t n;

		r = dockerfile_expand(&ex, s, strlen(s), &out, &n, err);
		if (r < 0) {
			kl_error_prefix(err, "dockerfile expand");
			return r;
		}
		fwrite(out, 1, n, stdout);
		putchar('\n');
	}
	if (fflush(stdout) != 0)
		return kl_error_set(err, EIO, "dockerfile expand: writing the result");
	return 0;
}

int
cmd_dockerfile(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	if (argc >= 2 && strcmp(argv[1], "parse") == 0) {
		if (cli_wants_help(argc - 1, argv + 1, usage))
			return 0;
		return dockerfile_parse_cmd(c, argc - 1, argv + 1, err);
	}
	if (argc >= 2 && strcmp(argv[1], "expand") == 0) {
		if (cli_wants_help(argc - 1, argv + 1, usage))
			return 0;
		return dockerfile_expand_cmd(c, argc - 1, argv + 1, err);
	}
	if (cli_wants_help(argc, argv, usage))
		return 0;
	return cli_usage_error(c, err, "dockerfile", "expected 'parse' or 'expand'");
}
