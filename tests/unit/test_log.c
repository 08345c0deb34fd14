/* Unit tests for common/log.c: stderr line format, grading, clipping,
 * control characters, fatal and panic. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

/* Run fn with stderr sent to a temp file; return what was written. */
static char *capture(void (*fn)(void))
{
	static char out[8192];
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(tmp), 2), 2);
	fn();
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

/* "YYYY-MM-DDTHH:MM:SS " */
static void assert_timestamp(const char *s)
{
	const char *pat = "dddd-dd-ddTdd:dd:dd ";

	for (size_t i = 0; pat[i] != '\0'; i++) {
		if (pat[i] == 'd')
			assert_true(s[i] >= '0' && s[i] <= '9');
		else
			assert_int_equal(s[i], pat[i]);
	}
}

static void silence_stderr(void)
{
	int fd = open("/dev/null", O_WRONLY);

	if (fd >= 0)
		dup2(fd, 2);
}

static void emit_info(void) { log_info("hello %d", 42); }
static void emit_warn(void) { log_warn("disk %s", "full"); }
static void emit_debug(void) { log_debug("hidden"); }
static void emit_ctl(void) { log_info("a\nb\rc"); }

static void emit_long(void)
{
	char big[5000];

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
}

static void test_log_info_line_format(void **state)
{
	char expect[128];
	char *out;

	(void)state;
	log_open("svc", 1, 0);
	out = capture(emit_info);
	assert_timestamp(out);
	snprintf(expect, sizeof(expect), "svc[%ld]: hello 42\n", (long)getpid());
	assert_string_equal(out + 20, expect);
}

static void test_log_warn_is_prefixed(void **state)
{
	char *out;

	(void)state;
	log_open("svc", 1, 0);
	out = capture(emit_warn);
	assert_non_null(strstr(out, "]: warning: disk full\n"));
}

static void test_log_debug_only_when_verbose(void **state)
{
	(void)state;
	log_open("svc", 1, 0);
	assert_int_equal(log_verbose(), 0);
	assert_string_equal(capture(emit_debug), "");
	log_open("svc", 1, 1);
	assert_int_equal(log_verbose(), 1);
	assert_non_null(strstr(capture(emit_debug), "]: hidden\n"));
}

static void test_log_long_message_is_clipped_with_dots(void **state)
{
	char *out;
	size_t n;

	(void)state;
	log_open("svc", 1, 0);
	out = capture(emit_long);
	n = strlen(out);
	assert_true(n < 2200);
	assert_string_equal(out + n - 4, "...\n");
	assert_int_equal(strchr(out, '\n'), out + n - 1);
}

static void test_log_control_characters_cannot_forge_lines(void **state)
{
	char *out;

	(void)state;
	log_open("svc", 1, 0);
	out = capture(emit_ctl);
	assert_non_null(strstr(out, "]: a?b?c\n"));
}

static void test_log_fatal_exits_1(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		silence_stderr();
		log_open("svc", 1, 0);
		log_fatal("broken %s", "environment");
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
}

static void test_log_panic_aborts(void **state)
{
	struct rlimit no_core = { 0, 0 };
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		silence_stderr();
		log_open("svc", 1, 0);
		log_panic("broken invariant");
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_info_line_format),
		cmocka_unit_test(test_log_warn_is_prefixed),
		cmocka_unit_test(test_log_debug_only_when_verbose),
		cmocka_unit_test(test_log_long_message_is_clipped_with_dots),
		cmocka_unit_test(test_log_control_characters_cannot_forge_lines),
		cmocka_unit_test(test_log_fatal_exits_1),
		cmocka_unit_test(test_log_panic_aborts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
