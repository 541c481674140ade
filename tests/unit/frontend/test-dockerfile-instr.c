// SPDX-License-Identifier: Apache-2.0
/* Unit tests for frontend/dockerfile-instr.c (with its flags): every instruction typed, every
 * flag parsed, BuildKit's errors word for word with their lines, meta args and stages. */
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
#include "frontend/dockerfile-instr.h"
#include "frontend/dockerfile-parse.h"
#include "util/error.h"

struct parsed {
	struct dockerfile *df;
	struct dockerfile_instrs in;
};

static void
parsed_done(struct parsed *p)
{
	dockerfile_instrs_done(&p->in);
	dockerfile_free(p->df);
}

static struct parsed
ok(const char *text)
{
	struct dockerfile_source src = {"Dockerfile", text, strlen(text)};
	struct kl_error *err = NULL;
	struct parsed p = {0};

	if (dockerfile_parse(&src, NULL, &p.df, &err) < 0 ||
	    dockerfile_instrs_parse(p.df, &src, &p.in, NULL, &err) < 0)
		fail_msg("'%s': %s", text, err->msg);
	return p;
}

/* The last instruction of "FROM scratch\n" + text. */
static struct parsed
one(const char *text, const struct dockerfile_instr **ret)
{
	char buf[4096];
	struct parsed p;

	snprintf(buf, sizeof(buf), "FROM scratch\n%s", text);
	p = ok(buf);
	*ret = &p.in.v[p.in.n - 1];
	return p;
}

static void
bad(const char *text, const char *msg)
{
	struct dockerfile_source src = {"Dockerfile", text, strlen(text)};
	struct dockerfile_error *e = NULL;
	struct kl_error *err = NULL;
	struct dockerfile_instrs in = {0};
	struct dockerfile *df = NULL;

	if (dockerfile_parse(&src, NULL, &df, &err) < 0)
		fail_msg("'%s': the parser refused it: %s", text, err->msg);
	assert_int_equal(dockerfile_instrs_parse(df, &src, &in, &e, &err), -EINVAL);
	if (strcmp(err->msg, msg) != 0)
		fail_msg("'%s': message '%s', want '%s'", text, err->msg, msg);
	assert_non_null(e);
	assert_non_null(e->source_line);
	dockerfile_error_free(e);
	kl_error_freep(&err);
	dockerfile_free(df);
}

static void
test_from(void **state)
{
	struct parsed p = ok("ARG V=1\nARG W\nFROM --platform=$BUILDPLATFORM img:$V AS Build-1\n"
	                     "FROM build-1\n");

	(void)state;
	assert_int_equal(p.in.n, 4);
	assert_int_equal(p.in.n_meta_args, 2);
	assert_int_equal(p.in.v[2].kind, DOCKERFILE_FROM);
	assert_string_equal(p.in.v[2].u.from.image, "img:$V");
	assert_string_equal(p.in.v[2].u.from.name, "build-1");
	assert_string_equal(p.in.v[2].u.from.platform, "$BUILDPLATFORM");
	assert_null(p.in.v[3].u.from.name);
	assert_null(p.in.v[3].u.from.platform);
	parsed_done(&p);
	bad("FROM", "Dockerfile:1: FROM requires either one or three arguments");
	bad("FROM a b", "Dockerfile:1: FROM requires either one or three arguments");
	bad("FROM a AS 1x", "Dockerfile:1: invalid name for build stage: \"1x\", name can't start "
	                    "with a number or contain symbols");
	bad("FROM --platfrom=x a",
	    "Dockerfile:1: unknown flag: --platfrom (did you mean platform?)");
	bad("FROM --plat=x a", "Dockerfile:1: unknown flag: --plat");
	bad("FROM --platform a", "Dockerfile:1: missing a value on flag: --platform");
	bad("RUN x", "Dockerfile:1: no build stage in current context");
	bad("ARG a\nENV b=1\nFROM c", "Dockerfile:2: no build stage in current context");
}

static void
test_run(void **state)
{
	const struct dockerfile_instr *in;
	struct parsed p;

	(void)state;
	p = one("RUN echo $HOME\n", &in);
	assert_int_equal(in->kind, DOCKERFILE_RUN);
	assert_true(in->u.run.cmd.shell_form);
	assert_int_equal(in->u.run.cmd.args.n, 1);
	assert_string_equal(in->u.run.cmd.args.v[0], "echo $HOME");
	assert_int_equal(in->u.run.network, DOCKERFILE_NETWORK_DEFAULT);
	assert_int_equal(in->u.run.security, DOCKERFILE_SECURITY_SANDBOX);
	parsed_done(&p);

	p = one("RUN --network=none --security=insecure [\"a\", \"b c\"]\n", &in);
	assert_false(in->u.run.cmd.shell_form);
	assert_int_equal(in->u.run.cmd.args.n, 2);
	assert_string_equal(in->u.run.cmd.args.v[1], "b c");
	assert_int_equal(in->u.run.network, DOCKERFILE_NETWORK_NONE);
	assert_int_equal(in->u.run.security, DOCKERFILE_SECURITY_INSECURE);
	parsed_done(&p);

	p = one("RUN --network=host <<EOF 3<<-'X'\necho $A\nEOF\n\t\tdata\nX\n", &in);
	assert_int_equal(in->u.run.network, DOCKERFILE_NETWORK_HOST);
	assert_int_equal(in->u.run.cmd.n_files, 2);
	assert_string_equal(in->u.run.cmd.files[0].name, "EOF");
	assert_string_equal(in->u.run.cmd.files[0].data, "echo $A\n");
	assert_true(in->u.run.cmd.files[0].expand);
	assert_int_equal(in->u.run.cmd.files[1].fd, 3);
	assert_true(in->u.run.cmd.files[1].chomp);
	assert_false(in->u.run.cmd.files[1].expand);
	assert_string_equal(in->u.run.cmd.files[1].data, "\t\tdata\n");
	assert_int_equal(in->end_line, 6);
	parsed_done(&p);

	bad("FROM a\nRUN --network=bridge x", "Dockerfile:2: invalid network mode \"bridge\"");
	bad("FROM a\nRUN --security=x y", "Dockerfile:2: security \"x\" is not valid");
	bad("FROM a\nRUN --mount=type=cache --mount x",
	    "Dockerfile:2: missing a value on flag: --mount");
	bad("FROM a\nRUN --mout=type=cache x",
	    "Dockerfile:2: unknown flag: --mout (did you mean mount?)");
	bad("FROM a\nRUN --network=none --network=host x",
	    "Dockerfile:2: duplicate flag specified: --network");
	bad("FROM a\nRUN --device=/dev/x y", "Dockerfile:2: unknown flag: --device");
}

static void
test_run_mounts(void **state)
{
	const struct dockerfile_instr *in;
	const struct dockerfile_mount *m;
	struct parsed p;

	(void)state;
	p = one("RUN --mount=type=cache,target=/root/.cache,id=c1,sharing=locked,mode=0750,uid=1,"
	        "gid=2 --mount=type=secret,id=aws,env=AWS_KEY,required "
	        "--mount=type=bind,from=build,source=/out,target=/in,rw "
	        "--mount=type=tmpfs,dst=/t,size=64m --mount=type=ssh "
	        "--mount=target=/x,src=$SRC make\n",
	        &in);
	assert_int_equal(in->u.run.n_mounts, 6);
	m = &in->u.run.mounts[0];
	assert_false(m->deferred);
	assert_int_equal(m->type, DOCKERFILE_MOUNT_CACHE);
	assert_string_equal(m->target, "/root/.cache");
	assert_string_equal(m->id, "c1");
	assert_int_equal(m->sharing, DOCKERFILE_SHARING_LOCKED);
	assert_true(m->has_mode && m->mode == 0750);
	assert_true(m->has_uid && m->uid == 1 && m->has_gid && m->gid == 2);
	assert_false(m->readonly);
	m = &in->u.run.mounts[1];
	assert_int_equal(m->type, DOCKERFILE_MOUNT_SECRET);
	assert_string_equal(m->env, "AWS_KEY");
	assert_true(m->required);
	assert_true(m->readonly);
	m = &in->u.run.mounts[2];
	assert_int_equal(m->type, DOCKERFILE_MOUNT_BIND);
	assert_string_equal(m->from, "build");
	assert_string_equal(m->source, "/out");
	assert_string_equal(m->target, "/in");
	assert_false(m->readonly);
	m = &in->u.run.mounts[3];
	assert_int_equal(m->type, DOCKERFILE_MOUNT_TMPFS);
	assert_int_equal(m->size, 64 << 20);
	assert_string_equal(m->target, "/t");
	assert_int_equal(in->u.run.mounts[4].type, DOCKERFILE_MOUNT_SSH);
	m = &in->u.run.mounts[5];
	assert_true(m->deferred); /* $SRC: checked when the conversion expands it */
	assert_string_equal(m->spec, "target=/x,src=$SRC");
	parsed_done(&p);

	bad("FROM a\nRUN --mount=type=cach x",
	    "Dockerfile:2: unsupported mount type \"cach\" (did you mean cache?)");
	bad("FROM a\nRUN --mount=type=bind,mode=0700 x",
	    "Dockerfile:2: mode not allowed for \"bind\" type mounts");
	bad("FROM a\nRUN --mount=type=secret x",
	    "Dockerfile:2: invalid secret mount. one of source, target required");
	bad("FROM a\nRUN --mount=type=bind,from=$X x",
	    "Dockerfile:2: 'from' doesn't support variable expansion, define alias stage instead");
	bad("FROM a\nRUN --mount=type=cache,ro=maybe x",
	    "Dockerfile:2: invalid value for ro: maybe");
	bad("FROM a\nRUN --mount=type=cache,sharing=public x",
	    "Dockerfile:2: unsupported sharing value \"public\"");
	bad("FROM a\nRUN --mount=type=bind,targt=/x x",
	    "Dockerfile:2: unexpected key 'targt' in 'targt=/x' (did you mean target?)");
	bad("FROM a\nRUN --mount=type=bind,required x",
	    "Dockerfile:2: unexpected key 'required' for mount type 'bind'");
	bad("FROM a\nRUN --mount=type=bind,size=1m x",
	    "Dockerfile:2: unexpected key 'size' for mount type 'bind'");
	bad("FROM a\nRUN --mount=type=bind,target x",
	    "Dockerfile:2: invalid field 'target' must be a key=value pair");
	bad("FROM a\nRUN --mount=type=cache,mode=0999 x",
	    "Dockerfile:2: invalid value 0999 for mode");
	bad("FROM a\nRUN --mount=type=bind,sharing=shared x",
	    "Dockerfile:2: invalid cache sharing set for bind mount");
	bad("FROM a\nRUN --mount=type=secret,id=a,src=b x",
	    "Dockerfile:2: both source and id can't be set");
	bad("FROM a\nRUN --mount=type=secret,from=x,id=a y",
	    "Dockerfile:2: secret mount should not have a from");
	bad("FROM a\nRUN --mount= x", "Dockerfile:2: failed to parse csv mounts: EOF");
}

static void
test_cmd_entrypoint_shell(void **state)
{
	const struct dockerfile_instr *in;
	struct parsed p;

	(void)state;
	p = one("CMD [\"a\", \"b\"]\n", &in);
	assert_int_equal(in->kind, DOCKERFILE_CMD);
	assert_false(in->u.cmd.shell_form);
	assert_int_equal(in->u.cmd.args.n, 2);
	parsed_done(&p);
	p = one("ENTRYPOINT []\n", &in);
	assert_int_equal(in->kind, DOCKERFILE_ENTRYPOINT);
	assert_false(in->u.cmd.shell_form);
	assert_int_equal(in->u.cmd.args.n, 0);
	parsed_done(&p);
	p = one("ENTRYPOINT exec \"$0\"\n", &in);
	assert_true(in->u.cmd.shell_form);
	assert_string_equal(in->u.cmd.args.v[0], "exec \"$0\"");
	parsed_done(&p);
	p = one("SHELL [\"pwsh\", \"-c\"]\n", &in);
	assert_int_equal(in->u.list.n, 2);
	assert_string_equal(in->u.list.v[0], "pwsh");
	parsed_done(&p);
	bad("FROM a\nSHELL /bin/sh -c", "Dockerfile:2: SHELL requires the arguments to be in JSON "
	                                "form");
	bad("FROM a\nSHELL []", "Dockerfile:2: SHELL requires at least one argument");
	bad("FROM a\nCMD --x y", "Dockerfile:2: unknown flag: --x");
	bad("FROM a\nCMD [\"\\u0000\"]", "Dockerfile:2: CMD argument 1 holds a NUL character");
}

static void
test_copy_add(void **state)
{
	const struct dockerfile_instr *in;
	const struct dockerfile_copy *c;
	struct parsed p;

	(void)state;
	p = one("COPY --from=build --chown=1:2 --chmod=0644 --link --parents --exclude=*.o "
	        "--exclude=tmp a b /dst/\n",
	        &in);
	c = &in->u.copy;
	assert_int_equal(in->kind, DOCKERFILE_COPY);
	assert_int_equal(c->sources.n, 2);
	assert_string_equal(c->dest, "/dst/");
	assert_string_equal(c->from, "build");
	assert_string_equal(c->chown, "1:2");
	assert_string_equal(c->chmod, "0644");
	assert_true(c->link && c->parents);
	assert_int_equal(c->excludes.n, 2);
	assert_string_equal(c->excludes.v[1], "tmp");
	assert_int_equal(c->unpack, -1);
	parsed_done(&p);

	p = one("ADD --checksum=sha256:abc --keep-git-dir --unpack=false https://x/y.tgz /d\n",
	        &in);
	c = &in->u.copy;
	assert_int_equal(in->kind, DOCKERFILE_ADD);
	assert_string_equal(c->checksum, "sha256:abc");
	assert_true(c->keep_git_dir);
	assert_int_equal(c->unpack, 0);
	assert_null(c->from);
	parsed_done(&p);

	p = one("COPY <<one <<-'two' x /d\n1 $A\none\n\t\t2\ntwo\n", &in);
	c = &in->u.copy;
	assert_int_equal(c->sources.n, 1);
	assert_string_equal(c->sources.v[0], "x");
	assert_int_equal(c->n_inline_sources, 2);
	assert_string_equal(c->inline_sources[0].name, "one");
	assert_string_equal(c->inline_sources[0].data, "1 $A\n");
	assert_true(c->inline_sources[0].expand);
	assert_string_equal(c->inline_sources[1].data, "2\n"); /* <<- stripped the tabs */
	assert_false(c->inline_sources[1].expand);
	parsed_done(&p);

	bad("FROM a\nCOPY x",
	    "Dockerfile:2: COPY requires at least two arguments, but only one was "
	    "provided. Destination could not be determined");
	bad("FROM a\nADD --from=x a b", "Dockerfile:2: unknown flag: --from");
	bad("FROM a\nCOPY --form=x a b", "Dockerfile:2: unknown flag: --form (did you mean from?)");
	bad("FROM a\nCOPY --link=maybe a b",
	    "Dockerfile:2: expecting boolean value for flag --link, not: maybe");
	bad("FROM a\nCOPY --link= a b", "Dockerfile:2: missing a value on flag: --link");
	bad("FROM a\nCOPY --chown a b", "Dockerfile:2: missing a value on flag: --chown");
	bad("FROM a\nCOPY a <<EOF\nx\nEOF",
	    "Dockerfile:2: COPY cannot accept a heredoc as a destination");
}

static void
test_env_label_arg(void **state)
{
	const struct dockerfile_instr *in;
	struct parsed p;

	(void)state;
	p = one("ENV a=1 b=\"x y\"\n", &in);
	assert_int_equal(in->u.kvs.n, 2);
	assert_string_equal(in->u.kvs.v[1].key, "b");
	assert_string_equal(in->u.kvs.v[1].value, "\"x y\"");
	assert_false(in->u.kvs.v[1].no_equals);
	parsed_done(&p);
	p = one("LABEL k some value\n", &in);
	assert_int_equal(in->kind, DOCKERFILE_LABEL);
	assert_string_equal(in->u.kvs.v[0].value, "some value");
	assert_true(in->u.kvs.v[0].no_equals);
	parsed_done(&p);
	p = one("ARG a b= c=1\n", &in);
	assert_int_equal(in->u.kvs.n, 3);
	assert_null(in->u.kvs.v[0].value);
	assert_string_equal(in->u.kvs.v[1].value, "");
	assert_string_equal(in->u.kvs.v[2].value, "1");
	parsed_done(&p);
	bad("FROM a\nENV", "Dockerfile:2: ENV requires at least one argument");
	bad("FROM a\nLABEL =x", "Dockerfile:2: LABEL names can not be blank");
	bad("FROM a\nARG", "Dockerfile:2: ARG requires at least one argument");
	bad("FROM a\nARG =x", "Dockerfile:2: ARG names can not be blank");
	bad("FROM a\nENV --x a=b", "Dockerfile:2: unknown flag: --x");
}

static void
test_healthcheck(void **state)
{
	const struct dockerfile_instr *in;
	struct parsed p;

	(void)state;
	p = one(
	    "HEALTHCHECK --interval=5s --timeout=1m30s --start-period=0s --start-interval=500ms "
	    "--retries=3 CMD curl -f http://x/\n",
	    &in);
	assert_false(in->u.health.none);
	assert_int_equal(in->u.health.test.n, 2);
	assert_string_equal(in->u.health.test.v[0], "CMD-SHELL");
	assert_string_equal(in->u.health.test.v[1], "curl -f http://x/");
	assert_int_equal(in->u.health.interval_ns, 5000000000LL);
	assert_int_equal(in->u.health.timeout_ns, 90000000000LL);
	assert_int_equal(in->u.health.start_period_ns, 0);
	assert_int_equal(in->u.health.start_interval_ns, 500000000LL);
	assert_int_equal(in->u.health.retries, 3);
	parsed_done(&p);
	p = one("HEALTHCHECK cmd [\"a\", \"b\"]\n", &in);
	assert_string_equal(in->u.health.test.v[0], "CMD");
	assert_int_equal(in->u.health.test.n, 3);
	parsed_done(&p);
	p = one("HEALTHCHECK none\n", &in);
	assert_true(in->u.health.none);
	parsed_done(&p);
	bad("FROM a\nHEALTHCHECK", "Dockerfile:2: HEALTHCHECK requires at least one argument");
	bad("FROM a\nHEALTHCHECK NONE x", "Dockerfile:2: HEALTHCHECK NONE takes no arguments");
	bad("FROM a\nHEALTHCHECK CMD", "Dockerfile:2: Missing command after HEALTHCHECK CMD");
	bad("FROM a\nHEALTHCHECK CONNECT x",
	    "Dockerfile:2: Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)");
	bad("FROM a\nHEALTHCHECK --interval=5 CMD x",
	    "Dockerfile:2: time: missing unit in duration \"5\"");
	bad("FROM a\nHEALTHCHECK --interval=5y CMD x",
	    "Dockerfile:2: time: unknown unit \"y\" in duration \"5y\"");
	bad("FROM a\nHEALTHCHECK --timeout=x CMD x", "Dockerfile:2: time: invalid duration \"x\"");
	bad("FROM a\nHEALTHCHECK --timeout=10us CMD x",
	    "Dockerfile:2: Interval \"timeout\" cannot be less than 1ms");
	bad("FROM a\nHEALTHCHECK --retries=-1 CMD x",
	    "Dockerfile:2: --retries cannot be negative (-1)");
	bad("FROM a\nHEALTHCHECK --retries=x CMD x",
	    "Dockerfile:2: strconv.ParseInt: parsing \"x\": invalid syntax");
	bad("FROM a\nHEALTHCHECK --retries=3000000000 CMD x",
	    "Dockerfile:2: strconv.ParseInt: parsing \"3000000000\": value out of range");
	bad("FROM a\nHEALTHCHECK --intervl=1s CMD x",
	    "Dockerfile:2: unknown flag: --intervl (did you mean interval?)");
}

static void
test_simple_instructions(void **state)
{
	const struct dockerfile_instr *in;
	struct parsed p;

	(void)state;
	p = one("EXPOSE 8080 443/tcp 80\n", &in);
	assert_int_equal(in->u.list.n, 3);
	assert_string_equal(in->u.list.v[0], "443/tcp"); /* sorted, as BuildKit does */
	assert_string_equal(in->u.list.v[2], "8080");
	parsed_done(&p);
	p = one("VOLUME [\" /data \", \"/logs\"]\n", &in);
	assert_string_equal(in->u.list.v[0], "/data");
	parsed_done(&p);
	p = one("USER app:app\n", &in);
	assert_string_equal(in->u.str, "app:app");
	parsed_done(&p);
	p = one("WORKDIR /src/$X\n", &in);
	assert_string_equal(in->u.str, "/src/$X");
	parsed_done(&p);
	p = one("STOPSIGNAL --ignored SIGTERM\n", &in);
	assert_string_equal(in->u.str, "SIGTERM");
	parsed_done(&p);
	bad("FROM a\nEXPOSE", "Dockerfile:2: EXPOSE requires at least one argument");
	bad("FROM a\nVOLUME [\" \"]", "Dockerfile:2: VOLUME specified can not be an empty string");
	bad("FROM a\nUSER", "Dockerfile:2: USER requires exactly one argument");
	bad("FROM a\nWORKDIR", "Dockerfile:2: WORKDIR requires exactly one argument");
	bad("FROM a\nSTOPSIGNAL", "Dockerfile:2: STOPSIGNAL requires exactly one argument");
	bad("FROM a\nMAINTAINER", "Dockerfile:2: MAINTAINER requires exactly one argument");
	bad("FROM a\nUSER --x a", "Dockerfile:2: unknown flag: --x");
}

static void
test_maintainer_is_deprecated(void **state)
{
	const struct dockerfile_instr *in;
	struct parsed p = one("MAINTAINER me\n", &in);

	(void)state;
	assert_string_equal(in->u.str, "me");
	assert_int_equal(p.df->warnings.n, 1);
	assert_int_equal(p.df->warnings.v[0].line, 2);
	assert_string_equal(p.df->warnings.v[0].message,
	                    "Maintainer instruction is deprecated in favor of using label");
	assert_true(p.df->warnings.v[0].from_lint);
	parsed_done(&p);
}

static void
test_onbuild(void **state)
{
	const struct dockerfile_instr *in;
	struct parsed p;

	(void)state;
	p = one("  onbuild  RUN echo $X\n", &in);
	assert_int_equal(in->kind, DOCKERFILE_ONBUILD);
	assert_string_equal(in->u.onbuild, "RUN echo $X");
	parsed_done(&p);
	p = one("ONBUILD COPY <<EOF /x\nhi\nEOF\n", &in);
	assert_string_equal(in->u.onbuild, "COPY <<EOF /x\nhi\nEOF");
	parsed_done(&p);
	bad("FROM a\nONBUILD", "Dockerfile:2: ONBUILD requires at least one argument");
	bad("FROM a\nONBUILD ONBUILD RUN x",
	    "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
	bad("FROM a\nONBUILD from x", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
	bad("FROM a\nONBUILD MAINTAINER x",
	    "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger");
}

static void
test_unknown_instruction_suggests(void **state)
{
	(void)state;
	bad("FORM a", "Dockerfile:1: unknown instruction: FORM (did you mean FROM?)");
	bad("FROM a\ncopyy a b", "Dockerfile:2: unknown instruction: copyy (did you mean copy?)");
	bad("FROM a\nRun x\nExpse 80", "Dockerfile:3: unknown instruction: Expse (did you mean "
	                               "expose?)");
	bad("FROM a\nFOO bar", "Dockerfile:2: unknown instruction: FOO (did you mean FROM?)");
	bad("FROM a\nFOOBARBAZ bar", "Dockerfile:2: unknown instruction: FOOBARBAZ");
	/* the line of a multi-line instruction is its first */
	bad("FROM a\nRUN x \\\n  y\nBLAH \\\n  z", "Dockerfile:4: unknown instruction: BLAH");
}

static void
test_expansion_errors_name_the_line(void **state)
{
	const char *text = "FROM a\nRUN x\nENV a=\"unterminated\n";
	struct dockerfile_source src = {"Dockerfile", text, strlen(text)};
	struct dockerfile_expander ex = {.escape = '\\'};
	struct dockerfile_error *e = NULL;
	struct kl_error *err = NULL;
	char *out = NULL;
	struct parsed p = ok(text);

	(void)state;
	assert_int_equal(dockerfile_instr_expand(&p.in.v[2], &src, &ex, p.in.v[2].u.kvs.v[0].value,
	                                         &out, &e, &err),
	                 -EINVAL);
	assert_string_equal(err->msg, "Dockerfile:3: failed to process \"\\\"unterminated\": "
	                              "unexpected end of statement while looking for matching "
	                              "double-quote");
	assert_int_equal(e->line, 3);
	assert_string_equal(e->source_line, "ENV a=\"unterminated");
	dockerfile_error_free(e);
	kl_error_freep(&err);
	assert_int_equal(
	    dockerfile_instr_expand(&p.in.v[1], &src, &ex, "a${b:-c}", &out, NULL, &err), 0);
	assert_string_equal(out, "ac");
	free(out);
	parsed_done(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_from),
	    cmocka_unit_test(test_run),
	    cmocka_unit_test(test_run_mounts),
	    cmocka_unit_test(test_cmd_entrypoint_shell),
	    cmocka_unit_test(test_copy_add),
	    cmocka_unit_test(test_env_label_arg),
	    cmocka_unit_test(test_healthcheck),
	    cmocka_unit_test(test_simple_instructions),
	    cmocka_unit_test(test_maintainer_is_deprecated),
	    cmocka_unit_test(test_onbuild),
	    cmocka_unit_test(test_unknown_instruction_suggests),
	    cmocka_unit_test(test_expansion_errors_name_the_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
