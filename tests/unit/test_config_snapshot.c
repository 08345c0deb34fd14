/* Unit tests for common/config_snapshot.c: only a valid file becomes a
 * snapshot, the snapshot cannot be changed by those who hold it, and
 * reading it back (with a shared offset moved) gives the same settings. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "config_snapshot.h"

static char conf_path[64];

static void write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(conf_path, sizeof conf_path, "/tmp/test_config_snapshot.%ld.conf", (long)getpid());
	config_reset();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	return 0;
}

static void test_valid_file_becomes_a_sealed_snapshot(void **state)
{
	const char *error = NULL;
	int fd = -1;

	(void)state;
	write_conf("message_size_limit = 123k\n");
	assert_int_equal(config_snapshot_load(conf_path, &fd, &error), 0);
	assert_true(fd >= 0);
	assert_int_equal(config_size("message_size_limit"), 123 * 1024);
	/* Nobody who holds it may change what the next child reads. */
	assert_int_equal(write(fd, "x", 1), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, 0), -1);
	int seals = fcntl(fd, F_GET_SEALS);
	assert_true(seals & F_SEAL_WRITE);
	assert_true(seals & F_SEAL_SEAL);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

static void test_snapshot_read_back_ignores_the_edited_file_and_the_offset(void **state)
{
	const char *error = NULL;
	char c;
	int fd = -1;

	(void)state;
	write_conf("message_size_limit = 2m\nsmtpd_timeout = 42s\n");
	assert_int_equal(config_snapshot_load(conf_path, &fd, &error), 0);
	write_conf("message_size_limit = 9m\n");          /* edited since */
	assert_int_equal(lseek(fd, 5, SEEK_SET), 5);       /* a sibling moved the offset */
	assert_int_equal(read(fd, &c, 1), 1);
	config_reset();
	assert_int_equal(config_snapshot_read(fd, "postern.conf", &error), 0);
	assert_int_equal(config_size("message_size_limit"), 2 * 1024 * 1024);
	assert_int_equal(config_time("smtpd_timeout"), 42);
	close(fd);
}

static void test_broken_file_makes_no_snapshot_and_keeps_the_settings(void **state)
{
	const char *error = NULL;
	int fd = -1;

	(void)state;
	write_conf("message_size_limit = 3m\n");
	assert_int_equal(config_snapshot_load(conf_path, &fd, &error), 0);
	close(fd);
	fd = -1;
	write_conf("message_size_limit = 4m\nno_such_key = 1\n");
	assert_int_equal(config_snapshot_load(conf_path, &fd, &error), -1);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(error, ":2: "));
	assert_non_null(strstr(error, "no_such_key"));
	assert_int_equal(config_size("message_size_limit"), 3 * 1024 * 1024);
}

static void test_missing_file_is_an_error(void **state)
{
	const char *error = NULL;
	int fd = -1;

	(void)state;
	unlink(conf_path);
	assert_int_equal(config_snapshot_load(conf_path, &fd, &error), -1);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(error, conf_path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid_file_becomes_a_sealed_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_read_back_ignores_the_edited_file_and_the_offset,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_file_makes_no_snapshot_and_keeps_the_settings,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_is_an_error, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
