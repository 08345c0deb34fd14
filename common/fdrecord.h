/* fdrecord: reading a record (docs/protocols.md framing: key=value
 * lines ended by an empty line) that may come with one descriptor passed
 * by SCM_RIGHTS: a delivery request with its queue file, a login
 * hand-off with the client's socket, a hibernated IMAP session, a local
 * command's answer.  One policy for all of them: at most one descriptor
 * per record; a second is a broken protocol. */
#ifndef POSTERN_FDRECORD_H
#define POSTERN_FDRECORD_H

#include <stddef.h>

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

#endif
