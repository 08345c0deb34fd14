/* test_pop3_cmd: the POP3 command parser (common/pop3_cmd.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pop3_cmd.h"

static enum pop3_cmd_result parse(const char *s, struct pop3_cmd *cmd, const char **err)
{
	return pop3_cmd_parse(s, strlen(s), cmd, err);
}

static void test_keywords_are_case_insensitive(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	assert_int_equal(parse("stat\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.id, POP3_CMD_STAT);
	assert_int_equal(parse("QuIt\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.id, POP3_CMD_QUIT);
	assert_int_equal(parse("capa", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.id, POP3_CMD_CAPA);
	assert_int_equal(parse("Top 1 2\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.id, POP3_CMD_TOP);
}

static void test_unknown_command_is_unknown(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	assert_int_equal(parse("APOP a b\r\n", &cmd, &err), POP3_CMD_UNKNOWN);
	assert_int_equal(parse("XTND x\r\n", &cmd, &err), POP3_CMD_UNKNOWN);
	assert_int_equal(parse("STATS\r\n", &cmd, &err), POP3_CMD_UNKNOWN);
	assert_int_equal(parse("ST\r\n", &cmd, &err), POP3_CMD_UNKNOWN);
	assert_int_equal(parse("\r\n", &cmd, &err), POP3_CMD_UNKNOWN);
	assert_int_equal(parse("", &cmd, &err), POP3_CMD_UNKNOWN);
	assert_int_equal(parse(" STAT\r\n", &cmd, &err), POP3_CMD_UNKNOWN);
	assert_string_equal(err, "Unknown command");
}

static void test_list_with_and_without_number(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	assert_int_equal(parse("LIST\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.id, POP3_CMD_LIST);
	assert_int_equal(cmd.nnum, 0);
	assert_int_equal(parse("LIST 17\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.nnum, 1);
	assert_int_equal(cmd.num[0], 17);
	assert_int_equal(parse("UIDL 0003 \r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.id, POP3_CMD_UIDL);
	assert_int_equal(cmd.num[0], 3);
	assert_int_equal(parse("LIST 1 2\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_string_equal(err, "Too many arguments");
}

static void test_top_takes_two_numbers(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	assert_int_equal(parse("TOP 2 0\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.nnum, 2);
	assert_int_equal(cmd.num[0], 2);
	assert_int_equal(cmd.num[1], 0);
	assert_int_equal(parse("TOP 2\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_string_equal(err, "Missing argument");
	assert_int_equal(parse("TOP 1 2 3\r\n", &cmd, &err), POP3_CMD_SYNTAX);
}

static void test_numbers_are_bounded_and_decimal(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	assert_int_equal(parse("RETR 4294967295\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.num[0], 4294967295UL);
	assert_int_equal(parse("RETR 4294967296\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_string_equal(err, "Invalid number");
	assert_int_equal(parse("RETR 99999999999999999999999\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("RETR -1\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("RETR +1\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("RETR 1x\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("DELE\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("RETR 000000000000000007\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.num[0], 7);
}

static void test_no_argument_commands_refuse_arguments(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	assert_int_equal(parse("STAT 1\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("QUIT now\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("NOOP \r\n", &cmd, &err), POP3_CMD_OK);
}

static void test_user_is_one_token(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	assert_int_equal(parse("USER alice@example.test\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.id, POP3_CMD_USER);
	assert_int_equal(cmd.arg_len, strlen("alice@example.test"));
	assert_memory_equal(cmd.arg, "alice@example.test", cmd.arg_len);
	assert_int_equal(parse("USER\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("USER a b\r\n", &cmd, &err), POP3_CMD_SYNTAX);
}

static void test_pass_keeps_spaces(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	assert_int_equal(parse("PASS  s3cret with spaces \r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.id, POP3_CMD_PASS);
	assert_int_equal(cmd.arg_len, strlen(" s3cret with spaces "));
	assert_memory_equal(cmd.arg, " s3cret with spaces ", cmd.arg_len);
	assert_int_equal(parse("PASS\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("PASS \r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("pass x\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.arg_len, 1);
}

static void test_control_characters_are_refused(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	static const char nul[] = "PASS ab\0cd\r\n";
	(void)state;

	assert_int_equal(pop3_cmd_parse(nul, sizeof(nul) - 1, &cmd, &err), POP3_CMD_SYNTAX);
	assert_string_equal(err, "Invalid character in command");
	assert_int_equal(parse("USER a\tb\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("RETR 1\r\r\n", &cmd, &err), POP3_CMD_SYNTAX);
}

static void test_parser_never_reads_past_length(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	/* "RETR 12" cut after "RETR 1": the 2 must not be seen. */
	assert_int_equal(pop3_cmd_parse("RETR 12", 6, &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.num[0], 1);
	assert_int_equal(pop3_cmd_parse("STAT", 2, &cmd, &err), POP3_CMD_UNKNOWN);
}

static void test_names_for_logs(void **state)
{
	(void)state;
	assert_string_equal(pop3_cmd_name(POP3_CMD_RETR), "RETR");
	assert_string_equal(pop3_cmd_name(POP3_CMD_TOP), "TOP");
}

static void test_auth_takes_mechanism_and_optional_initial_response(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	assert_int_equal(parse("AUTH PLAIN\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.id, POP3_CMD_AUTH);
	assert_int_equal(cmd.arg_len, 5);
	assert_memory_equal(cmd.arg, "PLAIN", 5);
	assert_null(cmd.arg2);
	assert_int_equal(parse("auth PLAIN AGFsaWNlAHB3\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.arg2_len, 12);
	assert_memory_equal(cmd.arg2, "AGFsaWNlAHB3", 12);
	assert_int_equal(parse("AUTH PLAIN = \r\n", &cmd, &err), POP3_CMD_OK);   /* RFC 5034: "=" is empty */
	assert_int_equal(cmd.arg2_len, 1);
	assert_int_equal(parse("AUTH\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_int_equal(parse("AUTH PLAIN a b\r\n", &cmd, &err), POP3_CMD_SYNTAX);
}

static void test_stls_takes_no_argument(void **state)
{
	struct pop3_cmd cmd;
	const char *err;
	(void)state;

	assert_int_equal(parse("STLS\r\n", &cmd, &err), POP3_CMD_OK);
	assert_int_equal(cmd.id, POP3_CMD_STLS);
	assert_int_equal(parse("STLS x\r\n", &cmd, &err), POP3_CMD_SYNTAX);
	assert_string_equal(pop3_cmd_name(POP3_CMD_STLS), "STLS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keywords_are_case_insensitive),
		cmocka_unit_test(test_unknown_command_is_unknown),
		cmocka_unit_test(test_list_with_and_without_number),
		cmocka_unit_test(test_top_takes_two_numbers),
		cmocka_unit_test(test_numbers_are_bounded_and_decimal),
		cmocka_unit_test(test_no_argument_commands_refuse_arguments),
		cmocka_unit_test(test_user_is_one_token),
		cmocka_unit_test(test_pass_keeps_spaces),
		cmocka_unit_test(test_control_characters_are_refused),
		cmocka_unit_test(test_parser_never_reads_past_length),
		cmocka_unit_test(test_names_for_logs),
		cmocka_unit_test(test_auth_takes_mechanism_and_optional_initial_response),
		cmocka_unit_test(test_stls_takes_no_argument),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
