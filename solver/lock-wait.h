/* lock-wait — waiting for a flock another opener holds, the one way the cache's locks
 * (cacheidx-lock.c: a key being computed; exec-cache.c: a cache mount's instance) wait: on an
 * inotify watch of the lock file that its release wakes, with a cancel fd beside it. */
#pragma once

/* A waiter tries the lock again at least this often: the kernel sends a closed file's close
 * event before it drops the file's lock, so a wakeup can find the lock still held with no
 * event to follow (a holder that died leaves none). */
#define LOCK_WAIT_RECHECK_MS 50

/* Waits until ino_fd has an event (read away), or LOCK_WAIT_RECHECK_MS passed: 0, the caller
 * tries the lock again (a spurious wakeup is fine). cancel_fd readable (-1: none):
 * -ECANCELED. Other failures: -errno. */
int lock_wait(int ino_fd, int cancel_fd);
