// SPDX-License-Identifier: Apache-2.0
/* type=ssh: a socket of the step's own, with the mount's owner and mode, bound at the target
 * (SSH_AUTH_SOCK names the first), whose connections a thread forwards to the agent socket
 * the build was given, as BuildKit forwards the client's agent. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "solver/exec-internal.h"
#include "solver/solve.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define MAX_LISTENERS 16
#define MAX_CONNS 64

struct listener {
	int fd;
	char *agent; /* the agent's socket path */
};

struct conn {
	int client, agent;
};

struct exec_ssh_proxy {
	pthread_t thread;
	bool running;
	int stop_fd; /* an eventfd: written to end the thread */
	struct listener listeners[MAX_LISTENERS];
	size_t n_listeners;
	struct conn conns[MAX_CONNS]; /* the thread's alone */
	size_t n_conns;
};

static int
connect_agent(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static void
drop_conn(struct exec_ssh_proxy *p, size_t i)
{
	close(p->conns[i].client);
	close(p->conns[i].agent);
	p->conns[i] = p->conns[--p->n_conns];
}

/* Moves what from holds to to; false when the connection is over. */
static bool
forward(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	return n > 0 && kl_io_write_all(to, buf, (size_t)n) == 0;
}

static void *
proxy_main(void *arg)
{
	struct exec_ssh_proxy *p = arg;

	for (;;) {
		struct pollfd fds[1 + MAX_LISTENERS + 2 * MAX_CONNS];
		size_t n = 0;

		fds[n++] = (struct pollfd){p->stop_fd, POLLIN, 0};
		for (size_t i = 0; i < p->n_listeners; i++)
			fds[n++] = (struct pollfd){p->listeners[i].fd, POLLIN, 0};
		for (size_t i = 0; i < p->n_conns; i++) {
			fds[n++] = (struct pollfd){p->conns[i].client, POLLIN, 0};
			fds[n++] = (struct pollfd){p->conns[i].agent, POLLIN, 0};
		}
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents)
			break;
		/* connections first: their slots move when one is dropped */
		for (size_t i = p->n_conns; i-- > 0;) {
			const struct pollfd *c = &fds[1 + p->n_listeners + 2 * i];
			bool alive = true;

			if (c[0].revents)
				alive = forward(p->conns[i].client, p->conns[i].agent);
			if (alive && c[1].revents)
				alive = forward(p->conns[i].agent, p->conns[i].client);
			if (!alive)
				drop_conn(p, i);
		}
		for (size_t i = 0; i < p->n_listeners; i++) {
			int client, agent;

			if (!fds[1 + i].revents)
				continue;
			client = accept4(p->listeners[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (client < 0)
				continue;
			agent = connect_agent(p->listeners[i].agent);
			if (agent < 0 || p->n_conns == MAX_CONNS) {
				kl_debug("exec: ssh agent '%s': %s", p->listeners[i].agent,
				         agent < 0 ? strerror(-agent) : "too many connections");
				close(client);
				if (agent >= 0)
					close(agent);
				continue;
			}
			p->conns[p->n_conns++] = (struct conn){client, agent};
		}
	}
	return NULL;
}

void
exec_ssh_proxy_stop(struct exec_ssh_proxy *p)
{
	if (p->running) {
		uint64_t one = 1;

		(void)!write(p->stop_fd, &one, sizeof(one));
		pthread_join(p->thread, NULL);
	}
	while (p->n_conns)
		drop_conn(p, p->n_conns - 1);
	for (size_t i = 0; i < p->n_listeners; i++) {
		close(p->listeners[i].fd);
		free(p->listeners[i].agent);
	}
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	free(p);
}

static const struct solve_ssh *
find_ssh(const struct exec_env *env, const char *id)
{
	for (size_t i = 0; i < env->n_ssh; i++)
		if (!strcmp(env->ssh[i].id, id))
			return &env->ssh[i];
	return NULL;
}

/* A listening socket at path with m's owner and mode. */
static int
listen_at(const char *path, const struct graph_mount *m, struct kl_error **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return kl_error_setf(err, ENAMETOOLONG, "socket path '%s' is too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kl_error_set(err, errno, "making a socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
		return kl_error_set(err, errno, "listening at '%s'", path);
	if (chown(path, m->uid, m->gid) < 0 ||
	    chmod(path, m->has_mode ? m->mode & 07777 : 0600) < 0)
		return kl_error_set(err, errno, "setting the owner of '%s'", path);
	return TAKE_FD(fd);
}

int
exec_mount_ssh(struct exec_step *st, size_t i, const struct graph_mount *m, struct kl_error **err)
{
	const char *id = m->id && *m->id ? m->id : "default";
	const struct solve_ssh *agent = find_ssh(st->env, id);
	_cleanup_free_ char *sock = NULL, *target = NULL;
	struct exec_spec_mount *sm;
	unsigned n = st->n_ssh_mounts++;
	int fd;

	if (!agent && m->required)
		return kl_error_setf(err, ENOENT, "ssh agent '%s' is required but was not given",
		                     id);
	if (!agent)
		return 0;
	if (!st->ssh) {
		st->ssh = xcalloc(1, sizeof(*st->ssh));
		st->ssh->stop_fd = eventfd(0, EFD_CLOEXEC);
		if (st->ssh->stop_fd < 0)
			return kl_error_set(err, errno, "making an eventfd");
	}
	if (st->ssh->n_listeners == MAX_LISTENERS)
		return kl_error_setf(err, E2BIG, "more than %d ssh mounts", MAX_LISTENERS);
	sock = xasprintf("%s/ssh-%zu.sock", st->tmp, i);
	fd = listen_at(sock, m, err);
	if (fd < 0)
		return fd;
	st->ssh->listeners[st->ssh->n_listeners++] =
	    (struct listener){.fd = fd, .agent = xstrdup(agent->socket)};
	target = m->target ? xstrdup(m->target) : xasprintf("/run/buildkit/ssh_agent.%u", n);
	if (n == 0)
		exec_step_add_env(st, "SSH_AUTH_SOCK", target, strlen(target));
	sm = exec_step_add_mount(st, target, "bind", sock);
	exec_spec_mount_option(sm, "rbind");
	return 0;
}

int
exec_ssh_proxy_start(struct exec_ssh_proxy *p, struct kl_error **err)
{
	int r = pthread_create(&p->thread, NULL, proxy_main, p);

	if (r != 0)
		return kl_error_set(err, r, "starting the ssh agent proxy");
	p->running = true;
	return 0;
}
