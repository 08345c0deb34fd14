/* Unit tests for common/queue_scan.c: the arrival time read from a
 * queue ID (and nothing from a name that is not one); a directory
 * counted with its oldest ID, dot files skipped, again from the start
 * on the same descriptor, and capped at the limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>

#include "queue_scan.h"
#include "tmpdir_fixture.h"

static void test_queue_scan_id_time(void **state)
{
	(void)state;
	/* docs/queue.md's example: 6B07BE61 = 1795669601 */
	assert_int_equal(queue_scan_id_time("6B07BE61B8A27A72005"), 1795669601);
	assert_int_equal(queue_scan_id_time("00000001000001"), 1);
	assert_int_equal(queue_scan_id_time("0000000100000"), 0);                       /* 13: short */
	assert_int_equal(queue_scan_id_time("6B07BE61B8A27A72005000000000000000"), 0);  /* 34: long */
	assert_int_equal(queue_scan_id_time("6b07be61b8a27a72005"), 0);                 /* lower case */
	assert_int_equal(queue_scan_id_time("6B07BE61B8A27A7200G"), 0);
	assert_int_equal(queue_scan_id_time("1234.abcdef"), 0);
	assert_string_equal(queue_scan_state(0), "incoming");
	assert_string_equal(queue_scan_state(3), "hold");
	assert_null(queue_scan_state(QUEUE_SCAN_STATES));
}

static void touch(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static void test_queue_scan_dir_counts_and_caps(void **state)
{
	char dir[] = "/tmp/postern-test-queue-scan-XXXXXX";
	struct queue_scan r;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	touch(dir, "6B07BE61B8A27A72005");
	touch(dir, "6B07BE50B8A27A72006");   /* the oldest */
	touch(dir, "not-an-id");
	touch(dir, ".hidden");
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	for (int pass = 0; pass < 2; pass++) {   /* the same descriptor again */
		assert_int_equal(queue_scan_dir(fd, 100, &r), 0);
		assert_int_equal(r.messages, 3);
		assert_int_equal(r.oldest, 0x6B07BE50);
		assert_false(r.capped);
	}
	assert_int_equal(queue_scan_dir(fd, 3, &r), 0);
	assert_false(r.capped);
	assert_int_equal(queue_scan_dir(fd, 2, &r), 0);
	assert_int_equal(r.messages, 2);
	assert_true(r.capped);
	assert_int_equal(queue_scan_dir(fd, 0, &r), 0);
	assert_int_equal(r.messages, 0);
	assert_true(r.capped);
	close(fd);
	assert_int_equal(tmpdir_remove(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_scan_id_time),
		cmocka_unit_test(test_queue_scan_dir_counts_and_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
