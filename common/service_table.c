/* service_table: Postern's services, written once.
 *
 * Offers: the rows below (service_table.h) and what is derived from them:
 * the row a running program is (by command and role argument), the
 * users allowed on a unix service's socket (those of every service that
 * uses it, docs/tree.md "Roots and sockets").  The readers: tools/postern_conf.c writes the
 * default master.conf (name, type, listen, user, root, maxproc, command
 * [args]); master/master_service.c links into each root the sockets that
 * the rows of its services use; common/daemon.c takes a program's default
 * user and root and its callers; `postern services` prints the table for
 * the tests (tests/integration/postern_harness.py).
 *
 * A use is a socket name: the master links a root's processes to the
 * unix services they use, and the service lets in the users of the
 * services that use it.  So the two sides of one connection cannot
 * disagree.  Root is always a caller as well (daemon.c); authd narrows
 * each of its commands to one caller itself (auth/authd.c).
 *
 * Trusts: nothing; the table is ours, and tests/unit/test_service_table.c
 * checks it (unique names and roles, uses of unix services only).
 *
 * Fails: lookups return NULL or 0; nothing allocates. */
#include "service_table.h"

#include <stdio.h>
#include <string.h>

/* DESIGN.md's "Processes and privileges", in the order of master.conf.
 * IMAP's rows are shaped as the POP3 rows are. */
static const struct service_entry service_rows[] = {
	/* SMTP, submission, SMTPS: submit to enqueue, authenticate through
	 * authd, verify recipients of LMTP domains at RCPT time. */
	{ "smtp", SERVICE_KIND_INET, 25, "postern-smtpd", "run/jail", 100, "smtpd", NULL, 0,
	  { "enqueue", "authd", "verify" }, 0, 0, 0, 0 },
	{ "submission", SERVICE_KIND_INET, 587, "postern-smtpd", "run/jail", 100, "smtpd", "submission", 0,
	  { "enqueue", "authd", "verify" }, 0, 0, 0, 0 },
	{ "smtps", SERVICE_KIND_INET, 465, "postern-smtpd", "run/jail", 100, "smtpd", "smtps", 0,
	  { "enqueue", "authd", "verify" }, 0, 0, 0, 0 },
	/* writes queue files (has submitted mail signed) and pokes qmgr */
	{ "enqueue", SERVICE_KIND_UNIX, 0, "postern-queue", "queue", 20, "enqueue", NULL, 0,
	  { "qmgr", "dkim-sign" }, 0, 0, 0, 0 },
	/* hands recipients to the delivery agents */
	{ "qmgr", SERVICE_KIND_UNIX, 0, "postern-queue", "queue", 1, "qmgr", NULL, 0, { "local", "remote" }, 0, 0, 1, 0 },
	/* forwarding re-enters through enqueue */
	{ "local", SERVICE_KIND_UNIX, 0, "postern-vmail", "mail", 20, "local", NULL, 0, { "enqueue" }, 0, 0, 0, 0 },
	/* the network and DNS only */
	{ "remote", SERVICE_KIND_UNIX, 0, "postern-smtp", "run/jail", 20, "remote", NULL, 0, { NULL }, 0, 0, 0, 0 },
	/* LMTP servers only */
	{ "verify", SERVICE_KIND_UNIX, 0, "postern-vmail", "mail", 20, "verify", NULL, 0, { NULL }, 0, 0, 0, 0 },
	/* Every local user reaches it through DIR/public/pickup, and it
	 * identifies the submitter itself (SO_PEERCRED); qmgr for cmd=flush. */
	{ "pickup", SERVICE_KIND_UNIX, 0, "postern-queue", "queue", 10, "pickup", NULL, 1,
	  { "enqueue", "qmgr" }, 0, 0, 0, 0 },
	/* the DKIM keys: signs digests for enqueue, parses no message */
	{ "dkim-sign", SERVICE_KIND_UNIX, 0, "postern-dkim", "run/jail", 4, "dkim-sign", NULL, 0, { NULL }, 0, 0, 0, 0 },
	/* the password database; answers only */
	{ "authd", SERVICE_KIND_UNIX, 0, "postern-auth", "-", 10, "authd", NULL, 0, { NULL }, 0, 0, 0, 0 },
	/* POP3 login processes: a ticket from authd, then the client to the
	 * session service. */
	{ "pop3", SERVICE_KIND_INET, 110, "postern-login", "run/jail", 100, "popd", NULL, 0,
	  { "authd", "pop3-session" }, 0, 0, 0, 0 },
	{ "pop3s", SERVICE_KIND_INET, 995, "postern-login", "run/jail", 100, "popd", "tls", 0,
	  { "authd", "pop3-session" }, 0, 0, 0, 0 },
	/* the mailbox of one user: redeems the ticket with authd */
	{ "pop3-session", SERVICE_KIND_UNIX, 0, "postern-vmail", "mail", 100, "popd", "session", 0,
	  { "authd" }, 0, 0, 0, 0 },
	/* IMAP login processes, as for POP3 */
	{ "imap", SERVICE_KIND_INET, 143, "postern-login", "run/jail", 100, "imapd", NULL, 0,
	  { "authd", "imap-session" }, 0, 0, 0, 0 },
	{ "imaps", SERVICE_KIND_INET, 993, "postern-login", "run/jail", 100, "imapd", "tls", 0,
	  { "authd", "imap-session" }, 0, 0, 0, 0 },
	/* the mailboxes of one user; hands a session idle in IDLE to
	 * imap-hibernate and takes it back from there.  Few spares: a
	 * process freed by a hibernation exits unless it is needed. */
	{ "imap-session", SERVICE_KIND_UNIX, 0, "postern-vmail", "mail", 500, "imapd", "session", 0,
	  { "authd", "imap-hibernate" }, 4, 0, 0, 0 },
	/* holds the hibernated IMAP sessions (one process, many clients);
	 * wakes each in imap-session */
	{ "imap-hibernate", SERVICE_KIND_UNIX, 0, "postern-vmail", "mail", 1, "imapd", "hibernate", 0,
	  { "imap-session" }, 0, 0, 0, 0 },
	/* OpenMetrics over HTTP (docs/metrics.md): off until the operator
	 * enables its line; one process, of a user of its own, that talks
	 * to nobody (the counters come to it on fd 7). */
	{ "metrics", SERVICE_KIND_INET, 9155, "postern-metrics", "run/jail", 1, "metrics", NULL, 0,
	  { NULL }, 0, 1, 1, 1 },
};

#define SERVICE_NROWS (sizeof service_rows / sizeof service_rows[0])

const struct service_entry *service_table_get(size_t i)
{
	return i < SERVICE_NROWS ? &service_rows[i] : NULL;
}

const struct service_entry *service_table_find(const char *name)
{
	for (size_t i = 0; i < SERVICE_NROWS; i++)
		if (strcmp(service_rows[i].name, name) == 0)
			return &service_rows[i];
	return NULL;
}

/* Whether the first word of args is arg. */
static int service_table_role_is(const char *args, const char *arg)
{
	size_t len = strcspn(args, " ");

	return strlen(arg) == len && memcmp(args, arg, len) == 0;
}

const struct service_entry *service_table_for_command(const char *command, const char *arg)
{
	const struct service_entry *plain = NULL;

	for (size_t i = 0; i < SERVICE_NROWS; i++) {
		const struct service_entry *e = &service_rows[i];
		if (strcmp(e->command, command) != 0)
			continue;
		if (e->args == NULL) {
			if (plain == NULL)
				plain = e;
		} else if (arg != NULL && service_table_role_is(e->args, arg)) {
			return e;
		}
	}
	return plain;
}

int service_table_log_name(const char *service, const char *command, char *out, size_t len)
{
	/* Postfix's program names, which pflogsumm and the Prometheus
	 * exporter key on: its SMTP server and client (docs/operator.md, "Logs"). */
	static const struct { const char *command, *service, *role; } roles[] = {
		{ "smtpd", "smtp", "smtpd" },
		{ "remote", "remote", "smtp" },
	};
	int n = snprintf(out, len, "%s", service);

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (command == NULL || strcmp(command, roles[i].command) != 0)
			continue;
		/* Another service of the role: SERVICE/ROLE, as Postfix's
		 * master.cf does with syslog_name=postfix/submission. */
		n = strcmp(service, roles[i].service) == 0 ? snprintf(out, len, "%s", roles[i].role)
			: snprintf(out, len, "%s/%s", service, roles[i].role);
		break;
	}
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int service_table_uses(const struct service_entry *e, const char *name)
{
	for (size_t k = 0; k < SERVICE_USES_MAX && e->uses[k] != NULL; k++)
		if (strcmp(e->uses[k], name) == 0)
			return 1;
	return 0;
}

int service_table_checks_callers(const struct service_entry *e)
{
	return e->kind == SERVICE_KIND_UNIX && !e->anyone;
}

/* Whether row i counts: it uses used, or used is NULL (every row). */
static int service_table_counts(size_t i, const struct service_entry *used)
{
	return used == NULL || service_table_uses(&service_rows[i], used->name);
}

/* The distinct users of the rows that count, in table order; at most max
 * stored, all counted. */
static size_t service_table_distinct_users(const struct service_entry *used, const char **users_r,
					   size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < SERVICE_NROWS; i++) {
		int seen = 0;
		if (!service_table_counts(i, used))
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = service_table_counts(j, used) &&
			       strcmp(service_rows[j].user, service_rows[i].user) == 0;
		if (seen)
			continue;
		if (n < max)
			users_r[n] = service_rows[i].user;
		n++;
	}
	return n;
}

size_t service_table_callers(const struct service_entry *e, const char **users_r, size_t max)
{
	return service_table_distinct_users(e, users_r, max);
}

size_t service_table_users(const char **users_r, size_t max)
{
	return service_table_distinct_users(NULL, users_r, max);
}
