/* Unit tests for common/local_domain.c: a domain is local when it is in
 * etc/domains.cdb or is myhostname, in any case; no map makes every
 * domain local. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdbmap.h"
#include "config.h"
#include "local_domain.h"
#include "tmpdir_fixture.h"

static int is_local(struct cdbmap *map, const char *domain)
{
	return local_domain_is(map, domain, strlen(domain));
}

static void test_map_and_myhostname(void **state)
{
	char root[] = "/tmp/postern-local-domain-XXXXXX", path[256];
	const char *conf = "myhostname = Mail.Example.TEST\n", *error = NULL;
	struct cdbmap_writer *w = NULL;
	struct cdbmap *map = NULL;

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_true(snprintf(path, sizeof(path), "%s/domains.cdb", root) < (int)sizeof(path));
	assert_int_equal(cdbmap_writer_start(path, NULL, &w, &error), 0);
	assert_int_equal(cdbmap_writer_add(w, "example.test", 12, "", 0, &error), 0);
	assert_int_equal(cdbmap_writer_commit(&w, &error), 0);
	assert_int_equal(cdbmap_open(path, &map, &error), 0);
	assert_int_equal(config_parse("t.conf", conf, strlen(conf), &error), 0);

	assert_int_equal(is_local(map, "example.test"), 1);
	assert_int_equal(is_local(map, "EXAMPLE.Test"), 1);      /* keys are lower case */
	assert_int_equal(is_local(map, "mail.example.test"), 1); /* myhostname, any case */
	assert_int_equal(is_local(map, "MAIL.example.test"), 1);
	assert_int_equal(is_local(map, "other.test"), 0);
	assert_int_equal(is_local(map, "example.test.evil"), 0);
	assert_int_equal(is_local(map, "mail.example.tes"), 0);  /* no prefix match */
	assert_int_equal(is_local(map, ""), 0);
	/* a NUL inside the counted domain matches neither */
	assert_int_equal(local_domain_is(map, "mail.example.test\0x", 19), 0);
	assert_int_equal(local_domain_is(map, "example.test\0", 13), 0);
	/* longer than any address: not local, not a read past the buffer */
	{
		char long_domain[600];

		memset(long_domain, 'a', sizeof(long_domain) - 1);
		long_domain[sizeof(long_domain) - 1] = '\0';
		assert_int_equal(is_local(map, long_domain), 0);
	}
	/* without a map (no etc/domains.cdb) every domain is local */
	assert_int_equal(is_local(NULL, "other.test"), 1);

	cdbmap_close(&map);
	config_parse("t.conf", "", 0, &error);
	assert_int_equal(tmpdir_remove(root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_and_myhostname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
