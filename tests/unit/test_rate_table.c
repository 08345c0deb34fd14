/* Unit tests for common/rate_table.c: counting up to a limit, refusals
 * not counted, the window starting over, keys and events apart, a clock
 * that went back, eviction in a full group, and two mappings of one file
 * (as two smtpd processes) sharing the counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "rate_table.h"
#include "tmpdir_fixture.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_rate_table_XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/rates", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tmpdir_remove(dir);
}

static struct rate_table *open_table(void)
{
	struct rate_table *t = NULL;
	const char *err = "";

	assert_int_equal(rate_table_open(path, &t, &err), 0);
	return t;
}

static int hit(struct rate_table *t, const char *key, enum rate_event ev, unsigned long long limit,
	       time_t now)
{
	unsigned long long n;

	return rate_table_hit(t, key, ev, limit, 60, now, &n);
}

static void test_limit_and_window(void **state)
{
	struct rate_table *t = open_table();
	struct stat st;

	(void)state;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, (off_t)RATE_TABLE_SLOTS * 32);
	assert_int_equal(st.st_mode & 0777, 0600);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hit(t, "c:192.0.2.1", RATE_MESSAGE, 3, 1000 + i), 1);
	assert_int_equal(hit(t, "c:192.0.2.1", RATE_MESSAGE, 3, 1010), 0);
	assert_int_equal(hit(t, "c:192.0.2.1", RATE_MESSAGE, 3, 1059), 0);
	/* Other events and keys count apart. */
	assert_int_equal(hit(t, "c:192.0.2.1", RATE_RECIPIENT, 1, 1010), 1);
	assert_int_equal(hit(t, "c:192.0.2.2", RATE_MESSAGE, 1, 1010), 1);
	/* The window (60s from the first event at 1000) is over at 1060. */
	assert_int_equal(hit(t, "c:192.0.2.1", RATE_MESSAGE, 3, 1060), 1);
	/* A clock that went back starts the window over. */
	assert_int_equal(hit(t, "c:192.0.2.2", RATE_MESSAGE, 1, 500), 1);
	assert_int_equal(hit(t, "c:192.0.2.2", RATE_MESSAGE, 1, 501), 0);
	/* No limit, no table: always allowed. */
	assert_int_equal(hit(t, "c:192.0.2.2", RATE_MESSAGE, 0, 501), 1);
	assert_int_equal(hit(NULL, "x", RATE_MESSAGE, 1, 501), 1);
	rate_table_close(&t);
	assert_null(t);
}

static void test_shared_between_mappings(void **state)
{
	struct rate_table *a = open_table(), *b = open_table();
	unsigned long long n;

	(void)state;
	assert_int_equal(rate_table_hit(a, "u:bob", RATE_CONNECTION, 2, 60, 5000, &n), 1);
	assert_int_equal(rate_table_hit(b, "u:bob", RATE_CONNECTION, 2, 60, 5001, &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(rate_table_hit(a, "u:bob", RATE_CONNECTION, 2, 60, 5002, &n), 0);
	rate_table_close(&a);
	rate_table_close(&b);
}

static void test_many_keys_evict_but_never_refuse_falsely(void **state)
{
	struct rate_table *t = open_table();
	char key[32];

	(void)state;
	/* More live keys than the table holds: every first event of a key is
	 * allowed, whatever was evicted for it. */
	for (unsigned i = 0; i < RATE_TABLE_SLOTS * 2; i++) {
		snprintf(key, sizeof(key), "c:10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		assert_int_equal(hit(t, key, RATE_CONNECTION, 1, 9000), 1);
	}
	rate_table_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_limit_and_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_between_mappings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_keys_evict_but_never_refuse_falsely, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
