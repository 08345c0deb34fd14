/* maildir: durable delivery into a Maildir.
 *
 * Offers: maildir_deliver(), which writes `prefix` plus a byte range of a
 * descriptor (the queue file) to tmp/UNIQUE, fsyncs it, moves it to
 * new/UNIQUE,S=..,W=.. and fsyncs new/, so that a
 * message is visible in new/ only complete and only once it is on stable
 * storage (DESIGN.md invariants) -- with maildir_use_group_commit() both
 * fsyncs are waits for shared flushes of the file system
 * (common/group_commit.h), the first before the move, the second after; maildir_create() to make a Maildir and
 * its missing parents; the errno classification a delivery agent needs to
 * choose between "deferred" and "failed"; maildir_name_sizes() for
 * readers of the S=/W= fields.
 *
 * Unique names (cr.yp.to/proto/maildir.html, modern form):
 * SECONDS.M<usec>P<pid>Q<counter>.HOST where HOST is gethostname() with
 * '/', ':', ',', '\' and bytes outside printable ASCII written as \ooo
 * octal, so a name can never hold a path separator, an info separator or
 * a second ",S=".  The move is renameat2(RENAME_NOREPLACE), or link() and
 * unlink() where the file system refuses that flag (as the Maildir
 * description has it): either way an existing name is never
 * overwritten, and EEXIST makes a fresh name, at most
 * MAILDIR_NAME_RETRIES times.
 *
 * Trusts: the Maildir path (the caller validated it against the mail
 * root) and the descriptor; nothing about the data, which is copied
 * byte for byte in MAILDIR_COPY_BLOCK pieces.  Single-threaded: one static
 * copy buffer and name counter per process.
 *
 * Fails: -1 with errno kept from the failing system call and *error_r
 * naming the step; a partial tmp/ file is removed.  maildir_error_temporary
 * says whether to retry: almost everything is temporary, because a bounce
 * loses a message for good while a deferral only delays it and an operator
 * can fix disks, quotas, permissions and mounts.  In particular ENOENT is
 * temporary: a missing mailbox root usually means an unmounted file system
 * (missing directories below an existing root are created).  Only EFBIG
 * (the file system can never hold a file this large) is permanent. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "group_commit.h"
#include "log.h"
#include "maildir.h"
#include "fsutil.h"
#include "self_pid.h"

#define MAILDIR_COPY_BLOCK 65536   /* bytes read from the queue file per pread */
#define MAILDIR_HOST_MAX 255       /* longest host name we use (before escaping) */

static char maildir_copy_buf[MAILDIR_COPY_BLOCK];
static char maildir_host[4 * MAILDIR_HOST_MAX + 1];   /* escaped: at most 4 bytes per byte */
static unsigned long maildir_counter;

/* ---- unique names ---- */

static int maildir_host_byte_plain(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '/' && c != ':' && c != ',' && c != '\\';
}

/* The escaped host name, computed once (gethostname works in a chroot). */
static const char *maildir_hostname(void)
{
	char raw[MAILDIR_HOST_MAX + 1];
	size_t o = 0;

	if (maildir_host[0] != '\0')
		return maildir_host;
	if (gethostname(raw, sizeof raw) < 0 || raw[0] == '\0')
		memcpy(raw, "localhost", sizeof "localhost");
	raw[MAILDIR_HOST_MAX] = '\0';   /* gethostname need not terminate a clipped name */
	for (const unsigned char *p = (const unsigned char *)raw; *p != '\0'; p++) {
		if (maildir_host_byte_plain(*p)) {
			maildir_host[o++] = (char)*p;
			continue;
		}
		/* sizeof maildir_host covers 4 bytes for each of 255 bytes. */
		maildir_host[o++] = '\\';
		maildir_host[o++] = (char)('0' + ((*p >> 6) & 7));
		maildir_host[o++] = (char)('0' + ((*p >> 3) & 7));
		maildir_host[o++] = (char)('0' + (*p & 7));
	}
	maildir_host[o] = '\0';
	return maildir_host;
}

/* A fresh SECONDS.M<usec>P<pid>Q<counter>.HOST; -1 (ENAMETOOLONG) if it
 * does not fit. */
static int maildir_unique(char *out, size_t outlen)
{
	struct timeval tv;
	int n;

	gettimeofday(&tv, NULL);
	maildir_counter++;
	n = snprintf(out, outlen, "%lld.M%ldP%ldQ%lu.%s", (long long)tv.tv_sec,
		     (long)tv.tv_usec, (long)self_pid(), maildir_counter, maildir_hostname());
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int maildir_unique_name(char *out, size_t outlen)
{
	return maildir_unique(out, outlen);
}

/* BASE,S=size,W=crlf_size */
static int maildir_final_name(char *out, size_t outlen, const char *base,
			      unsigned long long s, unsigned long long w)
{
	int n = snprintf(out, outlen, "%s,S=%llu,W=%llu", base, s, w);

	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* ---- directories ---- */

static void maildir_close_keep_errno(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
}

/* mkdir -p path (a writable copy, no trailing '/'), at most
 * MAILDIR_DEPTH_MAX levels.  The cheap case (exists) costs one mkdir. */
static int maildir_mkdirs(char *path, size_t len, int depth)
{
	char *slash;
	int r;

	if (mkdir(path, 0700) == 0)
		return fsync_parent(path);
	if (errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (depth >= MAILDIR_DEPTH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = memrchr(path, '/', len);
	if (slash == NULL || slash == path)
		return -1;   /* the root or the current directory is missing: ENOENT */
	*slash = '\0';
	r = maildir_mkdirs(path, (size_t)(slash - path), depth + 1);
	*slash = '/';
	if (r < 0)
		return -1;
	if (mkdir(path, 0700) == 0)
		return fsync_parent(path);
	return errno == EEXIST ? 0 : -1;
}

/* Make tmp/, new/ and cur/ inside the open Maildir dfd. */
static int maildir_make_subdirs(int dfd)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	int made = 0;

	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		if (mkdirat(dfd, subs[i], 0700) == 0)
			made = 1;
		else if (errno != EEXIST)
			return -1;
	}
	return made ? fsync(dfd) : 0;
}

int maildir_create(const char *maildir, const char **error_r)
{
	char path[MAILDIR_PATH_MAX];
	size_t len = strlen(maildir);
	int dfd;

	if (len == 0 || len >= sizeof path) {
		errno = len == 0 ? EINVAL : ENAMETOOLONG;
		*error_r = "bad Maildir path";
		return -1;
	}
	memcpy(path, maildir, len + 1);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	if (maildir_mkdirs(path, len, 0) < 0) {
		*error_r = "cannot create Maildir directory";
		return -1;
	}
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		*error_r = "cannot open Maildir directory";
		return -1;
	}
	if (maildir_make_subdirs(dfd) < 0) {
		maildir_close_keep_errno(dfd);
		*error_r = "cannot create tmp/, new/ or cur/";
		return -1;
	}
	close(dfd);
	return 0;
}

/* Open maildir/tmp and maildir/new; on ENOENT create the Maildir once. */
static int maildir_open_dirs(const char *maildir, int *tmp_r, int *new_r, const char **error_r)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int dfd = open(maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int tfd = -1, nfd = -1;

		if (dfd >= 0) {
			tfd = openat(dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (tfd >= 0)
				nfd = openat(dfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			maildir_close_keep_errno(dfd);
		}
		if (nfd >= 0) {
			*tmp_r = tfd;
			*new_r = nfd;
			return 0;
		}
		maildir_close_keep_errno(tfd);
		if (errno != ENOENT || attempt > 0) {
			*error_r = "cannot open Maildir";
			return -1;
		}
		if (maildir_create(maildir, error_r) < 0)
			return -1;
	}
	*error_r = "cannot open Maildir";
	return -1;
}

/* ---- the copy ---- */


/* The LFs of p[0..n) not after a CR (each goes out as CRLF: the W=
 * count, as common/mailbox_store_scan.c measures it); *prev is the byte
 * before p, and becomes p's last. */
static unsigned long long maildir_count_lf(const char *p, size_t n, char *prev)
{
	unsigned long long lf = 0;
	const char *start = p, *end = p + n;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lf += (p == start ? *prev : p[-1]) != '\r';
		p++;
	}
	if (n > 0)
		*prev = end[-1];
	return lf;
}

/* Write prefix + data[offset, offset+size) to fd, counting LFs for W=.
 * A short prefix (local's Return-Path and Delivered-To) goes out with
 * the first block of data: one write(2) fewer a message. */
static int maildir_copy(int fd, const struct buf *prefix, int data_fd, off_t offset,
			off_t size, unsigned long long *lf_r, const char **error_r)
{
	unsigned long long lf = 0;
	off_t done = 0;
	size_t held = 0;   /* prefix bytes at the start of maildir_copy_buf */
	char last = '\n';   /* the byte before the next: a message starts a line */

	if (prefix != NULL && prefix->len > 0) {
		lf += maildir_count_lf(prefix->data, prefix->len, &last);
		if (size > 0 && prefix->len <= MAILDIR_COPY_BLOCK / 2) {
			memcpy(maildir_copy_buf, prefix->data, prefix->len);
			held = prefix->len;
		} else if (fd_write_all(fd, prefix->data, prefix->len) < 0) {
			*error_r = "cannot write message file";
			return -1;
		}
	}
	while (done < size) {
		size_t room = MAILDIR_COPY_BLOCK - held;
		size_t want = size - done < (off_t)room ? (size_t)(size - done) : room;
		ssize_t n = pread(data_fd, maildir_copy_buf + held, want, offset + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			*error_r = n == 0 ? "message data ends early" : "cannot read message data";
			return -1;
		}
		lf += maildir_count_lf(maildir_copy_buf + held, (size_t)n, &last);
		if (fd_write_all(fd, maildir_copy_buf, held + (size_t)n) < 0) {
			*error_r = "cannot write message file";
			return -1;
		}
		held = 0;
		done += n;
	}
	/* and the line end a last line without one is sent with (IMAP,
	 * POP3): LF after a final CR, else CRLF */
	*lf_r = lf + (last != '\n' ? (last == '\r' ? 1 : 2) : 0);
	return 0;
}

/* local's shared flush (maildir_use_group_commit), NULL: fsyncs. */
static struct group_commit *maildir_group;

void maildir_use_group_commit(struct group_commit *g)
{
	maildir_group = g;
}

/* Whether a Maildir directory is on the file system the group flush
 * covers; one elsewhere (a mount below the mail root) keeps fsyncs. */
static int maildir_grouped(int dir_fd)
{
	return maildir_group != NULL && group_commit_covers(maildir_group, dir_fd);
}

/* Create tmp/BASE exclusively under a fresh name. */
static int maildir_tmp_open(int tmp_fd, char *base, size_t baselen, int *fd_r, const char **error_r)
{
	for (int i = 0; i < MAILDIR_NAME_RETRIES; i++) {
		if (maildir_unique(base, baselen) < 0) {
			*error_r = "file name too long";
			return -1;
		}
		*fd_r = openat(tmp_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (*fd_r >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	*error_r = "cannot create file in tmp/";
	return -1;
}

/* Write and sync tmp/BASE; removes it on failure. */
static int maildir_tmp_write(int tmp_fd, char *base, size_t baselen, const struct buf *prefix,
			     int data_fd, off_t offset, off_t size,
			     unsigned long long *lf_r, const char **error_r)
{
	int fd;

	if (maildir_tmp_open(tmp_fd, base, baselen, &fd, error_r) < 0)
		return -1;
	if (maildir_copy(fd, prefix, data_fd, offset, size, lf_r, error_r) < 0)
		goto fail;
	if (!maildir_grouped(tmp_fd) && fsync(fd) < 0) {
		*error_r = "cannot fsync message file";
		goto fail;
	}
	/* close() reports deferred write errors on some file systems (NFS). */
	int closed = close(fd);

	fd = -1;   /* closed either way: the fail path must not close it again */
	if (closed < 0) {
		*error_r = "cannot close message file";
		goto fail;
	}
	/* Flushed before its link into new/ exists: after a power cut
	 * new/ never shows a file whose data did not make it. */
	if (maildir_grouped(tmp_fd) && group_commit_wait(maildir_group) < 0) {
		*error_r = "cannot flush the mail file system";
		goto fail;
	}
	return 0;
fail:
	maildir_close_keep_errno(fd);
	{
		int saved = errno;
		unlinkat(tmp_fd, base, 0);
		errno = saved;
	}
	return -1;
}

/* Move tmp/BASE to new/FINAL, making a fresh FINAL on EEXIST: a rename
 * that never replaces (one system call), or where the file system
 * refuses that flag, link(2) as Maildir has it (*linked set: tmp/BASE
 * is still there for the caller to remove). */
static int maildir_move_new(int tmp_fd, const char *base, int new_fd, unsigned long long s,
			    unsigned long long w, char *final, size_t finallen, int *linked,
			    const char **error_r)
{
	char fresh[MAILDIR_NAME_MAX];
	const char *stem = base;
	static int no_noreplace;   /* renameat2 refused the flag once: link from then on */

	*linked = 0;
	for (int i = 0; i < MAILDIR_NAME_RETRIES; i++) {
		if (maildir_final_name(final, finallen, stem, s, w) < 0) {
			*error_r = "file name too long";
			return -1;
		}
		if (!no_noreplace) {
			if (renameat2(tmp_fd, base, new_fd, final, RENAME_NOREPLACE) == 0)
				return 0;
			no_noreplace = errno == EINVAL || errno == ENOSYS;
		}
		if (no_noreplace && linkat(tmp_fd, base, new_fd, final, 0) == 0) {
			*linked = 1;
			return 0;
		}
		if (errno != EEXIST)
			break;
		if (maildir_unique(fresh, sizeof fresh) < 0) {
			*error_r = "file name too long";
			return -1;
		}
		stem = fresh;
	}
	*error_r = "cannot move message into new/";
	return -1;
}

static int maildir_check_args(const struct buf *prefix, off_t offset, off_t size,
			      const char *name_r, size_t name_len, unsigned long long *s_r)
{
	off_t end;
	unsigned long long s;

	if (offset < 0 || size < 0 || __builtin_add_overflow(offset, size, &end) ||
	    (name_r != NULL && name_len < MAILDIR_NAME_MAX) ||
	    __builtin_add_overflow((unsigned long long)size,
				   (unsigned long long)(prefix != NULL ? prefix->len : 0), &s)) {
		errno = EINVAL;
		return -1;
	}
	*s_r = s;
	return 0;
}

int maildir_deliver(const char *maildir, const struct buf *prefix, int data_fd,
		    off_t offset, off_t size, char *name_r, size_t name_len,
		    const char **error_r)
{
	char base[MAILDIR_NAME_MAX], final[MAILDIR_NAME_MAX];
	unsigned long long s, lf;
	int tmp_fd, new_fd, linked, r = -1;

	if (maildir_check_args(prefix, offset, size, name_r, name_len, &s) < 0) {
		*error_r = "bad delivery arguments";
		return -1;
	}
	if (maildir_open_dirs(maildir, &tmp_fd, &new_fd, error_r) < 0)
		return -1;
	if (maildir_tmp_write(tmp_fd, base, sizeof base, prefix, data_fd, offset, size,
			      &lf, error_r) < 0)
		goto out;
	if (maildir_move_new(tmp_fd, base, new_fd, s, s + lf, final, sizeof final, &linked, error_r) < 0) {
		int saved = errno;
		unlinkat(tmp_fd, base, 0);
		errno = saved;
		goto out;
	}
	if (linked && unlinkat(tmp_fd, base, 0) < 0)
		log_warn("maildir %s: cannot remove tmp/%s: %s", maildir, base, strerror(errno));
	/* The delivery exists only once new/ is on disk; if that fails, take
	 * the file back so that a retry cannot make a duplicate. */
	if (maildir_grouped(new_fd) ? group_commit_wait(maildir_group) < 0 : fsync(new_fd) < 0) {
		int saved = errno;
		unlinkat(new_fd, final, 0);
		errno = saved;
		*error_r = maildir_grouped(new_fd) ? "cannot flush the mail file system" : "cannot fsync new/";
		goto out;
	}
	if (name_r != NULL)
		memcpy(name_r, final, strlen(final) + 1);   /* fits: name_len >= MAILDIR_NAME_MAX */
	r = 0;
out:
	maildir_close_keep_errno(tmp_fd);
	maildir_close_keep_errno(new_fd);
	return r;
}

/* ---- error classes ---- */

int maildir_error_temporary(int err)
{
	return err != EFBIG;
}

const char *maildir_error_dsn(int err)
{
	switch (err) {
	case EDQUOT: return "4.2.2";    /* mailbox full */
	case ENOSPC: return "4.3.1";    /* mail system full */
	case EFBIG: return "5.3.4";     /* message too big for system */
	case EACCES: case EPERM: case EROFS: case ENOTDIR: case ELOOP:
	case ENAMETOOLONG: case ENOENT:
		return "4.3.5";         /* system incorrectly configured */
	default: return "4.3.0";        /* other mail system problem */
	}
}

/* ---- reading names ---- */

/* Parse the decimal after "KEY=" at p (end at e) up to ',' or the end. */
static int maildir_parse_size(const char *p, const char *e, unsigned long long *v_r)
{
	unsigned long long v = 0;

	if (p >= e || *p < '0' || *p > '9')
		return -1;
	for (; p < e && *p != ','; p++) {
		if (*p < '0' || *p > '9' || __builtin_mul_overflow(v, 10ULL, &v) ||
		    __builtin_add_overflow(v, (unsigned long long)(*p - '0'), &v))
			return -1;
	}
	*v_r = v;
	return 0;
}

int maildir_name_sizes(const char *name, unsigned long long *s_r, unsigned long long *w_r)
{
	const char *colon = strchr(name, ':');
	const char *e = colon != NULL ? colon : name + strlen(name);
	const char *p = memchr(name, ',', (size_t)(e - name));
	int have_s = 0, have_w = 0;

	while (p != NULL && p < e) {
		if (e - p > 3 && p[1] == 'S' && p[2] == '=')
			have_s = maildir_parse_size(p + 3, e, s_r) == 0;
		else if (e - p > 3 && p[1] == 'W' && p[2] == '=')
			have_w = maildir_parse_size(p + 3, e, w_r) == 0;
		p = memchr(p + 1, ',', (size_t)(e - p - 1));
	}
	return have_s && have_w ? 0 : -1;
}

int maildir_path_ok(const char *p, size_t len)
{
	size_t start = 0;

	if (len == 0 || len >= MAILDIR_PATH_MAX || p[0] == '/')
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	while (start < len) {
		const char *slash = memchr(p + start, '/', len - start);
		size_t end = slash != NULL ? (size_t)(slash - p) : len;
		size_t n = end - start;

		if (n == 0 || (n == 1 && p[start] == '.') ||
		    (n == 2 && p[start] == '.' && p[start + 1] == '.'))
			return 0;
		if (start == 0 && n == 7 && memcmp(p, "private", 7) == 0)
			return 0;   /* mail/private/ holds the service sockets */
		start = end + 1;
	}
	return 1;
}
