/* Unit tests for common/privdrop.c.  The root path (chroot + id change)
 * runs in a forked child; it is skipped, visibly, when not run as root. */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "privdrop.h"

static char dir[64];

static int setup_dir(void **state)
{
	char path[128];
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_privdrop_XXXXXX");
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/marker", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Run fn in a child; its exit status is the number of failed checks. */
static int in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int child_non_root_chdir(void)
{
	const char *error = NULL;
	uid_t uid = getuid();
	char cwd[256];
	int bad = 0;

	if (geteuid() == 0) {
		/* Become an ordinary user first to test the non-root path. */
		struct passwd *pw = getpwnam("nobody");
		if (pw == NULL || setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
		    setuid(pw->pw_uid) < 0)
			return 100;
		uid = getuid();
	}
	/* As non-root, another user name is ignored (development mode). */
	bad += priv_drop("root", dir, &error) != 0;
	bad += getuid() != uid;
	bad += priv_chrooted() != 0;
	bad += getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, dir) != 0;
	bad += access("marker", F_OK) != 0;
	return bad;
}

static int child_drop_to_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");
	const char *error = NULL;
	uid_t uid;
	gid_t gid;
	int bad = 0;

	if (pw == NULL)
		return 100;
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (priv_drop("nobody", dir, &error) != 0) {
		fprintf(stderr, "priv_drop: %s\n", error);
		return 101;
	}
	bad += getuid() != uid || geteuid() != uid;
	bad += getgid() != gid || getegid() != gid;
	bad += priv_chrooted() != 1;
	bad += setuid(0) == 0;
	/* "/" is now the directory: the marker made before is at /marker. */
	bad += access("/marker", F_OK) != 0;
	bad += access(dir, F_OK) == 0;
	return bad;
}

static int child_refuse_root_target(void)
{
	const char *error = NULL;

	if (priv_drop("root", NULL, &error) != -1)
		return 1;
	return strstr(error, "uid 0") == NULL;
}

static int child_unknown_user(void)
{
	const char *error = NULL;

	if (priv_drop("no-such-user-postern", NULL, &error) != -1)
		return 1;
	return strstr(error, "no such user") == NULL;
}

static void test_privdrop_without_root_only_changes_directory(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_non_root_chdir), 0);
}

static void test_privdrop_root_without_user(void **state)
{
	const char *error = NULL;

	(void)state;
	if (geteuid() != 0)
		skip();
	/* Chroot while staying root buys nothing: refused. */
	assert_int_equal(priv_drop(NULL, dir, &error), -1);
	assert_non_null(strstr(error, "no user to drop to"));
	/* No user and no directory: nothing to do. */
	assert_int_equal(priv_drop(NULL, "-", &error), 0);
	assert_int_equal(priv_drop(NULL, NULL, &error), 0);
	assert_int_equal(geteuid(), 0);
}

static void test_privdrop_as_root_chroots_and_changes_ids(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(child_drop_to_nobody), 0);
}

static void test_privdrop_refuses_uid_0_target(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(child_refuse_root_target), 0);
	assert_int_equal(in_child(child_unknown_user), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_privdrop_without_root_only_changes_directory),
		cmocka_unit_test(test_privdrop_root_without_user),
		cmocka_unit_test(test_privdrop_as_root_chroots_and_changes_ids),
		cmocka_unit_test(test_privdrop_refuses_uid_0_target),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
