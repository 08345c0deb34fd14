/* imapd: the IMAP server (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1),
 * split in two as popd is:
 *   imapd_login.c    the login process (postern-login, chrooted to the
 *                    empty run/jail): greeting, CAPABILITY, STARTTLS,
 *                    LOGIN, AUTHENTICATE PLAIN/LOGIN (SASL-IR), ID; asks
 *                    authd for a ticket and hands the client to the
 *                    session service imap-session (common/login_handoff.c)
 *   imapd_session.c  the session process (postern-vmail, mail root):
 *                    redeems the ticket, reads commands (imap_parser,
 *                    imap_grammar) and answers the authenticated and
 *                    selected states
 *   imapd_mailbox.c  mailbox names <-> Maildir++ folders, STATUS, CREATE,
 *                    DELETE, RENAME, SUBSCRIBE
 *   imapd_list.c     LIST and LSUB (selection: common/imap_list.c)
 *   imapd_selected.c SELECT/EXAMINE and what works on the selected
 *                    folder: untagged updates, STORE, EXPUNGE, CLOSE
 *   imapd_fetch.c    FETCH, SEARCH, and the search SORT and THREAD share
 *   imapd_sort.c     SORT (RFC 5256, ESORT of RFC 5267) and THREAD
 *   imapd_condstore.c CONDSTORE and QRESYNC (RFC 7162): enabling,
 *                    VANISHED, the QRESYNC answer of SELECT
 *   imapd_quota.c    QUOTA (RFC 9208) over the Maildir++ quota
 *   imapd_resume.c   a session in IDLE handed to imap-hibernate, and
 *                    taken back from there
 *   imapd_hibernate.c the hibernation process (imap-hibernate): holds
 *                    the sessions set aside in IDLE, wakes each in a
 *                    session process when its folder changes or its
 *                    client speaks
 *   imapd.c          main: which of the three this process is */
#ifndef POSTERN_IMAPD_H
#define POSTERN_IMAPD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap_grammar.h"
#include "imap_parser.h"
#include "login_policy.h"
#include "mailbox_store.h"
#include "stream.h"

#define IMAPD_SESSION_SERVICE "imap-session"   /* private/NAME of the session service */
#define IMAPD_HIBERNATE_SERVICE "imap-hibernate"   /* private/NAME of the hibernation service */
#define IMAPD_USER_MAX 255
#define IMAPD_MAILBOX_PATH_MAX 1024            /* longest mailbox path from authd */
#define IMAPD_READ_BLOCK 65536                 /* output flushed in blocks of about this */

typedef struct ssl_ctx_st SSL_CTX;
struct cdbmap;
struct daemon;
struct login_proxies;

/* Settings read once at start (imapd.c). */
struct imapd_limits {
	unsigned long error_limit;     /* imap_hard_error_limit (ULONG_MAX: none) */
	int timeout_ms;                /* imap_timeout: commands and IDLE */
	int login_timeout_ms;          /* imap_login_timeout */
	int ipc_timeout_ms;
	size_t line_max;               /* imap_line_limit */
	uint64_t literal_max;          /* message_size_limit */
	unsigned long long user_sessions;   /* imap_user_session_limit (0: none) */
	unsigned long long client_sessions; /* imap_client_session_limit (0: none) */
	int slots_fd;                  /* DIR/run/imap.sessions (common/session_slots.c), or -1 */
	struct login_policy policy;
	int implicit_tls;              /* imaps: TLS from the first byte */
	SSL_CTX *tls;                  /* NULL: no STARTTLS, no imaps */
	int tls_handshake_ms;
	struct login_proxies *proxies; /* the TLS relay of a login process */
	int proxy_idle_ms;
	struct cdbmap *quota_map;      /* session: etc/quota.cdb (opened before the chroot), or NULL */
	int hibernate_ms;              /* imap_hibernate_timeout (0: never) */
	size_t hibernate_limit;        /* imap_hibernate_limit */
};

/* Fill the parser limits from l. */
void imapd_parser_limits(const struct imapd_limits *l, struct imap_parser_limits *pl);

/* The login process: one client from accept to hand-off (daemon_serve_fn). */
void imapd_login_serve(int in_fd, int out_fd, void *limits);
/* The session process: one hand-off from a login process, or a
 * session taken back from imap-hibernate (daemon_serve_fn). */
void imapd_session_serve(int in_fd, int out_fd, void *limits);
/* The hibernation process: its own loop over the listener of d. */
void imapd_hibernate_main(struct daemon *d, const struct imapd_limits *l);
/* Take a session slot for user and one for client (imap_user_session_limit,
 * imap_client_session_limit, common/session_slots.c).  1, or 0 when one
 * is at its limit (*which_r, when which_r is not NULL: "user" or
 * "address"; no slot is kept). */
int imapd_slots_take(const struct imapd_limits *l, const char *user, const char *client, long long *user_slot,
		     long long *client_slot, const char **which_r);

#endif
