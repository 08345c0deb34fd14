/* maildir_quota: Maildir++ quota, kept in the `maildirsize` file.
 *
 * Offers: the parser of maildirsize (the definition "NNNS[,MMMC]" on the
 * first line, "BYTES COUNT" deltas after it), the check before a message
 * is stored (maildir_quota_check), the delta line after a message is
 * stored or removed (maildir_quota_add: one write with O_APPEND), the
 * rebuild from the Maildir (the S= of each file name in cur/ and new/ of
 * INBOX and of every .folder, the file's size where a name has none),
 * and the quota of a mailbox from the map etc/quota or postern.conf
 * (maildir_quota_of).  The file is rebuilt when it is missing, larger
 * than MAILDIR_QUOTA_FILE_MAX (the Maildir++ rule), names another quota,
 * cannot be parsed, or says a message does not fit: so a reader that
 * deletes mail without writing a negative line (POP3, another IMAP
 * server) cannot make a mailbox look full for ever.  Like every
 * Maildir++ quota this is a soft limit: two writers checking at the
 * same moment may both store, and a rebuild racing a delivery may miss
 * its line until the next rebuild.
 *
 * Trusts: nothing in maildirsize (only postern-vmail writes it, but it is
 * parsed with bounds anyway: its size, every number overflow-checked);
 * the Maildir path was checked by the caller.
 *
 * Fails: a file that cannot be read counts as missing (rebuilt); one
 * that cannot be rewritten is logged and the scanned usage is used, so a
 * broken quota file never stops mail. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "buf.h"
#include "cdbmap.h"
#include "config.h"
#include "log.h"
#include "maildir.h"
#include "maildir_quota.h"

#define MQ_DIGITS_MAX 18          /* a value below 10^18 fits in long long, negated too */
#define MQ_VALUE_MAX 64           /* longest quota map value read */

static int mq_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* A decimal number at *p (before end), at most MQ_DIGITS_MAX digits. */
static int mq_number(const char **p, const char *end, unsigned long long *v_r)
{
	unsigned long long v = 0;
	size_t n = 0;

	while (*p < end && **p >= '0' && **p <= '9') {
		if (++n > MQ_DIGITS_MAX)
			return -1;
		v = v * 10 + (unsigned long long)(**p - '0');
		(*p)++;
	}
	if (n == 0)
		return -1;
	*v_r = v;
	return 0;
}

/* [-]digits at *p. */
static int mq_signed(const char **p, const char *end, long long *v_r)
{
	unsigned long long v;
	int neg = *p < end && **p == '-';

	if (neg)
		(*p)++;
	if (mq_number(p, end, &v) < 0)
		return -1;
	*v_r = neg ? -(long long)v : (long long)v;   /* v < 10^18 < 2^63 */
	return 0;
}

int maildir_quota_def_parse(const char *p, size_t len, struct maildir_quota *q_r)
{
	const char *end = p + len;
	int seen_s = 0, seen_c = 0;

	while (end > p && mq_blank(end[-1]))
		end--;
	q_r->bytes = q_r->messages = 0;
	if (p == end)
		return -1;
	for (;;) {
		unsigned long long v;
		if (mq_number(&p, end, &v) < 0 || p == end)
			return -1;
		if (*p == 'S' && !seen_s) {
			q_r->bytes = v;
			seen_s = 1;
		} else if (*p == 'C' && !seen_c) {
			q_r->messages = v;
			seen_c = 1;
		} else {
			return -1;
		}
		if (++p == end)
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

int maildir_quota_def_format(const struct maildir_quota *q, char *out, size_t len)
{
	int n;

	if (q->bytes > 0 && q->messages > 0)
		n = snprintf(out, len, "%lluS,%lluC", q->bytes, q->messages);
	else if (q->messages > 0)
		n = snprintf(out, len, "%lluC", q->messages);
	else
		n = snprintf(out, len, "%lluS", q->bytes);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* One "BYTES COUNT" line (no line end) added to *bytes and *count. */
static int mq_delta_parse(const char *p, const char *end, long long *bytes, long long *count)
{
	long long b, c;

	while (p < end && mq_blank(*p))
		p++;
	if (mq_signed(&p, end, &b) < 0 || p == end || !mq_blank(*p))
		return -1;
	while (p < end && mq_blank(*p))
		p++;
	if (mq_signed(&p, end, &c) < 0)
		return -1;
	while (p < end && mq_blank(*p))
		p++;
	if (p != end || __builtin_add_overflow(*bytes, b, bytes) || __builtin_add_overflow(*count, c, count))
		return -1;
	return 0;
}

int maildir_quota_parse(const char *p, size_t len, struct maildir_quota *q_r, struct maildir_usage *u_r)
{
	const char *end = p + len, *nl = memchr(p, '\n', len);
	long long bytes = 0, count = 0;

	if (nl == NULL || maildir_quota_def_parse(p, (size_t)(nl - p), q_r) < 0)
		return -1;
	for (p = nl + 1; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return -1;   /* a torn last line: rebuild */
		if (mq_delta_parse(p, nl, &bytes, &count) < 0)
			return -1;
	}
	u_r->bytes = bytes < 0 ? 0 : (unsigned long long)bytes;
	u_r->count = count < 0 ? 0 : (unsigned long long)count;
	return 0;
}

int maildir_quota_value_parse(const char *p, size_t len, struct maildir_quota *q)
{
	const char *comma = len > 0 ? memchr(p, ',', len) : NULL;
	unsigned long long bytes, messages = q->messages;

	if (len == 0 || config_parse_size(p, comma != NULL ? (size_t)(comma - p) : len, &bytes) < 0)
		return -1;
	if (comma != NULL) {
		const char *c = comma + 1, *end = p + len;
		if (mq_number(&c, end, &messages) < 0 || c != end)
			return -1;
	}
	q->bytes = bytes;
	q->messages = messages;
	return 0;
}

int maildir_quota_fits(const struct maildir_quota *q, const struct maildir_usage *u, unsigned long long bytes,
		       unsigned long long count)
{
	unsigned long long b, c;

	if (__builtin_add_overflow(u->bytes, bytes, &b) || __builtin_add_overflow(u->count, count, &c))
		return 0;
	return (q->bytes == 0 || b <= q->bytes) && (q->messages == 0 || c <= q->messages);
}

/* maildir "/" name into out; -1 when it does not fit. */
static int mq_path(char *out, size_t len, const char *maildir, const char *name)
{
	size_t n = strlen(maildir);
	int r = snprintf(out, len, "%s%s%s", maildir, n > 0 && maildir[n - 1] == '/' ? "" : "/", name);

	return r < 0 || (size_t)r >= len ? -1 : 0;
}

int maildir_quota_read(const char *maildir, struct maildir_quota *q_r, struct maildir_usage *u_r)
{
	char path[MAILDIR_PATH_MAX + 16], text[MAILDIR_QUOTA_FILE_MAX + 1];
	size_t n = 0;
	int fd;

	if (mq_path(path, sizeof path, maildir, MAILDIR_QUOTA_FILE) < 0 ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	while (n < sizeof text) {
		ssize_t r = read(fd, text + n, sizeof text - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n == 0 || n > MAILDIR_QUOTA_FILE_MAX)
		return -1;
	return maildir_quota_parse(text, n, q_r, u_r);
}

/* Add the files of dir (a cur/ or new/) to u. */
static void mq_scan_dir(const char *dir, struct maildir_usage *u)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		unsigned long long s, w;
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (maildir_name_sizes(de->d_name, &s, &w) < 0) {
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			s = (unsigned long long)st.st_size;
		}
		u->bytes += s;
		u->count++;
	}
	closedir(d);
}

void maildir_quota_scan_folder(const char *folder, struct maildir_usage *u)
{
	char p[MAILDIR_PATH_MAX + 16];

	if (mq_path(p, sizeof p, folder, "cur") == 0)
		mq_scan_dir(p, u);
	if (mq_path(p, sizeof p, folder, "new") == 0)
		mq_scan_dir(p, u);
}

void maildir_quota_scan(const char *maildir, struct maildir_usage *u_r)
{
	char path[MAILDIR_PATH_MAX + 300];
	DIR *d = opendir(maildir);
	struct dirent *de;
	size_t folders = 0;

	u_r->bytes = u_r->count = 0;
	maildir_quota_scan_folder(maildir, u_r);
	while (d != NULL && (de = readdir(d)) != NULL && folders < MAILDIR_QUOTA_FOLDERS_MAX) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (mq_path(path, sizeof path, maildir, de->d_name) == 0)
			maildir_quota_scan_folder(path, u_r);
		folders++;
	}
	if (d != NULL)
		closedir(d);
}

int maildir_quota_rebuild(const char *maildir, const struct maildir_quota *q, struct maildir_usage *u_r)
{
	char path[MAILDIR_PATH_MAX + 16];
	char def[MAILDIR_QUOTA_DEF_MAX], text[MAILDIR_QUOTA_DEF_MAX + 64];
	int n;

	maildir_quota_scan(maildir, u_r);
	if (mq_path(path, sizeof path, maildir, MAILDIR_QUOTA_FILE) < 0 ||
	    maildir_quota_def_format(q, def, sizeof def) < 0 ||
	    (n = snprintf(text, sizeof text, "%s\n%llu %llu\n", def, u_r->bytes, u_r->count)) < 0 ||
	    (size_t)n >= sizeof text) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Not fsynced: the file is a cache of a scan, redone when lost. */
	return atomic_file_write(AT_FDCWD, path, NULL, text, (size_t)n, 0600, 0);
}

int maildir_quota_check(const char *maildir, const struct maildir_quota *q, unsigned long long bytes,
			unsigned long long count, struct maildir_usage *u_r)
{
	struct maildir_quota named;

	u_r->bytes = u_r->count = 0;
	if (!maildir_quota_active(q))
		return 1;
	if (maildir_quota_read(maildir, &named, u_r) == 0 && named.bytes == q->bytes &&
	    named.messages == q->messages && maildir_quota_fits(q, u_r, bytes, count))
		return 1;
	if (maildir_quota_rebuild(maildir, q, u_r) < 0)
		log_warn("maildir %s: cannot rewrite %s: %s", maildir, MAILDIR_QUOTA_FILE, strerror(errno));
	return maildir_quota_fits(q, u_r, bytes, count);
}

int maildir_quota_add(const char *maildir, long long bytes, long long count)
{
	char path[MAILDIR_PATH_MAX + 16], line[64];
	int fd, n;

	if (bytes == 0 && count == 0)
		return 0;
	if (mq_path(path, sizeof path, maildir, MAILDIR_QUOTA_FILE) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	/* One write with O_APPEND: concurrent writers never mix lines. */
	n = snprintf(line, sizeof line, "%lld %lld\n", bytes, count);
	if (n < 0 || write(fd, line, (size_t)n) != n) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

void maildir_quota_of(struct cdbmap *map, const char *addr, struct maildir_quota *q_r)
{
	struct buf value;
	int found;

	q_r->bytes = config_size("mailbox_quota");
	q_r->messages = config_size("mailbox_quota_messages");
	if (map == NULL)
		return;
	buf_init(&value, MQ_VALUE_MAX);
	found = cdbmap_lookup(map, addr, strlen(addr), &value);
	if (found < 0)
		log_warn("quota map lookup for <%s> failed; using mailbox_quota", addr);
	else if (found > 0 && maildir_quota_value_parse(buf_cstr(&value), value.len, q_r) < 0)
		log_warn("quota map entry for <%s> is not SIZE[,COUNT]: %s; using mailbox_quota", addr,
			 buf_cstr(&value));
	buf_free(&value);
}
