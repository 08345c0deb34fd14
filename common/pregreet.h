/* pregreet: the pregreet test of port 25 (Postfix's postscreen and
 * smtpd both have one): the server waits smtpd_pregreet_wait before its
 * greeting, and a client that talks first is a bot that does not wait
 * for the server (RFC 5321 3.1: the client waits for the 220).  smtpd
 * runs it for the clients it accepts itself, the connection front
 * (front/front.c) for the clients it holds; both answer and log alike. */
#ifndef POSTERN_PREGREET_H
#define POSTERN_PREGREET_H

#include <stddef.h>

#define PREGREET_MAX_S 10    /* longest smtpd_pregreet_wait */
#define PREGREET_SHOW 48     /* bytes of a pregreeting shown in the log */
/* The answer, with myhostname for %s; then the connection is closed. */
#define PREGREET_REPLY "554 5.5.1 %s Error: client sent data before the greeting"

/* smtpd_pregreet_wait in ms (0: greet at once); exits with a message
 * when it is over PREGREET_MAX_S. */
int pregreet_wait_ms(void);
/* Log "PREGREET N after MS ms from CLIENT: BYTES" for the n bytes the
 * client sent first (at most PREGREET_SHOW of got shown, escaped). */
void pregreet_log(const char *client_log, const char *got, size_t n, long long ms);

#endif
