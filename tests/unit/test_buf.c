/* Unit tests for common/buf.c: growth, the hard cap, printf, consume. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"

static void test_buf_cstr_of_new_buffer_is_empty(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	assert_null(b.data);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
}

static void test_buf_append_grows_and_terminates(void **state)
{
	struct buf b;
	char big[1000];

	(void)state;
	memset(big, 'x', sizeof(big));
	buf_init(&b, 4096);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.data[3], '\0');
	assert_int_equal(buf_append(&b, big, sizeof(big)), 0);
	assert_int_equal(b.len, 1003);
	assert_int_equal(b.data[1003], '\0');
	assert_true(b.cap >= 1004);
	assert_true(b.cap <= 4097);
	assert_memory_equal(b.data, "abcxxx", 6);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.max, 4096);
}

static void test_buf_cap_exceeded_leaves_contents_intact(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append_str(&b, "12345"), 0);
	errno = 0;
	assert_int_equal(buf_append_str(&b, "6789"), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(b.len, 5);
	assert_string_equal(buf_cstr(&b), "12345");
	/* Exactly up to the cap is fine. */
	assert_int_equal(buf_append_str(&b, "678"), 0);
	assert_string_equal(buf_cstr(&b), "12345678");
	assert_int_equal(buf_putc(&b, '9'), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_string_equal(buf_cstr(&b), "12345678");
	buf_free(&b);
}

static void test_buf_huge_append_overflow_is_refused(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_append_str(&b, "ab"), 0);
	errno = 0;
	assert_int_equal(buf_append(&b, "x", SIZE_MAX - 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_string_equal(buf_cstr(&b), "ab");
	buf_free(&b);
}

static void test_buf_printf_formats_and_refuses_to_truncate(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "ok"), 0);
	assert_string_equal(buf_cstr(&b), "42-ok");
	assert_int_equal(buf_printf(&b, "%s", "too long!"), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_string_equal(buf_cstr(&b), "42-ok");
	assert_int_equal(buf_printf(&b, "%s", "12345"), 0);
	assert_string_equal(buf_cstr(&b), "42-ok12345");
	buf_free(&b);
}

/* The one-pass path: what fits in the room is written at once, what
 * does not is made again after growth, and a max lowered below the
 * room still refuses with the buffer as it was. */
static void test_buf_printf_in_room_grows_and_keeps_max(void **state)
{
	struct buf b;
	char big[2048];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 1000);
	assert_int_equal(buf_append(&b, "a", 1), 0);   /* room: BUF_MIN_ALLOC */
	assert_int_equal(buf_printf(&b, "%.299s", big), 0);
	assert_int_equal(b.len, 300);
	assert_int_equal(b.data[0], 'a');
	assert_int_equal(b.data[1], 'x');
	assert_int_equal(b.data[299], 'x');
	assert_int_equal(b.data[300], '\0');
	/* exactly the room minus the NUL fits; one more byte grows */
	buf_reset(&b);
	size_t fill = b.cap - 1;
	assert_int_equal(buf_printf(&b, "%.*s", (int)fill, big), 0);
	assert_int_equal(b.len, fill);
	size_t cap = b.cap;
	assert_int_equal(buf_printf(&b, "%s", "y"), 0);
	assert_true(b.cap > cap);
	assert_int_equal(b.len, fill + 1);
	assert_int_equal(b.data[fill], 'y');
	assert_int_equal(b.data[fill + 1], '\0');
	/* max lowered below what the room would hold */
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%s", "keep"), 0);
	b.max = 6;
	assert_int_equal(buf_printf(&b, "%d", 123), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_string_equal(buf_cstr(&b), "keep");
	assert_int_equal(b.len, 4);
	assert_int_equal(buf_printf(&b, "%d", 12), 0);
	assert_string_equal(buf_cstr(&b), "keep12");
	buf_free(&b);
}

static void test_buf_set_consume_reset(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_set(&b, "hello world", 11), 0);
	buf_consume(&b, 6);
	assert_string_equal(buf_cstr(&b), "world");
	assert_int_equal(b.len, 5);
	/* Setting from our own contents is allowed. */
	assert_int_equal(buf_set(&b, b.data + 1, 3), 0);
	assert_string_equal(buf_cstr(&b), "orl");
	buf_consume(&b, 99);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_set(&b, "x", 1), 0);
	buf_reset(&b);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_set(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	assert_int_equal(buf_set(&b, "x", 101), -1);
	assert_int_equal(b.len, 3);
	buf_free(&b);
}

static void test_buf_wipe_zeroes_the_allocation(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_append_str(&b, "secret"), 0);
	buf_wipe(&b);
	assert_int_equal(b.len, 0);
	assert_non_null(b.data);
	for (size_t i = 0; i < b.cap; i++)
		assert_int_equal(b.data[i], 0);
	buf_free(&b);
}

static void test_buf_truncate_cuts_back_and_keeps_errno(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	buf_truncate(&b, 0);   /* nothing allocated yet: nothing to do */
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_append_str(&b, "hello world"), 0);
	buf_truncate(&b, 20);  /* past the end: unchanged */
	assert_string_equal(buf_cstr(&b), "hello world");
	errno = EMSGSIZE;
	buf_truncate(&b, 5);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(b.len, 5);
	assert_string_equal(buf_cstr(&b), "hello");
	buf_free(&b);
}

/* str_copy: a fit is copied whole, one byte too many is refused and
 * leaves out as it was. */
static void test_str_copy_refuses_what_does_not_fit(void **state)
{
	char out[4] = "xyz";

	(void)state;
	assert_int_equal(str_copy(out, sizeof out, "abc"), 0);
	assert_string_equal(out, "abc");
	errno = 0;
	assert_int_equal(str_copy(out, sizeof out, "abcd"), -1);
	assert_int_equal(errno, ENOSPC);
	assert_string_equal(out, "abc");
	assert_int_equal(str_copy(out, sizeof out, ""), 0);
	assert_string_equal(out, "");
}

/* A reader writes into the room in place; what it did not use is not
 * contents, and the room is refused past the cap like an append. */
static void test_buf_room_then_extend_counts_what_was_written(void **state)
{
	struct buf b;
	(void)state;

	buf_init(&b, 16);
	assert_int_equal(buf_append(&b, "ab", 2), 0);
	char *p = buf_room(&b, 10);
	assert_non_null(p);
	assert_ptr_equal(p, b.data + 2);
	memcpy(p, "cdefghij", 8);
	buf_extend(&b, 3);
	assert_int_equal(b.len, 5);
	assert_string_equal(buf_cstr(&b), "abcde");
	errno = 0;
	assert_null(buf_room(&b, 12));
	assert_int_equal(errno, EMSGSIZE);
	assert_string_equal(buf_cstr(&b), "abcde");
	assert_non_null(buf_room(&b, 11));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cstr_of_new_buffer_is_empty),
		cmocka_unit_test(test_buf_append_grows_and_terminates),
		cmocka_unit_test(test_buf_cap_exceeded_leaves_contents_intact),
		cmocka_unit_test(test_buf_huge_append_overflow_is_refused),
		cmocka_unit_test(test_buf_printf_formats_and_refuses_to_truncate),
		cmocka_unit_test(test_buf_printf_in_room_grows_and_keeps_max),
		cmocka_unit_test(test_buf_set_consume_reset),
		cmocka_unit_test(test_buf_wipe_zeroes_the_allocation),
		cmocka_unit_test(test_buf_truncate_cuts_back_and_keeps_errno),
		cmocka_unit_test(test_str_copy_refuses_what_does_not_fit),
		cmocka_unit_test(test_buf_room_then_extend_counts_what_was_written),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
