// SPDX-License-Identifier: Apache-2.0
/* exec-probe: a static program the RUN step tests put in their rootfs (busybox has neither).
 *   exec-probe syscalls      tries what the default seccomp profile refuses; one line each,
 *                            "NAME ok" or "NAME <errno name>"
 *   exec-probe agent [SOCK]  asks the ssh agent at SOCK ($SSH_AUTH_SOCK) for its identities;
 *                            prints "identities N" */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *
errname(int e)
{
	switch (e) {
	case EPERM:
		return "EPERM";
	case ENOSYS:
		return "ENOSYS";
	case EINVAL:
		return "EINVAL";
	case EACCES:
		return "EACCES";
	case EFAULT:
		return "EFAULT";
	case ENOENT:
		return "ENOENT";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	default:
		return strerror(e);
	}
}

static void
report(const char *name, long r)
{
	printf("%s %s\n", name, r < 0 ? errname(errno) : "ok");
}

static int
syscalls(void)
{
	long r;
	pid_t pid;

	errno = 0;
	report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0, 0, 0));
	report("add_key", syscall(SYS_add_key, "user", "kiln", "x", 1, -3));
	report("unshare", unshare(CLONE_NEWNS));
	report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
	report("bpf", syscall(SYS_bpf, 0, NULL, 0));
	report("clone3", syscall(SYS_clone3, NULL, 0));
	report("personality-read-implies-exec", personality(READ_IMPLIES_EXEC));
	r = personality(0xffffffff);
	report("personality-query", r);
	r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	report("clone-newuser", r);
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	report("fork", pid);
	return 0;
}

static int
agent(const char *path)
{
	/* SSH_AGENTC_REQUEST_IDENTITIES (11); the answer is SSH_AGENT_IDENTITIES_ANSWER (12) */
	static const unsigned char req[] = {0, 0, 0, 1, 11};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	unsigned char buf[9];
	size_t got = 0;
	int fd;

	if (!path || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "exec-probe: no agent socket\n");
		return 1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "exec-probe: connecting to '%s': %s\n", path, strerror(errno));
		return 1;
	}
	if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req))
		return 1;
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0) {
			fprintf(stderr, "exec-probe: short answer from the agent\n");
			return 1;
		}
		got += (size_t)n;
	}
	if (buf[4] != 12) {
		fprintf(stderr, "exec-probe: unexpected answer %u\n", buf[4]);
		return 1;
	}
	printf("identities %u\n",
	       (unsigned)buf[5] << 24 | (unsigned)buf[6] << 16 | (unsigned)buf[7] << 8 | buf[8]);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "syscalls"))
		return syscalls();
	if (argc >= 2 && !strcmp(argv[1], "agent"))
		return agent(argc >= 3 ? argv[2] : getenv("SSH_AUTH_SOCK"));
	fprintf(stderr, "usage: exec-probe syscalls|agent [SOCK]\n");
	return 2;
}
