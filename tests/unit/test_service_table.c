/* Unit tests for common/service_table.c: the table is consistent, and
 * what is derived from it (the callers each unix service lets in, the
 * socket links of each root, the row of a program) is what docs/tree.md
 * promises.  The expectations are written out here, not derived, so a
 * row that changes who may talk to whom fails until the docs and this
 * test are changed with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "service_table.h"

#define MAX_NAMES 16

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* names[0..n), sorted, as one comma-separated string. */
static void joined(const char **names, size_t n, char *out, size_t outlen)
{
	size_t len = 0;

	qsort(names, n, sizeof names[0], cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + len, outlen - len, "%s%s", i > 0 ? "," : "", names[i]);
		assert_true(w >= 0 && (size_t)w < outlen - len);
		len += (size_t)w;
	}
}

static void assert_callers(const char *service, const char *want)
{
	const struct service_entry *e = service_table_find(service);
	const char *users[MAX_NAMES];
	char got[512];
	size_t n;

	assert_non_null(e);
	assert_true(service_table_checks_callers(e));
	n = service_table_callers(e, users, MAX_NAMES);
	assert_true(n <= MAX_NAMES);
	joined(users, n, got, sizeof got);
	assert_string_equal(got, want);
}

/* Names are unique, each row is found by its command and role (else its
 * process would take another row's user, root and callers), inet rows
 * have a port and unix rows none, no row uses itself. */
/* The log tag's SERVICE: Postfix's program names for the SMTP server
 * and client, SERVICE/ROLE for another service of the same program. */
static void test_log_names(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(service_table_log_name("smtp", "smtpd", out, sizeof(out)), 0);
	assert_string_equal(out, "smtpd");
	assert_int_equal(service_table_log_name("submission", "smtpd", out, sizeof(out)), 0);
	assert_string_equal(out, "submission/smtpd");
	assert_int_equal(service_table_log_name("remote", "remote", out, sizeof(out)), 0);
	assert_string_equal(out, "smtp");
	assert_int_equal(service_table_log_name("qmgr", "qmgr", out, sizeof(out)), 0);
	assert_string_equal(out, "qmgr");
	assert_int_equal(service_table_log_name("pop3-session", "popd", out, sizeof(out)), 0);
	assert_string_equal(out, "pop3-session");
	assert_int_equal(service_table_log_name("submission", "smtpd", out, 8), -1);
}

static void test_table_is_consistent(void **state)
{
	size_t rows = 0;

	(void)state;
	for (size_t i = 0; service_table_get(i) != NULL; i++) {
		const struct service_entry *e = service_table_get(i);
		char role[64] = "";
		rows++;
		assert_ptr_equal(service_table_find(e->name), e);
		if (e->args != NULL) {
			size_t len = strcspn(e->args, " ");
			assert_true(len > 0 && len < sizeof role);
			memcpy(role, e->args, len);
			role[len] = '\0';
		}
		if (service_table_for_command(e->command, e->args != NULL ? role : NULL) != e)
			fail_msg("%s: its command and role select another row", e->name);
		assert_int_equal(e->kind == SERVICE_KIND_INET, e->port != 0);
		assert_true(e->maxproc > 0);
		assert_false(service_table_uses(e, e->name));
		assert_false(e->anyone && e->kind != SERVICE_KIND_UNIX);
		/* only metrics serves local programs; the rest of the inet
		 * rows take the front's clients on a unix listener */
		assert_int_equal(e->local_clients, strcmp(e->name, "metrics") == 0);
	}
	assert_int_equal(rows, 19);
	assert_null(service_table_get(rows));
}

/* The callers table common/daemon.c had before the service table, and
 * docs/tree.md's "may be called by". */
static void test_callers_of_each_unix_service(void **state)
{
	(void)state;
	assert_callers("enqueue", "postern-queue,postern-smtpd,postern-vmail");   /* pickup, smtpd, local */
	assert_callers("qmgr", "postern-queue");                                  /* enqueue, pickup */
	assert_callers("local", "postern-queue");                                 /* qmgr */
	assert_callers("remote", "postern-queue");                                /* qmgr */
	assert_callers("verify", "postern-smtpd");                                /* RCPT of LMTP domains */
	assert_callers("authd", "postern-login,postern-smtpd,postern-vmail");     /* login, smtpd, session */
	assert_callers("pop3-session", "postern-login");                          /* the login process */
	assert_callers("imap-session", "postern-login,postern-vmail");            /* login, imap-hibernate */
	assert_callers("imap-hibernate", "postern-vmail");                        /* imap-session */
	assert_callers("dkim-sign", "postern-queue");                             /* enqueue only */
}

/* Only imap-session keeps few spares (its processes are freed by
 * hibernation); the rest have daemon_idle_timeout. */
static void test_spares(void **state)
{
	(void)state;
	for (size_t i = 0; service_table_get(i) != NULL; i++) {
		const struct service_entry *e = service_table_get(i);
		if (strcmp(e->name, "imap-session") == 0)
			assert_true(e->spares >= 1 && e->spares < e->maxproc);
		else
			assert_int_equal(e->spares, 0);
	}
	assert_int_equal(service_table_find("imap-hibernate")->maxproc, 1);
}

static void test_every_unix_service_is_listed_here(void **state)
{
	static const char *const checked[] = { "enqueue", "qmgr", "local", "remote", "verify",
					       "authd", "pop3-session", "imap-session", "imap-hibernate", "pickup",
					       "dkim-sign" };
	size_t unix_rows = 0;

	(void)state;
	for (size_t i = 0; service_table_get(i) != NULL; i++) {
		const struct service_entry *e = service_table_get(i);
		int known = 0;
		if (e->kind != SERVICE_KIND_UNIX)
			continue;
		unix_rows++;
		for (size_t k = 0; k < sizeof checked / sizeof checked[0]; k++)
			known |= strcmp(checked[k], e->name) == 0;
		if (!known)
			fail_msg("unix service %s: add its callers to this test and docs/tree.md", e->name);
	}
	assert_int_equal(unix_rows, sizeof checked / sizeof checked[0]);
}

static void test_network_services_and_pickup_check_no_caller(void **state)
{
	static const char *const open[] = { "smtp", "submission", "smtps", "pop3", "pop3s", "imap", "imaps",
					    "pickup" };

	(void)state;
	for (size_t i = 0; i < sizeof open / sizeof open[0]; i++) {
		const struct service_entry *e = service_table_find(open[i]);
		assert_non_null(e);
		assert_false(service_table_checks_callers(e));
	}
	/* pickup is reached by every local user through public/pickup */
	assert_true(service_table_find("pickup")->anyone);
	assert_int_equal(service_table_find("pickup")->kind, SERVICE_KIND_UNIX);
}

static void test_no_service_uses_an_unknown_one(void **state)
{
	(void)state;
	for (size_t i = 0; service_table_get(i) != NULL; i++) {
		const struct service_entry *e = service_table_get(i);
		for (size_t k = 0; k < SERVICE_USES_MAX && e->uses[k] != NULL; k++) {
			const struct service_entry *u = service_table_find(e->uses[k]);
			if (u == NULL || u->kind != SERVICE_KIND_UNIX)
				fail_msg("%s uses %s, which is no unix service", e->name, e->uses[k]);
		}
	}
}

/* The sockets the master links into root: every use of a row in root. */
static void root_links(const char *root, char *out, size_t outlen)
{
	const char *names[MAX_NAMES];
	size_t n = 0;

	for (size_t i = 0; service_table_get(i) != NULL; i++) {
		const struct service_entry *e = service_table_get(i);
		if (strcmp(e->root, root) != 0)
			continue;
		for (size_t k = 0; k < SERVICE_USES_MAX && e->uses[k] != NULL; k++) {
			int seen = 0;
			for (size_t j = 0; j < n; j++)
				seen |= strcmp(names[j], e->uses[k]) == 0;
			if (!seen) {
				assert_true(n < MAX_NAMES);
				names[n++] = e->uses[k];
			}
		}
	}
	joined(names, n, out, outlen);
}

/* docs/tree.md's "Roots and sockets" table. */
static void test_links_of_every_root(void **state)
{
	char got[512];

	(void)state;
	root_links("run/jail", got, sizeof got);
	assert_string_equal(got, "authd,enqueue,imap-session,pop3-session,verify");
	root_links("queue", got, sizeof got);
	assert_string_equal(got, "dkim-sign,enqueue,local,qmgr,remote");
	root_links("mail", got, sizeof got);
	assert_string_equal(got, "authd,enqueue,imap-hibernate,imap-session");
	root_links("-", got, sizeof got);
	assert_string_equal(got, "");
	for (size_t i = 0; service_table_get(i) != NULL; i++) {
		const char *root = service_table_get(i)->root;
		if (strcmp(root, "run/jail") != 0 && strcmp(root, "queue") != 0 &&
		    strcmp(root, "mail") != 0 && strcmp(root, "-") != 0)
			fail_msg("root %s: add its links to this test and docs/tree.md", root);
	}
}

static void assert_row(const char *command, const char *arg, const char *want)
{
	const struct service_entry *e = service_table_for_command(command, arg);

	if (want == NULL) {
		assert_null(e);
		return;
	}
	assert_non_null(e);
	assert_string_equal(e->name, want);
}

/* What master.conf's command column selects (the master's links, a
 * daemon's defaults and callers). */
static void test_row_of_command_and_role(void **state)
{
	(void)state;
	assert_row("smtpd", NULL, "smtp");
	assert_row("smtpd", "smtp", "smtp");          /* an unknown role: the plain row */
	assert_row("smtpd", "submission", "submission");
	assert_row("smtpd", "smtps", "smtps");
	assert_row("popd", NULL, "pop3");
	assert_row("popd", "tls", "pop3s");
	assert_row("popd", "session", "pop3-session");
	assert_row("popd", "sessionx", "pop3");
	assert_row("imapd", NULL, "imap");
	assert_row("imapd", "tls", "imaps");
	assert_row("imapd", "session", "imap-session");
	assert_row("imapd", "hibernate", "imap-hibernate");
	assert_row("enqueue", NULL, "enqueue");
	assert_row("authd", NULL, "authd");
	assert_row("no-such-program", NULL, NULL);
	assert_row("no-such-program", "session", NULL);
}

static void test_users_are_the_seven_system_users(void **state)
{
	const char *users[MAX_NAMES];
	char got[512];
	size_t n;

	(void)state;
	n = service_table_users(users, MAX_NAMES);
	assert_true(n <= MAX_NAMES);
	joined(users, n, got, sizeof got);
	assert_string_equal(got, "postern-auth,postern-dkim,postern-login,postern-metrics,postern-queue,"
			    "postern-smtp,postern-smtpd,postern-vmail");
	/* a cut list still counts them all */
	assert_int_equal(service_table_users(users, 2), 8);
}

/* DESIGN.md's operator interface: N + 25, 587, 465, 110, 995, 143, 993;
 * and the metrics service (off by default: docs/metrics.md) N + 9155. */
static void test_inet_ports(void **state)
{
	static const struct { const char *name; unsigned port; } want[] = {
		{ "smtp", 25 }, { "submission", 587 }, { "smtps", 465 }, { "pop3", 110 }, { "pop3s", 995 },
		{ "imap", 143 }, { "imaps", 993 }, { "metrics", 9155 },
	};
	size_t inet = 0;

	(void)state;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct service_entry *e = service_table_find(want[i].name);
		assert_non_null(e);
		assert_int_equal(e->kind, SERVICE_KIND_INET);
		assert_int_equal(e->port, want[i].port);
	}
	for (size_t i = 0; service_table_get(i) != NULL; i++)
		inet += service_table_get(i)->kind == SERVICE_KIND_INET;
	assert_int_equal(inet, sizeof want / sizeof want[0]);
	/* the one service off by default */
	for (size_t i = 0; service_table_get(i) != NULL; i++)
		assert_int_equal(service_table_get(i)->off, strcmp(service_table_get(i)->name, "metrics") == 0);
}

/* The master keeps a process only of the services that work without a
 * client: qmgr runs the queue on its timers, metrics drains the event
 * socket.  Every other one is started when a client waits. */
static void test_resident_services(void **state)
{
	(void)state;
	for (size_t i = 0; service_table_get(i) != NULL; i++) {
		const struct service_entry *e = service_table_get(i);
		assert_int_equal(e->resident, strcmp(e->name, "qmgr") == 0 || strcmp(e->name, "metrics") == 0);
	}
}

/* `postern services` prints rows as tab-separated text lines. */
static void test_no_field_holds_a_tab_or_newline(void **state)
{
	(void)state;
	for (size_t i = 0; service_table_get(i) != NULL; i++) {
		const struct service_entry *e = service_table_get(i);
		const char *fields[] = { e->name, e->user, e->root, e->command, e->args };
		for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
			if (fields[k] != NULL && (fields[k][0] == '\0' || strpbrk(fields[k], "\t\n,") != NULL))
				fail_msg("%s: field %zu is empty or holds a tab, newline or comma", e->name, k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_is_consistent),
		cmocka_unit_test(test_log_names),
		cmocka_unit_test(test_callers_of_each_unix_service),
		cmocka_unit_test(test_spares),
		cmocka_unit_test(test_every_unix_service_is_listed_here),
		cmocka_unit_test(test_network_services_and_pickup_check_no_caller),
		cmocka_unit_test(test_no_service_uses_an_unknown_one),
		cmocka_unit_test(test_links_of_every_root),
		cmocka_unit_test(test_row_of_command_and_role),
		cmocka_unit_test(test_users_are_the_seven_system_users),
		cmocka_unit_test(test_inet_ports),
		cmocka_unit_test(test_no_field_holds_a_tab_or_newline),
		cmocka_unit_test(test_resident_services),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
