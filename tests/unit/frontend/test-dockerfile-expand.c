// SPDX-License-Identifier: Apache-2.0
/* Unit tests for frontend/dockerfile-expand.c and dockerfile-pattern.c: quotes, escapes, every
 * ${} operator, patterns, word splitting, the raw and skip modes, errors and limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-expand.h"
#include "util/error.h"

/* BuildKit's lex_test environment */
static const char *const base_env[] = {"PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="};

static void
expect_env(const char *const *env, size_t n, char escape, unsigned flags, const char *in,
           const char *want)
{
	struct dockerfile_envlist list = {env, n};
	struct dockerfile_expander ex = {escape, flags, dockerfile_envlist_lookup, &list};
	struct kl_error *err = NULL;
	char *out;
	size_t len;

	if (dockerfile_expand(&ex, in, strlen(in), &out, &len, &err) < 0)
		fail_msg("'%s': %s", in, err->msg);
	if (strcmp(out, want) != 0)
		fail_msg("'%s': got '%s', want '%s'", in, out, want);
	assert_int_equal(len, strlen(want));
	free(out);
}

static void
expect(const char *in, const char *want)
{
	expect_env(base_env, 4, '\\', 0, in, want);
}

static void
expect_err_env(const char *const *env, size_t n, const char *in, const char *msg)
{
	struct dockerfile_envlist list = {env, n};
	struct dockerfile_expander ex = {'\\', 0, dockerfile_envlist_lookup, &list};
	struct kl_error *err = NULL;
	char *out = NULL;
	size_t len;

	if (dockerfile_expand(&ex, in, strlen(in), &out, &len, &err) == 0)
		fail_msg("'%s': expected an error, got '%s'", in, out);
	assert_non_null(err);
	if (strcmp(err->msg, msg) != 0)
		fail_msg("'%s': message '%s', want '%s'", in, err->msg, msg);
	kl_error_freep(&err);
}

static void
expect_err(const char *in, const char *msg)
{
	expect_err_env(base_env, 4, in, msg);
}

static void
expect_words_env(const char *const *env, size_t n, unsigned flags, const char *in,
                 const char *want_joined)
{
	struct dockerfile_envlist list = {env, n};
	struct dockerfile_expander ex = {'\\', flags, dockerfile_envlist_lookup, &list};
	struct kl_error *err = NULL;
	char **w, joined[1024] = "";
	size_t nw;

	if (dockerfile_expand_words(&ex, in, strlen(in), &w, &nw, &err) < 0)
		fail_msg("'%s': %s", in, err->msg);
	for (size_t i = 0; i < nw; i++) {
		if (i)
			strcat(joined, ",");
		strcat(joined, w[i]);
	}
	if (strcmp(joined, want_joined) != 0)
		fail_msg("'%s': words '%s', want '%s'", in, joined, want_joined);
	dockerfile_words_free(w, nw);
}

static void
test_quotes_and_escapes(void **state)
{
	(void)state;
	expect("hello", "hello");
	expect("he'll'o", "hello");
	expect("a b", "a b");
}

static void
test_quote_rules(void **state)
{
	(void)state;
	expect("he\"l\"lo", "hello");
	expect("he\\'llo", "he'llo");
	expect("'$PWD'", "$PWD");
	expect("\"$PWD\"", "/home");
	expect("\"a\\\"b\"", "a\"b");
	expect("\"a\\$b\"", "a$b");
	expect("\"a\\\\b\"", "a\\b");
	expect("\"a\\xb\"", "a\\xb"); /* only \" \$ \\ are escapes in double quotes */
	expect("'a\\'", "a\\");       /* nothing escapes in single quotes */
	expect("a\\ b", "a b");
	expect("abc\\", "abc"); /* an escape at the end is dropped */
	expect("\\$PWD", "$PWD");
	expect("$KOREAN", "한국어");
	expect("'a' \"b\" c", "a b c");
}

static void
test_backtick_escape(void **state)
{
	(void)state;
	expect_env(base_env, 4, '`', 0, "a`$PWD", "a$PWD");
	expect_env(base_env, 4, '`', 0, "c:\\dir\\$PWD", "c:\\dir\\/home");
	expect_env(base_env, 4, '`', 0, "\"a`\"b\"", "a\"b");
}

static void
test_simple_variables(void **state)
{
	(void)state;
	expect("$PWD", "/home");
	expect("${PWD}", "/home");
	expect("x${PWD}y", "x/homey");
	expect("$PWDx", ""); /* the name runs to the first non-name character */
	expect("$NOPE", "");
	expect("${NOPE}", "");
	expect("$", "$");
	expect("a$ b", "a$ b");
	expect("$.x", "$.x");
	expect("$1abc", "abc"); /* $1: a positional parameter, unset */
	expect("$@x", "x");
	expect("$$", "");
}

static void
test_default_and_alternative(void **state)
{
	static const char *const env[] = {"FOO=xxx", "BAR="};

	(void)state;
	expect_env(env, 2, '\\', 0, "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", "xxx  ccc");
	expect_env(env, 2, '\\', 0, "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", "xxx bbb ccc");
	expect_env(env, 2, '\\', 0, "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", "aaa bbb ");
	expect_env(env, 2, '\\', 0, "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", "aaa  ");
	expect_env(env, 2, '\\', 0, "${BAZ:-${FOO}}", "xxx");
	expect_env(env, 2, '\\', 0, "${BAZ:-'a b'}", "a b");
	expect_env(env, 2, '\\', 0, "${BAZ:-a\\}b}", "a}b");
	expect_env(env, 2, '\\', 0, "${FOO:-}", "xxx");
}

static void
test_required(void **state)
{
	static const char *const set[] = {"VAR=plain", "ARG=x"};
	static const char *const empty[] = {"VAR=", "ARG=x"};
	static const char *const unset[] = {"ARG=x"};

	(void)state;
	expect_env(set, 2, '\\', 0, "${VAR:?message here$ARG}", "plain");
	expect_err_env(empty, 2, "${VAR:?message here$ARG}",
	               "failed to process \"${VAR:?message here$ARG}\": VAR: message herex");
	expect_err_env(unset, 1, "${VAR:?message here$ARG}",
	               "failed to process \"${VAR:?message here$ARG}\": VAR: message herex");
	expect_env(set, 2, '\\', 0, "${VAR?message here$ARG}", "plain");
	expect_env(empty, 2, '\\', 0, "${VAR?message here$ARG}", "");
	expect_err_env(unset, 1, "${VAR?m}", "failed to process \"${VAR?m}\": VAR: m");
	expect_err_env(unset, 1, "${VAR?}",
	               "failed to process \"${VAR?}\": VAR: is not allowed to be unset");
	expect_err_env(empty, 2, "${VAR:?}",
	               "failed to process \"${VAR:?}\": VAR: is not allowed to be empty");
}

static void
test_prefix_suffix(void **state)
{
	static const char *const env[] = {"FOO=xxyy", "BAR=x", "EMPTY=", "P=/a/b/c.tar.gz"};
	static const char *const rx[] = {"FOO=()[]{}^$.*?|\\x"};
	static const char *const stars[] = {"FOO=xx**"};
	static const char *const stars2[] = {"FOO=a***yy*"};
	static const char *const q[] = {"FOO=???y"};

	(void)state;
	expect_env(env, 4, '\\', 0, "${FOO#*x*y}", "y");
	expect_env(env, 4, '\\', 0, "${FOO#*}", "xxyy");
	expect_env(env, 4, '\\', 0, "${FOO#$BAR}", "xyy");
	expect_env(env, 4, '\\', 0, "${FOO#$EMPTY}", "xxyy");
	expect_env(env, 4, '\\', 0, "${FOO#}", "xxyy");
	expect_env(env, 4, '\\', 0, "${FOO##*x}", "yy");
	expect_env(env, 4, '\\', 0, "${FOO##}", "xxyy");
	expect_env(env, 4, '\\', 0, "${FOO%y}", "xxy");
	expect_env(env, 4, '\\', 0, "${FOO%%y*}", "xx");
	expect_env(env, 4, '\\', 0, "${FOO%x}", "xxyy");
	expect_env(env, 4, '\\', 0, "${FOO%}", "xxyy");
	expect_env(env, 4, '\\', 0, "${FOO%%$EMPTY}", "xxyy");
	expect_env(env, 4, '\\', 0, "${ABC:-.}${FOO%x}${ABC:-.}", ".xxyy.");
	expect_env(env, 4, '\\', 0, "${P##*/}", "c.tar.gz");
	expect_env(env, 4, '\\', 0, "${P#*/}", "a/b/c.tar.gz");
	expect_env(env, 4, '\\', 0, "${P%.*}", "/a/b/c.tar");
	expect_env(env, 4, '\\', 0, "${P%%.*}", "/a/b/c");
	expect_env(env, 4, '\\', 0, "${P%/*}", "/a/b");
	expect_env(env, 4, '\\', 0, "${NOPE#x}", "");
	expect_env(rx, 1, '\\', 0, "${FOO#()[]{\\}^$.\\*\\?|\\\\}", "x");
	expect_env(stars, 1, '\\', 0, "${FOO%%\\**}", "xx");
	expect_env(stars2, 1, '\\', 0, "${FOO%%\\**\\*}", "a");
	expect_env(q, 1, '\\', 0, "${FOO#?\\?}", "?y");
}

static void
test_patterns_skip_newlines(void **state)
{
	static const char *const env[] = {"V=a\nb\nc"};

	(void)state;
	/* Go's '.' (what * and ? become) never matches a newline */
	expect_env(env, 1, '\\', 0, "${V#*}", "a\nb\nc");
	expect_env(env, 1, '\\', 0, "${V##*}", "\nb\nc");
	expect_env(env, 1, '\\', 0, "${V#a?}", "a\nb\nc");
}

static void
test_replace(void **state)
{
	static const char *const e1[] = {"FOO=/foo*/*/*.txt", "NEEDLE=\\*/"};
	static const char *const e2[] = {"FOO=/tmp/tmp/bar.txt", "NEEDLE=/tmp"};
	static const char *const e3[] = {"FOO=/a/foo/b/c.txt", "NEEDLE=/?/", "REPLACEMENT=/"};
	static const char *const e4[] = {"FOO=http://google.de", "NEEDLE=http://",
	                                 "REPLACEMENT=https://"};
	static const char *const e5[] = {"FOO=/tmp/foo.txt"};
	static const char *const e6[] = {"FOO=xxyy", "BAR="};

	(void)state;
	expect_env(e1, 2, '\\', 0, "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
	           "/foo.*/*.txt - /foo..*.txt");
	expect_env(e2, 2, '\\', 0, "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", "/tmp/bar.txt - /bar.txt");
	expect_env(e3, 3, '\\', 0, "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
	           "/foo/b/c.txt - /foo/c.txt");
	expect_env(e4, 3, '\\', 0, "${FOO/$NEEDLE/$REPLACEMENT}", "https://google.de");
	expect_env(e5, 1, '\\', 0, "${FOO//\\//\\/}", "\\/tmp\\/foo.txt");
	expect_env(e6, 2, '\\', 0, "${FOO/$BAR/ww}", "wwxxyy");
	expect_env(e6, 2, '\\', 0, "${FOO///}", "xxyy");
	expect_env(e6, 0, '\\', 0, "${FOO///}", "");
	expect_env(e6, 2, '\\', 0, "${FOO//y/Y}", "xxYY");
	expect_env(e6, 2, '\\', 0, "${FOO/y/Y}", "xxYy");
	expect_env(e6, 2, '\\', 0, "${FOO//x*/-}", "-");
	/* an empty pattern matches between every character, once after each match */
	expect_env(e6, 2, '\\', 0, "${FOO//$BAR/.}", ".x.x.y.y.");
	expect_err_env(e6, 2, "${FOO//ww}",
	               "failed to process \"${FOO//ww}\": syntax error: "
	               "missing '/' in ${}");
	expect_err_env(e6, 2, "${FOO//}",
	               "failed to process \"${FOO//}\": syntax error: "
	               "missing '/' in ${}");
}

static void
test_bad_substitutions(void **state)
{
	(void)state;
	expect_err("${", "failed to process \"${\": syntax error: missing '}'");
	expect_err("${PWD", "failed to process \"${PWD\": syntax error: missing '}'");
	expect_err("${PWD:-x", "failed to process \"${PWD:-x\": syntax error: missing '}'");
	expect_err("${}", "failed to process \"${}\": syntax error: bad substitution");
	expect_err("${:x}", "failed to process \"${:x}\": syntax error: bad substitution");
	expect_err("${{x}", "failed to process \"${{x}\": syntax error: bad substitution");
	expect_err("${PWD=x}",
	           "failed to process \"${PWD=x}\": unsupported modifier (=) in substitution");
	expect_err("${PWD:=x}",
	           "failed to process \"${PWD:=x}\": unsupported modifier (:=) in substitution");
	expect_err("${PWD!}",
	           "failed to process \"${PWD!}\": unsupported modifier (!) in substitution");
	expect_err("'abc", "failed to process \"'abc\": unexpected end of statement while looking "
	                   "for matching single-quote");
	expect_err("\"abc", "failed to process \"\\\"abc\": unexpected end of statement while "
	                    "looking for matching double-quote");
	expect_err("\"abc\\",
	           "failed to process \"\\\"abc\\\\\": unexpected end of statement while "
	           "looking for matching double-quote");
	expect_err("${PWD#\\x}", "failed to process \"${PWD#\\\\x}\": invalid pattern (\\x) in "
	                         "substitution: invalid escape '\\x'");
}

static void
test_words(void **state)
{
	static const char *const env[] = {"A=a b", "E=", "Q=\"q\""};

	(void)state;
	expect_words_env(env, 3, 0, "foo bar", "foo,bar");
	expect_words_env(env, 3, 0, "  foo   bar  ", "foo,bar");
	expect_words_env(env, 3, 0, "'a b' c", "a b,c");
	expect_words_env(env, 3, 0, "a\\ b c", "a b,c");
	expect_words_env(env, 3, 0, "$A", "a,b");
	expect_words_env(env, 3, 0, "\"$A\"", "a b");
	expect_words_env(env, 3, 0, "x$A", "xa,b");
	expect_words_env(env, 3, 0, "$Q", "\"q\"");
	expect_words_env(env, 3, 0, "a \"\" b", "a,b"); /* BuildKit drops empty words */
	expect_words_env(env, 3, 0, "$E", "");
	expect_words_env(env, 3, 0, "''", ""); /* found by fuzzing: nothing written yet */
	expect_words_env(env, 3, 0, "a\tb\nc", "a,b,c");
	expect_words_env(env, 3, 0,
	                 "a\xc2\xa0"
	                 "b",
	                 "a,b"); /* U+00A0 is Go white space */
	expect_words_env(env, 3, 0, "echo << EOF", "echo,<< EOF");
	expect_words_env(env, 3, 0, "${NONE:-x y}", "x,y");
}

static void
test_raw_and_skip_modes(void **state)
{
	(void)state;
	expect_env(base_env, 4, '\\', DOCKERFILE_EXPAND_RAW_QUOTES, "'a' \"b\"", "'a' \"b\"");
	expect_env(base_env, 4, '\\', DOCKERFILE_EXPAND_RAW_ESCAPES, "a\\ b", "a\\ b");
	expect_env(base_env, 4, '\\', DOCKERFILE_EXPAND_SKIP_UNSET, "$NOPE ${NOPE} ${NOPE:-x} $PWD",
	           "$NOPE ${NOPE} ${NOPE:-x} /home");
	expect_env(base_env, 4, '\\', DOCKERFILE_EXPAND_SKIP_UNSET, "${NOPE/a/b}", "${NOPE/a/b}");
	/* heredoc bodies: quotes are text, variables still expand */
	expect_env(base_env, 4, '\\', DOCKERFILE_EXPAND_SKIP_QUOTES, "echo '$PWD' \"x\"",
	           "echo '/home' \"x\"");
	expect_words_env(base_env, 4, DOCKERFILE_EXPAND_RAW_QUOTES | DOCKERFILE_EXPAND_SKIP_UNSET,
	                 "RUN <<'EOF' $X", "RUN,<<'EOF',$X");
}

static void
test_no_lookup_means_unset(void **state)
{
	struct dockerfile_expander ex = {.escape = '\\'};
	struct kl_error *err = NULL;
	char *out;
	size_t len;

	(void)state;
	assert_int_equal(dockerfile_expand(&ex, "a${X:-d}$Y", 10, &out, &len, &err), 0);
	assert_string_equal(out, "ad");
	free(out);
}

static void
test_envlist_last_wins(void **state)
{
	static const char *const env[] = {"car=hat", "car=bike", "foo"};

	(void)state;
	expect_env(env, 3, '\\', 0, "$car", "bike");
	expect_env(env, 3, '\\', 0, "${foo-unset}", "");
	expect_env(env, 3, '\\', 0, "$CAR", ""); /* case-sensitive */
}

static void
test_invalid_utf8_becomes_replacement(void **state)
{
	(void)state;
	expect("a\xffz", "a\xef\xbf\xbdz");
}

static void
test_limits(void **state)
{
	char *deep = malloc(2000), *out = NULL, *big, *many;
	struct dockerfile_expander ex = {.escape = '\\'};
	struct kl_error *err = NULL;
	const char *env[2];
	struct dockerfile_envlist list = {env, 1};
	size_t n = 0, len;

	(void)state;
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(deep + n, "${A:-");
	n += (size_t)sprintf(deep + n, "x");
	for (int i = 0; i < 100; i++)
		deep[n++] = '}';
	deep[n] = '\0';
	assert_int_equal(dockerfile_expand(&ex, deep, n, &out, &len, &err), -E2BIG);
	assert_non_null(strstr(err->msg, "nested deeper than 64"));
	kl_error_freep(&err);
	free(deep);

	/* ${V//?/$V}: a value of 8 KiB replacing each of its characters passes 16 MiB */
	big = malloc(8192 + 3);
	memcpy(big, "V=", 2);
	memset(big + 2, 'v', 8192);
	big[8194] = '\0';
	env[0] = big;
	ex.lookup = dockerfile_envlist_lookup;
	ex.userdata = &list;
	assert_int_equal(dockerfile_expand(&ex, "${V//?/$V}", 10, &out, &len, &err), -E2BIG);
	assert_non_null(strstr(err->msg, "expansion larger than"));
	kl_error_freep(&err);
	free(big);

	/* ${E-$V} gives E's empty value, but its word $V is expanded all the same: 40 of them
	 * over a value of 1 MiB expand 40 MiB to give nothing */
	big = malloc((1u << 20) + 3);
	memcpy(big, "V=", 2);
	memset(big + 2, 'v', 1u << 20);
	big[(1u << 20) + 2] = '\0';
	env[0] = big;
	env[1] = "E=";
	list.n = 2;
	many = malloc(40 * 7 + 1);
	for (int i = 0; i < 40; i++)
		memcpy(many + i * 7, "${E-$V}", 7);
	many[40 * 7] = '\0';
	assert_int_equal(dockerfile_expand(&ex, many, 8 * 7, &out, &len, &err), 0);
	assert_int_equal(len, 0);
	free(out);
	assert_int_equal(dockerfile_expand(&ex, many, 40 * 7, &out, &len, &err), -E2BIG);
	assert_non_null(strstr(err->msg, "expansions larger than 33554432 bytes in all"));
	kl_error_freep(&err);
	free(many);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quotes_and_escapes),
	    cmocka_unit_test(test_quote_rules),
	    cmocka_unit_test(test_backtick_escape),
	    cmocka_unit_test(test_simple_variables),
	    cmocka_unit_test(test_default_and_alternative),
	    cmocka_unit_test(test_required),
	    cmocka_unit_test(test_prefix_suffix),
	    cmocka_unit_test(test_patterns_skip_newlines),
	    cmocka_unit_test(test_replace),
	    cmocka_unit_test(test_bad_substitutions),
	    cmocka_unit_test(test_words),
	    cmocka_unit_test(test_raw_and_skip_modes),
	    cmocka_unit_test(test_no_lookup_means_unset),
	    cmocka_unit_test(test_envlist_last_wins),
	    cmocka_unit_test(test_invalid_utf8_becomes_replacement),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
