/* login_proxy: the TLS relay of a login process.  After a client that
 * the login process reached over TLS is handed to its session process,
 * the login process keeps the TLS session and relays bytes (not lines:
 * an IMAP literal may be megabytes long without a line end) between it
 * and the session's end of a socketpair.  One thread relays every such
 * client of the process with poll(), so an idle TLS session costs a
 * few kilobytes, not a process; the process goes on taking new clients
 * meanwhile (daemon_serve_holding with login_proxies_holder). */
#ifndef POSTERN_LOGIN_PROXY_H
#define POSTERN_LOGIN_PROXY_H

#include <stddef.h>

#define LOGIN_PROXY_BLOCK 16384   /* bytes buffered per direction and client (one TLS record) */

struct login_proxies;
struct daemon_holder;
typedef struct ssl_st SSL;

/* A relay set for at most max clients at once, with its thread (start it
 * after the privilege drop).  Raises the descriptor limit to what max
 * needs, or lowers max to what the hard limit allows (logged).  NULL
 * with *error_r (static text) on failure. */
struct login_proxies *login_proxies_new(size_t max, const char **error_r);
/* The max of a login process (POP3 or IMAP): the setting
 * login_proxy_limit, 0 read as 1, at most 100000. */
size_t login_proxy_limit(void);
/* The idle_ms of a relay: the protocol's timeout (timeout_ms, as the
 * session process applies it) and a minute, so that the session ends
 * an idle client first and says so. */
int login_proxy_idle_ms(int timeout_ms);
/* Relay between ssl, a server TLS session over the client's descriptors
 * rfd and wfd, and session_fd, the login's end of the socketpair whose
 * other end the session process holds: until the session closes (then
 * a close_notify goes to the client), the client closes (the session
 * then reads EOF), an error, or idle_ms without a byte either way.
 * The set duplicates rfd and wfd (the caller closes its own as usual)
 * and takes ssl and session_fd.  client names the client in log lines.
 * 0, or -1 when the set is full or out of memory: nothing is taken. */
int login_proxies_add(struct login_proxies *p, SSL *ssl, int rfd, int wfd, int session_fd,
		      int idle_ms, const char *client);
/* Clients relayed now (drains the descriptor login_proxies_holder waits on). */
size_t login_proxies_count(struct login_proxies *p);
/* Fill h so that daemon_serve_holding counts the relayed clients and
 * takes no new client while the set is full. */
void login_proxies_holder(struct login_proxies *p, struct daemon_holder *h);
/* Wait until no client is relayed, stop the thread, free; *p = NULL. */
void login_proxies_free(struct login_proxies **p);

#endif
