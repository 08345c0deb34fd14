/* service_table: the one table of Postern's services (DESIGN.md,
 * "Processes and privileges").  Each row is a line of the default
 * master.conf plus who the service talks to; everything else is derived:
 * `postern init` writes master.conf from the rows, the master links into
 * each root the sockets its processes use, each daemon lets in the users
 * of the services that use it, and the tests read it through the hidden
 * `postern services`.  A new service (imapd) is new rows, nothing else. */
#ifndef POSTERN_SERVICE_TABLE_H
#define POSTERN_SERVICE_TABLE_H

#include <stddef.h>

#define SERVICE_USES_MAX 4   /* unix services one service connects to */
/* The user of the connection front (front/front.c, docs/front.md): the
 * one caller, with root, of an inet service that listens on a Unix
 * socket for the clients the front passes on.  The POP3/IMAP login
 * user: unprivileged, jailed in the empty run/jail, and a front that
 * reads the same untrusted input gains nothing from it. */
#define SERVICE_FRONT_USER "postern-login"

enum service_kind { SERVICE_KIND_INET, SERVICE_KIND_UNIX };

struct service_entry {
	const char *name;      /* master.conf name: log tag, title; a unix service's socket */
	enum service_kind kind;
	unsigned port;         /* inet: standard port, listened on at port base + port */
	const char *user;      /* system user it runs as (as root) */
	const char *root;      /* directory relative to DIR it is chrooted into, "-" for DIR */
	unsigned maxproc;      /* most processes */
	const char *command;   /* program in program_directory */
	const char *args;      /* arguments after -c DIR/etc, or NULL; the first selects the role */
	int anyone;            /* unix: any local user may connect (the service checks itself) */
	const char *uses[SERVICE_USES_MAX];   /* unix services it connects to, NULL-ended */
	unsigned spares;       /* idle processes kept: one more that turns idle is told to
				* exit (0: no bound, daemon_idle_timeout ends them) */
	int off;               /* written commented out in the default master.conf: the
				* operator enables it (the metrics service) */
	int resident;          /* kept running with no client (qmgr runs the queue on its
				* own timers; metrics drains the event socket); every
				* other service is started when a client is waiting */
	int local_clients;     /* inet, on a unix listener: its clients are local programs
				* the socket's directory lets in (metrics' scrapers), not
				* the front's connections */
};

/* Row i of the table in master.conf order, or NULL past the end. */
const struct service_entry *service_table_get(size_t i);
/* The row named name, or NULL. */
const struct service_entry *service_table_find(const char *name);
/* The row a process of command runs as, arg its first argument after the
 * common options (NULL for none): the row with that command and first
 * argument, else the row of command without arguments; NULL if none. */
const struct service_entry *service_table_for_command(const char *command, const char *arg);
/* The name a process of command serving service logs under (the
 * SERVICE of the log tag): Postfix's program name where log tools key on
 * it (service smtp: smtpd, remote: smtp; another service of the same
 * command: SERVICE/smtpd, SERVICE/smtp), else the service name.  0, or
 * -1 when it does not fit in len. */
int service_table_log_name(const char *service, const char *command, char *out, size_t len);
/* Whether e connects to the unix service (socket) name. */
int service_table_uses(const struct service_entry *e, const char *name);
/* Whether e's listener checks its callers: a unix service not open to anyone. */
int service_table_checks_callers(const struct service_entry *e);
/* The users that may connect to e (root aside): the distinct users of
 * every row that uses e, in table order.  Stores at most max of them in
 * users_r and returns how many there are (more than max: cut). */
size_t service_table_callers(const struct service_entry *e, const char **users_r, size_t max);
/* The distinct users of all rows, in table order, like service_table_callers. */
size_t service_table_users(const char **users_r, size_t max);

#endif
