/* Unit tests for common/policy_reply.c: the policy server's answer
 * (Postfix SMTPD_POLICY_README) and its access(5) actions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy_reply.h"

static int reply(const char *text, char *action, size_t *used_r)
{
	return policy_reply_parse(text, strlen(text), action, POLICY_REPLY_MAX, used_r);
}

static void test_answer_ends_at_empty_line(void **state)
{
	char action[POLICY_REPLY_MAX];
	size_t used = 0;
	const char *two = "action=DUNNO\n\naction=OK\n\n";

	(void)state;
	assert_int_equal(reply(two, action, &used), 1);
	assert_string_equal(action, "DUNNO");
	assert_int_equal(used, 14);
	assert_int_equal(reply(two + used, action, &used), 1);
	assert_string_equal(action, "OK");
}

static void test_answer_crlf_and_other_attributes(void **state)
{
	char action[POLICY_REPLY_MAX];
	size_t used;

	(void)state;
	assert_int_equal(reply("foo=bar\r\naction=REJECT go away\r\n\r\n", action, &used), 1);
	assert_string_equal(action, "REJECT go away");
}

static void test_answer_incomplete_needs_more(void **state)
{
	char action[POLICY_REPLY_MAX];
	size_t used;

	(void)state;
	assert_int_equal(reply("", action, &used), 0);
	assert_int_equal(reply("action=OK", action, &used), 0);
	assert_int_equal(reply("action=OK\n", action, &used), 0);
}

static void test_answer_malformed(void **state)
{
	char action[POLICY_REPLY_MAX];
	char big[POLICY_REPLY_MAX + 10];
	size_t used;

	(void)state;
	assert_int_equal(reply("\n", action, &used), -1);                 /* no action */
	assert_int_equal(reply("foo=bar\n\n", action, &used), -1);
	assert_int_equal(reply("garbage\n\n", action, &used), -1);
	assert_int_equal(reply("action=OK\naction=REJECT\n\n", action, &used), -1);
	assert_int_equal(reply("action=REJECT \x01\n\n", action, &used), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(reply(big, action, &used), -1);                  /* no LF within the cap */
}

static void test_answer_too_many_attributes(void **state)
{
	char text[64 * 8], action[POLICY_REPLY_MAX];
	size_t o = 0, used;

	(void)state;
	for (int i = 0; i <= POLICY_REPLY_ATTRS_MAX; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "a%d=b\n", i);
	snprintf(text + o, sizeof(text) - o, "action=OK\n\n");
	assert_int_equal(reply(text, action, &used), -1);
}

static void action(const char *text, int ret, enum policy_verdict v, int code, const char *dsn,
		   const char *t)
{
	struct policy_action a;

	assert_int_equal(policy_action_parse(text, strlen(text), &a), ret);
	assert_int_equal(a.verdict, v);
	assert_int_equal(a.code, code);
	assert_string_equal(a.dsn, dsn);
	assert_string_equal(a.text, t);
}

static void test_actions_words(void **state)
{
	(void)state;
	action("OK", 0, POLICY_OK, 0, "", "");
	action("dunno", 0, POLICY_DUNNO, 0, "", "");
	action("REJECT", 0, POLICY_REJECT, 554, "", "");
	action("REJECT not today", 0, POLICY_REJECT, 554, "", "not today");
	action("DEFER try later ", 0, POLICY_DEFER, 450, "", "try later");
	action("DEFER_IF_PERMIT Greylisted", 0, POLICY_DEFER_IF_PERMIT, 0, "", "Greylisted");
	action("DEFER_IF_REJECT x", 0, POLICY_DEFER_IF_REJECT, 0, "", "x");
	action("DEFER_IF_PERMIT 4.2.0 Greylisted, see x", 0, POLICY_DEFER_IF_PERMIT, 0, "4.2.0",
	       "Greylisted, see x");
	action("REJECT 5.7.1 no", 0, POLICY_REJECT, 554, "5.7.1", "no");
	action("REJECT 4.7.1 no", 0, POLICY_REJECT, 554, "", "4.7.1 no");   /* class differs: text */
	action("DEFER 4.7.1", 0, POLICY_DEFER, 450, "4.7.1", "");
	action("HOLD", 0, POLICY_HOLD, 0, "", "");
	action("DISCARD spam", 0, POLICY_DISCARD, 0, "", "spam");
	action("PREPEND Received-SPF: Pass (a)", 0, POLICY_PREPEND, 0, "", "Received-SPF: Pass (a)");
	action("WARN look", 0, POLICY_WARN, 0, "", "look");
	action("INFO note", 0, POLICY_INFO, 0, "", "note");
}

static void test_actions_numeric(void **state)
{
	(void)state;
	action("550 5.7.23 SPF fail", 0, POLICY_REJECT, 550, "5.7.23", "SPF fail");
	action("450 Greylisted", 0, POLICY_DEFER, 450, "", "Greylisted");
	action("421", 0, POLICY_DEFER, 421, "", "");
	action("550 4.7.1 mixed", 0, POLICY_REJECT, 550, "", "4.7.1 mixed");   /* class differs: text */
	action("250 fine", -1, POLICY_UNSUPPORTED, 0, "", "");
	action("55 x", -1, POLICY_UNSUPPORTED, 0, "", "");
	action("5500 x", -1, POLICY_UNSUPPORTED, 0, "", "");
}

static void test_actions_refused(void **state)
{
	(void)state;
	action("", -1, POLICY_UNSUPPORTED, 0, "", "");
	action("REDIRECT a@b", -1, POLICY_UNSUPPORTED, 0, "", "");
	action("FILTER smtp:x", -1, POLICY_UNSUPPORTED, 0, "", "");
	action("OKAY", -1, POLICY_UNSUPPORTED, 0, "", "");
	action("OK but", -1, POLICY_UNSUPPORTED, 0, "", "");
	action("PREPEND no colon here", -1, POLICY_UNSUPPORTED, 0, "", "");
	action("PREPEND : empty name", -1, POLICY_UNSUPPORTED, 0, "", "");
}

static void test_services_list(void **state)
{
	char specs[POLICY_SERVICES_MAX][POLICY_SPEC_MAX];
	const char *err = NULL;
	size_t n = 99;

	(void)state;
	assert_int_equal(policy_services_parse("", specs, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(policy_services_parse(" inet:127.0.0.1:10023, unix:policy/spf inet:[::1]:9",
					       specs, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(specs[0], "inet:127.0.0.1:10023");
	assert_string_equal(specs[1], "unix:policy/spf");
	assert_string_equal(specs[2], "inet:[::1]:9");
	assert_int_equal(policy_services_parse("tcp:1.2.3.4:5", specs, &n, &err), -1);
	assert_int_equal(policy_services_parse("inet:10023", specs, &n, &err), -1);
	assert_int_equal(policy_services_parse("inet:host:", specs, &n, &err), -1);
	assert_int_equal(policy_services_parse("unix:", specs, &n, &err), -1);
	assert_int_equal(policy_services_parse("unix:a unix:b unix:c unix:d unix:e unix:f unix:g "
					       "unix:h unix:i", specs, &n, &err), -1);
	assert_true(policy_default_action_ok("451 4.3.5 Server configuration problem"));
	assert_true(policy_default_action_ok("DUNNO"));
	assert_false(policy_default_action_ok("PREPEND X: y"));
	assert_false(policy_default_action_ok("FROB"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_ends_at_empty_line),
		cmocka_unit_test(test_answer_crlf_and_other_attributes),
		cmocka_unit_test(test_answer_incomplete_needs_more),
		cmocka_unit_test(test_answer_malformed),
		cmocka_unit_test(test_answer_too_many_attributes),
		cmocka_unit_test(test_actions_words),
		cmocka_unit_test(test_actions_numeric),
		cmocka_unit_test(test_actions_refused),
		cmocka_unit_test(test_services_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
