/* Unit tests for common/auth_cache.c: a remembered success answers only
 * for the same user, password and stored hash, only until its time to
 * live, never for a password that was not checked, and each cache has a
 * secret of its own (two caches do not share entries), while two
 * attachments of one memfd (two authd processes) do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth_cache.h"

#define HASH_A "$y$j9T$salt$aaaa"
#define HASH_B "$y$j9T$salt$bbbb"

static int hit(const struct auth_cache *c, const char *user, const char *pw, const char *hash,
	       unsigned long long now)
{
	return auth_cache_hit(c, user, pw, strlen(pw), hash, now);
}

static void put(struct auth_cache *c, const char *user, const char *pw, const char *hash,
		unsigned long long now)
{
	auth_cache_put(c, user, pw, strlen(pw), hash, now);
}

static void test_auth_cache_remembers_only_the_checked_success(void **state)
{
	struct auth_cache *c;

	(void)state;
	assert_int_equal(auth_cache_new(64, 3600, &c), 0);
	assert_int_equal(hit(c, "alice@example.org", "secret", HASH_A, 100), 0);
	put(c, "alice@example.org", "secret", HASH_A, 100);
	assert_int_equal(hit(c, "alice@example.org", "secret", HASH_A, 101), 1);
	assert_int_equal(hit(c, "alice@example.org", "Secret", HASH_A, 101), 0);
	assert_int_equal(hit(c, "alice@example.org", "secre", HASH_A, 101), 0);
	assert_int_equal(hit(c, "alice@example.org", "secrett", HASH_A, 101), 0);
	assert_int_equal(hit(c, "bob@example.org", "secret", HASH_A, 101), 0);
	/* The user/password boundary is part of the key. */
	put(c, "ab", "c", HASH_A, 100);
	assert_int_equal(hit(c, "a", "bc", HASH_A, 101), 0);
	assert_int_equal(hit(c, "ab", "c", HASH_A, 101), 1);
	auth_cache_free(&c);
	assert_null(c);
}

static void test_auth_cache_entry_dies_with_the_stored_hash(void **state)
{
	struct auth_cache *c;

	(void)state;
	assert_int_equal(auth_cache_new(64, 3600, &c), 0);
	put(c, "alice@example.org", "secret", HASH_A, 100);
	/* `postern user passwd` stored another hash: the old password must
	 * go through crypt again (and fail there). */
	assert_int_equal(hit(c, "alice@example.org", "secret", HASH_B, 101), 0);
	assert_int_equal(hit(c, "alice@example.org", "secret", HASH_A, 101), 1);
	auth_cache_free(&c);
}

static void test_auth_cache_entry_lives_for_its_ttl(void **state)
{
	struct auth_cache *c;

	(void)state;
	assert_int_equal(auth_cache_new(64, 60, &c), 0);
	put(c, "alice@example.org", "secret", HASH_A, 1000);
	assert_int_equal(hit(c, "alice@example.org", "secret", HASH_A, 1059), 1);
	assert_int_equal(hit(c, "alice@example.org", "secret", HASH_A, 1060), 0);
	/* A new success starts a new life. */
	put(c, "alice@example.org", "secret", HASH_A, 1060);
	assert_int_equal(hit(c, "alice@example.org", "secret", HASH_A, 1119), 1);
	auth_cache_free(&c);
}

static void test_auth_cache_size_zero_or_ttl_zero_is_off(void **state)
{
	struct auth_cache *c;

	(void)state;
	assert_int_equal(auth_cache_new(0, 3600, &c), 0);
	put(c, "alice@example.org", "secret", HASH_A, 100);
	assert_int_equal(hit(c, "alice@example.org", "secret", HASH_A, 100), 0);
	auth_cache_free(&c);
	assert_int_equal(auth_cache_new(64, 0, &c), 0);
	put(c, "alice@example.org", "secret", HASH_A, 100);
	assert_int_equal(hit(c, "alice@example.org", "secret", HASH_A, 100), 0);
	auth_cache_free(&c);
	assert_int_equal(hit(NULL, "alice@example.org", "secret", HASH_A, 100), 0);
}

static void test_auth_cache_is_bounded_and_secrets_differ(void **state)
{
	struct auth_cache *c, *d;
	char user[32];
	int kept = 0;

	(void)state;
	assert_int_equal(auth_cache_new(4, 3600, &c), 0);
	assert_int_equal(auth_cache_new(4, 3600, &d), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(user, sizeof(user), "u%d@example.org", i);
		put(c, user, "pw", HASH_A, 10);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(user, sizeof(user), "u%d@example.org", i);
		kept += hit(c, user, "pw", HASH_A, 11);
		/* Another cache (another process) never learned these. */
		assert_int_equal(hit(d, user, "pw", HASH_A, 11), 0);
	}
	/* Four slots: at most four entries survive, and the last put does. */
	assert_in_range(kept, 1, 4);
	assert_int_equal(hit(c, "u99@example.org", "pw", HASH_A, 11), 1);
	auth_cache_free(&c);
	auth_cache_free(&d);
}

static void test_auth_cache_memfd_is_shared_by_its_attachments(void **state)
{
	struct auth_cache *c, *d;
	int fd;

	(void)state;
	fd = auth_cache_memfd(64);
	assert_true(fd >= 0);
	assert_int_equal(auth_cache_attach(fd, 3600, &c), 0);
	assert_int_equal(auth_cache_attach(fd, 60, &d), 0);
	close(fd);
	/* one process checks, the other answers */
	put(c, "alice@example.org", "secret", HASH_A, 100);
	assert_int_equal(hit(d, "alice@example.org", "secret", HASH_A, 101), 1);
	assert_int_equal(hit(d, "alice@example.org", "secret", HASH_B, 101), 0);
	assert_int_equal(hit(d, "alice@example.org", "Secret", HASH_A, 101), 0);
	/* the time to live is the writer's */
	assert_int_equal(hit(d, "alice@example.org", "secret", HASH_A, 3699), 1);
	assert_int_equal(hit(d, "alice@example.org", "secret", HASH_A, 3700), 0);
	put(d, "bob@example.org", "pw", HASH_B, 100);
	auth_cache_free(&d);
	assert_int_equal(hit(c, "bob@example.org", "pw", HASH_B, 159), 1);
	assert_int_equal(hit(c, "bob@example.org", "pw", HASH_B, 160), 0);
	auth_cache_free(&c);
}

static void test_auth_cache_attach_refuses_what_is_no_table(void **state)
{
	struct auth_cache *c;
	char path[] = "/tmp/test_auth_cache.XXXXXX";
	char junk[4096];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(auth_cache_attach(fd, 60, &c), -1);   /* empty */
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	assert_int_equal(auth_cache_attach(fd, 60, &c), -1);   /* no magic */
	assert_null(c);
	close(fd);
	assert_int_equal(auth_cache_attach(-1, 60, &c), -1);
	assert_int_equal(auth_cache_memfd(0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_cache_remembers_only_the_checked_success),
		cmocka_unit_test(test_auth_cache_entry_dies_with_the_stored_hash),
		cmocka_unit_test(test_auth_cache_entry_lives_for_its_ttl),
		cmocka_unit_test(test_auth_cache_size_zero_or_ttl_zero_is_off),
		cmocka_unit_test(test_auth_cache_is_bounded_and_secrets_differ),
		cmocka_unit_test(test_auth_cache_memfd_is_shared_by_its_attachments),
		cmocka_unit_test(test_auth_cache_attach_refuses_what_is_no_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
