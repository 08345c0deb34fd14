/* Unit tests for common/config.c: syntax, typed values, errors with
 * file:line, atomic reload, defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static int parse(const char *text, const char **error_r)
{
	return config_parse("t.conf", text, strlen(text), error_r);
}

static void assert_parse_error(const char *text, const char *expect)
{
	const char *error = NULL;

	assert_int_equal(parse(text, &error), -1);
	assert_non_null(error);
	assert_string_equal(error, expect);
}

static void test_config_defaults(void **state)
{
	(void)state;
	config_reset();
	assert_int_equal(config_size("message_size_limit"), 10485760);
	assert_int_equal(config_size("smtpd_line_limit"), 4096);
	assert_int_equal(config_time("smtpd_timeout"), 300);
	assert_int_equal(config_time("maximal_queue_lifetime"), 5 * 86400);
	assert_int_equal(config_size("daemon_max_use"), 100);
	assert_string_equal(config_default("ipc_timeout"), "60s");
	assert_null(config_default("no_such_key"));
}

/* A key read through a buffer that later holds another key: each read
 * gets its own key's value (lookups remember where a pointer was found). */
static void test_config_key_buffer_reused_for_another_key(void **state)
{
	char key[64];

	(void)state;
	config_reset();
	for (int round = 0; round < 3; round++) {
		strcpy(key, "queue_run_delay");
		assert_int_equal(config_time(key), 300);
		strcpy(key, "maximal_backoff_time");
		assert_int_equal(config_time(key), 4000);
	}
}

static void test_config_values_comments_continuations(void **state)
{
	const char *error = NULL;
	const char *text =
		"# a comment\n"
		"\n"
		"message_size_limit = 20m\r\n"
		"   # indented comment\n"
		"myhostname=mx.example.test   \n"
		"smtpd_timeout = 2m\n"
		"maximal_queue_lifetime = 1w\n"
		"queue_run_delay = 90\n"
		"program_directory = /usr/lib/postern\n"
		"    /continued\n"
		"\tmore\n";

	(void)state;
	assert_int_equal(parse(text, &error), 0);
	assert_int_equal(config_size("message_size_limit"), 20ULL * 1024 * 1024);
	assert_string_equal(config_str("myhostname"), "mx.example.test");
	assert_int_equal(config_time("smtpd_timeout"), 120);
	assert_int_equal(config_time("maximal_queue_lifetime"), 7 * 86400);
	assert_int_equal(config_time("queue_run_delay"), 90);
	assert_string_equal(config_str("program_directory"), "/usr/lib/postern /continued more");
	/* Keys absent from the file have their defaults. */
	assert_int_equal(config_size("smtpd_recipient_limit"), 1000);
}

static void test_config_size_suffixes(void **state)
{
	const char *error = NULL;

	(void)state;
	assert_int_equal(parse("message_size_limit = 3k\n", &error), 0);
	assert_int_equal(config_size("message_size_limit"), 3072);
	assert_int_equal(parse("message_size_limit = 2G", &error), 0);
	assert_int_equal(config_size("message_size_limit"), 2ULL << 30);
	assert_parse_error("message_size_limit = 99999999999999999999\n",
			   "t.conf:1: bad value for message_size_limit: expected a number with optional k/m/g suffix");
	assert_parse_error("message_size_limit = 17179869184g\n",
			   "t.conf:1: bad value for message_size_limit: expected a number with optional k/m/g suffix");
	assert_parse_error("message_size_limit = -1\n",
			   "t.conf:1: bad value for message_size_limit: expected a number with optional k/m/g suffix");
	assert_parse_error("message_size_limit = 10kb\n",
			   "t.conf:1: bad value for message_size_limit: expected a number with optional k/m/g suffix");
	assert_parse_error("message_size_limit =\n",
			   "t.conf:1: bad value for message_size_limit: expected a number with optional k/m/g suffix");
}

static void test_config_time_minimum(void **state)
{
	const char *error = NULL;

	(void)state;
	/* A verification probe with no bound would hold an SMTP client. */
	assert_parse_error("lmtp_verify_timeout = 0\n",
			   "t.conf:1: bad value for lmtp_verify_timeout: must be at least 1");
	assert_int_equal(parse("lmtp_verify_timeout = 1s\n", &error), 0);
	assert_int_equal(config_time("lmtp_verify_timeout"), 1);
	/* Time keys without a minimum still take 0. */
	assert_int_equal(parse("tls_handshake_timeout = 0\n", &error), 0);
}

static void test_config_errors_carry_file_and_line(void **state)
{
	(void)state;
	assert_parse_error("# ok\nno_such_key = 1\n", "t.conf:2: unknown key no_such_key");
	assert_parse_error("smtpd_timeout = 1s\n\nsmtpd_timeout = 2s\n", "t.conf:3: duplicate key smtpd_timeout");
	assert_parse_error("\n\n\njust words\n", "t.conf:4: missing '=' in line");
	assert_parse_error("smtpd_timeout = 5 minutes\n",
			   "t.conf:1: bad value for smtpd_timeout: expected a time with optional s/m/h/d/w suffix");
	assert_parse_error("  continued = x\n", "t.conf:1: continuation line without a key");
	assert_parse_error("Bad-Key = 1\n", "t.conf:1: bad key name");
	/* A bad continued value is reported at the key's line. */
	assert_parse_error("smtpd_timeout = 5\n  6\n", "t.conf:1: bad value for smtpd_timeout: expected a time with optional s/m/h/d/w suffix");
}

static void test_config_failed_parse_keeps_old_settings(void **state)
{
	const char *error = NULL;

	(void)state;
	assert_int_equal(parse("smtpd_timeout = 7s\n", &error), 0);
	assert_int_equal(parse("smtpd_timeout = 9s\nbogus = 1\n", &error), -1);
	assert_int_equal(config_time("smtpd_timeout"), 7);
	config_reset();
	assert_int_equal(config_time("smtpd_timeout"), 300);
}

static void test_config_value_too_long(void **state)
{
	char text[5000];
	const char *error = NULL;
	int n = snprintf(text, sizeof(text), "myhostname = ");

	(void)state;
	memset(text + n, 'a', 4097);
	text[n + 4097] = '\0';
	assert_int_equal(parse(text, &error), -1);
	assert_string_equal(error, "t.conf:1: value too long");
	text[n + 4096] = '\0';
	assert_int_equal(parse(text, &error), 0);
	assert_int_equal(strlen(config_str("myhostname")), 4096);
}

static void test_config_hostname_and_progdir_resolve(void **state)
{
	char host[256];

	(void)state;
	config_reset();
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(config_str("myhostname"), host);
	assert_true(config_str("program_directory")[0] == '/');
	assert_non_null(strstr(config_str("program_directory"), "tests"));
}

static void test_config_load_file(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX";
	const char *error = NULL;
	const char *text = "ipc_timeout = 1h\n";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(config_load(path, &error), 0);
	assert_int_equal(config_time("ipc_timeout"), 3600);
	unlink(path);
	assert_int_equal(config_load(path, &error), -1);
	assert_non_null(strstr(error, "No such file"));
}

static void count_key(const char *key, const char *value, const char *doc, void *arg)
{
	(void)value;
	assert_true(strlen(key) > 0);
	assert_true(strlen(doc) > 20);
	(*(int *)arg)++;
}

static void test_config_each_lists_every_key_with_doc(void **state)
{
	int n = 0, d = 0;

	(void)state;
	config_each(count_key, &n);
	config_each_default(count_key, &d);
	/* The lead adds keys: at least the initial 17, the same in both. */
	assert_true(n >= 17);
	assert_int_equal(n, d);
}

static void test_config_word_ok_takes_only_lower_digits_dash_underscore_and_extra(void **state)
{
	(void)state;
	assert_true(config_word_ok("smtp-in_2", ""));
	assert_false(config_word_ok("", ""));
	assert_false(config_word_ok("Smtp", ""));
	assert_false(config_word_ok("a.b", ""));
	assert_true(config_word_ok("a.b", "."));
	assert_false(config_word_ok("a/b", "."));
	assert_true(config_word_ok("run/a.b", "/."));
	assert_false(config_word_ok("a b", "/."));
}

static void test_config_check_and_setting(void **state)
{
	const char *error = NULL;

	(void)state;
	assert_int_equal(config_check("message_size_limit", "20m", &error), 0);
	assert_int_equal(config_check("message_size_limit", "0", &error), -1);
	assert_string_equal(error, "bad value for message_size_limit: must be at least 1");
	assert_int_equal(config_check("smtpd_received_tls", "maybe", &error), -1);
	assert_string_equal(error, "bad value for smtpd_received_tls: expected yes or no");
	assert_int_equal(config_check("relayhost", "a\nb", &error), -1);
	assert_string_equal(error, "bad value for relayhost: a newline in a value");
	assert_int_equal(config_check("no_such_key", "1", &error), -1);
	assert_string_equal(error, "unknown key no_such_key");
	assert_int_equal(parse("relayhost = [mx]\n", &error), 0);
	assert_string_equal(config_setting("relayhost"), "[mx]");
	assert_null(config_setting("message_size_limit"));
	assert_null(config_setting("no_such_key"));
}

static void test_config_list_next_splits_on_spaces_tabs_commas(void **state)
{
	const char *v = " a,b\t, c ,,";
	size_t pos = 0, n;
	const char *item;

	(void)state;
	assert_int_equal(config_list_next(v, strlen(v), &pos, &item, &n), 1);
	assert_int_equal(n, 1);
	assert_memory_equal(item, "a", 1);
	assert_int_equal(config_list_next(v, strlen(v), &pos, &item, &n), 1);
	assert_memory_equal(item, "b", 1);
	assert_int_equal(config_list_next(v, strlen(v), &pos, &item, &n), 1);
	assert_memory_equal(item, "c", 1);
	assert_int_equal(config_list_next(v, strlen(v), &pos, &item, &n), 0);
	pos = 0;
	assert_int_equal(config_list_next("", 0, &pos, &item, &n), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_key_buffer_reused_for_another_key),
		cmocka_unit_test(test_config_values_comments_continuations),
		cmocka_unit_test(test_config_size_suffixes),
		cmocka_unit_test(test_config_errors_carry_file_and_line),
		cmocka_unit_test(test_config_failed_parse_keeps_old_settings),
		cmocka_unit_test(test_config_value_too_long),
		cmocka_unit_test(test_config_hostname_and_progdir_resolve),
		cmocka_unit_test(test_config_load_file),
		cmocka_unit_test(test_config_time_minimum),
		cmocka_unit_test(test_config_each_lists_every_key_with_doc),
		cmocka_unit_test(test_config_word_ok_takes_only_lower_digits_dash_underscore_and_extra),
		cmocka_unit_test(test_config_check_and_setting),
		cmocka_unit_test(test_config_list_next_splits_on_spaces_tabs_commas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
