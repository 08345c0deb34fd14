/* Unit tests for common/layout.c: the tree of a configuration directory
 * is the directory that holds it as named (so the installed DIR/etc can
 * be a link to /etc/postern), the installed paths move under
 * POSTERN_SYSROOT, and the program directory is found beside the
 * executable or in ../libexec/postern. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "layout.h"

static char top[64];

static int make_top(void **state)
{
	(void)state;
	snprintf(top, sizeof top, "/tmp/test_layout_XXXXXX");
	return mkdtemp(top) == NULL ? -1 : 0;
}

static int remove_top(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", top);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t len, const char *rel)
{
	assert_true((size_t)snprintf(out, len, "%s/%s", top, rel) < len);
}

static void test_tree_of_a_plain_etc_is_its_parent(void **state)
{
	char etc[PATH_MAX], tree[PATH_MAX], want[PATH_MAX], out[PATH_MAX];

	(void)state;
	path_of(tree, sizeof tree, "plain");
	path_of(etc, sizeof etc, "plain/etc");
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(mkdir(etc, 0755), 0);
	assert_non_null(realpath(tree, want));
	assert_int_equal(layout_tree_of_etc(etc, out, sizeof out), 0);
	assert_string_equal(out, want);
	/* Trailing slashes change nothing. */
	path_of(etc, sizeof etc, "plain/etc//");
	assert_int_equal(layout_tree_of_etc(etc, out, sizeof out), 0);
	assert_string_equal(out, want);
}

static void test_tree_of_a_linked_etc_is_where_the_link_is(void **state)
{
	char conf[PATH_MAX], tree[PATH_MAX], link[PATH_MAX], want[PATH_MAX], out[PATH_MAX];

	(void)state;
	/* The installed layout: DIR/etc -> /etc/postern. */
	path_of(conf, sizeof conf, "etc-postern");
	path_of(tree, sizeof tree, "var-lib-postern");
	path_of(link, sizeof link, "var-lib-postern/etc");
	assert_int_equal(mkdir(conf, 0755), 0);
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(symlink(conf, link), 0);
	assert_non_null(realpath(tree, want));
	assert_int_equal(layout_tree_of_etc(link, out, sizeof out), 0);
	assert_string_equal(out, want);
}

static void test_tree_of_a_relative_etc(void **state)
{
	char cwd[PATH_MAX], dir[PATH_MAX], want[PATH_MAX], out[PATH_MAX];

	(void)state;
	path_of(dir, sizeof dir, "rel");
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(mkdir("etc", 0755), 0);
	assert_non_null(realpath(".", want));
	assert_int_equal(layout_tree_of_etc("etc", out, sizeof out), 0);
	assert_string_equal(out, want);
	assert_int_equal(layout_tree_of_etc("./etc", out, sizeof out), 0);
	assert_string_equal(out, want);
	assert_int_equal(chdir(cwd), 0);
}

static void test_tree_of_dot_or_dotdot_is_refused(void **state)
{
	char out[PATH_MAX];

	(void)state;
	assert_int_equal(layout_tree_of_etc("/tmp/.", out, sizeof out), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(layout_tree_of_etc("/tmp/x/..", out, sizeof out), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(layout_tree_of_etc("/", out, sizeof out), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_tree_too_long_for_out(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(layout_tree_of_etc("/tmp/etc", out, sizeof out), -1);
	assert_int_equal(errno, ENOSPC);
}

static void test_installed_paths_under_sysroot(void **state)
{
	char out[PATH_MAX], small[8];

	(void)state;
	unsetenv(LAYOUT_SYSROOT_ENV);
	assert_int_equal(layout_path(LAYOUT_TREE, out, sizeof out), 0);
	assert_string_equal(out, "/var/lib/postern");
	setenv(LAYOUT_SYSROOT_ENV, "/tmp/root", 1);
	assert_int_equal(layout_path(LAYOUT_ETC, out, sizeof out), 0);
	assert_string_equal(out, "/tmp/root/etc/postern");
	assert_int_equal(layout_path(LAYOUT_QUEUE, out, sizeof out), 0);
	assert_string_equal(out, "/tmp/root/var/spool/postern");
	assert_int_equal(layout_path(LAYOUT_RUN, small, sizeof small), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	unsetenv(LAYOUT_SYSROOT_ENV);
}

static void test_program_dir_is_beside_the_executable(void **state)
{
	char self[PATH_MAX], out[PATH_MAX];
	ssize_t n;

	(void)state;
	/* This test's directory holds no `master` and has no
	 * ../libexec/postern: the executable's own directory. */
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	assert_true(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	assert_int_equal(layout_program_dir(out, sizeof out), 0);
	assert_string_equal(out, self);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_of_a_plain_etc_is_its_parent),
		cmocka_unit_test(test_tree_of_a_linked_etc_is_where_the_link_is),
		cmocka_unit_test(test_tree_of_a_relative_etc),
		cmocka_unit_test(test_tree_of_dot_or_dotdot_is_refused),
		cmocka_unit_test(test_tree_too_long_for_out),
		cmocka_unit_test(test_installed_paths_under_sysroot),
		cmocka_unit_test(test_program_dir_is_beside_the_executable),
	};

	return cmocka_run_group_tests(tests, make_top, remove_top);
}
