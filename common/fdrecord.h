/* fdrecord: reading a record (docs/protocols.md framing: key=value
 * lines ended by an empty line) that may come with one descriptor passed
 * by SCM_RIGHTS: a delivery request with its queue file, a login
 * hand-off with the client's socket, a hibernated IMAP session, a local
 * command's answer.  One policy for all of them: at most the descriptors
 * the reader allows (none or one); any other is closed and the record
 * is a broken protocol.  fdrecord_read is the whole blocking read that
 * the delivery agents, the command helper and the login hand-off share;
 * imap-hibernate, event-driven, calls fdrecord_recv and fdrecord_end, and
 * qmgr finds the agents' answers (no descriptors) with fdrecord_end. */
#ifndef POSTERN_FDRECORD_H
#define POSTERN_FDRECORD_H

#include <stddef.h>

#include "buf.h"

#define FDRECORD_NO_FD (-2)   /* *fd_r for a record that may carry no descriptor */

/* One receive of at most cap bytes into p (EINTR retried): *n_r bytes,
 * 0 at end of input.  A descriptor that comes with them goes to *fd_r
 * when that is still -1; when it holds one already (or FDRECORD_NO_FD)
 * the new one is closed and the answer is -1 with errno EPROTO (the
 * first stays in *fd_r, for the caller to close).
 * plain: sock is no socket (a pipe or file in standalone mode): read(2),
 * no descriptors.  0, or -1 (errno; EAGAIN on a non-blocking socket). */
int fdrecord_recv(int sock, int plain, void *p, size_t cap, size_t *n_r, int *fd_r);
/* The length of the record at the start of data[0..len), its empty line
 * included, or 0 when it is not complete yet.  *scanned (0 before the
 * first call for a record) makes repeated calls on a growing buffer
 * look at each byte once. */
size_t fdrecord_end(const char *data, size_t len, size_t *scanned);

/* How long fdrecord_read waits, and for whom it stops early. */
struct fdrecord_wait {
	int first_ms;            /* for the record's first byte (poll(2) ms, -1 forever) */
	int next_ms;             /* for each later block */
	int (*stop)(void);       /* NULL, or: a signal that interrupts a wait ends the read when this says so */
};

/* Read one whole record from sock into b (reset first; b's cap is the
 * record's limit) with at most max_fds (0 or 1) descriptors.  1: the
 * record is b->data[0..*end_r) (bytes after it stay in b for the caller
 * to judge), its descriptor in *fd_r or -1.  0: end of input before any
 * byte.  -1: errno ETIMEDOUT, EINTR (stop said so), EPROTO (a descriptor
 * beyond max_fds, or truncated control data), EMSGSIZE (record over
 * b's cap), ECONNRESET (end of input inside the record), or the
 * receive's; every descriptor received is closed and *fd_r is -1.
 * b->len == 0 after -1 tells that nothing had arrived yet. */
int fdrecord_read(int sock, int plain, struct buf *b, int max_fds, const struct fdrecord_wait *w,
		  size_t *end_r, int *fd_r);

#endif
