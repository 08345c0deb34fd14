/* Unit tests for common/queue_space.c: the queue_minfree comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "queue_space.h"

/* The free bytes of the file system of ".", as queue_space counts them. */
static unsigned long long space_free_bytes(int fd)
{
	struct statvfs sv;

	assert_int_equal(fstatvfs(fd, &sv), 0);
	return (unsigned long long)sv.f_bavail * sv.f_frsize;
}

static void test_queue_space_reserve_zero_never_looks(void **state)
{
	unsigned long long avail = 1;

	(void)state;
	assert_int_equal(queue_space_ok(-1, 0, ~0ULL, &avail), 1);
	assert_true(avail == 0);
}

static void test_queue_space_compares_reserve_plus_need(void **state)
{
	int fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	unsigned long long avail, free_now;

	(void)state;
	assert_true(fd >= 0);
	free_now = space_free_bytes(fd);
	assert_true(free_now > 4096);
	assert_int_equal(queue_space_ok(fd, 1, 0, &avail), 1);
	assert_true(avail > 0);
	/* More than the disk has, however asked for. */
	assert_int_equal(queue_space_ok(fd, free_now * 2 + 1, 0, &avail), 0);
	assert_int_equal(queue_space_ok(fd, 1, free_now * 2, &avail), 0);
	/* A sum that would wrap saturates: still too much. */
	assert_int_equal(queue_space_ok(fd, ~0ULL, ~0ULL, &avail), 0);
	close(fd);
}

static void test_queue_space_bad_descriptor_is_an_error(void **state)
{
	unsigned long long avail;

	(void)state;
	errno = 0;
	assert_int_equal(queue_space_ok(-1, 1, 0, &avail), -1);
	assert_int_equal(errno, EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_space_reserve_zero_never_looks),
		cmocka_unit_test(test_queue_space_compares_reserve_plus_need),
		cmocka_unit_test(test_queue_space_bad_descriptor_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
