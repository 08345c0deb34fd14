/* front_handoff: how the connection front (front/front.c, docs/front.md)
 * passes a TCP client it has held to the real service (smtpd, a POP3 or
 * IMAP login process): one new connection to the service's Unix socket
 * per client, carrying one record (docs/protocols.md framing) with the
 * client's socket attached by SCM_RIGHTS.  The record says what the front
 * already did on the client's connection: greeted=1, the protocol's
 * greeting was sent.  The client's bytes are never read by the front (it
 * only peeks), so the service reads the first command itself. */
#ifndef POSTERN_FRONT_HANDOFF_H
#define POSTERN_FRONT_HANDOFF_H

#define FRONT_HANDOFF_RECORD_MAX 256   /* longest record a service accepts */

/* Send the record and client on conn, a connected Unix stream socket
 * (non-blocking or not: a new connection's send buffer takes it whole).
 * 0, or -1 with errno. */
int front_handoff_send(int conn, int client, int greeted);
/* Read the front's record and descriptor from conn, each wait at most
 * timeout_ms.  The client socket (close-on-exec, blocking), with
 * *greeted_r; -1 on a malformed record, no descriptor, a descriptor that
 * is no stream socket, end of input or timeout (*error_r says which;
 * every descriptor received is closed). */
int front_handoff_receive(int conn, int timeout_ms, int *greeted_r, const char **error_r);

#endif
