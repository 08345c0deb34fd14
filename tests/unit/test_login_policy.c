/* Unit tests for common/login_policy.c: the keys of one protocol, the
 * plaintext policy per connection (TLS, loopback, unknown addresses),
 * the doubling failed-login delay and its caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "login_policy.h"

static void load(const char *text)
{
	const char *error = NULL;

	config_reset();
	assert_int_equal(config_parse("test.conf", text, strlen(text), &error), 0);
}

static void test_login_policy_defaults_and_plaintext(void **state)
{
	struct login_policy p;
	const char *error;
	(void)state;

	load("");
	assert_int_equal(login_policy_init(&p, "pop3", &error), 0);
	assert_int_equal(p.plaintext, LOGIN_PLAINTEXT_LOOPBACK);
	assert_int_equal(p.delay, 1);
	assert_int_equal(p.delay_max, 16);
	assert_true(login_plaintext_ok(&p, 0, "127.0.0.1"));
	assert_true(login_plaintext_ok(&p, 0, "::1"));
	assert_true(login_plaintext_ok(&p, 0, "::ffff:127.0.0.5"));
	assert_false(login_plaintext_ok(&p, 0, "192.0.2.1"));
	assert_false(login_plaintext_ok(&p, 0, "unknown"));    /* an address we could not learn */
	assert_false(login_plaintext_ok(&p, 0, "::ffff:10.0.0.1"));
	assert_true(login_plaintext_ok(&p, 1, "192.0.2.1"));   /* over TLS */

	load("pop3_plaintext_auth = no\n");
	assert_int_equal(login_policy_init(&p, "pop3", &error), 0);
	assert_false(login_plaintext_ok(&p, 0, "127.0.0.1"));
	assert_true(login_plaintext_ok(&p, 1, "127.0.0.1"));

	load("pop3_plaintext_auth = yes\n");
	assert_int_equal(login_policy_init(&p, "pop3", &error), 0);
	assert_true(login_plaintext_ok(&p, 0, "192.0.2.1"));

	load("pop3_plaintext_auth = sometimes\n");
	assert_int_equal(login_policy_init(&p, "pop3", &error), -1);
	assert_non_null(strstr(error, "pop3_plaintext_auth = sometimes"));
	config_reset();
}

static void test_login_failure_delay_doubles_up_to_the_max(void **state)
{
	struct login_policy p;
	const char *error;
	(void)state;

	load("pop3_auth_failure_delay = 2s\npop3_auth_failure_delay_max = 20s\n");
	assert_int_equal(login_policy_init(&p, "pop3", &error), 0);
	assert_int_equal(login_failure_delay(&p, 0), 2);
	assert_int_equal(login_failure_delay(&p, 1), 2);
	assert_int_equal(login_failure_delay(&p, 2), 4);
	assert_int_equal(login_failure_delay(&p, 4), 16);
	assert_int_equal(login_failure_delay(&p, 5), 20);
	assert_int_equal(login_failure_delay(&p, ~0UL), 20);

	/* Each at most 60 s; a max below the base is raised to it. */
	load("pop3_auth_failure_delay = 10m\npop3_auth_failure_delay_max = 1s\n");
	assert_int_equal(login_policy_init(&p, "pop3", &error), 0);
	assert_int_equal(p.delay, LOGIN_DELAY_CEILING);
	assert_int_equal(p.delay_max, LOGIN_DELAY_CEILING);
	assert_int_equal(login_failure_delay(&p, 3), LOGIN_DELAY_CEILING);

	/* No delay stays none, without walking every counted failure. */
	load("pop3_auth_failure_delay = 0\n");
	assert_int_equal(login_policy_init(&p, "pop3", &error), 0);
	assert_int_equal(login_failure_delay(&p, ~0UL), 0);
	login_failure_wait(&p, 5);   /* returns at once */
	config_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_policy_defaults_and_plaintext),
		cmocka_unit_test(test_login_failure_delay_doubles_up_to_the_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
