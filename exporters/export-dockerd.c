// SPDX-License-Identifier: Apache-2.0
/* The Docker Engine API client for image loads over libcurl (unix socket or tcp): the one file
 * of exporters/ that includes curl.h. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporters/export-internal.h"
#include "util/cleanup.h"
#include "util/dl-curl.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

#define DEFAULT_HOST "unix:///var/run/docker.sock"
#define MAX_ANSWER (1u << 20)

struct load {
	int fd;
	char *body;
	size_t len, cap;
	int read_error; /* errno of a failed read of the archive */
};

static size_t
on_read(char *buf, size_t size, size_t n, void *userdata)
{
	struct load *l = userdata;
	ssize_t got;

	do
		got = read(l->fd, buf, size * n);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		l->read_error = errno;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)got;
}

static size_t
on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct load *l = userdata;
	size_t len = size * n;

	if (l->len + len > MAX_ANSWER)
		return len; /* the tail of a long answer is dropped, not an error */
	l->body = xgrow(l->body, &l->cap, l->len + len + 1, 1);
	memcpy(l->body + l->len, data, len);
	l->len += len;
	l->body[l->len] = '\0';
	return len;
}

int
export_dockerd_answer(const char *body, size_t len, struct kl_error **err)
{
	const char *p = body, *end = body + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		json_t *j = n ? json_loadb(p, n, 0, NULL) : NULL;
		json_t *e = j ? json_object_get(j, "error") : NULL;

		if (json_is_string(e)) {
			int r =
			    kl_error_setf(err, EIO, "the daemon says: %s", json_string_value(e));

			json_decref(j);
			return r;
		}
		if (j) {
			const char *s = json_string_value(json_object_get(j, "stream"));

			if (s)
				kl_debug("docker load: %.*s", (int)strcspn(s, "\n"), s);
			json_decref(j);
		}
		p += n + 1;
	}
	return 0;
}

/* The message of a non-2xx answer ({"message": "…"}), or the body itself. */
static char *
error_message(const struct load *l)
{
	json_t *j = l->body ? json_loadb(l->body, l->len, 0, NULL) : NULL;
	const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
	char *out = xstrdup(m ? m : l->body ? l->body : "no message");

	if (j)
		json_decref(j);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

/* The URL and socket path for host (DOCKER_HOST's form). */
static int
endpoint(const char *host, char **ret_url, char **ret_socket, struct kl_error **err)
{
	if (!strncmp(host, "unix://", 7) && host[7]) {
		*ret_socket = xstrdup(host + 7);
		*ret_url = xstrdup("http://localhost/images/load?quiet=1");
		return 0;
	}
	if (!strncmp(host, "tcp://", 6) && host[6]) {
		*ret_socket = NULL;
		*ret_url = xasprintf("http://%s/images/load?quiet=1", host + 6);
		return 0;
	}
	return kl_error_setf(err, ENOTSUP,
	                     "Docker host '%s': kiln talks to unix:///PATH and tcp://HOST:PORT "
	                     "(without TLS) daemons",
	                     host);
}

int
export_dockerd_load(const char *host, int fd, struct kl_error **err)
{
	_cleanup_free_ char *url = NULL, *sock = NULL;
	struct load l = {.fd = fd};
	struct curl_slist *h = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct stat st;
	long status = 0;
	CURLcode cc;
	CURL *curl;
	int r;

	if (!host || !*host)
		host = DEFAULT_HOST;
	r = endpoint(host, &url, &sock, err);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return kl_error_set(err, errno, "reading the archive");
	r = kl_curl_load(err);
	if (r < 0)
		return r;
	if (kl_curl()->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(curl = kl_curl()->easy_init()))
		return kl_error_setf(err, ENOMEM, "initializing libcurl");
	h = kl_curl()->slist_append(h, "Content-Type: application/x-tar");
	h = kl_curl()->slist_append(h, "Expect:");
	kl_curl()->easy_setopt(curl, CURLOPT_URL, url);
	if (sock)
		kl_curl()->easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, sock);
	kl_curl()->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
	kl_curl()->easy_setopt(curl, CURLOPT_POST, 1L);
	kl_curl()->easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
	kl_curl()->easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
	kl_curl()->easy_setopt(curl, CURLOPT_READDATA, &l);
	kl_curl()->easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	kl_curl()->easy_setopt(curl, CURLOPT_WRITEDATA, &l);
	kl_curl()->easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	kl_curl()->easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	kl_curl()->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	kl_curl()->easy_setopt(curl, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	cc = kl_curl()->easy_perform(curl);
	(void)kl_curl()->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	kl_curl()->easy_cleanup(curl);
	kl_curl()->slist_free_all(h);
	if (l.read_error)
		r = kl_error_set(err, l.read_error, "reading the archive");
	else if (cc == CURLE_COULDNT_CONNECT && sock)
		r = kl_error_setf(
		    err, ECONNREFUSED,
		    "cannot connect to the Docker daemon at '%s' (is dockerd running? "
		    "DOCKER_HOST names another)",
		    host);
	else if (cc != CURLE_OK)
		r = kl_error_setf(err, cc == CURLE_COULDNT_CONNECT ? ECONNREFUSED : EIO,
		                  "Docker daemon at '%s': %s", host,
		                  errbuf[0] ? errbuf : kl_curl()->easy_strerror(cc));
	else if (status < 200 || status >= 300) {
		_cleanup_free_ char *m = error_message(&l);

		r = kl_error_setf(err, EIO, "Docker daemon at '%s' answered HTTP %ld: %s", host,
		                  status, m);
	} else
		r = export_dockerd_answer(l.body ? l.body : "", l.len, err);
	free(l.body);
	return r;
}
