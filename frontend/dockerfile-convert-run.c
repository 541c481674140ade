// SPDX-License-Identifier: Apache-2.0
/* RUN to an exec op: shell and exec forms, heredocs as BuildKit runs them, every --mount type,
 * --network, --security, the stage's env, user and working directory, proxies apart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-convert-internal.h"
#include "frontend/dockerfile-heredoc.h"
#include "frontend/dockerfile-parse.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/strpool.h"
#include "util/xalloc.h"

#define MAX_MOUNTS 64u

struct run_op {
	struct graph_exec *x;
	uint32_t inputs[MAX_MOUNTS + 2];
	size_t n_inputs;
	struct graph_mount mounts[MAX_MOUNTS + 1];
	size_t n_mounts;
	struct kl_strpool owned;
};

static void
run_op_done(struct run_op *op)
{
	kl_strpool_done(&op->owned);
}

static uint32_t
add_input(struct run_op *op, uint32_t v)
{
	op->inputs[op->n_inputs] = v;
	return (uint32_t)op->n_inputs++;
}

static enum graph_cache_sharing
sharing(enum dockerfile_mount_sharing s)
{
	switch (s) {
	case DOCKERFILE_SHARING_PRIVATE:
		return GRAPH_CACHE_PRIVATE;
	case DOCKERFILE_SHARING_LOCKED:
		return GRAPH_CACHE_LOCKED;
	default:
		return GRAPH_CACHE_SHARED;
	}
}

/* path.Join(workdir, p) for a relative mount target, as BuildKit resolves it. */
static char *
mount_path(const struct cv_stage *st, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	return xasprintf("%s%s%s", cv_workdir(st), strcmp(cv_workdir(st), "/") ? "/" : "", p);
}

static int
add_mount(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in, struct run_op *op,
          const struct dockerfile_mount *m)
{
	struct graph_mount *g = &op->mounts[op->n_mounts];
	uint32_t from = GRAPH_NO_INPUT;
	bool is_ctx;
	int r;

	if (op->n_mounts >= MAX_MOUNTS)
		return cv_fail(cv, in, "too many mounts (at most %u)", MAX_MOUNTS);
	*g = (struct graph_mount){.input = GRAPH_NO_INPUT};
	if (m->target)
		g->target = kl_strpool_own(&op->owned, mount_path(st, m->target));
	if (m->from && (m->type == DOCKERFILE_MOUNT_BIND || m->type == DOCKERFILE_MOUNT_CACHE)) {
		r = cv_from_ref(cv, st, in, m->from, &from, &is_ctx);
		if (r < 0)
			return r;
		g->input = add_input(op, from);
	}
	switch (m->type) {
	case DOCKERFILE_MOUNT_BIND:
		g->kind = GRAPH_MOUNT_BIND;
		if (!m->from) {
			r = cv_context(cv, m->source ? m->source : "", &from);
			if (r < 0)
				return r;
			g->input = add_input(op, from);
		}
		g->source = m->source ? kl_strpool_own(&op->owned, xstrdup(m->source)) : NULL;
		g->readonly = m->readonly;
		break;
	case DOCKERFILE_MOUNT_CACHE:
		g->kind = GRAPH_MOUNT_CACHE;
		g->id = m->id ? m->id : g->target;
		g->sharing = sharing(m->sharing);
		g->source = m->source;
		g->readonly = m->readonly;
		g->has_mode = m->has_mode;
		g->mode = m->mode;
		g->uid = m->uid;
		g->gid = m->gid;
		break;
	case DOCKERFILE_MOUNT_TMPFS:
		g->kind = GRAPH_MOUNT_TMPFS;
		g->size = m->size > 0 ? (uint64_t)m->size : 0;
		break;
	case DOCKERFILE_MOUNT_SECRET: {
		const char *id = m->id;

		g->kind = GRAPH_MOUNT_SECRET;
		if (!id && m->target) {
			const char *slash = strrchr(m->target, '/');

			id = slash ? slash + 1 : m->target;
		}
		if (!id || !*id)
			return cv_fail(cv, in,
			               "invalid secret mount: an id or a target is required");
		g->id = kl_strpool_own(&op->owned, xstrdup(id));
		g->env = m->env;
		g->required = m->required;
		g->has_mode = m->has_mode;
		g->mode = m->mode;
		g->uid = m->uid;
		g->gid = m->gid;
		break;
	}
	case DOCKERFILE_MOUNT_SSH:
		g->kind = GRAPH_MOUNT_SSH;
		g->id = m->id;
		g->required = m->required;
		g->has_mode = m->has_mode;
		g->mode = m->mode;
		g->uid = m->uid;
		g->gid = m->gid;
		break;
	default:
		return cv_fail(cv, in, "unsupported mount type");
	}
	op->n_mounts++;
	return 0;
}

/* BuildKit's runCommandString: the stage's ARGs that ENV does not hide, "|N K=V …", then the
 * command. */
static char *
run_history(const struct cv_stage *st, char *const *args, size_t n)
{
	struct kl_strbuf b = {0}, pre = {0};
	size_t count = 0;

	for (size_t i = 0; i < st->args.n; i++) {
		const char *kv = st->args.kv[i];
		_cleanup_free_ char *k = xstrndup(kv, strcspn(kv, "="));

		if (cv_vars_get(&st->env, k))
			continue;
		kl_strbuf_printf(&pre, " %s", kv);
		count++;
	}
	kl_strbuf_puts(&b, "RUN ");
	if (count)
		kl_strbuf_printf(&b, "|%zu%s ", count, pre.buf);
	for (size_t i = 0; i < n; i++)
		kl_strbuf_printf(&b, "%s%s", i ? " " : "", args[i]);
	kl_strbuf_puts(&b, " # buildkit");
	kl_strbuf_done(&pre);
	return kl_strbuf_steal(&b, NULL);
}

/* BuildKit's summarizeHeredoc: the first non-empty line, "..." when more follow. */
static char *
summarize(const char *data)
{
	const char *p = data;
	size_t n;

	while (*p == '\n')
		p++;
	n = strcspn(p, "\n");
	return xasprintf("%.*s%s", (int)n, p, p[n] && p[n + 1] ? "..." : "");
}

/* The argv of a shell-form RUN with heredocs, as BuildKit builds it. */
static int
heredoc_args(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in,
             struct run_op *op, char **cmdline, char **suffix)
{
	const struct dockerfile_cmdline *c = &in->u.run.cmd;
	struct dockerfile_heredoc_marker m = {0};
	const struct dockerfile_inline_file *f = &c->files[0];
	int r;

	if (dockerfile_heredoc_parse_word(*cmdline, strlen(*cmdline), &m, NULL) > 0) {
		_cleanup_free_ char *data = NULL;
		size_t len = f->len;

		dockerfile_heredoc_marker_done(&m);
		data = f->chomp ? dockerfile_heredoc_chomp(f->data, f->len, &len)
		                : xstrndup(f->data, f->len);
		*suffix = summarize(data);
		if (!strncmp(data, "#!", 2)) {
			/* a script with its interpreter: a file mounted at /dev/pipes/ and run */
			struct graph_file_action mk = {.kind = GRAPH_FILE_MKFILE};
			struct graph_vertex v = {.kind = GRAPH_OP_FILE,
			                         .name = "preparing inline document"};
			struct graph_mount *g = &op->mounts[op->n_mounts];

			mk.src = kl_strpool_own(&op->owned, xasprintf("/%s", f->name));
			mk.data = data;
			mk.data_len = len;
			mk.has_mode = true;
			mk.mode = 0755;
			v.file = (struct graph_file){&mk, 1};
			r = cv_add(cv, &v);
			if (r < 0)
				return r;
			*g = (struct graph_mount){
			    .kind = GRAPH_MOUNT_BIND,
			    .target = "/dev/pipes/",
			    .readonly = true,
			    .input = add_input(op, (uint32_t)r),
			};
			op->n_mounts++;
			free(*cmdline);
			*cmdline = xasprintf("/dev/pipes/%s", f->name);
			return 0;
		}
		free(*cmdline);
		*cmdline = TAKE_PTR(data);
		return 0;
	}
	{
		struct kl_strbuf b = {0};

		kl_strbuf_puts(&b, *cmdline);
		for (size_t i = 0; i < c->n_files; i++) {
			kl_strbuf_putc(&b, '\n');
			kl_strbuf_append(&b, c->files[i].data, c->files[i].len);
			kl_strbuf_puts(&b, c->files[i].name);
		}
		free(*cmdline);
		*cmdline = kl_strbuf_steal(&b, NULL);
	}
	(void)st;
	return 0;
}

static void
set_strv(struct graph_strv *v, const struct cv_vars *vars)
{
	v->v = vars->kv;
	v->n = vars->n;
}

int
cv_run(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	const struct dockerfile_run *run = &in->u.run;
	_cleanup_(run_op_done) struct run_op op = {0};
	_cleanup_free_ char *text = NULL, *name = NULL, *hist = NULL, *suffix = NULL;
	_cleanup_free_ char *cmdline = NULL;
	struct graph_vertex v = {.kind = GRAPH_OP_EXEC};
	struct dockerfile_mount *parsed = NULL;
	struct cv_vars env = {0};
	char **argv = NULL, **shell = NULL;
	size_t argc = 0, n_shell = 0;
	uint32_t lower = st->tree;
	int r = 0;

	op.inputs[0] = st->tree;
	op.n_inputs = 1;
	if (run->cmd.shell_form) {
		cmdline = xstrdup(run->cmd.args.n ? run->cmd.args.v[0] : "");
		if (run->cmd.n_files)
			r = heredoc_args(cv, st, in, &op, &cmdline, &suffix);
		n_shell = cv_shell(st, &shell);
		argv = xcalloc(n_shell + 2, sizeof(*argv));
		for (size_t i = 0; i < n_shell; i++)
			argv[argc++] = shell[i];
		argv[argc++] = cmdline;
	} else {
		argv = xcalloc(run->cmd.args.n + 1, sizeof(*argv));
		for (size_t i = 0; i < run->cmd.args.n; i++)
			argv[argc++] = run->cmd.args.v[i];
	}
	if (r >= 0 && argc == 0)
		r = cv_fail(cv, in, "RUN needs a command");
	parsed = xcalloc(run->n_mounts + 1, sizeof(*parsed));
	for (size_t i = 0; r >= 0 && i < run->n_mounts; i++) {
		const struct dockerfile_mount *m = &run->mounts[i];

		if (m->deferred) {
			struct dockerfile_expander ex;
			struct cv_lookup lk;
			_cleanup_free_ char *msg = NULL;

			cv_expander(cv, st, &lk, &ex);
			r = dockerfile_mount_parse(m->spec, &ex, &parsed[i], &msg);
			if (r < 0) {
				r = cv_fail(cv, in, "%s", msg ? msg : "invalid mount");
				break;
			}
			m = &parsed[i];
		}
		r = add_mount(cv, st, in, &op, m);
	}
	if (r < 0)
		goto out;
	cv_run_env(st, &env);
	text = cv_instr_text(cv, st, in);
	if (suffix) {
		char *t = xasprintf("%s (%s)", text, suffix);

		free(text);
		text = t;
	}
	name = cv_step_name(cv, st, text);
	hist = run_history(st, argv, argc);
	v.name = name;
	v.inputs = op.inputs;
	v.n_inputs = op.n_inputs;
	v.ignore_cache = st->ignore_cache;
	v.exec.args = (struct graph_strv){argv, argc};
	set_strv(&v.exec.env, &env);
	set_strv(&v.exec.proxy_env, &cv->proxy);
	v.exec.cwd = (char *)cv_workdir(st);
	v.exec.user = (char *)cv_user(st);
	{
		const char *h = NULL;

		for (size_t i = 0; i < cv->o->n_build_args; i++)
			if (!strncmp(cv->o->build_args[i], "BUILDKIT_SANDBOX_HOSTNAME=", 26))
				h = cv->o->build_args[i] + 26;
		v.exec.hostname = (char *)h;
	}
	switch (run->network) {
	case DOCKERFILE_NETWORK_NONE:
		v.exec.network = GRAPH_NET_NONE;
		break;
	case DOCKERFILE_NETWORK_HOST:
		v.exec.network = GRAPH_NET_HOST;
		break;
	default:
		v.exec.network = cv->o->network_none ? GRAPH_NET_NONE : GRAPH_NET_HOST;
		break;
	}
	v.exec.security = run->security == DOCKERFILE_SECURITY_INSECURE ? GRAPH_SECURITY_INSECURE
	                                                                : GRAPH_SECURITY_SANDBOX;
	v.exec.mounts = op.mounts;
	v.exec.n_mounts = op.n_mounts;
	r = cv_add(cv, &v);
	if (r < 0)
		goto out;
	st->tree = (uint32_t)r;
	cv_config_history(cv, st, hist, false);
	cv_add_layer(st, lower);
	r = 0;
out:
	for (size_t i = 0; i < run->n_mounts; i++)
		dockerfile_mount_done(&parsed[i]);
	free(parsed);
	cv_vars_done(&env);
	dockerfile_words_free(shell, n_shell);
	free(argv);
	return r;
}
