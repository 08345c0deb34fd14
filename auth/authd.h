/* authd: state that must outlive one authd process and be shared by all
 * of them (authd_state.c): one-time login tickets and failed-login
 * counters, kept as small files under DIR/run/auth/. */
#ifndef POSTERN_AUTHD_H
#define POSTERN_AUTHD_H

#include <sys/types.h>
#include "buf.h"

#define AUTHD_STATE_DIR "run/auth"
#define AUTHD_TICKET_BYTES 32                    /* random bytes in a ticket */
#define AUTHD_TICKET_HEX (2 * AUTHD_TICKET_BYTES)

/* Failed-login counters of one attempt (after decay). */
struct authd_throttle {
	unsigned long client;   /* failures from the client address */
	unsigned long user;     /* failures for the (existing) user */
};

/* Before the privilege drop: create run/auth/{tickets,throttle} (0700)
 * owned by uid/gid (as root) and sweep stale files.  0 or -1 (errno). */
int authd_state_init(uid_t uid, gid_t gid, int chown_it);
/* New ticket for user + service, valid auth_ticket_lifetime; its 64 hex
 * digits (NUL-terminated) in hex_r.  0 or -1. */
int authd_ticket_issue(const char *user, const char *service, char hex_r[AUTHD_TICKET_HEX + 1]);
/* Redeem a ticket once: 1 with the user in user_r, 0 when unknown, used,
 * expired or issued for another service, -1 on a system error. */
int authd_ticket_redeem(const char *hex, const char *service, struct buf *user_r);
/* Current counters for client (may be NULL) and canonical user (NULL:
 * unknown user, not counted). */
void authd_throttle_get(const char *client, const char *user, struct authd_throttle *t_r);
/* Count one failure for both; *t_r gets the new counters. */
void authd_throttle_fail(const char *client, const char *user, struct authd_throttle *t_r);
/* Forget the failures of both after a success. */
void authd_throttle_reset(const char *client, const char *user);

#endif
