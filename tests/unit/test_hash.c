/* Unit tests for common/hash.h: FNV-1a vectors, seeds and chaining. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hash.h"

static void test_hash_fnv32_matches_published_vectors(void **state)
{
	(void)state;
	assert_int_equal(hash_fnv32_str(HASH_FNV32_INIT, ""), 0x811c9dc5u);
	assert_int_equal(hash_fnv32_str(HASH_FNV32_INIT, "a"), 0xe40c292cu);
	assert_int_equal(hash_fnv32_str(HASH_FNV32_INIT, "foobar"), 0xbf9cf968u);
}

static void test_hash_fnv32_seed_changes_the_hash(void **state)
{
	(void)state;
	assert_int_not_equal(hash_fnv32_str(HASH_FNV32_INIT ^ 1u, "example.org"),
			     hash_fnv32_str(HASH_FNV32_INIT, "example.org"));
}

/* The values smtpd slot offsets and remote slot names depend on. */
static void test_hash_fnv64_keeps_the_project_basis(void **state)
{
	(void)state;
	assert_true(hash_fnv64_str(HASH_FNV64_INIT, "") == 0xcbf29ce484222325ULL);
	assert_true(hash_fnv64_str(HASH_FNV64_INIT, "a") == 0xaf63dc4c8601ec8cULL);
	assert_true(hash_fnv64_str(HASH_FNV64_INIT, "foobar") == 0x85944171f73967e8ULL);
}

static void test_hash_fnv64_byte_chains_like_a_string(void **state)
{
	uint64_t h = hash_fnv64_byte(hash_fnv64_str(HASH_FNV64_INIT, "a"), '\n');

	(void)state;
	assert_true(hash_fnv64_str(h, "b") == hash_fnv64_str(HASH_FNV64_INIT, "a\nb"));
	assert_true(hash_fnv64_str(h, "b") == 0xe5beb1190415e670ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_fnv32_matches_published_vectors),
		cmocka_unit_test(test_hash_fnv32_seed_changes_the_hash),
		cmocka_unit_test(test_hash_fnv64_keeps_the_project_basis),
		cmocka_unit_test(test_hash_fnv64_byte_chains_like_a_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
