/* daemon: what every Postern service process shares.  Parses the common
 * command line (-c DIR/etc, -i inetd mode, -v verbose), loads postern.conf
 * (the master's snapshot of it when there is one),
 * opens the log, takes the listening socket the master passed as fd 3
 * (LISTEN_FDS=1), drops privileges into the service's user and root, and
 * runs the accept loop, telling the master on the status pipe (fd 4) when
 * it is busy or idle.  SIGTERM makes an idle process exit at once and a
 * busy one exit after its current client.
 *
 * Environment set by the master (all optional when run by hand):
 *   POSTERN_DIR       the tree (else the parent of -c's directory)
 *   POSTERN_SERVICE   service name from master.conf (log and title); by
 *                     hand, the name of the program's row in the
 *                     service table (common/service_table.h)
 *   POSTERN_USER      user to drop to (as root)
 *   POSTERN_ROOT      directory, relative to POSTERN_DIR, to chroot/chdir into
 *   POSTERN_LOG       "stderr", "syslog", or "file": lines in the log file
 *                     format to fd 2, which the master made its log pipe
 *                     (log_file in postern.conf)
 *   LISTEN_FDS/LISTEN_PID  systemd-style socket activation (fd 3)
 *   POSTERN_STATUS_FD the status pipe (4)
 *   POSTERN_LIFELINE_FD  read end of a pipe the master holds open (5): EOF
 *                     there means the master died, and the process exits
 *                     after its current client instead of running orphaned
 *   POSTERN_CONF_FD   the postern.conf the master last accepted, a sealed
 *                     memfd (6, common/config_snapshot.h): read instead of
 *                     the file, which may have been edited since
 *   POSTERN_METRICS_FD  the metrics event socket (7, common/metric.h), when
 *                     master.conf has a metrics service: metric_count()
 *                     sends there (daemon_init sets it up)
 *   POSTERN_METRICS_STATE_FD  the metrics service only: its counters (8) */
#ifndef POSTERN_DAEMON_H
#define POSTERN_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

#define DAEMON_LISTEN_FD 3
#define DAEMON_CALLERS_MAX 8   /* uids that may connect, root and our own included */
#define DAEMON_STATUS_FD 4
#define DAEMON_LIFELINE_FD 5

struct daemon {
	const char *program;   /* program name, e.g. "smtpd" */
	const char *service;   /* service name from master.conf, or program */
	char base_dir[4096];   /* the tree DIR, absolute */
	char etc_dir[4096];    /* DIR/etc, absolute */
	const char *user;      /* target user or NULL */
	const char *root;      /* root directory relative to DIR, or NULL */
	int inetd;             /* -i: serve stdin/stdout once */
	int verbose;           /* -v */
	int listen_fd;         /* fd 3 or -1 */
	int status_fd;         /* fd 4 or -1 */
	int lifeline_fd;       /* fd 5 or -1 */
	int check_callers;     /* the listener is a Unix socket whose callers are checked */
	int from_front;        /* an inet service on a Unix socket: its clients come from
				* the connection front (docs/front.md) */
	uid_t callers[DAEMON_CALLERS_MAX];   /* uids daemon_peer_ok lets in */
	size_t ncallers;
	int argc;              /* arguments left after the common options */
	char **argv;
};

/* One client: in and out descriptors (equal for a socket), peer text. */
typedef void daemon_serve_fn(int in_fd, int out_fd, void *arg);

/* Parse options, load config, open the log.  program is the command of
 * master.conf; with the first argument after the options it selects the
 * service table row that gives the defaults and the callers.  Exits with
 * a message on error. */
void daemon_init(struct daemon *d, const char *program, int argc, char **argv);
/* Drop privileges into POSTERN_USER / POSTERN_ROOT (or chdir to DIR when
 * no root is given), then confine the process in the kernel (seccomp,
 * Landlock: common/sandbox.h).  Call after opening maps and before the
 * first byte of a client; exits on failure. */
void daemon_drop(struct daemon *d);
/* Serve clients until told to stop: inetd mode serves fd 0/1 once; else
 * accept on the listener, one client at a time, each a blocking socket
 * passed as serve(fd, fd).  Returns when done. */
void daemon_serve(struct daemon *d, daemon_serve_fn *serve, void *arg);
/* A process that goes on serving clients after serve() has returned, on
 * a thread of its own: a login process relaying the TLS sessions it has
 * handed to their session processes (common/login_proxy.h). */
struct daemon_holder {
	size_t (*held)(void *arg);   /* clients held now; drains wake_fd */
	int wake_fd;                 /* readable when a held client has ended */
	size_t max;                  /* take no new client while held() >= max */
	void *arg;
};
/* daemon_serve for such a process.  Waiting for a client it is idle for
 * the master even while it holds some; with max held it takes none and
 * reports busy (the master starts another process) until one ends; it
 * does not exit idle while it holds any; and when it is done (stop,
 * daemon_max_use, inetd mode) it reports busy and returns only once it
 * holds none. */
void daemon_serve_holding(struct daemon *d, daemon_serve_fn *serve, void *arg,
			  const struct daemon_holder *h);
/* Whether the client serve() was just given was greeted already: it came
 * from the connection front (front/front.c, docs/front.md), which sent
 * the protocol's greeting and waited for the client's first line. */
int daemon_client_greeted(void);
/* Tell the master that we hold a client (busy) or wait for one: for a
 * process with its own event loop instead of daemon_serve. */
void daemon_report(const struct daemon *d, int busy);
/* Whether the peer of fd, accepted on our listener, may call us: root,
 * the users of the services that use ours (service_table_callers,
 * docs/tree.md), in development our own uid; a program whose listener is
 * not a Unix socket, or whose row is inet or open to anyone, takes every peer.  1 ok, 0 refused (logged as a
 * warning with the peer's pid and uid; the caller closes fd). */
int daemon_peer_ok(const struct daemon *d, int fd);
struct record;
struct buf;
/* Answer one request record into answer (a record); 0 to go on, -1 to
 * end the connection after this answer. */
typedef int daemon_answer_fn(void *arg, struct record *req, struct buf *answer);
/* Serve one client of a record service (docs/protocols.md): read
 * request records from in_fd and write answer()'s record for each to
 * out_fd, until the client closes, a request is malformed (logged),
 * answer() says -1, or the process is stopping.  Every wait within
 * timeout_ms; answers at most answer_max bytes; requests are wiped. */
void daemon_serve_records(int in_fd, int out_fd, int timeout_ms, size_t answer_max,
			  daemon_answer_fn *answer, void *arg);
/* Whether SIGTERM has been received or the master died (check between
 * units of work).  A service with its own event loop polls
 * daemon_lifeline() for input too and then calls daemon_stopping(). */
int daemon_stopping(void);
/* The lifeline descriptor to poll (POLLIN/POLLHUP = master gone), or -1. */
int daemon_lifeline(void);
/* Readable once SIGTERM has arrived (-1 before daemon_init): put it in a
 * poll set so that a stop request cannot slip in before the poll. */
int daemon_stop_fd(void);
/* Whether the master told this process the system stops (SIGUSR1):
 * long-lived sessions end at their next safe point (a client not in the
 * middle of a command gets its protocol's goodbye). */
int daemon_hurrying(void);
/* A descriptor that becomes readable at that moment (-1 before
 * daemon_main set it up), for a caller's own poll(). */
int daemon_hurry_fd(void);
/* Wait until fd is readable (1: input, or an error the read will tell),
 * timeout_ms passes (0; negative: no limit) or the stop comes (-1). */
int daemon_wait_input(int fd, int timeout_ms);
/* Open the compiled map DIR/etc/FILE before the privilege drop and watch
 * it (daemon_maps_replaced).  An optional map that does not exist is
 * NULL; any other failure is fatal. */
struct cdbmap *daemon_open_map(const struct daemon *d, const char *file, int optional);
/* Whether a watched map was replaced on disk.  A chrooted process cannot
 * reopen it, so it finishes its work and exits, and the master starts one
 * that reads the new map; daemon_serve does this between clients. */
int daemon_maps_replaced(void);
/* Path of the Unix socket of service name, relative to the process root:
 * "private/NAME". Fails (-1) if it would not fit. */
int daemon_socket_path(const char *name, char *out, size_t outlen);
/* The descriptor the master passed under environment variable name
 * (a number from 3 to 63), or -1 when there is none. */
int daemon_passed_fd(const char *name);

#endif
