/* Unit tests for common/master_line.c: the master.conf line rules that
 * the master, `postern check` and `postern conf -M` share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "master_line.h"

static const char *check(const char *line)
{
	static char copy[2048];
	static char *f[MASTER_LINE_FIELDS + 1];
	size_t nf;

	snprintf(copy, sizeof copy, "%s", line);
	nf = master_line_split(copy, f, MASTER_LINE_FIELDS + 1);
	if (master_line_is_comment(f, nf))
		return "comment";
	return master_line_check(f, nf);
}

static void test_master_line_accepts_the_default_lines(void **state)
{
	(void)state;
	assert_null(check("smtp inet 127.0.0.1:25 postern-smtpd run/jail 100 smtpd\n"));
	assert_null(check("pop3-session unix pop3-session postern-vmail mail 100 popd session"));
	assert_null(check("authd unix authd postern-auth - 10 authd"));
	assert_string_equal(check("   # smtp inet"), "comment");
	assert_string_equal(check(" \t\r\n"), "comment");
}

static void test_master_line_names_each_rule(void **state)
{
	(void)state;
	assert_string_equal(check("smtp inet x u - 1"), "expected: name type listen user root maxproc command [args]");
	assert_string_equal(check("Smtp inet x u - 1 c"), "bad service name (a-z 0-9 - _, at most 32)");
	assert_string_equal(check("smtp tcp x u - 1 c"), "type must be inet or unix");
	assert_string_equal(check("s unix a/b u - 1 c"), "unix listen must be a socket name (a-z 0-9 - _ .)");
	assert_string_equal(check("s unix s User - 1 c"), "bad user name");
	assert_string_equal(check("s unix s u /abs 1 c"), "root must be - or a directory relative to the tree");
	assert_string_equal(check("s unix s u a/../b 1 c"), "root must be - or a directory relative to the tree");
	assert_string_equal(check("s unix s u - 0 c"), "maxproc must be 1..10000");
	assert_string_equal(check("s unix s u - 10001 c"), "maxproc must be 1..10000");
	assert_string_equal(check("s unix s u - -1 c"), "maxproc must be 1..10000");
	assert_string_equal(check("s unix s u - 1x c"), "maxproc must be 1..10000");
	assert_string_equal(check("s unix s u - 1 ../c"), "bad command name (a program in program_directory)");
	assert_string_equal(check("s unix s u - 1 c 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"),
			    "too many command arguments");
	assert_null(check("s unix s u - 1 c 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"));
}

static void test_master_line_inet_listen(void **state)
{
	(void)state;
	assert_true(master_line_inet_ok("127.0.0.1:25"));
	assert_true(master_line_inet_ok("[::1]:25"));
	assert_true(master_line_inet_ok("*:25"));
	assert_false(master_line_inet_ok("::1:25"));
	assert_false(master_line_inet_ok("localhost:25"));
	assert_false(master_line_inet_ok("127.0.0.1:0"));
	assert_false(master_line_inet_ok("127.0.0.1:65536"));
	assert_false(master_line_inet_ok("127.0.0.1:-5"));
	assert_false(master_line_inet_ok("127.0.0.1"));
	assert_false(master_line_inet_ok(":25"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_master_line_accepts_the_default_lines),
		cmocka_unit_test(test_master_line_names_each_rule),
		cmocka_unit_test(test_master_line_inet_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
