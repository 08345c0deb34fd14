/* sockets: listening and connecting on Unix-domain and TCP sockets,
 * passing descriptors (SCM_RIGHTS) and reading peer credentials
 * (SO_PEERCRED).  All descriptors are created close-on-exec. */
#ifndef POSTERN_SOCKETS_H
#define POSTERN_SOCKETS_H

#include <stddef.h>
#include <sys/types.h>

/* Bind and listen on a Unix socket at path (a stale socket is replaced),
 * with the given file mode.  Returns the fd or -1. */
int unix_listen(const char *path, mode_t mode, int backlog);
/* Connect to the Unix socket at path, waiting at most timeout_ms (<= 0:
 * a plain blocking connect). fd or -1 (errno ETIMEDOUT on timeout). */
int unix_connect(const char *path, int timeout_ms);
/* Connect to "host:port" or "[v6]:port" (a name is looked up), waiting
 * at most timeout_ms in all; the fd is left non-blocking.  fd or -1. */
int inet_connect(const char *hostport, int timeout_ms);
/* Bind and listen on "host:port" or "[v6]:port" (SO_REUSEADDR; numeric
 * hosts only; "*:port" = every IPv4 address, "[::]:port" every IPv6
 * one, IPv6 sockets are V6ONLY). fd or -1, *error_r. */
int inet_listen(const char *addr, int backlog, const char **error_r);
/* Send len bytes (len >= 1) with descriptor fd attached. 0 or -1. */
int fd_send(int sock, int fd, const void *data, size_t len);
/* Receive up to len bytes and at most one descriptor (*fd_r = -1 if none).
 * Returns bytes read (0 on EOF) or -1. */
ssize_t fd_recv(int sock, void *data, size_t len, int *fd_r);
/* Whether the first prefix bits of two addresses in network byte order
 * (4 or 16 bytes, prefix at most 32 or 128) are the same. */
int ip_prefix_match(const unsigned char *a, const unsigned char *b, unsigned prefix);
/* Credentials of the peer of a connected Unix socket. 0 or -1. */
int peer_cred(int sock, pid_t *pid_r, uid_t *uid_r, gid_t *gid_r);
/* Set or clear O_NONBLOCK. 0 or -1. */
int fd_set_nonblock(int fd, int on);
/* Set FD_CLOEXEC. 0 or -1. */
int fd_set_cloexec(int fd);
/* TCP_NODELAY on a connection whose output is gathered and flushed per
 * reply (stream.c): Nagle would hold a reply's last segment until the
 * client's delayed ACK of the one before, 40 ms.  Harmless on a socket
 * that is not TCP (a pipe, inetd's stdin): the call fails, ignored. */
void socket_no_delay(int fd);
/* TCP_QUICKACK: acknowledge the next segments at once.  A TLS 1.3
 * server sends nothing after the client's Finished (we send no
 * tickets), so the kernel delays its ACK by 40 ms, and a client with
 * Nagle on (Python's smtplib, many MUAs) holds its first command behind
 * that ACK: 40 ms for every STARTTLS.  An ACK already delayed is sent
 * now.  Harmless on a socket that is not TCP. */
void socket_quick_ack(int fd);
/* Printable address of a connected socket's peer ("127.0.0.1", "::1",
 * "unix") into out. 0 or -1. */
int peer_addr(int fd, char *out, size_t outlen);

#endif
