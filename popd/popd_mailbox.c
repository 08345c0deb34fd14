/* popd_mailbox: one user's Maildir as a POP3 maildrop.
 *
 * Offers: popd_mailbox_open() locks the Maildir against a second POP3
 * session (flock on POPD_LOCK_NAME, non-blocking: RFC 2449 [IN-USE]),
 * moves new/ messages into cur/ (keeping the name, adding the ":2," info
 * of the Maildir spec), and lists cur/ sorted by file name, which starts
 * with the delivery time, so message numbers follow arrival.  Sizes come
 * from the W= field of the name when present (the size with CRLF line
 * ends), else from reading the file once.  The UIDL of a message is the
 * unique part of its name (before ':'), stable across sessions; when it
 * is not 1-70 printable characters (RFC 1939 section 7) its SHA-256 is
 * used instead.  popd_msg_send() streams a message in fixed blocks with
 * LF -> CRLF and dot-stuffing, so memory does not grow with message size.
 *
 * Trusts: the mailbox path only after maildir_path_ok (relative, no
 * "." / ".." components); everything after that is relative to the
 * Maildir's descriptor (openat/renameat2/unlinkat), and message files are
 * opened with O_NOFOLLOW.  File contents are not parsed beyond counting
 * lines.  The number of messages is bounded by POPD_MESSAGES_MAX (the
 * rest wait for a later session, with a log line).
 *
 * Fails: open returns POPD_OPEN_LOCKED / BADPATH / FAIL with *error_r
 * (static); a message that vanished after the listing is dropped (at
 * open) or reported at RETR (popd_msg_open -1).  Runs as postern-vmail
 * inside the mail root, like the local delivery agent. */
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
#include "popd.h"

#define POPD_READ_BLOCK 65536
#define POPD_OUT_BLOCK 16384

/* ---- the path ---- */

/* ---- listing ---- */

static void popd_uidl(const char *name, char *out)
{
	const char *colon = strchr(name, ':');
	size_t len = colon != NULL ? (size_t)(colon - name) : strlen(name);
	int ok = len > 0 && len <= POPD_UIDL_MAX;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; ok && i < len; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			ok = 0;
	if (ok) {
		memcpy(out, name, len);
		out[len] = '\0';
		return;
	}
	/* 64 hex digits: within the 70 of RFC 1939, and as stable as the name. */
	if (EVP_Digest(name, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen * 2 > POPD_UIDL_MAX)
		log_panic("SHA-256 failed");
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * mdlen] = '\0';
}

/* Size with every LF as CRLF, plus the CRLF we add after a last line
 * without LF.  0, or -1 (file unreadable or gone). */
static int popd_size_by_reading(int mdfd, const char *name, unsigned long long *size_r)
{
	char path[sizeof("cur/") + NAME_MAX + 1];
	char block[POPD_READ_BLOCK];
	unsigned long long size = 0;
	char last = '\n';
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "cur/%s", name) >= sizeof(path))
		return -1;
	fd = openat(mdfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r = read(fd, block, sizeof(block));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		size += (unsigned long long)r;
		for (const char *p = block; (p = memchr(p, '\n', (size_t)(block + r - p))) != NULL; p++)
			size++;
		last = block[r - 1];
	}
	close(fd);
	if (last != '\n')
		size += 2;
	*size_r = size;
	return 0;
}

static int popd_msg_cmp(const void *a, const void *b)
{
	const struct popd_msg *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int popd_msgs_add(struct popd_mailbox *mb, size_t *alloc, const char *name)
{
	struct popd_msg *m;

	if (mb->n == *alloc) {
		size_t na = *alloc == 0 ? 64 : *alloc * 2;
		if (na > POPD_MESSAGES_MAX)
			na = POPD_MESSAGES_MAX;
		m = reallocarray(mb->msgs, na, sizeof(*m));
		if (m == NULL)
			return -1;
		mb->msgs = m;
		*alloc = na;
	}
	m = &mb->msgs[mb->n];
	memset(m, 0, sizeof(*m));
	m->name = strdup(name);
	if (m->name == NULL)
		return -1;
	mb->n++;
	return 0;
}

/* Whether a directory entry is a message file worth listing: no dot
 * file (Maildir++ folders, editors' temporaries), a regular file. */
static int popd_entry_is_message(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_name[0] == '.')
		return 0;
	if (de->d_type == DT_REG)
		return 1;
	if (de->d_type != DT_UNKNOWN)
		return 0;
	return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* Open sub (new/ or cur/) of the Maildir as a DIR stream, or NULL. */
static DIR *popd_opendir(int mdfd, const char *sub)
{
	int fd = openat(mdfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (d == NULL)
		close(fd);
	return d;
}

/* new/NAME -> cur/NAME:2, (Maildir spec: a reader that has seen a
 * message moves it to cur/ with an info suffix).  Never replaces. */
static void popd_move_new(int mdfd)
{
	char from[sizeof("new/") + NAME_MAX + 1], to[sizeof("cur/") + NAME_MAX + 4];
	size_t moved = 0;
	struct dirent *de;
	DIR *d = popd_opendir(mdfd, "new");

	if (d == NULL) {
		if (errno != ENOENT)
			log_warn("cannot open new/: %s", strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL && moved < POPD_MESSAGES_MAX) {
		if (!popd_entry_is_message(dirfd(d), de))
			continue;
		snprintf(from, sizeof(from), "new/%s", de->d_name);
		if ((size_t)snprintf(to, sizeof(to), "cur/%s%s", de->d_name,
				     strchr(de->d_name, ':') != NULL ? "" : ":2,") >= sizeof(to))
			continue;
		if (renameat2(mdfd, from, mdfd, to, RENAME_NOREPLACE) < 0) {
			log_warn("cannot move %s to %s: %s", from, to, strerror(errno));
			continue;
		}
		moved++;
	}
	closedir(d);
}

/* Size and UIDL of every listed message; drops the ones that vanished. */
static void popd_msgs_measure(struct popd_mailbox *mb)
{
	size_t keep = 0;

	for (size_t i = 0; i < mb->n; i++) {
		struct popd_msg *m = &mb->msgs[i];
		unsigned long long s;
		if (maildir_name_sizes(m->name, &s, &m->size) < 0 &&
		    popd_size_by_reading(mb->dirfd, m->name, &m->size) < 0) {
			log_warn("cur/%s: cannot read it, not listed: %s", m->name, strerror(errno));
			free(m->name);
			continue;
		}
		popd_uidl(m->name, m->uidl);
		mb->msgs[keep++] = *m;
	}
	mb->n = keep;
}

static int popd_list_cur(struct popd_mailbox *mb, const char **error_r)
{
	size_t alloc = 0;
	struct dirent *de;
	DIR *d = popd_opendir(mb->dirfd, "cur");

	if (d == NULL) {
		*error_r = "cannot open cur/";
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!popd_entry_is_message(dirfd(d), de))
			continue;
		if (mb->n == POPD_MESSAGES_MAX) {
			log_warn("more than %d messages: the rest wait for a later session",
				 POPD_MESSAGES_MAX);
			break;
		}
		if (popd_msgs_add(mb, &alloc, de->d_name) < 0) {
			closedir(d);
			*error_r = "out of memory";
			return -1;
		}
	}
	closedir(d);
	if (mb->n > 1)
		qsort(mb->msgs, mb->n, sizeof(mb->msgs[0]), popd_msg_cmp);
	popd_msgs_measure(mb);
	return 0;
}

/* ---- open / close ---- */

/* Open the Maildir directory (creating an empty one for a user who never
 * got mail); fd or -1. */
static int popd_open_dir(const char *path, size_t len, const char **error_r)
{
	char p[POPD_MAILBOX_PATH_MAX + 1];
	int fd;

	memcpy(p, path, len);
	while (len > 1 && p[len - 1] == '/')
		len--;
	p[len] = '\0';
	fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (maildir_create(p, error_r) < 0)
			return -1;
		fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		*error_r = "cannot open the Maildir";
	return fd;
}

/* Take the session lock.  0, 1 when somebody else holds it, -1 error. */
static int popd_lock(struct popd_mailbox *mb)
{
	mb->lockfd = openat(mb->dirfd, POPD_LOCK_NAME,
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
	mb->dirfd = popd_open_dir(path, len, error_r);
	if (mb->dirfd < 0) {
		popd_mailbox_close(&mb);
		return POPD_OPEN_FAIL;
	}
	r = popd_lock(mb);
	if (r != 0) {
		*error_r = r > 0 ? "locked by another session" : "cannot take the mailbox lock";
		popd_mailbox_close(&mb);
		return r > 0 ? POPD_OPEN_LOCKED : POPD_OPEN_FAIL;
	}
	popd_move_new(mb->dirfd);
	if (popd_list_cur(mb, error_r) < 0) {
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
	for (size_t i = 0; i < mb->n; i++)
		free(mb->msgs[i].name);
	free(mb->msgs);
	if (mb->lockfd >= 0)
		close(mb->lockfd);   /* releases the flock */
	if (mb->dirfd >= 0)
		close(mb->dirfd);
	free(mb);
	*mbp = NULL;
}

size_t popd_mailbox_expunge(struct popd_mailbox *mb)
{
	char path[sizeof("cur/") + NAME_MAX + 1];
	size_t failed = 0;

	for (size_t i = 0; i < mb->n; i++) {
		if (!mb->msgs[i].deleted)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "cur/%s", mb->msgs[i].name) >= sizeof(path) ||
		    (unlinkat(mb->dirfd, path, 0) < 0 && errno != ENOENT)) {
			log_warn("cannot remove %s: %s", path, strerror(errno));
			failed++;
		}
	}
	return failed;
}

/* ---- sending ---- */

int popd_msg_open(const struct popd_mailbox *mb, size_t idx)
{
	char path[sizeof("cur/") + NAME_MAX + 1];

	if (idx >= mb->n ||
	    (size_t)snprintf(path, sizeof(path), "cur/%s", mb->msgs[idx].name) >= sizeof(path))
		return -1;
	return openat(mb->dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
}

/* The transformation state of one message being sent. */
struct popd_sender {
	struct stream *s;
	char out[POPD_OUT_BLOCK];
	size_t olen;
	int bol;                   /* at the beginning of a line */
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
static int popd_line_start(struct popd_sender *ps, char c)
{
	if (ps->top && ps->in_header && c == '\n') {
		ps->in_header = 0;   /* this empty line ends the header */
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
			if (popd_line_start(ps, *p) < 0)
				return -1;
			if (ps->done)
				break;
			ps->bol = 0;
		}
		lf = memchr(p, '\n', (size_t)(end - p));
		if (lf == NULL)
			return popd_out(ps, p, (size_t)(end - p));
		if (popd_out(ps, p, (size_t)(lf - p)) < 0 || popd_out(ps, "\r\n", 2) < 0)
			return -1;
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
	/* A last line without LF still ends with CRLF before the final dot. */
	if ((!ps.bol && !ps.done && popd_out(&ps, "\r\n", 2) < 0) ||
	    popd_out(&ps, ".\r\n", 3) < 0 ||
	    (ps.olen > 0 && stream_write(s, ps.out, ps.olen) < 0))
		return -1;
	return 0;
}
