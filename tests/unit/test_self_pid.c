/* Unit tests for common/self_pid.c: the cached pid is the process's own,
 * also in the child of a fork (never the parent's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "self_pid.h"

static void test_self_pid_is_getpid(void **state)
{
	(void)state;
	assert_int_equal(self_pid(), getpid());
	assert_int_equal(self_pid(), getpid());   /* from the cache */
}

static void test_forked_child_gets_its_own_pid(void **state)
{
	int status;
	pid_t parent = self_pid(), child;

	(void)state;
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(self_pid() == getpid() && self_pid() != parent ? 0 : 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(self_pid(), parent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_pid_is_getpid),
		cmocka_unit_test(test_forked_child_gets_its_own_pid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
