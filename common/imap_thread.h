/* imap_thread: THREAD's algorithms (RFC 5256 3), ORDEREDSUBJECT and
 * REFERENCES, over messages whose keys imap_sort_msg_fill read, and the
 * thread lists of the THREAD response.  No I/O.  See the .c. */
#ifndef POSTERN_IMAP_THREAD_H
#define POSTERN_IMAP_THREAD_H

#include <stddef.h>

#include "buf.h"
#include "imap_sort.h"

enum imap_thread_alg { IMAP_THREAD_ORDEREDSUBJECT, IMAP_THREAD_REFERENCES };

/* Append the thread lists of msgs[0..n) (in mailbox order, filled with
 * IMAP_SORT_NEED_THREAD) to out, naming messages by their id:
 * "(1 2)(3 (4)(6 7))".  Nothing for n == 0.  0, or -1 with errno
 * EMSGSIZE (out's cap) or ENOMEM. */
int imap_thread_run(enum imap_thread_alg alg, const struct imap_sort_msg *msgs, size_t n, struct buf *out);

#endif
