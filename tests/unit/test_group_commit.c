/* Unit tests for common/group_commit.c: a wait returns only after a
 * flush, a lone client is its own leader (one flush per wait), processes
 * attached to one memfd share the counters and, waiting together, need
 * fewer flushes than messages, and a descriptor that is not such a memfd
 * is refused. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "group_commit.h"

#define CHILDREN 4
#define WAITS 200

static int tmp_dir(void)
{
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void test_group_commit_alone_flushes_once_per_wait(void **state)
{
	struct group_commit *g;
	uint64_t flushes, messages;
	int dir = tmp_dir();

	(void)state;
	assert_int_equal(group_commit_private(dir, &g), 0);
	group_commit_counts(g, &flushes, &messages);
	assert_int_equal(flushes, 0);
	assert_int_equal(messages, 0);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(group_commit_wait(g), 0);
		group_commit_counts(g, &flushes, &messages);
		assert_int_equal(flushes, (uint64_t)i);
		assert_int_equal(messages, (uint64_t)i);
	}
	group_commit_free(&g);
	assert_null(g);
	close(dir);
}

static void test_group_commit_attachments_share_the_state(void **state)
{
	struct group_commit *a, *b;
	uint64_t flushes, messages;
	int dir = tmp_dir(), fd = group_commit_memfd();

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(group_commit_attach(fd, dir, &a), 0);
	assert_int_equal(group_commit_attach(fd, dir, &b), 0);
	assert_int_equal(group_commit_wait(a), 0);
	assert_int_equal(group_commit_wait(b), 0);
	group_commit_counts(b, &flushes, &messages);
	assert_int_equal(flushes, 2);
	assert_int_equal(messages, 2);
	/* sealed: no one can shrink it under the others */
	assert_int_equal(ftruncate(fd, 0), -1);
	group_commit_free(&a);
	group_commit_free(&b);
	close(fd);
	close(dir);
}

/* Processes waiting at once: every wait returns 0, every message is
 * counted, and flushes are shared (fewer than messages).  A wait can
 * only be covered by a flush that began after it numbered itself, so
 * there is always at least one flush more than there are "rounds". */
static void test_group_commit_concurrent_waits_share_flushes(void **state)
{
	struct group_commit *g;
	uint64_t flushes, messages;
	int dir = tmp_dir(), fd = group_commit_memfd();
	pid_t pids[CHILDREN];

	(void)state;
	assert_true(fd >= 0);
	for (int c = 0; c < CHILDREN; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] == 0) {
			struct group_commit *mine;

			if (group_commit_attach(fd, dir, &mine) < 0)
				_exit(2);
			for (int i = 0; i < WAITS; i++)
				if (group_commit_wait(mine) < 0)
					_exit(3);
			_exit(0);
		}
	}
	for (int c = 0; c < CHILDREN; c++) {
		int status;

		assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(group_commit_attach(fd, dir, &g), 0);
	group_commit_counts(g, &flushes, &messages);
	assert_int_equal(messages, CHILDREN * WAITS);
	assert_true(flushes >= 1);
	assert_true(flushes <= CHILDREN * WAITS);
	print_message("%d waits in %d processes: %llu flushes\n", CHILDREN * WAITS, CHILDREN,
		      (unsigned long long)flushes);
	group_commit_free(&g);
	close(fd);
	close(dir);
}

static void test_group_commit_refuses_other_descriptors(void **state)
{
	struct group_commit *g = (struct group_commit *)1;
	int dir = tmp_dir();
	int junk = memfd_create("junk", MFD_CLOEXEC);

	(void)state;
	assert_true(junk >= 0);
	/* the wrong size */
	assert_int_equal(group_commit_attach(junk, dir, &g), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(g);
	/* the right size, no magic */
	assert_int_equal(ftruncate(junk, sysconf(_SC_PAGESIZE)), 0);
	assert_int_equal(group_commit_attach(junk, dir, &g), -1);
	assert_int_equal(errno, EINVAL);
	/* not a file */
	assert_int_equal(group_commit_attach(dir, dir, &g), -1);
	close(junk);
	close(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_commit_alone_flushes_once_per_wait),
		cmocka_unit_test(test_group_commit_attachments_share_the_state),
		cmocka_unit_test(test_group_commit_concurrent_waits_share_flushes),
		cmocka_unit_test(test_group_commit_refuses_other_descriptors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
