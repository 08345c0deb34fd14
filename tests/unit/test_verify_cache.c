/* Unit tests for common/verify_cache.c: answers and their times to live,
 * sharing between two opens (two verify processes), a bounded file that
 * evicts instead of growing, and a damaged file taken as empty. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "verify_cache.h"

#define T0 ((time_t)1700000000)

static char dir[] = "/tmp/test_verify_cache_XXXXXX";
static char path[64];

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/verify.cache", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static struct verify_cache *fresh(void)
{
	const char *err = NULL;
	struct verify_cache *c;

	unlink(path);
	c = verify_cache_open(path, &err);
	assert_non_null(c);
	return c;
}

static enum verify_cache_result get(struct verify_cache *c, const char *key, time_t now,
				    unsigned long long ok_ttl, unsigned long long fail_ttl, char *dsn)
{
	return verify_cache_get(c, key, strlen(key), now, ok_ttl, fail_ttl, dsn);
}

static void test_verify_cache_answers_live_for_their_own_ttl(void **state)
{
	struct verify_cache *c = fresh();
	char dsn[VERIFY_CACHE_DSN_MAX];

	(void)state;
	assert_int_equal(get(c, "d\nbob@x", T0, 3600, 600, dsn), VERIFY_CACHE_MISS);
	assert_int_equal(verify_cache_put(c, "d\nbob@x", 7, VERIFY_CACHE_OK, "2.1.5", T0), 0);
	assert_int_equal(verify_cache_put(c, "d\nnobody@x", 10, VERIFY_CACHE_FAIL, "5.1.1", T0), 0);
	assert_int_equal(get(c, "d\nbob@x", T0 + 3599, 3600, 600, dsn), VERIFY_CACHE_OK);
	assert_int_equal(get(c, "d\nnobody@x", T0 + 599, 3600, 600, dsn), VERIFY_CACHE_FAIL);
	assert_string_equal(dsn, "5.1.1");
	/* Each kind expires by its own time to live. */
	assert_int_equal(get(c, "d\nnobody@x", T0 + 600, 3600, 600, dsn), VERIFY_CACHE_MISS);
	assert_int_equal(get(c, "d\nbob@x", T0 + 600, 3600, 600, dsn), VERIFY_CACHE_OK);
	assert_int_equal(get(c, "d\nbob@x", T0 + 3600, 3600, 600, dsn), VERIFY_CACHE_MISS);
	/* 0: that kind is never taken from the cache. */
	assert_int_equal(get(c, "d\nbob@x", T0, 0, 600, dsn), VERIFY_CACHE_MISS);
	/* The key is exact: another destination is another key. */
	assert_int_equal(get(c, "e\nbob@x", T0, 3600, 600, dsn), VERIFY_CACHE_MISS);
	/* A newer answer replaces the old one. */
	assert_int_equal(verify_cache_put(c, "d\nbob@x", 7, VERIFY_CACHE_FAIL, "5.2.1", T0 + 10), 0);
	assert_int_equal(get(c, "d\nbob@x", T0 + 20, 3600, 600, dsn), VERIFY_CACHE_FAIL);
	assert_string_equal(dsn, "5.2.1");
	verify_cache_close(&c);
	assert_null(c);
}

static void test_verify_cache_is_shared_between_opens(void **state)
{
	struct verify_cache *a = fresh(), *b;
	const char *err = NULL;
	char dsn[VERIFY_CACHE_DSN_MAX];

	(void)state;
	b = verify_cache_open(path, &err);
	assert_non_null(b);
	assert_int_equal(verify_cache_put(a, "k", 1, VERIFY_CACHE_OK, "2.0.0", T0), 0);
	assert_int_equal(get(b, "k", T0 + 1, 60, 60, dsn), VERIFY_CACHE_OK);
	verify_cache_close(&a);
	verify_cache_close(&b);
	/* And it survives a reopen (a restarted process). */
	b = verify_cache_open(path, &err);
	assert_non_null(b);
	assert_int_equal(get(b, "k", T0 + 2, 60, 60, dsn), VERIFY_CACHE_OK);
	verify_cache_close(&b);
}

static void test_verify_cache_stays_bounded_and_keeps_the_newest(void **state)
{
	struct verify_cache *c = fresh();
	char key[32], dsn[VERIFY_CACHE_DSN_MAX];
	struct stat st0, st1;
	int kept = 0;

	(void)state;
	assert_int_equal(stat(path, &st0), 0);
	for (int i = 0; i < 3 * VERIFY_CACHE_SLOTS; i++) {
		snprintf(key, sizeof key, "u%d@x", i);
		assert_int_equal(verify_cache_put(c, key, strlen(key), VERIFY_CACHE_FAIL, "5.1.1", T0 + i), 0);
	}
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_size, st0.st_size);
	/* The newest entries survive (the oldest of a bucket is evicted). */
	for (int i = 3 * VERIFY_CACHE_SLOTS - 100; i < 3 * VERIFY_CACHE_SLOTS; i++) {
		snprintf(key, sizeof key, "u%d@x", i);
		kept += get(c, key, T0 + 3 * VERIFY_CACHE_SLOTS, 1000000, 1000000, dsn) == VERIFY_CACHE_FAIL;
	}
	assert_int_equal(kept, 100);
	verify_cache_close(&c);
}

static void test_verify_cache_refuses_bad_puts(void **state)
{
	struct verify_cache *c = fresh();

	(void)state;
	assert_int_equal(verify_cache_put(c, "k", 1, VERIFY_CACHE_MISS, "2.0.0", T0), -1);
	assert_int_equal(verify_cache_put(c, "k", 1, VERIFY_CACHE_FAIL, "550", T0), -1);
	assert_int_equal(verify_cache_put(c, "k", 1, VERIFY_CACHE_FAIL, "5.1.1 x", T0), -1);
	assert_int_equal(verify_cache_put(c, "k", 1, VERIFY_CACHE_FAIL, "5.1234.1", T0), -1);
	verify_cache_close(&c);
}

static void test_verify_cache_damage_is_a_miss_or_a_reset(void **state)
{
	struct verify_cache *c = fresh();
	const char *err = NULL;
	char dsn[VERIFY_CACHE_DSN_MAX], junk[4096];
	struct stat st0, st1;
	int fd;

	(void)state;
	assert_int_equal(stat(path, &st0), 0);
	assert_int_equal(verify_cache_put(c, "k", 1, VERIFY_CACHE_OK, "2.0.0", T0), 0);
	/* An answer from the future (the clock went back) is not taken. */
	assert_int_equal(verify_cache_put(c, "f", 1, VERIFY_CACHE_OK, "2.0.0", T0 + 3600), 0);
	assert_int_equal(get(c, "f", T0, 100000, 100000, dsn), VERIFY_CACHE_MISS);
	/* Garbage over every slot: misses, never a crash. */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	memset(junk, 0x5a, sizeof junk);
	for (off_t off = 64; off < st0.st_size; off += (off_t)sizeof junk)
		assert_true(pwrite(fd, junk, sizeof junk, off) > 0);
	assert_int_equal(get(c, "k", T0, 60, 60, dsn), VERIFY_CACHE_MISS);
	verify_cache_close(&c);
	/* A damaged header or size: the next open starts an empty cache. */
	assert_int_equal(pwrite(fd, "junk", 4, 0), 4);
	assert_int_equal(ftruncate(fd, 100), 0);
	close(fd);
	c = verify_cache_open(path, &err);
	assert_non_null(c);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_size, st0.st_size);
	assert_int_equal(get(c, "k", T0, 60, 60, dsn), VERIFY_CACHE_MISS);
	assert_int_equal(verify_cache_put(c, "k", 1, VERIFY_CACHE_OK, "2.0.0", T0), 0);
	assert_int_equal(get(c, "k", T0, 60, 60, dsn), VERIFY_CACHE_OK);
	verify_cache_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_cache_answers_live_for_their_own_ttl),
		cmocka_unit_test(test_verify_cache_is_shared_between_opens),
		cmocka_unit_test(test_verify_cache_stays_bounded_and_keeps_the_newest),
		cmocka_unit_test(test_verify_cache_refuses_bad_puts),
		cmocka_unit_test(test_verify_cache_damage_is_a_miss_or_a_reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
