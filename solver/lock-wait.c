// SPDX-License-Identifier: Apache-2.0
/* Waiting for a lock's release; see solver/lock-wait.h. */
#include "solver/lock-wait.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

int
lock_wait(int ino_fd, int cancel_fd)
{
	struct pollfd p[2] = {{.fd = ino_fd, .events = POLLIN},
	                      {.fd = cancel_fd, .events = POLLIN}};
	char buf[4096];

	for (;;) {
		int n = poll(p, cancel_fd >= 0 ? 2 : 1, LOCK_WAIT_RECHECK_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		if (cancel_fd >= 0 && (p[1].revents & POLLIN))
			return -ECANCELED;
		if (p[0].revents) {
			while (read(ino_fd, buf, sizeof(buf)) > 0)
				;
			return 0;
		}
	}
}
