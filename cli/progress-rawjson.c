// SPDX-License-Identifier: Apache-2.0
/* buildctl's --progress=rawjson: each event as one BuildKit client.SolveStatus JSON object on
 * a line, with its field names and omissions: {"vertexes":[…]} for a vertex that started or
 * ended ("digest", "name", "started", "completed", "cached", "error"; a cancelled one has the
 * error "context canceled", as BuildKit's displays read it), {"statuses":[…]} for a byte
 * counter ("id", "vertex", "total", "current", "timestamp", "started", "completed"),
 * {"logs":[…]} for output ("vertex", "stream", "data" in base64, "timestamp") and
 * {"warnings":[…]} ("level", "short" in base64). Times are RFC 3339 in UTC with nanoseconds,
 * as Go's time.Time writes them. */
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/progress.h"
#include "util/base64.h"
#include "util/xalloc.h"

struct rcounter {
	uint32_t vertex;
	char *id;
	int64_t started_ns;
};

struct rawjson {
	FILE *out;
	struct rcounter *counters;
	size_t n_counters;
};

void *
cli_progress_rawjson_new(FILE *out)
{
	struct rawjson *r = xcalloc(1, sizeof(*r));

	r->out = out;
	return r;
}

/* Go's RFC3339Nano: fraction without trailing zeros, none when zero; always UTC here. */
static json_t *
time_json(int64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	char s[64], f[16] = "";
	struct tm tm;

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	if (frac) {
		int n = snprintf(f, sizeof(f), ".%09ld", frac);

		while (n > 1 && f[n - 1] == '0')
			f[--n] = '\0';
	}
	snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, f);
	return json_string(s);
}

/* A JSON string of n bytes; bytes that are not UTF-8 become U+FFFD, as Go's encoder does. */
static json_t *
text_json(const char *s, size_t n)
{
	json_t *j = json_stringn(s ? s : "", s ? n : 0);
	char *fixed;
	size_t k = 0;

	if (j)
		return j;
	fixed = xmalloc(n * 3 + 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80         ? 1
		             : (c >> 5) == 6  ? 2
		             : (c >> 4) == 14 ? 3
		             : (c >> 3) == 30 ? 4
		                              : 0;
		json_t *one = len && i + len <= n ? json_stringn(s + i, len) : NULL;

		if (one) {
			memcpy(fixed + k, s + i, len);
			k += len;
			i += len;
		} else {
			memcpy(fixed + k, "\xef\xbf\xbd", 3);
			k += 3;
			i++;
		}
		json_decref(one);
	}
	j = json_stringn(fixed, k);
	free(fixed);
	return j;
}

static json_t *
base64_json(const char *data, size_t len)
{
	char *b = kl_base64_encode(data ? data : "", data ? len : 0);
	json_t *j = json_string(b);

	free(b);
	return j;
}

static void
set_digest(json_t *o, const char *key, const struct progress_event *ev)
{
	char d[DIGEST_STRING_SIZE];

	if (ev->digest)
		json_object_set_new(o, key, json_string(digest_to_string(ev->digest, d)));
}

/* client.Vertex: digest, name, started, completed, cached, error (each omitted when empty). */
static json_t *
vertex_json(const struct progress_event *ev)
{
	json_t *v = json_object();
	int64_t started = ev->started_ns ? ev->started_ns : ev->time_ns;

	set_digest(v, "digest", ev);
	if (ev->name && *ev->name)
		json_object_set_new(v, "name", text_json(ev->name, strlen(ev->name)));
	json_object_set_new(v, "started", time_json(started));
	if (ev->kind == PROGRESS_VERTEX_STARTED)
		return v;
	json_object_set_new(v, "completed", time_json(ev->time_ns));
	if (ev->kind == PROGRESS_VERTEX_CACHED)
		json_object_set_new(v, "cached", json_true());
	if (ev->kind == PROGRESS_VERTEX_FAILED && ev->data && ev->len)
		json_object_set_new(v, "error", text_json(ev->data, ev->len));
	else if (ev->kind == PROGRESS_VERTEX_FAILED)
		json_object_set_new(v, "error", json_string("failed"));
	if (ev->kind == PROGRESS_VERTEX_CANCELED)
		json_object_set_new(v, "error", json_string("context canceled"));
	return v;
}

/* When the counter was first seen: its "started". */
static int64_t
counter_started(struct rawjson *r, const struct progress_event *ev)
{
	const char *id = ev->id ? ev->id : "";

	for (size_t i = 0; i < r->n_counters; i++)
		if (r->counters[i].vertex == ev->vertex && !strcmp(r->counters[i].id, id))
			return r->counters[i].started_ns;
	r->counters = xrealloc(r->counters, (r->n_counters + 1) * sizeof(*r->counters));
	r->counters[r->n_counters++] =
	    (struct rcounter){.vertex = ev->vertex, .id = xstrdup(id), .started_ns = ev->time_ns};
	return ev->time_ns;
}

/* client.VertexStatus: id, vertex, total (omitted when 0), current, timestamp, started,
 * completed (when the count reached a known total). */
static json_t *
status_json(struct rawjson *r, const struct progress_event *ev)
{
	json_t *s = json_object();

	json_object_set_new(s, "id", text_json(ev->id, ev->id ? strlen(ev->id) : 0));
	set_digest(s, "vertex", ev);
	if (ev->total)
		json_object_set_new(s, "total", json_integer((json_int_t)ev->total));
	json_object_set_new(s, "current", json_integer((json_int_t)ev->current));
	json_object_set_new(s, "timestamp", time_json(ev->time_ns));
	json_object_set_new(s, "started", time_json(counter_started(r, ev)));
	if (ev->total && ev->current >= ev->total)
		json_object_set_new(s, "completed", time_json(ev->time_ns));
	return s;
}

/* client.VertexLog: vertex, stream, data (base64), timestamp. */
static json_t *
log_json(const struct progress_event *ev)
{
	json_t *l = json_object();

	set_digest(l, "vertex", ev);
	if (ev->stream)
		json_object_set_new(l, "stream", json_integer(ev->stream));
	json_object_set_new(l, "data", base64_json(ev->data, ev->len));
	json_object_set_new(l, "timestamp", time_json(ev->time_ns));
	return l;
}

/* client.VertexWarning: vertex, level, short (base64 of its bytes). */
static json_t *
warning_json(const struct progress_event *ev)
{
	json_t *w = json_object();

	if (ev->vertex != UINT32_MAX)
		set_digest(w, "vertex", ev);
	json_object_set_new(w, "level", json_integer(1));
	json_object_set_new(w, "short", base64_json(ev->data, ev->len));
	return w;
}

static void
rawjson_event(void *state, const struct progress_event *ev)
{
	struct rawjson *r = state;
	const char *key;
	json_t *item, *top;
	char *line;

	switch (ev->kind) {
	case PROGRESS_VERTEX_STARTED:
	case PROGRESS_VERTEX_CACHED:
	case PROGRESS_VERTEX_DONE:
	case PROGRESS_VERTEX_FAILED:
	case PROGRESS_VERTEX_CANCELED:
		key = "vertexes";
		item = vertex_json(ev);
		break;
	case PROGRESS_VERTEX_BYTES:
		key = "statuses";
		item = status_json(r, ev);
		break;
	case PROGRESS_VERTEX_LOG:
		key = "logs";
		item = log_json(ev);
		break;
	case PROGRESS_WARNING:
		key = "warnings";
		item = warning_json(ev);
		break;
	default:
		return;
	}
	top = json_object();
	json_object_set_new(top, key, json_pack("[o]", item));
	line = json_dumps(top, JSON_COMPACT);
	if (line) {
		fputs(line, r->out);
		fputc('\n', r->out);
		fflush(r->out);
	}
	free(line);
	json_decref(top);
}

static void
rawjson_finish(void *state)
{
	fflush(((struct rawjson *)state)->out);
}

static void
rawjson_free(void *state)
{
	struct rawjson *r = state;

	for (size_t i = 0; i < r->n_counters; i++)
		free(r->counters[i].id);
	free(r->counters);
	free(r);
}

const struct cli_progress_ops cli_progress_rawjson_ops = {
    .event = rawjson_event,
    .finish = rawjson_finish,
    .free = rawjson_free,
};
