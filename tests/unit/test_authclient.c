/* test_authclient: the client side of the authd protocol
 * (common/authclient.c) against a scripted fake authd in a child
 * process, listening at private/authd in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "authclient.h"
#include "buf.h"
#include "sockets.h"

static char test_dir[] = "/tmp/test_authclient_XXXXXX";
static char old_cwd[4096];

static int setup(void **state)
{
	(void)state;
	if (getcwd(old_cwd, sizeof(old_cwd)) == NULL || mkdtemp(test_dir) == NULL ||
	    chdir(test_dir) < 0 || mkdir("private", 0700) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink("private/authd");
	unlink("request.txt");
	rmdir("private");
	if (chdir(old_cwd) < 0)
		return -1;
	rmdir(test_dir);
	return 0;
}

/* Serve one connection with a canned answer; the request goes to
 * request.txt.  Returns the child's pid. */
static pid_t fake_authd(const char *answer)
{
	int lfd = unix_listen("private/authd", 0600, 4);
	pid_t pid;

	assert_true(lfd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char req[8192];
		size_t n = 0;
		int fd = accept(lfd, NULL, NULL);
		FILE *f;
		while (fd >= 0 && n < sizeof(req) - 1) {
			ssize_t r = read(fd, req + n, sizeof(req) - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			req[n] = '\0';
			if (strstr(req, "\n\n") != NULL)
				break;
		}
		f = fopen("request.txt", "w");
		if (f != NULL) {
			fwrite(req, 1, n, f);
			fclose(f);
		}
		if (fd >= 0 && write(fd, answer, strlen(answer)) < 0)
			_exit(1);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void reap(pid_t pid)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink("private/authd");
}

static void read_request(char *out, size_t outlen)
{
	FILE *f = fopen("request.txt", "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void test_ok_returns_mailbox_and_sends_escaped_request(void **state)
{
	pid_t pid = fake_authd("status=ok\nuser=alice@example.test\nmailbox=example.test/alice/\n\n");
	struct buf mailbox;
	const char *err = NULL;
	char req[8192];
	(void)state;

	buf_init(&mailbox, 1024);
	assert_int_equal(auth_verify("Alice@example.test", "pa%ss\nword", "pop3", "192.0.2.1",
				     &mailbox, &err), 1);
	assert_string_equal(buf_cstr(&mailbox), "example.test/alice/");
	reap(pid);
	read_request(req, sizeof(req));
	assert_string_equal(req, "cmd=auth\nuser=Alice@example.test\npassword=pa%25ss%0Aword\n"
			    "service=pop3\nclient=192.0.2.1\n\n");
	buf_free(&mailbox);
}

static void test_canonical_user_is_returned(void **state)
{
	pid_t pid = fake_authd("status=ok\nuser=alice@example.test\n\n");
	struct buf user;
	const char *err = NULL;
	(void)state;

	buf_init(&user, 1024);
	assert_int_equal(auth_verify_user("ALICE@example.test", "x", "smtp", NULL, &user, NULL, &err), 1);
	assert_string_equal(buf_cstr(&user), "alice@example.test");
	reap(pid);
	buf_free(&user);
}

static void test_fail_is_rejection(void **state)
{
	pid_t pid = fake_authd("status=fail\n\n");
	const char *err = NULL;
	(void)state;

	assert_int_equal(auth_verify("a@b", "x", "smtp", NULL, NULL, &err), 0);
	reap(pid);
}

static void test_tempfail_carries_reason(void **state)
{
	pid_t pid = fake_authd("status=tempfail\nreason=users file unavailable\n\n");
	const char *err = NULL;
	(void)state;

	assert_int_equal(auth_verify("a@b", "x", "pop3", NULL, NULL, &err), -1);
	assert_string_equal(err, "authd: users file unavailable");
	reap(pid);
}

static void test_ok_without_mailbox_is_temporary_when_one_is_needed(void **state)
{
	pid_t pid = fake_authd("status=ok\nuser=a@b\n\n");
	struct buf mailbox;
	const char *err = NULL;
	(void)state;

	buf_init(&mailbox, 1024);
	assert_int_equal(auth_verify("a@b", "x", "pop3", NULL, &mailbox, &err), -1);
	assert_string_equal(err, "authd knows no mailbox for this user");
	reap(pid);
	buf_free(&mailbox);
}

static void test_garbage_answer_is_temporary(void **state)
{
	pid_t pid = fake_authd("this is not a record\n\n");
	const char *err = NULL;
	(void)state;

	assert_int_equal(auth_verify("a@b", "x", "pop3", NULL, NULL, &err), -1);
	reap(pid);
	pid = fake_authd("status=maybe\n\n");
	assert_int_equal(auth_verify("a@b", "x", "pop3", NULL, NULL, &err), -1);
	assert_string_equal(err, "authd answer with an unknown status");
	reap(pid);
	pid = fake_authd("");
	assert_int_equal(auth_verify("a@b", "x", "pop3", NULL, NULL, &err), -1);
	assert_string_equal(err, "no valid answer from authd");
	reap(pid);
}

static void test_no_authd_is_temporary(void **state)
{
	const char *err = NULL;
	(void)state;

	assert_int_equal(auth_verify("a@b", "x", "pop3", NULL, NULL, &err), -1);
	assert_string_equal(err, "cannot connect to authd");
}

static void test_overlong_credentials_are_rejected_locally(void **state)
{
	char *big = malloc(5000);
	const char *err = NULL;
	(void)state;

	memset(big, 'a', 4999);
	big[4999] = '\0';
	/* No authd listening: the answer cannot have come from it. */
	assert_int_equal(auth_verify("a@b", big, "pop3", NULL, NULL, &err), 0);
	assert_int_equal(auth_verify(big, "x", "pop3", NULL, NULL, &err), 0);
	free(big);
}

static void test_ticket_ok_returns_ticket_not_mailbox(void **state)
{
	pid_t pid = fake_authd("status=ok\nuser=alice@example.test\nticket=00ff\n\n");
	struct buf user, ticket;
	struct auth_failure fail;
	const char *err = NULL;
	char req[8192];
	(void)state;

	buf_init(&user, 256);
	buf_init(&ticket, 128);
	assert_int_equal(auth_login_ticket("Alice@example.test", "pw", "pop3", "192.0.2.7",
					   &user, &ticket, &fail, &err), 1);
	assert_string_equal(buf_cstr(&user), "alice@example.test");
	assert_string_equal(buf_cstr(&ticket), "00ff");
	reap(pid);
	read_request(req, sizeof(req));
	assert_string_equal(req, "cmd=ticket\nuser=Alice@example.test\npassword=pw\n"
			    "service=pop3\nclient=192.0.2.7\n\n");
	buf_free(&user);
	buf_free(&ticket);
}

static void test_ticket_fail_reports_failures_and_throttling(void **state)
{
	pid_t pid = fake_authd("status=fail\nfailures=7\nthrottled=yes\n\n");
	struct buf user, ticket;
	struct auth_failure fail;
	const char *err = NULL;
	(void)state;

	buf_init(&user, 256);
	buf_init(&ticket, 128);
	assert_int_equal(auth_login_ticket("a@b", "x", "pop3", NULL, &user, &ticket, &fail, &err), 0);
	assert_int_equal(fail.failures, 7);
	assert_int_equal(fail.throttled, 1);
	assert_int_equal(ticket.len, 0);
	reap(pid);
	pid = fake_authd("status=ok\nuser=a@b\n\n");   /* no ticket: not usable */
	assert_int_equal(auth_login_ticket("a@b", "x", "pop3", NULL, &user, &ticket, &fail, &err), -1);
	reap(pid);
	buf_free(&user);
	buf_free(&ticket);
}

static void test_redeem_returns_user_and_mailbox(void **state)
{
	pid_t pid = fake_authd("status=ok\nuser=alice@example.test\nmailbox=example.test/alice/\n\n");
	struct buf user, mailbox;
	const char *err = NULL;
	char req[8192];
	(void)state;

	buf_init(&user, 256);
	buf_init(&mailbox, 1024);
	assert_int_equal(auth_redeem("abcd", "pop3", &user, &mailbox, &err), 1);
	assert_string_equal(buf_cstr(&mailbox), "example.test/alice/");
	reap(pid);
	read_request(req, sizeof(req));
	assert_string_equal(req, "cmd=redeem\nticket=abcd\nservice=pop3\n\n");
	pid = fake_authd("status=fail\n\n");
	assert_int_equal(auth_redeem("abcd", "pop3", &user, &mailbox, &err), 0);
	reap(pid);
	buf_free(&user);
	buf_free(&mailbox);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_returns_mailbox_and_sends_escaped_request),
		cmocka_unit_test(test_canonical_user_is_returned),
		cmocka_unit_test(test_fail_is_rejection),
		cmocka_unit_test(test_tempfail_carries_reason),
		cmocka_unit_test(test_ok_without_mailbox_is_temporary_when_one_is_needed),
		cmocka_unit_test(test_garbage_answer_is_temporary),
		cmocka_unit_test(test_no_authd_is_temporary),
		cmocka_unit_test(test_overlong_credentials_are_rejected_locally),
		cmocka_unit_test(test_ticket_ok_returns_ticket_not_mailbox),
		cmocka_unit_test(test_ticket_fail_reports_failures_and_throttling),
		cmocka_unit_test(test_redeem_returns_user_and_mailbox),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
