/* popd_mailbox: one user's Maildir as a POP3 maildrop, over the mailbox
 * store (common/mailbox_store.c).
 *
 * Offers: popd_mailbox_open() locks the Maildir against a second POP3
 * session (flock on POPD_LOCK_NAME, non-blocking: RFC 2449 [IN-USE]),
 * then syncs the store, which moves new/ messages into cur/, gives them
 * UIDs and measures each message once (the index).  Message numbers
 * follow UIDs, so arrival order.  Sizes are the store's CRLF sizes, the
 * UIDL is UIDVALIDITY-UID: stable across sessions and deliveries, shared
 * with IMAP.  popd_msg_send() streams a message in fixed blocks with
 * LF -> CRLF and dot-stuffing, so memory does not grow with message size.
 * Messages removed at QUIT are taken off the Maildir++ quota's
 * maildirsize when the mailbox has one (common/maildir_quota.c).
 *
 * Trusts: the mailbox path only after maildir_path_ok; the store opens
 * everything relative to the Maildir's descriptor with O_NOFOLLOW.  File
 * contents are not parsed beyond counting lines.  At most
 * POPD_MESSAGES_MAX messages are listed (the rest wait, with a log line).
 *
 * Fails: open returns POPD_OPEN_LOCKED / BADPATH / FAIL with *error_r
 * (static); a message that vanished after the listing is reported at
 * RETR (popd_msg_open -1).  Runs as postern-vmail inside the mail root,
 * like the local delivery agent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "maildir.h"
#include "maildir_quota.h"
#include "popd.h"

#define POPD_READ_BLOCK 65536
#define POPD_OUT_BLOCK 16384

/* ---- open / close ---- */

/* Take the POP3 session lock.  0, 1 when somebody else holds it, -1 error. */
static int popd_lock(struct popd_mailbox *mb)
{
	mb->lockfd = openat(mb->store->dirfd, POPD_LOCK_NAME,
			    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (mb->lockfd < 0)
		return -1;
	if (flock(mb->lockfd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? 1 : -1;
	return 0;
}

enum popd_open_result popd_mailbox_open(const char *path, size_t len,
					struct popd_mailbox **mb_r, const char **error_r)
{
	struct popd_mailbox *mb;
	int r;

	*mb_r = NULL;
	if (!maildir_path_ok(path, len)) {
		*error_r = "mailbox path leaves the mail root";
		return POPD_OPEN_BADPATH;
	}
	mb = calloc(1, sizeof(*mb));
	if (mb == NULL) {
		*error_r = "out of memory";
		return POPD_OPEN_FAIL;
	}
	mb->lockfd = -1;
	/* A user who never got mail has no Maildir yet: make an empty one.
	 * Sync only once the session lock is ours: a second session must
	 * get [IN-USE] without touching the store. */
	if (mbox_open(path, len, MBOX_CREATE | MBOX_NO_SYNC, &mb->store, error_r) < 0) {
		popd_mailbox_close(&mb);
		return POPD_OPEN_FAIL;
	}
	r = popd_lock(mb);
	if (r != 0) {
		*error_r = r > 0 ? "locked by another session" : "cannot take the mailbox lock";
		popd_mailbox_close(&mb);
		return r > 0 ? POPD_OPEN_LOCKED : POPD_OPEN_FAIL;
	}
	/* RFC 1939 section 5: the listing is fixed for the session.  New
	 * mail is moved to cur/ (the Maildir rule for a reader that has seen
	 * it) and gets its UID now. */
	if (mbox_sync(mb->store, 0, error_r) < 0) {
		popd_mailbox_close(&mb);
		return POPD_OPEN_FAIL;
	}
	mb->n = mb->store->n;
	if (mb->n > POPD_MESSAGES_MAX) {
		log_warn("%s: more than %d messages: the rest wait for a later session",
			 path, POPD_MESSAGES_MAX);
		mb->n = POPD_MESSAGES_MAX;
	}
	mb->deleted = calloc(mb->n > 0 ? mb->n : 1, 1);
	if (mb->deleted == NULL) {
		*error_r = "out of memory";
		popd_mailbox_close(&mb);
		return POPD_OPEN_FAIL;
	}
	*mb_r = mb;
	return POPD_OPEN_OK;
}

void popd_mailbox_close(struct popd_mailbox **mbp)
{
	struct popd_mailbox *mb = *mbp;

	if (mb == NULL)
		return;
	if (mb->lockfd >= 0)
		close(mb->lockfd);   /* releases the flock */
	mbox_close(&mb->store);
	free(mb->deleted);
	free(mb);
	*mbp = NULL;
}

size_t popd_mailbox_expunge(struct popd_mailbox *mb)
{
	size_t failed = 0;
	long long bytes = 0, count = 0;

	for (size_t i = 0; i < mb->n; i++) {
		int removed;
		if (!mb->deleted[i])
			continue;
		if (mbox_msg_expunge(mb->store, i, &removed) < 0) {
			log_warn("%s: cannot remove UID %u: %s", mb->store->path, mb->store->msgs[i].uid,
				 strerror(errno));
			failed++;
		} else if (removed) {
			bytes += (long long)mb->store->msgs[i].size;
			count++;
		}
	}
	/* The Maildir++ quota's negative line, when the mailbox has one. */
	if (maildir_quota_add(mb->store->path, -bytes, -count) < 0)
		log_warn("%s: cannot update %s: %s", mb->store->path, MAILDIR_QUOTA_FILE, strerror(errno));
	return failed;
}

unsigned long long popd_msg_size(const struct popd_mailbox *mb, size_t idx)
{
	return mb->store->msgs[idx].vsize;
}

void popd_msg_uidl(const struct popd_mailbox *mb, size_t idx, char *out, size_t outlen)
{
	/* UIDVALIDITY-UID: unique and stable for as long as the store keeps
	 * its UID list, within RFC 1939 section 7's 70 printable characters. */
	snprintf(out, outlen, "%u-%u", mb->store->uidvalidity, mb->store->msgs[idx].uid);
}

/* ---- sending ---- */

int popd_msg_open(struct popd_mailbox *mb, size_t idx)
{
	if (idx >= mb->n)
		return -1;
	return mbox_msg_open(mb->store, idx);
}

/* The transformation state of one message being sent. */
struct popd_sender {
	struct stream *s;
	char out[POPD_OUT_BLOCK];
	size_t olen;
	int bol;                   /* at the beginning of a line */
	char last;                 /* the last byte of the file sent (a CR before LF: CRLF kept) */
	int in_header;             /* TOP: the empty line is still ahead */
	int top;
	unsigned long lines_left;  /* TOP: body lines still to send */
	int done;                  /* TOP: enough sent */
};

static int popd_out(struct popd_sender *ps, const char *p, size_t n)
{
	while (n > 0) {
		size_t room = sizeof(ps->out) - ps->olen;
		size_t k = n < room ? n : room;
		memcpy(ps->out + ps->olen, p, k);
		ps->olen += k;
		p += k;
		n -= k;
		if (ps->olen == sizeof(ps->out)) {
			if (stream_write(ps->s, ps->out, ps->olen) < 0)
				return -1;
			ps->olen = 0;
		}
	}
	return 0;
}

/* At the start of a line beginning with byte c: TOP accounting and
 * RFC 1939 section 3 byte-stuffing of a leading '.'. */
static int popd_line_start(struct popd_sender *ps, const char *p, const char *end)
{
	char c = *p;
	/* The empty line ends the header, stored as LF or as CRLF (a CR
	 * at the end of a block: decided when the next block comes). */
	if (ps->top && ps->in_header && (c == '\n' || (c == '\r' && p + 1 < end && p[1] == '\n'))) {
		ps->in_header = 0;
		return 0;
	}
	if (ps->top && !ps->in_header) {
		if (ps->lines_left == 0) {
			ps->done = 1;
			return 0;
		}
		ps->lines_left--;
	}
	return c == '.' ? popd_out(ps, ".", 1) : 0;
}

/* Transform one block read from the file. */
static int popd_block(struct popd_sender *ps, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end && !ps->done) {
		const char *lf;
		if (ps->bol) {
			if (popd_line_start(ps, p, end) < 0)
				return -1;
			if (ps->done)
				break;
			ps->bol = 0;
		}
		lf = memchr(p, '\n', (size_t)(end - p));
		if (lf == NULL) {
			ps->last = end[-1];
			return popd_out(ps, p, (size_t)(end - p));
		}
		/* Only a bare LF gains a CR: a line stored with CRLF goes out
		 * as it is, not as CR CR LF. */
		char before = lf > p ? lf[-1] : ps->last;
		if (popd_out(ps, p, (size_t)(lf - p)) < 0 ||
		    popd_out(ps, before == '\r' ? "\n" : "\r\n", before == '\r' ? 1 : 2) < 0)
			return -1;
		ps->last = '\n';
		ps->bol = 1;
		p = lf + 1;
	}
	return 0;
}

static int popd_send_blocks(int fd, struct popd_sender *ps)
{
	char block[POPD_READ_BLOCK];

	while (!ps->done) {
		ssize_t r = read(fd, block, sizeof(block));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		if (popd_block(ps, block, (size_t)r) < 0)
			return -1;
	}
	return 0;
}

int popd_msg_send(int fd, struct stream *s, int top, unsigned long lines)
{
	static struct popd_sender ps;   /* 16 KiB: keep it off the stack */
	int r;

	memset(&ps, 0, sizeof(ps));
	ps.s = s;
	ps.bol = 1;
	ps.top = top;
	ps.in_header = top;
	ps.lines_left = lines;
	r = popd_send_blocks(fd, &ps);
	close(fd);
	if (r < 0) {
		log_warn("message read error: %s", strerror(errno));
		return -1;
	}
	/* A last line without LF still ends with CRLF before the final dot
	 * (a final CR gets its LF). */
	if ((!ps.bol && !ps.done &&
	     popd_out(&ps, ps.last == '\r' ? "\n" : "\r\n", ps.last == '\r' ? 1 : 2) < 0) ||
	    popd_out(&ps, ".\r\n", 3) < 0 ||
	    (ps.olen > 0 && stream_write(s, ps.out, ps.olen) < 0))
		return -1;
	return 0;
}
