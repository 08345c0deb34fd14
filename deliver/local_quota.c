/* local_quota: Maildir++ quota for the local agent.
 *
 * Offers: local_quota_check() before a delivery and local_quota_add()
 * after one, using the Maildir++ `maildirsize` file in the Maildir: its
 * first line is the quota ("NNNS"), each further line "BYTES COUNT" a
 * change in usage; usage is the sum.  The quota of a mailbox is its entry
 * in the optional map etc/quota (`ADDRESS SIZE`, the address as in
 * etc/mailboxes, SIZE with k/m/g like postern.conf), else mailbox_quota
 * from postern.conf (0: no quota, maildirsize is then left alone).  The file
 * is rebuilt from the Maildir (the S= of each file name in cur/ and new/
 * of INBOX and of every .folder, stat() where a name has none) when it
 * is missing, larger than LOCAL_QUOTA_FILE_MAX (the Maildir++ rule of
 * 5120 bytes), names another quota, cannot be parsed, or says the
 * message does not fit: readers (POP3, IMAP) that delete mail without
 * writing a negative line cannot then make a mailbox look full forever.
 *
 * Trusts: nothing in maildirsize (users can write it through nothing,
 * but it is parsed with bounds anyway); the Maildir path was checked.
 *
 * Fails: over quota -> deferred 4.2.2, or failed 5.2.2 when
 * mailbox_quota_action = bounce (RFC 3463: mailbox full).  A maildirsize
 * that cannot be read or rebuilt is logged and the delivery goes ahead:
 * a broken quota file must not stop mail. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdbmap.h"
#include "config.h"
#include "local.h"
#include "log.h"
#include "maildir.h"

#define LOCAL_QUOTA_FILE_MAX 5120   /* Maildir++: rebuild when the file grows past this */
#define LOCAL_QUOTA_FOLDERS_MAX 10000 /* folders scanned in one rebuild */

struct local_usage {
	unsigned long long bytes, count;
};

/* Parse maildirsize text: quota from line 1, usage from the rest.
 * 0, or -1 for anything malformed. */
static int local_quota_parse(const char *p, size_t n, unsigned long long *quota_r,
			     struct local_usage *u)
{
	long long bytes = 0, count = 0;
	const char *end = p + n, *nl = memchr(p, '\n', n);
	char line[128];

	if (nl == NULL || (size_t)(nl - p) >= sizeof line)
		return -1;
	memcpy(line, p, (size_t)(nl - p));
	line[nl - p] = '\0';
	if (sscanf(line, "%lluS", quota_r) != 1)
		return -1;
	for (p = nl + 1; p < end; p = nl + 1) {
		long long b, c;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL || (size_t)(nl - p) >= sizeof line)
			return -1;   /* a torn last line: rebuild */
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (sscanf(line, "%lld %lld", &b, &c) != 2 || __builtin_add_overflow(bytes, b, &bytes) ||
		    __builtin_add_overflow(count, c, &count))
			return -1;
	}
	u->bytes = bytes < 0 ? 0 : (unsigned long long)bytes;
	u->count = count < 0 ? 0 : (unsigned long long)count;
	return 0;
}

static void local_quota_path(char *out, size_t len, const char *maildir, const char *name)
{
	size_t n = strlen(maildir);

	snprintf(out, len, "%s%s%s", maildir, n > 0 && maildir[n - 1] == '/' ? "" : "/", name);
}

/* Add the files of dir (a cur/ or new/) to u. */
static void local_quota_scan_dir(const char *dir, struct local_usage *u)
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

static void local_quota_scan_box(const char *box, struct local_usage *u)
{
	char p[MAILDIR_PATH_MAX + 16];

	local_quota_path(p, sizeof p, box, "cur");
	local_quota_scan_dir(p, u);
	local_quota_path(p, sizeof p, box, "new");
	local_quota_scan_dir(p, u);
}

/* Count the Maildir and its .folders, and write maildirsize anew. */
static void local_quota_rebuild(const char *maildir, unsigned long long quota, struct local_usage *u)
{
	char path[MAILDIR_PATH_MAX + 64], tmp[MAILDIR_PATH_MAX + 64], text[128];
	DIR *d = opendir(maildir);
	struct dirent *de;
	size_t folders = 0;
	int fd, n;

	u->bytes = u->count = 0;
	local_quota_scan_box(maildir, u);
	while (d != NULL && (de = readdir(d)) != NULL && folders < LOCAL_QUOTA_FOLDERS_MAX) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		local_quota_path(path, sizeof path, maildir, de->d_name);
		local_quota_scan_box(path, u);
		folders++;
	}
	if (d != NULL)
		closedir(d);
	local_quota_path(path, sizeof path, maildir, "maildirsize");
	n = snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return;   /* no room for the temp name: the file is not cached */
	n = snprintf(text, sizeof text, "%lluS\n%llu %llu\n", quota, u->bytes, u->count);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || n < 0 || write(fd, text, (size_t)n) != n || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		log_warn("maildir %s: cannot rewrite maildirsize: %s", maildir, strerror(errno));
		unlink(tmp);
	}
}

/* Usage from maildirsize; 0 when it is fresh for this quota, else -1. */
static int local_quota_read(const char *maildir, unsigned long long quota, struct local_usage *u)
{
	char path[MAILDIR_PATH_MAX + 16], text[LOCAL_QUOTA_FILE_MAX + 1];
	unsigned long long q;
	ssize_t n;
	int fd;

	local_quota_path(path, sizeof path, maildir, "maildirsize");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, text, sizeof text);
	close(fd);
	if (n <= 0 || (size_t)n > LOCAL_QUOTA_FILE_MAX)
		return -1;
	if (local_quota_parse(text, (size_t)n, &q, u) < 0 || q != quota)
		return -1;
	return 0;
}

unsigned long long local_quota_of(const struct local_ctx *ctx, const char *addr)
{
	unsigned long long quota = config_size("mailbox_quota");
	struct buf value;

	if (ctx->quota == NULL)
		return quota;
	buf_init(&value, 64);
	int found = cdbmap_lookup(ctx->quota, addr, strlen(addr), &value);
	if (found < 0)
		log_warn("quota map lookup for <%s> failed; using mailbox_quota", addr);
	else if (found > 0 && config_parse_size(value.data, value.len, &quota) < 0) {
		log_warn("quota map entry for <%s> is not a size: %s; using mailbox_quota",
			 addr, buf_cstr(&value));
		quota = config_size("mailbox_quota");
	}
	buf_free(&value);
	return quota;
}

int local_quota_check(const char *maildir, unsigned long long quota, unsigned long long size,
		      struct local_result *r)
{
	struct local_usage u;
	struct stat st;

	if (quota == 0)
		return 0;
	if (stat(maildir, &st) < 0)
		return 0;   /* a new Maildir is empty; delivery creates it */
	if (local_quota_read(maildir, quota, &u) < 0 || u.bytes + size > quota)
		local_quota_rebuild(maildir, quota, &u);
	if (u.bytes + size <= quota)
		return 0;
	if (strcmp(config_str("mailbox_quota_action"), "bounce") == 0)
		local_result_set(r, "failed", "5.2.2", "mailbox full (quota %llu bytes, used %llu)",
				 quota, u.bytes);
	else
		local_result_set(r, "deferred", "4.2.2", "mailbox full (quota %llu bytes, used %llu)",
				 quota, u.bytes);
	return -1;
}

void local_quota_add(const char *maildir, unsigned long long quota, unsigned long long size)
{
	char path[MAILDIR_PATH_MAX + 16], line[64];
	int fd, n;

	if (quota == 0)
		return;
	local_quota_path(path, sizeof path, maildir, "maildirsize");
	fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("maildir %s: maildirsize: %s", maildir, strerror(errno));
		return;   /* the next check rebuilds it */
	}
	/* One write with O_APPEND: concurrent deliveries never mix lines. */
	n = snprintf(line, sizeof line, "%llu 1\n", size);
	if (n < 0 || write(fd, line, (size_t)n) != n)
		log_warn("maildir %s: cannot update maildirsize: %s", maildir, strerror(errno));
	close(fd);
}
