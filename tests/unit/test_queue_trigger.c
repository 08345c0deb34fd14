/* Unit tests for common/queue_trigger.c: the lines on qmgr's trigger
 * socket.  A queue ID and a newline names a file; anything else is a
 * plain wakeup; a line may arrive in pieces; "flush" asks for a scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "queue_trigger.h"

#define ID1 "6B14575B8C340A7C083"
#define ID2 "6B14575BB7E19A7C464"

/* What the named callback was given, in order. */
static char got[8][QUEUEFILE_ID_MAX + 1];
static size_t ngot;

static void named(void *arg, const char *id)
{
	assert_ptr_equal(arg, got);
	assert_true(ngot < 8);
	assert_true(strlen(id) <= QUEUEFILE_ID_MAX);
	strcpy(got[ngot++], id);
}

static unsigned feed(struct queue_trigger_in *in, const char *s)
{
	return queue_trigger_feed(in, s, strlen(s), named, got);
}

static int setup(void **state)
{
	(void)state;
	ngot = 0;
	memset(got, 0, sizeof got);
	return 0;
}

static void test_lines_name_their_files(void **state)
{
	struct queue_trigger_in in = { 0 };

	(void)state;
	assert_int_equal(feed(&in, ID1 "\n" ID2 "\n"), 0);
	assert_int_equal(ngot, 2);
	assert_string_equal(got[0], ID1);
	assert_string_equal(got[1], ID2);
	assert_false(queue_trigger_partial(&in));
}

static void test_a_line_in_pieces_is_named_once_whole(void **state)
{
	struct queue_trigger_in in = { 0 };

	(void)state;
	assert_int_equal(feed(&in, "6B1457"), 0);
	assert_true(queue_trigger_partial(&in));
	assert_int_equal(ngot, 0);
	assert_int_equal(feed(&in, "5B8C340A7C083"), 0);
	assert_int_equal(feed(&in, "\n" ID2), 0);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0], ID1);
	assert_true(queue_trigger_partial(&in));
	assert_int_equal(feed(&in, "\n"), 0);
	assert_int_equal(ngot, 2);
	assert_string_equal(got[1], ID2);
	assert_false(queue_trigger_partial(&in));
}

static void test_anything_else_is_a_wakeup(void **state)
{
	struct queue_trigger_in in = { 0 };

	(void)state;
	/* A bare byte (the old trigger) is a line not ended: the reader
	 * takes that as a wakeup (queue_trigger_partial). */
	assert_int_equal(feed(&in, "w"), 0);
	assert_true(queue_trigger_partial(&in));
	assert_int_equal(feed(&in, "\n"), QUEUE_TRIGGER_WAKE);
	assert_int_equal(feed(&in, "\n"), QUEUE_TRIGGER_WAKE);                 /* empty line */
	assert_int_equal(feed(&in, "6b14575b8c340a7c083\n"), QUEUE_TRIGGER_WAKE); /* not an ID */
	assert_int_equal(feed(&in, "../active/" ID1 "\n"), QUEUE_TRIGGER_WAKE);
	assert_int_equal(feed(&in, "flush\n"), QUEUE_TRIGGER_WAKE | QUEUE_TRIGGER_FLUSH);
	assert_int_equal(feed(&in, "flushed\n"), QUEUE_TRIGGER_WAKE);
	assert_int_equal(ngot, 0);
	assert_false(queue_trigger_partial(&in));
}

static void test_an_overlong_line_names_nothing_and_the_next_does(void **state)
{
	struct queue_trigger_in in = { 0 };
	char longer[QUEUEFILE_ID_MAX + 2];

	(void)state;
	memset(longer, 'A', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	/* One character too many, in two pieces: only the length shows. */
	assert_int_equal(feed(&in, longer), 0);
	assert_true(queue_trigger_partial(&in));
	assert_int_equal(feed(&in, "B"), 0);
	assert_int_equal(feed(&in, "\n" ID1 "\n"), QUEUE_TRIGGER_WAKE);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0], ID1);
	/* The longest ID is still one. */
	longer[QUEUEFILE_ID_MAX] = '\n';
	assert_int_equal(queue_trigger_feed(&in, longer, QUEUEFILE_ID_MAX + 1, named, got), 0);
	assert_int_equal(ngot, 2);
	assert_int_equal(strlen(got[1]), QUEUEFILE_ID_MAX);
}

static void test_the_writer_line(void **state)
{
	char line[QUEUEFILE_ID_MAX + 2];
	struct queue_trigger_in in = { 0 };

	(void)state;
	assert_int_equal(queue_trigger_line(ID1, line, sizeof line), strlen(ID1) + 1);
	assert_string_equal(line, ID1 "\n");
	assert_int_equal(feed(&in, line), 0);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0], ID1);
	assert_int_equal(queue_trigger_line("not/an/id", line, sizeof line), 0);
	assert_int_equal(queue_trigger_line("", line, sizeof line), 0);
	assert_int_equal(queue_trigger_line(ID1, line, strlen(ID1) + 1), 0);   /* no room for the NUL */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_lines_name_their_files, setup),
		cmocka_unit_test_setup(test_a_line_in_pieces_is_named_once_whole, setup),
		cmocka_unit_test_setup(test_anything_else_is_a_wakeup, setup),
		cmocka_unit_test_setup(test_an_overlong_line_names_nothing_and_the_next_does, setup),
		cmocka_unit_test_setup(test_the_writer_line, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
