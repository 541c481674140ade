// SPDX-License-Identifier: Apache-2.0
/* Unit tests for frontend/dockerfile-convert*.c: the graph a Dockerfile becomes (only what the
 * target needs, the inputs of COPY --from and mounts, RUN's argv, env and mounts, followpaths),
 * ARG/ENV scoping, the config and history each stage makes, and the conversion's errors. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-convert.h"
#include "frontend/dockerfile-instr.h"
#include "frontend/dockerfile-parse.h"
#include "solver/graph.h"
#include "util/error.h"
#include "util/xalloc.h"

/* A resolver that knows one image, "base" (and any name: an empty config), with this config. */
static const char *base_config =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\","
    "\"FROM_BASE=1\"],\"Cmd\":[\"/bin/sh\"],\"WorkingDir\":\"/base\"},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
    "1111111111111111111111111111111111111111111111111111111111111111\"]},"
    "\"history\":[{\"created_by\":\"base layer\"}]}";
static const char *dated_config =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2021-01-01T00:00:00Z\","
    "\"history\":[{\"created\":\"2020-01-01T00:00:00Z\",\"created_by\":\"base layer\"}]}";
static const char *onbuild_config =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"OnBuild\":[\"RUN echo trig\"]}}";
static int resolved;

static int
resolve(void *userdata, const char *ref, const char *platform, struct dockerfile_image *ret,
        struct kl_error **err)
{
	(void)userdata;
	if (!strcmp(ref, "missing"))
		return kl_error_setf(err, ENOENT, "no such image");
	resolved++;
	*ret = (struct dockerfile_image){
	    .ref = xasprintf("ref-of-%s@%s", ref, platform),
	    .display = xasprintf("docker.io/library/%s:latest", ref),
	    .config = xstrdup(!strcmp(ref, "trigger") ? onbuild_config
	                      : !strcmp(ref, "dated") ? dated_config
	                                              : base_config),
	    .handle = resolved,
	};
	return 0;
}

struct conv {
	struct dockerfile *df;
	struct dockerfile_instrs in;
	struct dockerfile_build b;
	json_t *graph; /* the graph's JSON form */
	char *text;
};

static void
conv_done(struct conv *c)
{
	json_decref(c->graph);
	dockerfile_build_done(&c->b);
	dockerfile_instrs_done(&c->in);
	dockerfile_free(c->df);
	free(c->text);
}

static int
convert(const char *text, struct dockerfile_convert_options *o, struct conv *c,
        struct kl_error **err)
{
	static struct dockerfile_source src;
	char *js;
	int r;

	memset(c, 0, sizeof(*c));
	c->text = xstrdup(text);
	src = (struct dockerfile_source){"Dockerfile", c->text, strlen(c->text)};
	o->src = &src;
	o->resolve = resolve;
	o->now = 1700000000;
	if (!o->context_name)
		o->context_name = "context";
	r = dockerfile_parse(&src, NULL, &c->df, err);
	if (r >= 0)
		r = dockerfile_instrs_parse(c->df, &src, &c->in, NULL, err);
	if (r >= 0)
		r = dockerfile_convert(c->df, &c->in, o, &c->b, err);
	if (r < 0)
		return r;
	js = graph_to_json(c->b.graph);
	c->graph = json_loads(js, 0, NULL);
	free(js);
	return 0;
}

static void
ok(const char *text, struct dockerfile_convert_options *o, struct conv *c)
{
	struct kl_error *err = NULL;

	if (convert(text, o, c, &err) < 0)
		fail_msg("%s", err->msg);
}

static json_t *
vertex(struct conv *c, size_t i)
{
	return json_array_get(json_object_get(c->graph, "vertices"), i);
}

static size_t
count(struct conv *c)
{
	return json_array_size(json_object_get(c->graph, "vertices"));
}

/* The vertex whose name starts with prefix, or NULL. */
static json_t *
named(struct conv *c, const char *prefix)
{
	for (size_t i = 0; i < count(c); i++) {
		const char *n = json_string_value(json_object_get(vertex(c, i), "name"));

		if (n && !strncmp(n, prefix, strlen(prefix)))
			return vertex(c, i);
	}
	return NULL;
}

static json_t *
stage_config(struct conv *c, size_t stage)
{
	json_t *j = json_loads(c->b.stages[stage].config, 0, NULL);

	assert_non_null(j);
	return j;
}

static bool
has_env(json_t *exec, const char *kv)
{
	json_t *env = json_object_get(exec, "env"), *e;
	size_t i;

	json_array_foreach(env, i, e) if (!strcmp(json_string_value(e), kv)) return true;
	return false;
}

static void
test_only_the_target_stages_enter_the_graph(void **state)
{
	struct dockerfile_convert_options o = {.target = "b"};
	struct conv c;

	(void)state;
	ok("FROM base AS a\nRUN echo a\n"
	   "FROM base AS unused\nRUN echo unused\n"
	   "FROM scratch AS b\nCOPY --from=a /x /x\n",
	   &o, &c);
	assert_non_null(named(&c, "[a 2/2] RUN echo a"));
	assert_null(named(&c, "[unused"));
	assert_true(c.b.stages[0].built);
	assert_false(c.b.stages[1].built);
	assert_true(c.b.stages[2].built);
	assert_int_equal(c.b.target, 2);
	{
		/* the copy takes stage a's RUN as its input 1 */
		json_t *cp = named(&c, "[b 1/1] COPY --from=a /x /x");
		json_t *act =
		    json_array_get(json_object_get(json_object_get(cp, "file"), "actions"), 0);

		assert_non_null(cp);
		assert_int_equal(json_array_size(json_object_get(cp, "inputs")), 2);
		assert_true(json_is_null(json_array_get(json_object_get(cp, "inputs"), 0)));
		assert_string_equal(json_string_value(json_object_get(act, "src")), "/x");
		assert_int_equal(json_integer_value(json_object_get(act, "from")), 1);
	}
	conv_done(&c);
}

static void
test_unknown_target_and_circular_stages_fail(void **state)
{
	struct dockerfile_convert_options o = {.target = "nope"};
	struct kl_error *err = NULL;
	struct conv c;

	(void)state;
	assert_int_equal(convert("FROM scratch\n", &o, &c, &err), -EINVAL);
	assert_string_equal(err->msg, "target stage \"nope\" could not be found");
	kl_error_freep(&err);
	conv_done(&c);
	o = (struct dockerfile_convert_options){0};
	assert_int_equal(convert("FROM scratch AS a\nCOPY --from=b /x /x\n"
	                         "FROM scratch AS b\nCOPY --from=a /y /y\n",
	                         &o, &c, &err),
	                 -EINVAL);
	assert_non_null(strstr(err->msg, "circular dependency detected on stage: "));
	assert_non_null(strstr(err->msg, "Dockerfile:"));
	kl_error_freep(&err);
	conv_done(&c);
	o = (struct dockerfile_convert_options){0};
	assert_int_equal(convert("FROM missing\n", &o, &c, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "Dockerfile:1: failed to resolve source metadata for "
	                                 "missing: no such image"));
	kl_error_freep(&err);
	conv_done(&c);
}

static void
test_arg_and_env_scoping(void **state)
{
	const char *args[] = {"GIVEN=from-cli", "UNUSED=x", "HTTP_PROXY=http://proxy:3128"};
	struct dockerfile_convert_options o = {.build_args = args, .n_build_args = 3};
	struct conv c;
	json_t *run;

	(void)state;
	ok("ARG TAG=base\nARG GIVEN=default\n"
	   "FROM ${TAG}\n"
	   "ARG TAG\nARG GIVEN\nARG LOCAL=l-$TAG\nENV LOCAL=env-wins FROM_BASE=$FROM_BASE-2\n"
	   "ARG TARGETARCH\n"
	   "RUN echo $TAG\n",
	   &o, &c);
	run = json_object_get(named(&c, "[2/2] RUN"), "exec");
	assert_non_null(run);
	/* the meta arg picked up without a value, the given one over the default, ENV over ARG */
	assert_true(has_env(run, "TAG=base"));
	assert_true(has_env(run, "GIVEN=from-cli"));
	assert_true(has_env(run, "LOCAL=env-wins"));
	assert_false(has_env(run, "LOCAL=l-base"));
	assert_true(has_env(run, "FROM_BASE=1-2"));
	assert_true(has_env(run, "TARGETARCH=amd64"));
	/* proxies are given apart, never as env */
	assert_string_equal(json_string_value(json_array_get(json_object_get(run, "proxy_env"), 0)),
	                    "HTTP_PROXY=http://proxy:3128");
	assert_int_equal(c.b.n_unused_args, 1);
	assert_string_equal(c.b.unused_args[0], "UNUSED");
	{
		json_t *cfg = stage_config(&c, 0);
		json_t *h = json_object_get(cfg, "history");
		json_t *last = json_array_get(h, json_array_size(h) - 1);

		/* the RUN's history names the ARGs ENV does not hide */
		assert_string_equal(
		    json_string_value(json_object_get(last, "created_by")),
		    "RUN |3 TAG=base GIVEN=from-cli TARGETARCH=amd64 /bin/sh -c echo "
		    "$TAG # buildkit");
		assert_string_equal(json_string_value(json_array_get(
		                        json_object_get(json_object_get(cfg, "config"), "Env"), 2)),
		                    "LOCAL=env-wins");
		json_decref(cfg);
	}
	conv_done(&c);
}

static void
test_config_and_history(void **state)
{
	struct dockerfile_convert_options o = {0};
	struct conv c;
	json_t *cfg, *cc, *h;

	(void)state;
	ok("FROM base\n"
	   "LABEL a=b\n"
	   "EXPOSE 80 53/udp\n"
	   "WORKDIR app\n"
	   "USER nobody\n"
	   "ENTRYPOINT [\"/bin/app\"]\n"
	   "VOLUME /data\n"
	   "STOPSIGNAL SIGTERM\n"
	   "HEALTHCHECK --interval=5s CMD true\n"
	   "SHELL [\"/bin/bash\", \"-c\"]\n"
	   "ONBUILD RUN echo later\n"
	   "COPY a b/\n",
	   &o, &c);
	cfg = stage_config(&c, 0);
	cc = json_object_get(cfg, "config");
	/* ENTRYPOINT drops the base's CMD */
	assert_null(json_object_get(cc, "Cmd"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(cc, "Entrypoint"), 0)),
	                    "/bin/app");
	assert_string_equal(json_string_value(json_object_get(cc, "WorkingDir")), "/base/app");
	assert_string_equal(json_string_value(json_object_get(cc, "User")), "nobody");
	assert_non_null(json_object_get(json_object_get(cc, "ExposedPorts"), "80/tcp"));
	assert_non_null(json_object_get(json_object_get(cc, "ExposedPorts"), "53/udp"));
	assert_non_null(json_object_get(json_object_get(cc, "Volumes"), "/data"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(cc, "Labels"), "a")),
	                    "b");
	assert_string_equal(json_string_value(json_object_get(cc, "StopSignal")), "SIGTERM");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(cc, "Healthcheck"), "Interval")),
	    5000000000);
	assert_string_equal(json_string_value(json_array_get(json_object_get(cc, "Shell"), 0)),
	                    "/bin/bash");
	assert_string_equal(json_string_value(json_array_get(json_object_get(cc, "OnBuild"), 0)),
	                    "RUN echo later");
	assert_string_equal(json_string_value(json_object_get(cfg, "created")),
	                    "2023-11-14T22:13:20Z");
	h = json_object_get(cfg, "history");
	/* the base's entry, then one per instruction */
	assert_int_equal(json_array_size(h), 12);
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 2), "created_by")),
	                    "EXPOSE map[53/udp:{} 80/tcp:{}]");
	assert_true(json_is_true(json_object_get(json_array_get(h, 2), "empty_layer")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 3), "created_by")),
	                    "WORKDIR /base/app");
	assert_null(json_object_get(json_array_get(h, 3), "empty_layer"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 5), "created_by")),
	                    "ENTRYPOINT [\"/bin/app\"]");
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 10), "created_by")),
	                    "ONBUILD RUN echo later");
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 11), "created_by")),
	                    "COPY a b/ # buildkit");
	/* two layers: WORKDIR's mkdir and the COPY */
	assert_int_equal(c.b.stages[0].n_layers, 2);
	assert_int_equal(c.b.stages[0].layers[1].history, 11);
	json_decref(cfg);
	{
		/* the copy goes to the working dir, owned 0:0, from the context's "a" only */
		json_t *cp = named(&c, "[3/3] COPY a b/");
		json_t *act =
		    json_array_get(json_object_get(json_object_get(cp, "file"), "actions"), 0);
		json_t *ctx = named(&c, "[internal] load build context");

		assert_string_equal(json_string_value(json_object_get(act, "dest")),
		                    "/base/app/b/");
		assert_string_equal(
		    json_string_value(json_object_get(json_object_get(act, "owner"), "user")), "0");
		assert_string_equal(
		    json_string_value(json_array_get(
		        json_object_get(json_object_get(ctx, "source"), "followpaths"), 0)),
		    "a");
	}
	conv_done(&c);
}

static void
test_run_heredocs_and_mounts(void **state)
{
	struct dockerfile_convert_options o = {0};
	struct conv c;
	json_t *x, *m;

	(void)state;
	ok("FROM base AS dep\nFROM base\n"
	   "RUN <<EOF\necho one\necho two\nEOF\n"
	   "RUN <<EOF\n#!/bin/sh\necho script\nEOF\n"
	   "ARG ID=c1\n"
	   "RUN --mount=type=cache,target=/cache,id=$ID --mount=type=bind,from=dep,target=/d "
	   "--mount=type=tmpfs,target=/t,size=1M --mount=type=secret,id=tok "
	   "--mount=type=ssh --network=none --security=insecure make\n",
	   &o, &c);
	x = json_object_get(named(&c, "[stage-1 2/4] RUN <<EOF (echo one...)"), "exec");
	assert_non_null(x);
	assert_string_equal(json_string_value(json_array_get(json_object_get(x, "args"), 2)),
	                    "echo one\necho two\n");
	x = json_object_get(named(&c, "[stage-1 3/4] RUN <<EOF (#!/bin/sh...)"), "exec");
	assert_non_null(x);
	assert_string_equal(json_string_value(json_array_get(json_object_get(x, "args"), 2)),
	                    "/dev/pipes/EOF");
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(x, "mounts"), 0), "target")),
	                    "/dev/pipes/");
	x = json_object_get(named(&c, "[stage-1 4/4] RUN"), "exec");
	m = json_object_get(x, "mounts");
	assert_int_equal(json_array_size(m), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "id")), "c1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "type")),
	                    "bind");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(m, 1), "input")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(m, 2), "size")),
	                 1048576);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 3), "target")),
	                    "/run/secrets/tok");
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 4), "type")),
	                    "ssh");
	assert_string_equal(json_string_value(json_object_get(x, "network")), "none");
	assert_string_equal(json_string_value(json_object_get(x, "security")), "insecure");
	conv_done(&c);
}

static void
test_copy_variants(void **state)
{
	struct dockerfile_convert_options o = {0};
	struct conv c;
	json_t *v, *act;

	(void)state;
	ok("FROM base\n"
	   "COPY --chown=app:grp --chmod=0640 --exclude=*.tmp src/ /dst/\n"
	   "COPY --parents ./a/./b/c.txt /p/\n"
	   "COPY --link x /l\n"
	   "ADD https://example.com/f.tgz /u/\n"
	   "ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 "
	   "https://example.com/g /g\n"
	   "ADD https://example.com/repo.git#main /r\n"
	   "ADD arch.tar /x/\n"
	   "COPY <<EOF /h.txt\nhello\nEOF\n",
	   &o, &c);
	act = json_array_get(
	    json_object_get(json_object_get(named(&c, "[2/9] COPY --chown"), "file"), "actions"),
	    0);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(act, "owner"), "user")), "app");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(act, "owner"), "group")), "grp");
	assert_string_equal(json_string_value(json_object_get(act, "mode")), "0640");
	assert_string_equal(json_string_value(json_array_get(json_object_get(act, "exclude"), 0)),
	                    "*.tmp");
	act = json_array_get(
	    json_object_get(json_object_get(named(&c, "[3/9] COPY --parents"), "file"), "actions"),
	    0);
	assert_string_equal(json_string_value(json_object_get(act, "src")), "./a");
	assert_string_equal(json_string_value(json_array_get(json_object_get(act, "include"), 0)),
	                    "b/c.txt");
	v = named(&c, "[4/9] COPY --link x /l (merge)");
	assert_non_null(json_object_get(v, "merge"));
	v = named(&c, "https://example.com/f.tgz");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(v, "source"), "filename")), "f.tgz");
	v = named(&c, "https://example.com/g");
	assert_non_null(json_object_get(json_object_get(v, "source"), "checksum"));
	v = named(&c, "https://example.com/repo.git#main");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(v, "source"), "type")), "git");
	act = json_array_get(
	    json_object_get(json_object_get(named(&c, "[8/9] ADD arch.tar"), "file"), "actions"),
	    0);
	assert_true(json_is_true(json_object_get(act, "unpack")));
	v = named(&c, "preparing inline document");
	act = json_array_get(json_object_get(json_object_get(v, "file"), "actions"), 0);
	assert_string_equal(json_string_value(json_object_get(act, "data")), "hello\n");
	conv_done(&c);
}

static void
test_onbuild_triggers_of_the_base_run_first(void **state)
{
	struct dockerfile_convert_options o = {0};
	struct conv c;
	json_t *cfg;

	(void)state;
	ok("FROM trigger\nRUN echo mine\n", &o, &c);
	assert_non_null(named(&c, "[2/3] RUN echo trig"));
	assert_non_null(named(&c, "[3/3] RUN echo mine"));
	cfg = stage_config(&c, 0);
	assert_null(json_object_get(json_object_get(cfg, "config"), "OnBuild"));
	json_decref(cfg);
	conv_done(&c);
}

static void
test_source_date_epoch_sets_created(void **state)
{
	const char *args[] = {"SOURCE_DATE_EPOCH=0"};
	struct dockerfile_convert_options o = {.build_args = args, .n_build_args = 1};
	struct conv c;
	json_t *cfg;

	(void)state;
	ok("FROM scratch\nENV A=1\n", &o, &c);
	cfg = stage_config(&c, 0);
	assert_string_equal(json_string_value(json_object_get(cfg, "created")),
	                    "1970-01-01T00:00:00Z");
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(json_object_get(cfg, "config"), "Env"), 0)),
	                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	json_decref(cfg);
	assert_true(c.b.has_epoch);
	conv_done(&c);
}

/* The times of stage 0's history entries (from the first of the build's own) and created. */
static void
assert_times(struct conv *c, const int64_t *created, const char *const *want, size_t n,
             const char *want_created)
{
	char *text = dockerfile_stage_config(&c->b.stages[0], NULL, created);
	json_t *cfg = json_loads(text, 0, NULL), *h = json_object_get(cfg, "history");
	size_t first = c->b.stages[0].n_base_history;

	assert_int_equal(json_array_size(h), first + n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(h, first + i), "created")),
		    want[i]);
	assert_string_equal(json_string_value(json_object_get(cfg, "created")), want_created);
	json_decref(cfg);
	free(text);
}

static void
test_history_times_from_the_layers_vertices(void **state)
{
	static const char *const df = "FROM dated\nENV A=1\nRUN a\nLABEL x=y\nCOPY f /f\n"
	                              "CMD [\"x\"]\n";
	static const char *const made[] = {"1970-01-01T00:01:40Z", "1970-01-01T00:01:40Z",
	                                   "1970-01-01T00:01:40Z", "1970-01-01T00:03:20Z",
	                                   "1970-01-01T00:03:20Z"};
	static const char *const base[] = {"2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z",
	                                   "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z",
	                                   "2020-01-01T00:00:00Z"};
	static const char *const scratch[] = {"1970-01-01T00:00:00Z"};
	const int64_t created[] = {100, 200}, unknown[] = {0, 0}, late_first[] = {300, 200};
	struct dockerfile_convert_options o = {0};
	struct conv c;
	json_t *cfg;
	char *text;

	(void)state;
	ok(df, &o, &c);
	assert_int_equal(c.b.stages[0].n_base_history, 1);
	assert_int_equal(c.b.stages[0].n_layers, 2);
	/* each layer its vertex's time; ENV the first layer's, LABEL the RUN's, CMD the COPY's */
	assert_times(&c, created, made, 5, "1970-01-01T00:03:20Z");
	/* created is the latest, not the last */
	assert_times(&c, late_first,
	             (const char *const[]){"1970-01-01T00:05:00Z", "1970-01-01T00:05:00Z",
	                                   "1970-01-01T00:05:00Z", "1970-01-01T00:03:20Z",
	                                   "1970-01-01T00:03:20Z"},
	             5, "1970-01-01T00:05:00Z");
	/* no time known: the base image's last history time */
	assert_times(&c, unknown, base, 5, "2020-01-01T00:00:00Z");
	/* the base's own entry keeps its time; NULL keeps the conversion's times */
	text = dockerfile_stage_config(&c.b.stages[0], NULL, created);
	cfg = json_loads(text, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(cfg, "history"), 0), "created")),
	                    "2020-01-01T00:00:00Z");
	json_decref(cfg);
	free(text);
	text = dockerfile_stage_config(&c.b.stages[0], NULL, NULL);
	cfg = json_loads(text, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(cfg, "created")),
	                    "2023-11-14T22:13:20Z");
	json_decref(cfg);
	free(text);
	conv_done(&c);
	/* FROM scratch with metadata only: nothing to take a time from */
	ok("FROM scratch\nENV A=1\n", &o, &c);
	assert_times(&c, unknown, scratch, 1, "1970-01-01T00:00:00Z");
	conv_done(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_only_the_target_stages_enter_the_graph),
	    cmocka_unit_test(test_unknown_target_and_circular_stages_fail),
	    cmocka_unit_test(test_arg_and_env_scoping),
	    cmocka_unit_test(test_config_and_history),
	    cmocka_unit_test(test_run_heredocs_and_mounts),
	    cmocka_unit_test(test_copy_variants),
	    cmocka_unit_test(test_onbuild_triggers_of_the_base_run_first),
	    cmocka_unit_test(test_source_date_epoch_sets_created),
	    cmocka_unit_test(test_history_times_from_the_layers_vertices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
