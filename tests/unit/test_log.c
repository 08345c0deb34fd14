/* Unit tests for common/log.c: stderr line format, grading, clipping,
 * control characters, fatal and panic; the log_file line format and
 * syslog_name; and common/log_delivery.c, the recipient line. */
#include <fcntl.h>
#include <limits.h>
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
#include "log_delivery.h"

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

/* log_file lines: RFC 3164 stamp (day padded with a space), host,
 * postern/SERVICE[pid], the grade prefix, the text, a newline. */
static void test_log_file_line_format(void **state)
{
	struct tm tm = { .tm_year = 126, .tm_mon = 0, .tm_mday = 5, .tm_hour = 7,
			 .tm_min = 8, .tm_sec = 9 };
	char out[256];
	size_t n;

	(void)state;
	n = log_file_line(out, sizeof(out), &tm, "mx1", "smtp", 123, "warning: ", "disk full", 9);
	assert_string_equal(out, "Jan  5 07:08:09 mx1 postern/smtp[123]: warning: disk full\n");
	assert_int_equal(n, strlen(out));
	tm.tm_mon = 11;
	tm.tm_mday = 31;
	tm.tm_hour = 23;
	n = log_file_line(out, sizeof(out), &tm, "mx1", "pop3-session", 4194304, "", "abcdef", 3);
	assert_string_equal(out, "Dec 31 23:08:09 mx1 postern/pop3-session[4194304]: abc\n");
	assert_int_equal(n, strlen(out));
}

/* syslog_name replaces "postern" in the tag; a bad name is refused and
 * changes nothing. */
static void test_log_syslog_name(void **state)
{
	struct tm tm = { .tm_mon = 2, .tm_mday = 1 };
	char out[128];

	(void)state;
	assert_int_equal(log_set_syslog_name("postfix"), 0);
	log_file_line(out, sizeof(out), &tm, "h", "smtpd", 7, "", "x", 1);
	assert_string_equal(out, "Mar  1 00:00:00 h postfix/smtpd[7]: x\n");
	assert_int_equal(log_set_syslog_name(""), -1);
	assert_int_equal(log_set_syslog_name("/postfix"), -1);
	assert_int_equal(log_set_syslog_name("post fix"), -1);
	assert_int_equal(log_set_syslog_name("a123456789012345678901234567890123456789012345678901234567890123"), -1);
	assert_int_equal(log_set_syslog_name("postfix/out"), 0);
	log_file_line(out, sizeof(out), &tm, "h", "smtp", 7, "", "x", 1);
	assert_string_equal(out, "Mar  1 00:00:00 h postfix/out/smtp[7]: x\n");
	assert_int_equal(log_set_syslog_name("postern"), 0);
}

static void test_log_file_line_too_long_is_refused(void **state)
{
	struct tm tm = { .tm_mon = 2, .tm_mday = 1 };
	char out[40];

	(void)state;
	assert_int_equal(log_file_line(out, sizeof(out), &tm, "mx1", "smtp", 1, "", "0123456789", 10), 0);
	assert_int_equal(log_file_line(out, sizeof(out), &tm, "h", "s", 1, "", "x", 1), 34);
	assert_string_equal(out, "Mar  1 00:00:00 h postern/s[1]: x\n");
}

static int file_fd = -1;
static void emit_to_fd(void)
{
	log_to_fd(file_fd);
	log_warn("x\ny %d", 7);
	log_info("second");
	log_to_fd(-1);
	log_info("back to stderr");
}

/* "Mmm dd hh:mm:ss " */
static void assert_file_stamp(const char *s)
{
	static const char *const months = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *pat = "Mmm Dd dd:dd:dd ";
	char mon[4] = { s[0], s[1], s[2], '\0' };

	assert_non_null(strstr(months, mon));
	assert_int_equal((strstr(months, mon) - months) % 3, 0);
	for (size_t i = 3; pat[i] != '\0'; i++) {
		if (pat[i] == 'd')
			assert_true(s[i] >= '0' && s[i] <= '9');
		else if (pat[i] == 'D')
			assert_true(s[i] == ' ' || (s[i] >= '1' && s[i] <= '3'));
		else
			assert_int_equal(s[i], pat[i]);
	}
}

/* log_to_fd: every line goes to the descriptor, whole, in the file
 * format with the short host name; -1 returns to stderr. */
static void test_log_to_fd_writes_file_format_lines(void **state)
{
	char host[256], expect[512], got[1024], *dot, *out;
	FILE *tmp = tmpfile();
	size_t n;

	(void)state;
	assert_non_null(tmp);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	if ((dot = strchr(host, '.')) != NULL)
		*dot = '\0';
	file_fd = fileno(tmp);
	log_open("smtp", 1, 0);
	out = capture(emit_to_fd);
	assert_timestamp(out);
	assert_non_null(strstr(out, "]: back to stderr\n"));

	rewind(tmp);
	n = fread(got, 1, sizeof(got) - 1, tmp);
	got[n] = '\0';
	fclose(tmp);
	assert_file_stamp(got);
	snprintf(expect, sizeof(expect), " %s postern/smtp[%ld]: warning: x?y 7\n", host, (long)getpid());
	assert_memory_equal(got + 15, expect, strlen(expect));
	char *second = got + 15 + strlen(expect);
	assert_file_stamp(second);
	snprintf(expect, sizeof(expect), " %s postern/smtp[%ld]: second\n", host, (long)getpid());
	assert_string_equal(second + 15, expect);
}

/* log_open goes back to stderr or syslog: a daemon that reopens its log
 * does not keep writing to an old descriptor. */
static void test_log_open_forgets_the_fd(void **state)
{
	FILE *tmp = tmpfile();
	char *out;

	(void)state;
	assert_non_null(tmp);
	log_to_fd(fileno(tmp));
	log_open("svc", 1, 0);
	out = capture(emit_info);
	assert_non_null(strstr(out, "svc["));
	fseek(tmp, 0, SEEK_END);
	assert_int_equal(ftell(tmp), 0);
	fclose(tmp);
}

/* log_delivery's arguments for capture(). */
static const struct log_delivery_times *delivery_times;
static const char *delivery_relay, *delivery_status;

static void delivery_emit(void)
{
	log_open("test", 1, 0);
	log_delivery("ABCDE12345", "bob@example.test", delivery_relay, delivery_times, "2.0.0",
		     delivery_status, "done");
}

/* The text after "]: " of the line log_delivery writes. */
static char *delivery_line(const struct log_delivery_times *t, const char *relay, const char *status)
{
	char *p;

	delivery_times = t;
	delivery_relay = relay;
	delivery_status = status;
	p = strstr(capture(delivery_emit), "]: ");
	assert_non_null(p);
	return p + 3;
}

/* common/log_delivery.c: Postfix's recipient line and its delays. */
static void test_delivery_line_and_delays(void **state)
{
	long long now = log_delivery_now_ms();
	struct log_delivery_times t = { .arrival_ms = now - 12340, .active_ms = now - 2340,
					.agent_ms = now - 1840, .setup_ms = 5, .xfer_ms = 1250 };

	(void)state;
	/* a = 10 s, b = 0.5 s, c below 10 ms is 0, d = 1.2 s (1.25 cut). */
	assert_string_equal(delivery_line(&t, "h[1.2.3.4]:25", "delivered"),
			    "ABCDE12345: to=<bob@example.test>, relay=h[1.2.3.4]:25, delay=12, "
			    "delays=10/0.5/0/1.2, dsn=2.0.0, status=sent (done)\n");
	assert_non_null(strstr(delivery_line(NULL, NULL, "failed"),
			       "relay=none, delay=0, delays=0/0/0/0, dsn=2.0.0, status=bounced (done)"));
	assert_non_null(strstr(delivery_line(NULL, "", "deferred"), "relay=none, "));
	/* A clock that went back is 0, never negative. */
	t.arrival_ms = now + 100000;
	assert_non_null(strstr(delivery_line(&t, "local", "delivered"), "delay=0, delays=0/"));
	assert_int_equal(log_delivery_sec_ms(-1), 0);
	assert_int_equal(log_delivery_sec_ms(1700000000), 1700000000000LL);
	assert_int_equal(log_delivery_sec_ms(LLONG_MAX / 100), 0);
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
		cmocka_unit_test(test_log_file_line_format),
		cmocka_unit_test(test_log_file_line_too_long_is_refused),
		cmocka_unit_test(test_log_syslog_name),
		cmocka_unit_test(test_delivery_line_and_delays),
		cmocka_unit_test(test_log_to_fd_writes_file_format_lines),
		cmocka_unit_test(test_log_open_forgets_the_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
