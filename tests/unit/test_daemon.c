/* Unit tests for common/daemon.c: who may connect to a service's Unix
 * listener (daemon_peer_ok and the callers daemon_init resolves). */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon.h"
#include "service_table.h"
#include "sockets.h"

static char tmpdir[64];
static char etc[128];

static int setup_tree(void **state)
{
	char path[192];
	FILE *f;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_daemon_XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(etc, sizeof(etc), "%s/etc", tmpdir);
	snprintf(path, sizeof(path), "%s/postern.conf", etc);
	if (mkdir(etc, 0755) < 0 || (f = fopen(path, "w")) == NULL)
		return -1;
	fclose(f);
	unsetenv("POSTERN_DIR");
	unsetenv("POSTERN_SERVICE");
	unsetenv("POSTERN_USER");
	unsetenv("POSTERN_ROOT");
	unsetenv("LISTEN_PID");
	return 0;
}

static int remove_tree(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* daemon_init for `program -c etc [role]` with listener (or none: -1) as fd 3. */
static void init_with_role(struct daemon *d, const char *program, const char *role, int listener)
{
	char *argv[] = { (char *)program, "-c", etc, (char *)role, NULL };

	if (listener >= 0) {
		assert_int_equal(dup2(listener, DAEMON_LISTEN_FD), DAEMON_LISTEN_FD);
		setenv("LISTEN_FDS", "1", 1);
	} else {
		close(DAEMON_LISTEN_FD);
		unsetenv("LISTEN_FDS");
	}
	optind = 0;   /* glibc: start getopt afresh */
	daemon_init(d, program, role != NULL ? 4 : 3, argv);
}

/* daemon_init for program with listener (or none: -1) as fd 3. */
static void init_with_listener(struct daemon *d, const char *program, int listener)
{
	init_with_role(d, program, NULL, listener);
}

static int has_uid(const struct daemon *d, uid_t uid)
{
	for (size_t i = 0; i < d->ncallers; i++)
		if (d->callers[i] == uid)
			return 1;
	return 0;
}

/* Callers are checked, and are root and user only (in development: root
 * and our own uid); other, a system user that must not call, is out. */
static void assert_root_and_one_caller(const struct daemon *d, const char *user, const char *other)
{
	struct passwd *pw;

	assert_int_equal(d->check_callers, 1);
	assert_true(has_uid(d, 0));
	if (getuid() != 0) {
		/* development: our own uid and root, nobody else */
		assert_true(has_uid(d, getuid()));
		assert_int_equal(d->ncallers, 2);
		return;
	}
	pw = getpwnam(user);
	assert_int_equal(d->ncallers, pw != NULL ? 2 : 1);
	if (pw != NULL)
		assert_true(has_uid(d, pw->pw_uid));
	pw = getpwnam(other);
	if (pw != NULL)
		assert_false(has_uid(d, pw->pw_uid));
}

/* A Unix listener at tmpdir/name; fd. */
static int listen_in_tree(const char *name, char *path, size_t pathlen)
{
	int lfd;

	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	lfd = unix_listen(path, 0600, 4);
	assert_true(lfd >= 0);
	return lfd;
}

static void test_unchecked_daemon_takes_any_peer(void **state)
{
	struct daemon d;
	int p[2];

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_int_equal(pipe(p), 0);
	assert_int_equal(daemon_peer_ok(&d, p[0]), 1);
	close(p[0]);
	close(p[1]);
}

static void test_peer_in_callers_is_let_in(void **state)
{
	struct daemon d;
	int sv[2];

	(void)state;
	memset(&d, 0, sizeof(d));
	d.service = "test";
	d.check_callers = 1;
	d.callers[d.ncallers++] = getuid();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(daemon_peer_ok(&d, sv[0]), 1);
	close(sv[0]);
	close(sv[1]);
}

static void test_peer_not_in_callers_is_refused(void **state)
{
	struct daemon d;
	int sv[2];

	(void)state;
	memset(&d, 0, sizeof(d));
	d.service = "test";
	d.check_callers = 1;
	d.callers[d.ncallers++] = getuid() + 4242;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(daemon_peer_ok(&d, sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
}

static void test_peer_without_credentials_is_refused(void **state)
{
	struct daemon d;
	int p[2];

	(void)state;
	memset(&d, 0, sizeof(d));
	d.service = "test";
	d.check_callers = 1;
	d.callers[d.ncallers++] = getuid();
	assert_int_equal(pipe(p), 0);
	assert_int_equal(daemon_peer_ok(&d, p[0]), 0);
	close(p[0]);
	close(p[1]);
}

static void test_unix_listener_of_local_lets_in_root_and_qmgr_only(void **state)
{
	char path[192];
	struct daemon d;
	int lfd;

	(void)state;
	lfd = listen_in_tree("local.sock", path, sizeof(path));
	init_with_listener(&d, "local", lfd);
	assert_root_and_one_caller(&d, "postern-queue", "postern-smtpd");
	close(lfd);
	unlink(path);
}

static void test_pickup_takes_anyone(void **state)
{
	char path[192];
	struct daemon d;
	int lfd;

	(void)state;
	lfd = listen_in_tree("pickup.sock", path, sizeof(path));
	init_with_listener(&d, "pickup", lfd);
	assert_int_equal(d.check_callers, 0);
	assert_int_equal(d.from_front, 0);
	close(lfd);
	unlink(path);
}

/* A network service on a Unix listener is fed by the connection front
 * (docs/front.md): root and the front's user only. */
static void test_smtpd_on_a_unix_listener_takes_the_front_only(void **state)
{
	char path[192];
	struct daemon d;
	int lfd;

	(void)state;
	lfd = listen_in_tree("smtp.sock", path, sizeof(path));
	init_with_listener(&d, "smtpd", lfd);
	assert_int_equal(d.from_front, 1);
	assert_root_and_one_caller(&d, SERVICE_FRONT_USER, "postern-smtpd");
	close(lfd);
	unlink(path);
}

/* metrics on a Unix listener serves local scrapers, not the front: the
 * directory of its socket decides who reaches it. */
static void test_metrics_on_a_unix_listener_checks_nobody(void **state)
{
	char path[192];
	struct daemon d;
	int lfd, sv[2];

	(void)state;
	lfd = listen_in_tree("metrics.sock", path, sizeof(path));
	init_with_listener(&d, "metrics", lfd);
	assert_int_equal(d.from_front, 0);
	assert_int_equal(d.check_callers, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(daemon_peer_ok(&d, sv[0]), 1);
	close(sv[0]);
	close(sv[1]);
	close(lfd);
	unlink(path);
}

static void test_unknown_program_lets_in_root_only(void **state)
{
	char path[192];
	struct daemon d;
	int lfd;

	(void)state;
	lfd = listen_in_tree("other.sock", path, sizeof(path));
	init_with_listener(&d, "no-such-program", lfd);
	assert_int_equal(d.check_callers, 1);
	assert_true(has_uid(&d, 0));
	assert_int_equal(d.ncallers, getuid() == 0 ? 1 : 2);
	close(lfd);
	unlink(path);
}

static void test_tcp_listener_is_not_checked(void **state)
{
	const char *error = NULL;
	struct daemon d;
	int lfd;

	(void)state;
	lfd = inet_listen("127.0.0.1:0", 4, &error);
	assert_true(lfd >= 0);
	init_with_listener(&d, "enqueue", lfd);
	assert_int_equal(d.check_callers, 0);
	close(lfd);
}

static void test_no_listener_is_not_checked(void **state)
{
	struct daemon d;

	(void)state;
	init_with_listener(&d, "enqueue", -1);
	assert_int_equal(d.listen_fd, -1);
	assert_int_equal(d.check_callers, 0);
}

/* The role argument selects the row of the service table: `popd
 * session` is the unix service pop3-session, called by the login
 * processes only; `popd` is the network-facing login process. */
static void test_popd_session_role_lets_in_the_login_user_only(void **state)
{
	char path[192];
	struct daemon d;
	int lfd;

	(void)state;
	lfd = listen_in_tree("session.sock", path, sizeof(path));
	init_with_role(&d, "popd", "session", lfd);
	assert_string_equal(d.service, "pop3-session");
	assert_string_equal(d.user, "postern-vmail");
	assert_string_equal(d.root, "mail");
	assert_int_equal(d.argc, 1);   /* the role stays an argument (d.argv points into argv) */
	assert_root_and_one_caller(&d, "postern-login", "postern-smtpd");
	init_with_role(&d, "popd", "tls", lfd);
	assert_string_equal(d.service, "pop3s");
	assert_string_equal(d.user, "postern-login");
	assert_string_equal(d.root, "run/jail");
	assert_int_equal(d.from_front, 1);   /* a login row on a Unix listener: the front's */
	init_with_listener(&d, "popd", lfd);
	assert_string_equal(d.service, "pop3");
	assert_int_equal(d.from_front, 1);
	close(lfd);
	unlink(path);
}

/* authd's callers are derived from three rows of three users. */
static void test_authd_lets_in_smtpd_login_and_session_users(void **state)
{
	static const char *const users[] = { "postern-smtpd", "postern-login", "postern-vmail" };
	char path[192];
	struct daemon d;
	size_t want = 1;
	int lfd;

	(void)state;
	lfd = listen_in_tree("authd.sock", path, sizeof(path));
	init_with_listener(&d, "authd", lfd);
	assert_string_equal(d.service, "authd");
	assert_int_equal(d.check_callers, 1);
	if (getuid() == 0) {
		for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
			struct passwd *pw = getpwnam(users[i]);
			if (pw != NULL) {
				assert_true(has_uid(&d, pw->pw_uid));
				want++;
			}
		}
		assert_int_equal(d.ncallers, want);
	}
	close(lfd);
	unlink(path);
}

/* The installed tree: DIR/etc is a link to /etc/postern; the tree is
 * where the link is, the configuration where it points. */
static void test_linked_etc_gives_the_tree_of_the_link(void **state)
{
	char conf[128], tree[128], link[160], file[160], want_tree[PATH_MAX], want_etc[PATH_MAX];
	char *argv[] = { "enqueue", "-c", link, NULL };
	struct daemon d;
	FILE *f;

	(void)state;
	snprintf(conf, sizeof conf, "%s/etc-postern", tmpdir);
	snprintf(tree, sizeof tree, "%s/var-lib-postern", tmpdir);
	snprintf(link, sizeof link, "%s/etc", tree);
	snprintf(file, sizeof file, "%s/postern.conf", conf);
	assert_int_equal(mkdir(conf, 0755), 0);
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(symlink(conf, link), 0);
	assert_non_null(f = fopen(file, "w"));
	fclose(f);
	assert_non_null(realpath(tree, want_tree));
	assert_non_null(realpath(conf, want_etc));
	close(DAEMON_LISTEN_FD);
	unsetenv("LISTEN_FDS");
	optind = 0;
	daemon_init(&d, "enqueue", 3, argv);
	assert_string_equal(d.base_dir, want_tree);
	assert_string_equal(d.etc_dir, want_etc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchecked_daemon_takes_any_peer),
		cmocka_unit_test(test_peer_in_callers_is_let_in),
		cmocka_unit_test(test_peer_not_in_callers_is_refused),
		cmocka_unit_test(test_peer_without_credentials_is_refused),
		cmocka_unit_test(test_unix_listener_of_local_lets_in_root_and_qmgr_only),
		cmocka_unit_test(test_pickup_takes_anyone),
		cmocka_unit_test(test_metrics_on_a_unix_listener_checks_nobody),
		cmocka_unit_test(test_smtpd_on_a_unix_listener_takes_the_front_only),
		cmocka_unit_test(test_unknown_program_lets_in_root_only),
		cmocka_unit_test(test_tcp_listener_is_not_checked),
		cmocka_unit_test(test_no_listener_is_not_checked),
		cmocka_unit_test(test_popd_session_role_lets_in_the_login_user_only),
		cmocka_unit_test(test_authd_lets_in_smtpd_login_and_session_users),
		cmocka_unit_test(test_linked_etc_gives_the_tree_of_the_link),
	};

	return cmocka_run_group_tests(tests, setup_tree, remove_tree);
}
