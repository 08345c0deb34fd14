/* Unit tests for common/map_setting.c: a map setting names NAME or
 * NAME.cdb; the daemons open NAME.cdb, check reads NAME. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "map_setting.h"

static void test_either_spelling_names_one_map(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(map_setting_cdb("tls_policy", out, sizeof(out)), 0);
	assert_string_equal(out, "tls_policy.cdb");
	assert_int_equal(map_setting_cdb("tls_policy.cdb", out, sizeof(out)), 0);
	assert_string_equal(out, "tls_policy.cdb");
	assert_int_equal(map_setting_source("tls_policy.cdb", out, sizeof(out)), 0);
	assert_string_equal(out, "tls_policy");
	assert_int_equal(map_setting_source("tls_policy", out, sizeof(out)), 0);
	assert_string_equal(out, "tls_policy");
	/* ".cdb" alone is a name, not an empty one with its suffix */
	assert_int_equal(map_setting_cdb(".cdb", out, sizeof(out)), 0);
	assert_string_equal(out, ".cdb.cdb");
	assert_int_equal(map_setting_cdb("/abs/map", out, sizeof(out)), 0);
	assert_string_equal(out, "/abs/map.cdb");
}

static void test_too_long_is_refused_not_clipped(void **state)
{
	char out[12];

	(void)state;
	assert_int_equal(map_setting_cdb("1234567", out, sizeof(out)), 0);    /* 7 + 4 + NUL */
	assert_int_equal(map_setting_cdb("12345678", out, sizeof(out)), -1);
	assert_int_equal(map_setting_cdb("12345678.cdb", out, sizeof(out)), -1);
	assert_int_equal(map_setting_source("12345678901", out, sizeof(out)), 0);
	assert_int_equal(map_setting_source("123456789012", out, sizeof(out)), -1);
	assert_int_equal(map_setting_source("12345678901.cdb", out, sizeof(out)), 0);
	assert_string_equal(out, "12345678901");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_either_spelling_names_one_map),
		cmocka_unit_test(test_too_long_is_refused_not_clipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
