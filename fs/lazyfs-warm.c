// SPDX-License-Identifier: Apache-2.0
/* lazyfs's page-cache warming: see lazyfs-warm-internal.h. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "fs/lazyfs-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"
#include "util/xalloc.h"

void
lazyfs_warm_init(struct lazyfs_warm *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
}

static uint64_t
dir_hash(uint64_t key)
{
	key ^= key >> 31;
	key *= 0x9e3779b97f4a7c15ull;
	return key ^ (key >> 29);
}

/* The table slot of key (found or free); called with the lock held, the table not full. */
static size_t
dir_slot(const struct lazyfs_warm *w, uint64_t key)
{
	size_t i = dir_hash(key) & (w->dir_cap - 1);

	while (w->dir_keys[i] && w->dir_keys[i] != key)
		i = (i + 1) & (w->dir_cap - 1);
	return i;
}

/* Makes room for one more directory; false at WARM_MAX_DIRS. Called with the lock held. */
static bool
dir_reserve(struct lazyfs_warm *w)
{
	size_t old_cap = w->dir_cap;
	uint64_t *old_keys = w->dir_keys;

	if (w->n_dirs >= WARM_MAX_DIRS)
		return false;
	if ((w->n_dirs + 1) * 2 <= w->dir_cap)
		return true;
	w->dir_cap = old_cap ? old_cap * 2 : 256;
	w->dir_keys = xcalloc(w->dir_cap, sizeof(*w->dir_keys));
	for (size_t i = 0; i < old_cap; i++)
		if (old_keys[i])
			w->dir_keys[dir_slot(w, old_keys[i])] = old_keys[i];
	free(old_keys);
	return true;
}

/* Reads the whole blob at fd (size bytes) and pushes it as the page cache of ino. */
static void
push_file(struct lazyfs *fs, uint64_t ino, int fd, uint64_t size, char *buf)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
	size_t got = 0;
	ssize_t n;
	int r;

	while (got < size) {
		n = pread(fd, buf + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* a read will report it */
		got += (size_t)n;
	}
	bv.buf[0].mem = buf;
	r = fuse_lowlevel_notify_store(fs->session, ino, 0, &bv, 0);
	if (r == 0) {
		atomic_fetch_add_explicit(&fs->warm.files, 1, memory_order_relaxed);
	} else if (r != -ENOENT) {
		kl_debug("lazyfs: pushing inode %llu into the page cache: %s",
		         (unsigned long long)ino, strerror(-r));
	}
}

/* Where the warmed run from covered_start ends: at the first entry the jobs walked past
 * unwarmed because the kernel did not hold it, or where they stopped. */
static uint32_t
covered_end(const struct lazyfs_warm *w)
{
	return w->hole < w->walked ? w->hole : w->walked;
}

/* The next file of the active job for a thread to push, with a reference on its tree; false
 * when the thread is to stop. Called with the lock held: waits for work. */
static bool
next_file(struct lazyfs_warm *w, struct tree **ret_t, uint32_t *ret_slot, uint32_t *ret_pos,
          uint32_t *ret_idx, uint64_t *ret_size, struct lazyfs *fs)
{
	struct tree_entry e;

	for (;;) {
		if (w->stopping)
			return false;
		if (w->active && w->cursor != TREE_NONE) {
			uint32_t c = w->cursor, target = tree_resolve_hardlink(w->active, c);

			w->cursor =
			    --w->scan_left && c + 1 < tree_count(w->active) ? c + 1 : TREE_NONE;
			w->walked = c + 1;
			tree_entry_at(w->active, target, &e);
			if (e.type != TREE_REG || e.size == 0 || e.size > WARM_MAX_FILE)
				continue;
			if (e.size > w->budget) {
				w->cursor = TREE_NONE;
				continue;
			}
			w->budget -= e.size;
			*ret_t = tree_ref(w->active);
			*ret_slot = w->active_slot;
			*ret_pos = c;
			*ret_idx = target;
			*ret_size = e.size;
			return true;
		}
		w->active = tree_unref(w->active);
		if (w->n_queued) {
			struct warm_job job = w->queue[w->head];
			uint32_t from = job.after + 1;

			w->head = (w->head + 1) % WARM_QUEUE;
			w->n_queued--;
			/* trees_lock inside the warm lock: nothing takes them the other way round
			 */
			w->active = lazyfs_slot_tree_ref(fs, job.slot);
			w->active_slot = job.slot;
			/* a read inside what the last jobs warmed goes on from where they stopped:
			 * the reader is catching up, the window moves ahead */
			if (job.slot == w->covered_slot && job.after >= w->covered_start &&
			    job.after < covered_end(w))
				from = covered_end(w);
			else
				w->covered_start = from;
			w->covered_slot = job.slot;
			w->walked = from;
			w->hole = TREE_NONE;
			w->cursor = w->active && from < tree_count(w->active) ? from : TREE_NONE;
			w->budget = WARM_MAX_JOB_BYTES;
			w->scan_left = WARM_MAX_JOB_ENTRIES;
			w->missing = 0;
			continue;
		}
		pthread_cond_wait(&w->wake, &w->lock);
	}
}

static void *
warm_thread(void *arg)
{
	struct lazyfs *fs = arg;
	struct lazyfs_warm *w = &fs->warm;
	_cleanup_free_ char *buf = xmalloc(WARM_MAX_FILE);
	uint32_t slot, pos, idx;
	struct tree *t;
	uint64_t size;

	pthread_mutex_lock(&w->lock);
	while (next_file(w, &t, &slot, &pos, &idx, &size, fs)) {
		uint64_t ino = lazyfs_ino(slot, idx);
		bool owned;
		int claim, fd = -ENOENT;

		pthread_mutex_unlock(&w->lock);
		/* only inodes the kernel holds can take pages, each once, and none a read has
		 * opened already; a content not in the store is left to be fetched when read, a
		 * corrupt one to be reported then */
		claim = lazyfs_inode_claim_warm(fs, ino);
		if (claim > 0)
			fd = lazyfs_local_content_fd(fs, t, slot, idx, &owned);
		if (fd >= 0) {
			push_file(fs, ino, fd, size, buf);
			if (owned)
				(void)close(fd);
		} else if (claim > 0 && fd == -ENOENT) {
			lazyfs_inode_unclaim_warm(fs, ino);
		}
		pthread_mutex_lock(&w->lock);
		if (claim > 0 && fd == -ENOENT && w->active == t &&
		    ++w->missing >= WARM_MAX_MISSING)
			w->cursor = TREE_NONE;
		/* what is not listed or not in the store yet was not warmed: a later read there
		 * warms it */
		if ((claim < 0 || (claim > 0 && fd == -ENOENT)) && slot == w->covered_slot &&
		    pos >= w->covered_start && pos < w->hole)
			w->hole = pos;
		tree_unref(t); /* under the lock, as next_file drops its trees */
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Queues job, starting the threads the first time; called with the lock held. */
static void
enqueue(struct lazyfs *fs, const struct warm_job *job)
{
	struct lazyfs_warm *w = &fs->warm;

	if (w->stopping || w->n_queued == WARM_QUEUE)
		return;
	while (w->n_threads < WARM_THREADS &&
	       pthread_create(&w->threads[w->n_threads], NULL, warm_thread, fs) == 0)
		w->n_threads++;
	if (!w->n_threads)
		return;
	w->queue[(w->head + w->n_queued) % WARM_QUEUE] = *job;
	w->n_queued++;
	pthread_cond_broadcast(&w->wake);
}

void
lazyfs_warm_note_read(struct lazyfs *fs, uint32_t slot, uint32_t idx, uint64_t size)
{
	struct lazyfs_warm *w = &fs->warm;
	struct tree *t;
	uint32_t dir;
	uint64_t key;
	size_t i;

	if (size > WARM_MAX_FILE || !fs->session || lazyfs_passthrough_usable(&fs->pt))
		return;
	t = lazyfs_slot_tree(fs, slot); /* loaded: the kernel holds idx */
	if (!t || idx == TREE_ROOT)
		return;
	dir = tree_parent(t, idx);
	key = ((uint64_t)slot << 32 | dir) + 1; /* never 0 */
	pthread_mutex_lock(&w->lock);
	if (!dir_reserve(w))
		goto out;
	i = dir_slot(w, key);
	if (!w->dir_keys[i]) { /* the directory's first read: warm the rest */
		w->dir_keys[i] = key;
		w->n_dirs++;
		enqueue(fs, &(struct warm_job){.slot = slot, .after = idx});
	}
out:
	pthread_mutex_unlock(&w->lock);
}

void
lazyfs_warm_done(struct lazyfs *fs)
{
	struct lazyfs_warm *w = &fs->warm;
	unsigned n;

	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	n = w->n_threads;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(w->threads[i], NULL);
	tree_unref(w->active);
	free(w->dir_keys);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
}
