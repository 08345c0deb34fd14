/* Unit tests for common/conf_edit.c: `postern conf` edits keep every
 * other byte, find the commented-out default, drop continuation lines
 * with their key, and removing what was set restores the text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf_edit.h"

static const char init_text[] =
	"# postern.conf: header\n"
	"\n"
	"# Largest message.\n"
	"#message_size_limit = 10485760\n"
	"\n"
	"# Relay host.\n"
	"#relayhost =\n";

static void set_ok(const char *text, const char *key, const char *value, const char *expect)
{
	struct buf out;

	buf_init(&out, 1 << 20);
	assert_int_equal(conf_edit_set(text, strlen(text), key, value, &out), 0);
	assert_string_equal(buf_cstr(&out), expect);
	buf_free(&out);
}

static void remove_ok(const char *text, const char *key, int count, const char *expect)
{
	struct buf out;

	buf_init(&out, 1 << 20);
	assert_int_equal(conf_edit_remove(text, strlen(text), key, &out), count);
	assert_string_equal(buf_cstr(&out), expect);
	buf_free(&out);
}

static void test_set_goes_under_the_commented_default(void **state)
{
	(void)state;
	set_ok(init_text, "message_size_limit", "20m",
	       "# postern.conf: header\n\n# Largest message.\n#message_size_limit = 10485760\n"
	       "message_size_limit = 20m\n\n# Relay host.\n#relayhost =\n");
	/* A default on the last line, without a newline. */
	set_ok("# x\n# relayhost = ", "relayhost", "[mx]:587", "# x\n# relayhost = \nrelayhost = [mx]:587\n");
}

static void test_set_replaces_the_active_line_and_its_continuations(void **state)
{
	(void)state;
	set_ok("a = 1\nmynetworks = 127.0.0.0/8\n  ::1/128\n\t10.0.0.0/8\n  # note\nb = 2\n",
	       "mynetworks", "192.0.2.0/24",
	       "a = 1\nmynetworks = 192.0.2.0/24\n  # note\nb = 2\n");
	/* `key=value` without blanks, CRLF kept elsewhere, a second active
	 * line (a parse error) dropped. */
	set_ok("x = 1\r\nrelayhost=old\r\nrelayhost = older\n", "relayhost", "new",
	       "x = 1\r\nrelayhost = new\n");
}

static void test_set_does_not_match_a_longer_key_or_an_indented_line(void **state)
{
	(void)state;
	set_ok("relayhost_extra = 1\n  relayhost = 2\n", "relayhost", "mx",
	       "relayhost_extra = 1\n  relayhost = 2\nrelayhost = mx\n");
	set_ok("no newline", "relayhost", "", "no newline\nrelayhost =\n");
	set_ok("", "relayhost", "mx", "relayhost = mx\n");
	/* Under a default that a continuation line follows, the new line
	 * would take that line over: it goes at the end instead. */
	set_ok("a = 1\n#relayhost =\n  more\n", "relayhost", "mx", "a = 1\n#relayhost =\n  more\nrelayhost = mx\n");
}

static void test_set_then_remove_restores_the_text(void **state)
{
	struct buf set, back;

	(void)state;
	buf_init(&set, 1 << 20);
	buf_init(&back, 1 << 20);
	assert_int_equal(conf_edit_set(init_text, strlen(init_text), "relayhost", "[mx]", &set), 0);
	assert_int_equal(conf_edit_remove(set.data, set.len, "relayhost", &back), 1);
	assert_string_equal(buf_cstr(&back), init_text);
	buf_free(&set);
	buf_free(&back);
	remove_ok(init_text, "relayhost", 0, init_text);
	remove_ok("a = 1\nb = 2\n c\nb = 3\n", "b", 2, "a = 1\n");
}

static void test_set_fails_when_the_buffer_is_full(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 16);
	assert_int_equal(conf_edit_set(init_text, strlen(init_text), "relayhost", "mx", &out), -1);
	buf_free(&out);
}

static const char master_text[] =
	"# name type ...\n"
	"smtp       inet  127.0.0.1:25  postern-smtpd run/jail 100 smtpd\n"
	"smtp       unix  smtp          postern-smtpd run/jail 100 smtpd\n"
	"#pop3      inet  127.0.0.1:110 postern-login run/jail 100 popd\n"
	"qmgr unix qmgr postern-queue queue 1 qmgr";

static void test_master_entries_by_name_and_type(void **state)
{
	struct buf out;

	(void)state;
	assert_true(conf_edit_master_is("  smtp inet x", 13, "smtp", "inet"));
	assert_false(conf_edit_master_is("smtp inet x", 11, "smtp", "unix"));
	assert_false(conf_edit_master_is("smtpd inet x", 12, "smtp", NULL));
	assert_false(conf_edit_master_is("#smtp inet", 10, "#smtp", NULL));
	assert_false(conf_edit_master_is("", 0, "smtp", NULL));
	buf_init(&out, 1 << 20);
	assert_int_equal(conf_edit_master(master_text, strlen(master_text), "smtp", "unix", "smtp unix s u - 1 c", &out), 1);
	assert_string_equal(buf_cstr(&out),
			    "# name type ...\n"
			    "smtp       inet  127.0.0.1:25  postern-smtpd run/jail 100 smtpd\n"
			    "smtp unix s u - 1 c\n"
			    "#pop3      inet  127.0.0.1:110 postern-login run/jail 100 popd\n"
			    "qmgr unix qmgr postern-queue queue 1 qmgr");
	/* A commented-out entry is not the entry: a new one is appended,
	 * after a newline for the last line that had none. */
	assert_int_equal(conf_edit_master(master_text, strlen(master_text), "pop3", "inet", "pop3 inet", &out), 0);
	assert_string_equal(buf_cstr(&out) + strlen(master_text), "\npop3 inet\n");
	assert_int_equal(conf_edit_master(master_text, strlen(master_text), "qmgr", "unix", NULL, &out), 1);
	assert_string_equal(buf_cstr(&out) + out.len - 5, "popd\n");
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_goes_under_the_commented_default),
		cmocka_unit_test(test_set_replaces_the_active_line_and_its_continuations),
		cmocka_unit_test(test_set_does_not_match_a_longer_key_or_an_indented_line),
		cmocka_unit_test(test_set_then_remove_restores_the_text),
		cmocka_unit_test(test_set_fails_when_the_buffer_is_full),
		cmocka_unit_test(test_master_entries_by_name_and_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
