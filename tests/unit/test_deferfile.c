/* Unit tests for common/deferfile.c: write and read back, the reason
 * limit, damaged files, removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "deferfile.h"
#include "tmpdir_fixture.h"

static const char *const test_id = "18C2A3F45E001A2B";
static char test_dir[] = "/tmp/test_deferfile.XXXXXX";

static int test_setup(void **state)
{
	(void)state;
	memcpy(test_dir + strlen(test_dir) - 6, "XXXXXX", 6);   /* mkdtemp filled it before */
	if (mkdtemp(test_dir) == NULL || chdir(test_dir) < 0 || mkdir("defer", 0700) < 0)
		return -1;
	return 0;
}

static int test_teardown(void **state)
{
	(void)state;
	return tmpdir_remove(test_dir);
}

static void test_deferfile_round_trip(void **state)
{
	struct deferfile_entry e[] = {
		{ "bob@example.test", "4.4.1", "connect to x: Connection refused" },
		{ "\"a b\"@example.test", NULL, "line\nbreak" },
	};
	struct deferfile df;
	const char *error;

	(void)state;
	assert_int_equal(deferfile_read(test_id, &df, &error), 1);   /* none yet */
	assert_int_equal(deferfile_write(test_id, e, 2), 0);
	assert_int_equal(deferfile_read(test_id, &df, &error), 0);
	assert_int_equal(df.n, 2);
	assert_string_equal(deferfile_find(&df, "bob@example.test")->reason, "connect to x: Connection refused");
	assert_string_equal(deferfile_find(&df, "bob@example.test")->dsn, "4.4.1");
	assert_string_equal(deferfile_find(&df, "\"a b\"@example.test")->reason, "line\nbreak");
	assert_string_equal(deferfile_find(&df, "\"a b\"@example.test")->dsn, "");
	assert_null(deferfile_find(&df, "carl@example.test"));
	deferfile_free(&df);
	assert_int_equal(deferfile_remove(test_id), 0);
	assert_int_equal(deferfile_read(test_id, &df, &error), 1);
	assert_int_equal(deferfile_remove(test_id), 0);   /* absent is fine */
}

static void test_deferfile_long_reason_is_cut_and_marked(void **state)
{
	char reason[2000];
	struct deferfile_entry e = { "bob@example.test", "4.0.0", reason };
	struct deferfile df;
	const char *error, *got;

	(void)state;
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	assert_int_equal(deferfile_write(test_id, &e, 1), 0);
	assert_int_equal(deferfile_read(test_id, &df, &error), 0);
	got = df.e[0].reason;
	assert_int_equal(strlen(got), DEFERFILE_REASON_MAX);
	assert_string_equal(got + DEFERFILE_REASON_MAX - 6, " [...]");
	deferfile_free(&df);
}

static void test_deferfile_rejects_damage(void **state)
{
	static const char *const bad[] = {
		"",
		"version=2\n\n",
		"rcpt=a@b\ndsn=\nreason=x\n\n",                         /* no version */
		"version=1\nrcpt=a@b\nreason=x\ndsn=\n\n",               /* order */
		"version=1\nrcpt=a@b\ndsn=\n\n",                         /* incomplete */
		"version=1\nrcpt=\ndsn=\nreason=x\n\n",                  /* empty address */
		"version=1\nrcpt=a@b\ndsn=4.4.4.4.4.4.4.4.4\nreason=x\n\n",
		"version=1\n\nversion=1\n\n",                            /* two records */
		"version=1\nrcpt=a@b\ndsn=\nreason=x\n",                 /* no end */
	};
	struct deferfile df;
	const char *error;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(deferfile_parse(bad[i], strlen(bad[i]), &df, &error), -1);
		assert_int_equal(df.n, 0);
	}
	assert_int_equal(deferfile_write("not-an-id", NULL, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deferfile_round_trip, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_deferfile_long_reason_is_cut_and_marked, test_setup, test_teardown),
		cmocka_unit_test(test_deferfile_rejects_damage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
