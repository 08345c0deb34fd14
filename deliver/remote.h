/* remote: the SMTP delivery agent, shared declarations of deliver/remote*.c.
 * remote.c serves requests and answers; remote_route.c finds the servers
 * of a destination (relayhost, MX, addresses); remote_smtp.c speaks SMTP
 * with one server; remote_cache.c keeps idle sessions for reuse and
 * bounds sessions per destination across processes. */
#ifndef POSTERN_REMOTE_H
#define POSTERN_REMOTE_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "agent.h"
#include "cdbmap.h"
#include "dns.h"
#include "smtp_reply.h"
#include "smtp_txn.h"
#include "stream.h"
#include "tls.h"

#define REMOTE_HOST_MAX (DNS_NAME_MAX + 16)      /* "[host]:port" */
#define REMOTE_ADDR_TEXT 64                      /* "[v6]:port" printed */
#define REMOTE_DSN_MAX 12                        /* "5.123.123" */

enum remote_tls_policy { REMOTE_TLS_NONE, REMOTE_TLS_MAY, REMOTE_TLS_ENCRYPT, REMOTE_TLS_VERIFY };

/* Settings, read once at start (postern.conf). */
struct remote_conf {
	const char *helo_name;
	unsigned port;                   /* remote_smtp_port */
	int connect_ms, greeting_ms, helo_ms, mail_ms, rcpt_ms;
	int data_init_ms, data_block_ms, data_done_ms, rset_ms, quit_ms, starttls_ms;
	int tls_handshake_ms;            /* tls_handshake_timeout: a whole handshake, 0: none */
	int auth_plaintext;              /* AUTH without TLS allowed */
	int reuse_ms;                    /* idle time a session is kept, 0: no reuse */
	unsigned reuse_limit;            /* messages per session */
	unsigned cache_limit;            /* idle sessions kept by one process */
	unsigned dest_limit;             /* sessions per destination across processes, 0: none */
	int family;                      /* AF_UNSPEC, AF_INET, AF_INET6 */
	enum remote_tls_policy tls_default;
	unsigned long long message_size_limit;
};

/* The process-wide state. */
struct remote_ctx {
	struct remote_conf conf;
	struct dns *dns;
	struct cdbmap *tls_map;          /* etc/tls_policy.cdb or NULL */
	struct cdbmap *auth_map;         /* etc/relay_passwords.cdb or NULL */
	SSL_CTX *tls_ctx_any, *tls_ctx_verify;  /* made before the chroot */
	char relayhost[REMOTE_HOST_MAX]; /* "" for none */
	char base_dir[4096];             /* the tree, names the destination slots */
	int standalone;                  /* -i: one request from stdin */
};

/* The message of one request. */
struct remote_msg {
	const struct agent_request *q;
	struct smtp_txn_msg txn;         /* what the transaction sends (common/smtp_txn) */
};
/* One recipient's state through a delivery attempt. */
struct remote_rcpt {
	const char *addr;
	size_t len;
	const char *notify, *orcpt;      /* DSN per recipient, NULL when absent */
	int done;                        /* status is final for this request */
	const char *status;              /* delivered | deferred | failed */
	const char *action;              /* delivered: relayed or passed (remote_smtp_deliver) */
	char dsn[REMOTE_DSN_MAX];
	char reason[AGENT_REASON_MAX];
	char relay[REMOTE_HOST_MAX + REMOTE_ADDR_TEXT];   /* server that answered, "" none (log) */
	long long setup_ms, xfer_ms;     /* its connection setup and transmission (log delays) */
};

/* Where to go: the next hop of a group of recipients. */
struct remote_dest {
	char key[REMOTE_HOST_MAX + 16];  /* cache key: nexthop and TLS policy */
	char name[DNS_NAME_MAX + 1];     /* domain or relay host */
	unsigned port;
	int no_mx;                       /* [host]: addresses only */
	int relay;                       /* through relayhost: AUTH may apply */
	enum remote_tls_policy tls;
};

/* One server to try. */
struct remote_target {
	char host[DNS_NAME_MAX + 1];     /* MX host name (for TLS names and logs) */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[REMOTE_HOST_MAX + REMOTE_ADDR_TEXT];   /* "host[addr]:port" */
};

/* An SMTP session with one server. */
struct remote_session {
	int fd;
	struct stream *s;
	struct remote_target target;
	struct smtp_ext ext;
	struct smtp_reply reply;
	char dest_key[REMOTE_HOST_MAX + 16];
	int slot_fd;                     /* the destination slot held, or -1 */
	int tls;                         /* TLS is active */
	unsigned messages;               /* transactions done */
	struct timespec idle_since;
};

/* Result of trying one server (remote_smtp_deliver). */
enum remote_try {
	REMOTE_TRY_DONE,                 /* every recipient of the group has an answer */
	REMOTE_TRY_NEXT,                 /* this server failed: try the next one (reason set) */
};

/* ---- remote_route.c ---- */
/* Set rc[i] final: status, dsn, printf reason. */
void remote_rcpt_set(struct remote_rcpt *rc, const char *status, const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Parse relayhost "host", "host:port", "[host]" or "[host]:port". 0 or -1. */
int remote_parse_nexthop(const char *text, unsigned default_port, struct remote_dest *d);
/* Deliver msg to the n recipients of rc (one destination): resolve, try
 * servers in order, set every rc[i] final. */
void remote_route_deliver(struct remote_ctx *ctx, const struct remote_msg *msg,
			  const struct remote_dest *dest, struct remote_rcpt *rc, size_t n);

/* ---- remote_smtp.c ---- */
/* Open a session to target (connect, greeting, EHLO/HELO, STARTTLS per
 * policy, AUTH for a relay).  0, or -1 with *reason set (a printable
 * text) and *dsn_r the status to report if no server works. */
int remote_smtp_open(struct remote_ctx *ctx, const struct remote_dest *dest,
		     const struct remote_target *target, struct remote_session **sess_r,
		     char *reason, size_t reason_len, const char **dsn_r);
/* One transaction on an open session.  REMOTE_TRY_DONE: every rc has a
 * final result, and *sess is NULL when the session cannot carry another
 * transaction (closed and freed: RSET refused, the server hung up after
 * its last answer, the data or its reply lost); REMOTE_TRY_NEXT: the
 * session broke before the data was accepted (reason set, session closed
 * and freed, rc[i] without a 5xx answer left pending for the next
 * server). */
enum remote_try remote_smtp_deliver(struct remote_ctx *ctx, struct remote_session **sess,
				    const struct remote_msg *msg, struct remote_rcpt *rc, size_t n,
				    char *reason, size_t reason_len);
/* RSET on a reused session. 0 ok, -1 (session unusable). */
int remote_smtp_rset(struct remote_ctx *ctx, struct remote_session *sess);
/* QUIT (best effort), close and free; *sess = NULL. */
void remote_smtp_close(struct remote_ctx *ctx, struct remote_session **sess, int quit);

/* ---- remote_cache.c ---- */
/* An idle session for dest key, or NULL.  Expired ones are closed. */
struct remote_session *remote_cache_take(struct remote_ctx *ctx, const char *key);
/* Keep a session for reuse (or close it when reuse is off or full);
 * NULL (a session remote_smtp_deliver closed) is nothing to keep. */
void remote_cache_put(struct remote_ctx *ctx, struct remote_session *sess);
/* Close sessions idle longer than allowed; ms until the next expiry, -1 none. */
int remote_cache_expire(struct remote_ctx *ctx);
/* Close every cached session (QUIT). */
void remote_cache_flush(struct remote_ctx *ctx);
/* Take one of dest_limit slots for key across processes: fd, or -1
 * (none free within wait_ms), or -2 when limits are off. */
int remote_slot_take(struct remote_ctx *ctx, const char *key, int wait_ms);

#endif
