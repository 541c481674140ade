// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/exec-seccomp-bpf: the compiled profile, loaded into a child, refuses
 * what the profile refuses and lets the rest through; it is kept in the store, read back from
 * there, compiled again when what is kept is not a whole program, and compiled once for steps
 * that ask at the same time. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <sched.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/store.h"
#include "solver/exec-internal.h"
#include "util/base64.h"
#include "util/io.h"
#include "tests/unit/test-helpers.h"

static struct store *
open_store(const char *dir, const char *name)
{
	_cleanup_free_ char *root = xasprintf("%s/%s", dir, name);
	struct store *s;

	assert_int_equal(
	    store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &s, NULL), 0);
	return s;
}

/* The path of the one program kept under root/seccomp. */
static char *
kept_program(const char *root)
{
	_cleanup_free_ char *dir = xasprintf("%s/seccomp", root);
	DIR *d = opendir(dir);
	struct dirent *de;
	char *found = NULL;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			assert_null(found);
			found = xasprintf("%s/%s", dir, de->d_name);
		}
	closedir(d);
	assert_non_null(found);
	return found;
}

/* 0 when a call that returned ret failed with errno want (want 0: succeeded), else 1. */
static int
expect(long ret, int want)
{
	if (want == 0)
		return ret < 0;
	return !(ret < 0 && errno == want);
}

/* Runs the probes in a child under the program; the number of probes that went wrong. */
static int
probe_under(const char *b64)
{
	size_t len = strlen(b64), n;
	uint8_t *buf = xmalloc(KL_BASE64_DECODED_MAX(len));
	pid_t pid;
	int status;

	assert_int_equal(kl_base64_decode(b64, len, buf, &n), 0);
	assert_int_equal(n % sizeof(struct sock_filter), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_fprog prog = {.len = (unsigned short)(n / sizeof(struct sock_filter)),
		                          .filter = (struct sock_filter *)buf};
		int bad = 0;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(100);
		bad += expect(syscall(SYS_keyctl, 0, 0, 0, 0, 0), EPERM);
		bad += expect(syscall(SYS_add_key, "user", "k", "v", 1, 0), EPERM);
		bad += expect(unshare(CLONE_NEWUTS), EPERM);
		bad += expect(syscall(SYS_clone3, NULL, 0), ENOSYS);
		bad += expect(personality(PER_BSD), EPERM);
		bad += expect(personality(0xffffffff), 0);
		bad += expect(socket(AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
		bad += expect(getpid(), 0);
		bad += expect(syscall(SYS_getppid), 0);
		_exit(bad);
	}
	free(buf);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_program_refuses_what_the_profile_refuses(void **state)
{
	char *dir = test_tmpdir();
	struct store *s = open_store(dir, "a");
	_cleanup_free_ char *b64 = NULL;

	(void)state;
	assert_int_equal(exec_seccomp_bpf(s, &b64, NULL), 0);
	assert_int_equal(probe_under(b64), 0);
	store_unref(s);
	test_rmdir(dir);
}

static void
test_program_is_kept_and_read_back(void **state)
{
	char *dir = test_tmpdir();
	struct store *a = open_store(dir, "a"), *b = open_store(dir, "b"),
	             *c = open_store(dir, "c");
	_cleanup_free_ char *first = NULL, *again = NULL, *fake = NULL, *redone = NULL;
	_cleanup_free_ char *path_a = NULL, *name = NULL, *path_b = NULL, *path_c = NULL;
	_cleanup_free_ char *dir_b = xasprintf("%s/seccomp", store_root(b));
	_cleanup_free_ char *dir_c = xasprintf("%s/seccomp", store_root(c));
	static const uint8_t other[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	_cleanup_free_ char *want_other = kl_base64_encode(other, sizeof(other));
	int fd;

	(void)state;
	assert_int_equal(exec_seccomp_bpf(a, &first, NULL), 0);
	assert_int_equal(exec_seccomp_bpf(a, &again, NULL), 0);
	assert_string_equal(first, again);
	path_a = kept_program(store_root(a));
	name = xstrdup(strrchr(path_a, '/') + 1);
	assert_non_null(strstr(name, ".bpf"));

	/* a program kept under the key is what is used: b has another one there */
	assert_int_equal(mkdir(dir_b, 0755), 0);
	path_b = xasprintf("%s/%s", dir_b, name);
	fd = open(path_b, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(kl_io_write_all(fd, other, sizeof(other)), 0);
	close(fd);
	assert_int_equal(exec_seccomp_bpf(b, &fake, NULL), 0);
	assert_string_equal(fake, want_other);

	/* a torn one (not whole instructions) is compiled again and replaced */
	assert_int_equal(mkdir(dir_c, 0755), 0);
	path_c = xasprintf("%s/%s", dir_c, name);
	fd = open(path_c, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(kl_io_write_all(fd, other, 5), 0);
	close(fd);
	assert_int_equal(exec_seccomp_bpf(c, &redone, NULL), 0);
	assert_string_equal(redone, first);
	{
		_cleanup_free_ char *kept = kept_program(store_root(c));
		struct stat st;

		assert_string_equal(kept, path_c);
		assert_int_equal(stat(kept, &st), 0);
		assert_int_equal(st.st_size % sizeof(struct sock_filter), 0);
		assert_true(st.st_size > 5);
	}
	store_unref(a);
	store_unref(b);
	store_unref(c);
	test_rmdir(dir);
}

struct asker {
	struct store *s;
	char *b64;
	int r;
};

static void *
ask(void *p)
{
	struct asker *a = p;

	a->r = exec_seccomp_bpf(a->s, &a->b64, NULL);
	return NULL;
}

/* steps starting together on a new store: one program, kept once, no temporary file left */
static void
test_steps_at_once_get_one_program(void **state)
{
	char *dir = test_tmpdir();
	struct store *s = open_store(dir, "a");
	struct asker a[4];
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		a[i] = (struct asker){.s = s};
		assert_int_equal(pthread_create(&th[i], NULL, ask, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(a[i].r, 0);
		assert_string_equal(a[i].b64, a[0].b64);
	}
	{
		_cleanup_free_ char *sub = xasprintf("%s/seccomp", store_root(s));
		_cleanup_free_ char *kept = kept_program(store_root(s));

		assert_int_equal(test_count_entries(sub, /* hidden= */ true), 1);
		assert_int_equal(probe_under(a[0].b64), 0);
	}
	for (int i = 0; i < 4; i++)
		free(a[i].b64);
	store_unref(s);
	test_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_program_refuses_what_the_profile_refuses),
	    cmocka_unit_test(test_program_is_kept_and_read_back),
	    cmocka_unit_test(test_steps_at_once_get_one_program),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
