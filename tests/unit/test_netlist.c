/* Unit tests for common/netlist.c: CIDR lists from the settings
 * (mynetworks and the lists built on it) and client address matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "netlist.h"

static void test_netlist_blocks_and_matches(void **state)
{
	size_t n;
	struct netlist_net *nets = netlist_parse("k", "127.0.0.0/8, [2001:db8::]/32 192.0.2.1  ::1", NULL, 0, &n);

	(void)state;
	assert_int_equal(n, 4);
	assert_true(netlist_match(nets, n, "127.1.2.3"));
	assert_true(netlist_match(nets, n, "::ffff:127.0.0.1"));   /* v4-mapped counts as IPv4 */
	assert_true(netlist_match(nets, n, "2001:db8:1::5"));
	assert_true(netlist_match(nets, n, "192.0.2.1"));
	assert_true(netlist_match(nets, n, "::1"));
	assert_false(netlist_match(nets, n, "192.0.2.2"));
	assert_false(netlist_match(nets, n, "2001:db9::1"));
	assert_false(netlist_match(nets, n, "unknown"));
	assert_false(netlist_match(nets, 0, "127.0.0.1"));
	free(nets);
}

static void test_netlist_mynetworks_stands_for_the_given_blocks(void **state)
{
	size_t nm, n;
	struct netlist_net *mine = netlist_parse("mynetworks", "10.0.0.0/8", NULL, 0, &nm);
	struct netlist_net *nets = netlist_parse("exceptions", "$mynetworks 0.0.0.0/0", mine, nm, &n);

	(void)state;
	assert_int_equal(n, 2);
	assert_true(netlist_match(nets, n, "10.9.8.7"));
	assert_true(netlist_match(nets, n, "198.51.100.1"));   /* prefix 0: every IPv4 address */
	assert_false(netlist_match(nets, n, "2001:db8::1"));
	free(mine);
	free(nets);
}

/* A bad entry is fatal at start: the process exits non-zero. */
static void parse_exits(const char *v, const struct netlist_net *mine, size_t n_mine)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		size_t n;
		close(2);   /* the message goes nowhere */
		netlist_parse("k", v, mine, n_mine, &n);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

static void test_netlist_bad_entries_are_fatal(void **state)
{
	(void)state;
	parse_exits("127.0.0.1/33", NULL, 0);
	parse_exits("::1/129", NULL, 0);
	parse_exits("127.0.0.1/", NULL, 0);
	parse_exits("127.0.0.1/-1", NULL, 0);
	parse_exits("example.org", NULL, 0);
	parse_exits("$mynetworks", NULL, 0);   /* only where a list may name it */
	parse_exits("[127.0.0.1", NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netlist_blocks_and_matches),
		cmocka_unit_test(test_netlist_mynetworks_stands_for_the_given_blocks),
		cmocka_unit_test(test_netlist_bad_entries_are_fatal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
