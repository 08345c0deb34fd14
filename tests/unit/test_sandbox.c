/* Unit tests for common/sandbox.c and sandbox_landlock.c: which profile a
 * program gets, the Landlock rights per ABI and profile, the names of
 * system calls, and in a child process that a filter really lets the
 * profile's work through, kills a forbidden call with SIGSYS and a log
 * line naming it, and is not installed with seccomp = no. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/landlock.h>
#include <seccomp.h>

#include "config.h"
#include "log.h"
#include "sandbox.h"
#include "sandbox_int.h"

static void test_sandbox_profiles(void **state)
{
	(void)state;
	assert_int_equal(sandbox_profile("smtpd", NULL), SANDBOX_SMTPD);
	assert_int_equal(sandbox_profile("imapd", ""), SANDBOX_LOGIN);
	assert_int_equal(sandbox_profile("imapd", "tls"), SANDBOX_LOGIN);
	assert_int_equal(sandbox_profile("popd", "tls"), SANDBOX_LOGIN);
	assert_int_equal(sandbox_profile("imapd", "session"), SANDBOX_MAILBOX);
	assert_int_equal(sandbox_profile("imapd", "hibernate"), SANDBOX_MAILBOX);
	assert_int_equal(sandbox_profile("popd", "session"), SANDBOX_MAILBOX);
	assert_int_equal(sandbox_profile("remote", NULL), SANDBOX_REMOTE);
	assert_int_equal(sandbox_profile("qmgr", NULL), SANDBOX_QUEUE);
	assert_int_equal(sandbox_profile("enqueue", NULL), SANDBOX_QUEUE);
	assert_int_equal(sandbox_profile("pickup", NULL), SANDBOX_PICKUP);
	assert_int_equal(sandbox_profile("verify", NULL), SANDBOX_VERIFY);
	assert_int_equal(sandbox_profile("authd", NULL), SANDBOX_AUTHD);
	assert_int_equal(sandbox_profile("dkim-sign", NULL), SANDBOX_DKIM);
	assert_int_equal(sandbox_profile("metrics", NULL), SANDBOX_METRICS);
	assert_int_equal(sandbox_profile("local", NULL), SANDBOX_LOCAL);
	assert_int_equal(sandbox_profile("master", NULL), SANDBOX_NONE);
	assert_string_equal(sandbox_profile_name(SANDBOX_LOGIN), "login");
}

static void test_sandbox_landlock_rights(void **state)
{
	uint64_t h1 = sandbox_landlock_handled(1), h3 = sandbox_landlock_handled(3);

	(void)state;
	assert_int_equal(sandbox_landlock_handled(0), 0);
	assert_true(h1 & LANDLOCK_ACCESS_FS_MAKE_SYM);
	assert_false(h1 & LANDLOCK_ACCESS_FS_REFER);
	assert_true(sandbox_landlock_handled(2) & LANDLOCK_ACCESS_FS_REFER);
	assert_true(h3 & (1ULL << 14));   /* TRUNCATE */
	/* The network-facing programs only read beneath their root. */
	assert_int_equal(sandbox_landlock_root_rights(SANDBOX_SMTPD, h3),
			 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR);
	assert_int_equal(sandbox_landlock_root_rights(SANDBOX_LOGIN, h3),
			 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR);
	/* The queue may rename across directories (tmp/ to incoming/) but
	 * execute nothing. */
	assert_true(sandbox_landlock_root_rights(SANDBOX_QUEUE, h3) & LANDLOCK_ACCESS_FS_REFER);
	assert_false(sandbox_landlock_root_rights(SANDBOX_QUEUE, h3) & LANDLOCK_ACCESS_FS_EXECUTE);
}

static void test_sandbox_syscall_names(void **state)
{
	(void)state;
	assert_string_equal(sandbox_syscall_name(-1), "?");
	assert_string_equal(sandbox_syscall_name(100000), "?");
}

/* Run fn in a child confined by profile p with the given settings; its
 * wait status, and what it logged (stderr) in out. */
static int sandbox_child(enum sandbox_profile p, const char *conf, void (*fn)(void),
			 char *out, size_t size)
{
	int fds[2], status;
	const char *error;
	pid_t pid;
	size_t n = 0;
	ssize_t r;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		log_open("test", 1, 0);
		config_reset();
		if (config_parse("t.conf", conf, strlen(conf), &error) < 0)
			_exit(90);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(91);
		sandbox_enter(p, 0);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (n + 1 < size && (r = read(fds[0], out + n, size - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void forbidden_call(void)
{
	syscall(SYS_ptrace, 0L, 0L, 0L, 0L);
}

/* ptrace refused with EPERM, or exit 4 */
static void forbidden_call_eperm(void)
{
	errno = 0;
	if (syscall(SYS_ptrace, 0L, 0L, 0L, 0L) != -1 || errno != EPERM)
		_exit(4);
}

static void allowed_work(void)
{
	char buf[16];
	int fd = open("/dev/null", O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof buf) != 0 || close(fd) < 0)
		_exit(2);
	if (getpid() <= 0 || time(NULL) <= 0)
		_exit(3);
}

static void write_open(void)
{
	/* smtpd may not open for writing: killed before the file is made. */
	int fd = open("/dev/null", O_WRONLY);
	(void)fd;
}

static void test_sandbox_forbidden_call_kills_with_its_name(void **state)
{
	char out[4096];
	int st;

	(void)state;
	st = sandbox_child(SANDBOX_SMTPD, "landlock = no\n", forbidden_call, out, sizeof out);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	assert_non_null(strstr(out, "forbidden system call ptrace (101), first argument 0,"));

	st = sandbox_child(SANDBOX_LOCAL, "landlock = no\n", forbidden_call, out, sizeof out);
	assert_true(WIFSIGNALED(st));
	assert_non_null(strstr(out, "forbidden system call ptrace"));

	/* commands: the call fails, the process goes on */
	st = sandbox_child(SANDBOX_COMMAND, "landlock = no\n", forbidden_call_eperm, out, sizeof out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	st = sandbox_child(SANDBOX_SMTPD, "landlock = no\n", write_open, out, sizeof out);
	assert_true(WIFSIGNALED(st));
	assert_non_null(strstr(out, "forbidden system call openat"));

	st = sandbox_child(SANDBOX_QUEUE, "landlock = no\n", write_open, out, sizeof out);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_sandbox_allowed_work_passes(void **state)
{
	char out[4096];
	int st;

	(void)state;
	for (int p = SANDBOX_SMTPD; p <= SANDBOX_COMMAND; p++) {
		st = sandbox_child((enum sandbox_profile)p, "", allowed_work, out, sizeof out);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

static void create_file(void)
{
	/* In the child's own directory, a fresh temporary one. */
	int fd = open("made", O_WRONLY | O_CREAT | O_EXCL, 0600);

	if (fd < 0)
		_exit(errno == EACCES ? 13 : 1);
	close(fd);
	unlink("made");
}

/* Landlock alone (seccomp = no): a reading profile may not create a file
 * beneath its root, a writing one may. */
static void test_sandbox_landlock_limits_writes(void **state)
{
	char dir[] = "/tmp/test_sandbox.XXXXXX", out[4096], cwd[4096];
	int st;

	(void)state;
	if (syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) < 1)
		skip();   /* this kernel has no Landlock: the skip path is all there is */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	st = sandbox_child(SANDBOX_SMTPD, "seccomp = no\n", create_file, out, sizeof out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 13);
	st = sandbox_child(SANDBOX_QUEUE, "seccomp = no\n", create_file, out, sizeof out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* A kernel without Landlock, as far as the process can tell: its
 * landlock_create_ruleset fails with ENOSYS.  The start goes on with a
 * log line, and nothing is restricted. */
static void no_landlock_then_create(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	if (ctx == NULL ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(landlock_create_ruleset), 0) < 0 ||
	    seccomp_load(ctx) < 0)
		_exit(80);
	seccomp_release(ctx);
	sandbox_enter(SANDBOX_SMTPD, 0);
	create_file();
}

static void test_sandbox_landlock_skipped_without_kernel_support(void **state)
{
	char dir[] = "/tmp/test_sandbox.XXXXXX", out[4096], cwd[4096];
	int st;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	/* SANDBOX_NONE: the child's own code enters the real profile after
	 * hiding Landlock. */
	st = sandbox_child(SANDBOX_NONE, "seccomp = no\n", no_landlock_then_create, out, sizeof out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_non_null(strstr(out, "Landlock not available (Function not implemented)"));
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_sandbox_off_installs_nothing(void **state)
{
	char out[4096];
	int st;

	(void)state;
	st = sandbox_child(SANDBOX_SMTPD, "seccomp = no\nlandlock = no\n", forbidden_call, out, sizeof out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_null(strstr(out, "forbidden"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox_profiles),
		cmocka_unit_test(test_sandbox_landlock_rights),
		cmocka_unit_test(test_sandbox_syscall_names),
		cmocka_unit_test(test_sandbox_forbidden_call_kills_with_its_name),
		cmocka_unit_test(test_sandbox_allowed_work_passes),
		cmocka_unit_test(test_sandbox_landlock_limits_writes),
		cmocka_unit_test(test_sandbox_landlock_skipped_without_kernel_support),
		cmocka_unit_test(test_sandbox_off_installs_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
