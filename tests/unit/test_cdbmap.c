/* Unit tests for common/cdbmap.c: compile + lookup, case folding,
 * missing keys, syntax errors with file:line, atomic replacement. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cdbmap.h"

static char dir[64], src[128], dst[128];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_cdbmap_XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(src, sizeof(src), "%s/map", dir);
	snprintf(dst, sizeof(dst), "%s/map.cdb", dir);
	return 0;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_src(const char *text, size_t len)
{
	int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void expect_lookup(struct cdbmap *m, const char *key, int found, const char *value)
{
	struct buf v;

	buf_init(&v, 4096);
	assert_int_equal(cdbmap_lookup(m, key, strlen(key), &v), found);
	if (found == 1)
		assert_string_equal(buf_cstr(&v), value);
	buf_free(&v);
}

static void test_cdbmap_compile_and_lookup(void **state)
{
	const char *text =
		"# mailboxes\n"
		"\n"
		"Alice@Example.TEST   example.test/alice/  \n"
		"bob@example.test\texample.test/bob/\r\n"
		"   carol@example.test    two words here\n"
		"example.test\n"
		"last@example.test no-newline";
	struct cdbmap *m = NULL;
	const char *error = NULL;

	(void)state;
	write_src(text, strlen(text));
	assert_int_equal(cdbmap_compile(src, dst, &error), 0);
	assert_int_equal(cdbmap_open(dst, &m, &error), 0);
	expect_lookup(m, "alice@example.test", 1, "example.test/alice/");
	expect_lookup(m, "ALICE@EXAMPLE.test", 1, "example.test/alice/");
	expect_lookup(m, "bob@example.test", 1, "example.test/bob/");
	expect_lookup(m, "carol@example.test", 1, "two words here");
	expect_lookup(m, "example.test", 1, "");
	expect_lookup(m, "last@example.test", 1, "no-newline");
	expect_lookup(m, "dave@example.test", 0, NULL);
	expect_lookup(m, "#", 0, NULL);
	expect_lookup(m, "", 0, NULL);

	char longkey[2000];
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	expect_lookup(m, longkey, 0, NULL);

	/* A value larger than the caller's buf is an error, not a clip. */
	struct buf tiny;
	buf_init(&tiny, 3);
	assert_int_equal(cdbmap_lookup(m, "bob@example.test", 16, &tiny), -1);
	buf_free(&tiny);
	cdbmap_close(&m);
	assert_null(m);
	/* No temp file is left behind. */
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", dst, (long)getpid());
	assert_int_equal(access(tmp, F_OK), -1);
}

static void expect_compile_error(const char *text, size_t len, const char *suffix)
{
	const char *error = NULL;
	char expect[256];

	write_src(text, len);
	assert_int_equal(cdbmap_compile(src, dst, &error), -1);
	snprintf(expect, sizeof(expect), "%s:%s", src, suffix);
	assert_string_equal(error, expect);
}

static void test_cdbmap_errors_keep_old_map(void **state)
{
	struct cdbmap *m = NULL;
	const char *error = NULL;
	char big[5000];

	(void)state;
	write_src("k v1\n", 5);
	assert_int_equal(cdbmap_compile(src, dst, &error), 0);

	expect_compile_error("a 1\n\nA 2\n", 9, "3: duplicate key");
	memcpy(big, "key ", 4);
	memset(big + 4, 'x', 4100);
	big[4104] = '\n';
	expect_compile_error(big, 4105, "1: line longer than 4096 bytes");
	expect_compile_error("a\0b c\n", 6, "1: NUL byte in line");

	/* dst still holds the previous good map. */
	assert_int_equal(cdbmap_open(dst, &m, &error), 0);
	expect_lookup(m, "k", 1, "v1");
	cdbmap_close(&m);

	/* Exactly 4096 bytes is allowed. */
	memset(big + 4, 'x', 4092);
	big[4096] = '\n';
	write_src(big, 4097);
	assert_int_equal(cdbmap_compile(src, dst, &error), 0);
}

/* A value checker that wants digits only. */
static const char *digits_only(const char *value, size_t len)
{
	if (len == 0)
		return "empty value";
	for (size_t i = 0; i < len; i++)
		if (value[i] < '0' || value[i] > '9')
			return "not a number";
	return NULL;
}

static void test_cdbmap_checked_values(void **state)
{
	struct cdbmap *m = NULL;
	const char *error = NULL;
	char expect[256];

	(void)state;
	write_src("a 12\n# note\nb 7 \n", 17);
	assert_int_equal(cdbmap_compile_checked(src, dst, digits_only, &error), 0);
	write_src("a 12\nb 7x\n", 11);
	assert_int_equal(cdbmap_compile_checked(src, dst, digits_only, &error), -1);
	snprintf(expect, sizeof(expect), "%s:2: not a number", src);
	assert_string_equal(error, expect);
	write_src("a\n", 2);
	assert_int_equal(cdbmap_compile_checked(src, dst, digits_only, &error), -1);
	snprintf(expect, sizeof(expect), "%s:1: empty value", src);
	assert_string_equal(error, expect);
	/* The refused compiles left the good map. */
	assert_int_equal(cdbmap_open(dst, &m, &error), 0);
	expect_lookup(m, "b", 1, "7");
	cdbmap_close(&m);
}

static void test_cdbmap_open_errors(void **state)
{
	struct cdbmap *m = NULL;
	const char *error = NULL;
	char missing[160];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/none.cdb", dir);
	assert_int_equal(cdbmap_open(missing, &m, &error), -1);
	assert_non_null(strstr(error, "No such file"));
	write_src("short", 5);
	assert_int_equal(cdbmap_open(src, &m, &error), -1);
	assert_null(m);
	assert_int_equal(cdbmap_compile(missing, dst, &error), -1);
}

/* The cdb takes its source's owner, group and mode, like postmap's: a
 * chmod 0600 of a map holding secrets survives the next compile. */
static void test_cdbmap_compile_takes_source_owner_and_mode(void **state)
{
	const char *error = NULL;
	struct stat st;

	(void)state;
	write_src("k v\n", 4);
	assert_int_equal(chmod(src, 0600), 0);
	assert_int_equal(cdbmap_compile(src, dst, &error), 0);
	assert_int_equal(stat(dst, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(chmod(dst, 0644), 0);   /* a stale wider cdb is narrowed again */
	assert_int_equal(chmod(src, 0640), 0);
	assert_int_equal(cdbmap_compile(src, dst, &error), 0);
	assert_int_equal(stat(dst, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(chmod(src, 0755), 0);   /* no exec bits on data */
	assert_int_equal(cdbmap_compile(src, dst, &error), 0);
	assert_int_equal(stat(dst, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	if (geteuid() == 0) {
		assert_int_equal(chown(src, 65534, 65534), 0);
		assert_int_equal(cdbmap_compile(src, dst, &error), 0);
		assert_int_equal(stat(dst, &st), 0);
		assert_int_equal(st.st_uid, 65534);
		assert_int_equal(st.st_gid, 65534);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cdbmap_compile_and_lookup),
		cmocka_unit_test(test_cdbmap_errors_keep_old_map),
		cmocka_unit_test(test_cdbmap_checked_values),
		cmocka_unit_test(test_cdbmap_open_errors),
		cmocka_unit_test(test_cdbmap_compile_takes_source_owner_and_mode),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
