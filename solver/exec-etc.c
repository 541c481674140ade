// SPDX-License-Identifier: Apache-2.0
/* The /etc/hosts and /etc/resolv.conf a step sees, made as BuildKit makes them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

static bool
valid_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static bool
valid_host(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] == '#' || s[i] == 0x7f)
			return false;
	return true;
}

int
exec_hosts_file(const char *hostname, const struct graph_strv *extra, char **ret,
                struct kl_error **err)
{
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return kl_error_set(err, errno, "making /etc/hosts");
	fprintf(f, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	        hostname);
	for (size_t i = 0; extra && i < extra->n; i++) {
		const char *h = extra->v[i], *eq = strrchr(h, '=');

		if (!eq || !valid_host(h, (size_t)(eq - h)) || !valid_ip(eq + 1)) {
			fclose(f);
			return kl_error_setf(err, EINVAL, "extra host '%s': expected HOST=IP", h);
		}
		fprintf(f, "%s\t%.*s\n", eq + 1, (int)(eq - h), h);
	}
	if (fclose(f) != 0)
		return kl_error_set(err, errno, "making /etc/hosts");
	*ret = TAKE_PTR(out);
	return 0;
}

/* True for a "nameserver" line naming a loopback address. */
static bool
loopback_nameserver(const char *line, size_t n)
{
	char addr[64];
	size_t i = 0, a = 0;

	if (n < 10 || strncmp(line, "nameserver", 10) != 0 || (line[10] != ' ' && line[10] != '\t'))
		return false;
	for (i = 10; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	while (i < n && line[i] != ' ' && line[i] != '\t' && line[i] != '#' && a + 1 < sizeof(addr))
		addr[a++] = line[i++];
	addr[a] = '\0';
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strcmp(addr, "0:0:0:0:0:0:0:1") == 0;
}

char *
exec_resolv_conf(const char *host, size_t len, bool host_network)
{
	char *out = NULL;
	size_t out_len = 0, pos = 0;
	bool nameserver = false;
	FILE *f;

	if (host_network && host)
		return xstrndup(host, len);
	f = open_memstream(&out, &out_len);
	if (!f)
		abort();
	while (host && pos < len) {
		const char *nl = memchr(host + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (host + pos)) : len - pos;
		const char *line = host + pos;

		pos += n + 1;
		if (loopback_nameserver(line, n))
			continue;
		if (n >= 11 && strncmp(line, "nameserver", 10) == 0)
			nameserver = true;
		fprintf(f, "%.*s\n", (int)n, line);
	}
	if (!nameserver)
		fputs("nameserver 8.8.8.8\nnameserver 8.8.4.4\n", f);
	if (fclose(f) != 0)
		abort();
	return out;
}
