/* test_arena: the bump allocator of parsed commands (common/arena.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arena.h"

static void test_allocations_are_aligned_and_distinct(void **state)
{
	struct arena a;
	char *p, *q;
	(void)state;

	arena_init(&a, 1024, 1 << 20);
	p = arena_strndup(&a, "abc", 3);
	q = arena_alloc(&a, 8);
	assert_non_null(p);
	assert_non_null(q);
	assert_string_equal(p, "abc");
	assert_int_equal((uintptr_t)q % alignof(max_align_t), 0);
	memset(q, 'x', 8);
	assert_string_equal(p, "abc");
	arena_free(&a);
}

static void test_cap_counts_everything_and_fails_cleanly(void **state)
{
	struct arena a;
	(void)state;

	arena_init(&a, 1024, 100);
	assert_non_null(arena_alloc(&a, 60));
	errno = 0;
	assert_null(arena_alloc(&a, 60));
	assert_int_equal(errno, EMSGSIZE);
	/* The failed request changed nothing: a smaller one still fits. */
	assert_non_null(arena_alloc(&a, 30));
	assert_null(arena_calloc(&a, SIZE_MAX / 2, 4));
	assert_int_equal(errno, EMSGSIZE);
	arena_reset(&a);
	assert_int_equal(a.used, 0);
	assert_non_null(arena_alloc(&a, 90));
	arena_free(&a);
}

static void test_big_requests_and_many_chunks(void **state)
{
	struct arena a;
	char *big, *first;
	(void)state;

	arena_init(&a, 1024, 1 << 24);
	first = arena_alloc(&a, 16);
	for (int k = 0; k < 1000; k++) {
		char *s = arena_strndup(&a, "0123456789", 10);

		assert_non_null(s);
		assert_string_equal(s, "0123456789");
	}
	big = arena_alloc(&a, 100000);
	assert_non_null(big);
	memset(big, 1, 100000);
	arena_reset(&a);
	/* After a reset only the first chunk is kept, and reused. */
	assert_ptr_equal(a.first, a.cur);
	assert_ptr_equal(arena_alloc(&a, 16), first);
	arena_free(&a);
	assert_null(a.first);
}

static void test_wipe_clears_handed_out_bytes(void **state)
{
	struct arena a;
	char *s;
	(void)state;

	arena_init(&a, 1024, 1 << 20);
	s = arena_strndup(&a, "secret", 6);
	arena_wipe(&a);
	assert_memory_equal(s, "\0\0\0\0\0\0", 6);
	arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocations_are_aligned_and_distinct),
		cmocka_unit_test(test_cap_counts_everything_and_fails_cleanly),
		cmocka_unit_test(test_big_requests_and_many_chunks),
		cmocka_unit_test(test_wipe_clears_handed_out_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
