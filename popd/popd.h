/* popd: the POP3 server's mailbox side (popd_mailbox.c), used by the
 * session in popd.c.  A mailbox is one Maildir, locked for the session,
 * with its messages listed once at login (RFC 1939 section 5: the
 * message numbers are fixed for the session). */
#ifndef POSTERN_POPD_H
#define POSTERN_POPD_H

#include <stddef.h>
#include "stream.h"

#define POPD_MESSAGES_MAX 1000000   /* most messages listed in one session */
#define POPD_MAILBOX_PATH_MAX 1024  /* longest mailbox path from authd */
#define POPD_UIDL_MAX 70            /* RFC 1939 section 7: 1 to 70 characters */
#define POPD_LOCK_NAME "postern-pop3.lock"

struct popd_msg {
	char *name;                  /* file name in cur/ */
	unsigned long long size;     /* octets with CRLF line ends (RFC 1939 LIST) */
	char uidl[POPD_UIDL_MAX + 1];
	int deleted;                 /* marked by DELE */
};

struct popd_mailbox {
	int dirfd;                   /* the Maildir */
	int lockfd;                  /* flock()ed POPD_LOCK_NAME */
	struct popd_msg *msgs;       /* sorted by name (delivery order) */
	size_t n;
};

enum popd_open_result {
	POPD_OPEN_OK,
	POPD_OPEN_LOCKED,     /* another session holds the lock */
	POPD_OPEN_BADPATH,    /* the path is absolute or leaves the root */
	POPD_OPEN_FAIL,       /* system error, *error_r says which step */
};

/* Validate path (relative to the mail root), lock the Maildir, move new/
 * into cur/ and list cur/. */
enum popd_open_result popd_mailbox_open(const char *path, size_t len,
					struct popd_mailbox **mb_r, const char **error_r);
/* Unlock and free; deletes nothing.  *mb = NULL. */
void popd_mailbox_close(struct popd_mailbox **mb);
/* Remove the messages marked deleted (RFC 1939 UPDATE state); returns
 * how many could not be removed (a vanished file counts as removed). */
size_t popd_mailbox_expunge(struct popd_mailbox *mb);
/* Open message idx for reading: fd or -1 (e.g. removed meanwhile). */
int popd_msg_open(const struct popd_mailbox *mb, size_t idx);
/* Send the open message: every LF as CRLF, dot-stuffed (RFC 1939
 * section 3), a missing final LF supplied, and the ".\r\n" end.  With
 * top, only the header, the empty line and `lines` body lines (RFC 1939
 * TOP).  Closes fd.  0, or -1 on a read or write error (the reply is
 * then broken and the session must end). */
int popd_msg_send(int fd, struct stream *s, int top, unsigned long lines);

#endif
