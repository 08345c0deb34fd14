/* imapd_mailbox: mailbox names and the commands on mailboxes as a whole:
 * STATUS, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE; the folder list
 * and the subscriptions that LIST and LSUB (imapd_list.c) read.
 *
 * Offers: the user's Maildir is INBOX; every other mailbox is a
 * Maildir++ folder ".NAME" in it, with "." as the hierarchy separator
 * (Dovecot's default for Maildir++, so a tree keeps its names when the
 * operator swaps servers).  Names are stored in modified UTF-7 (RFC 3501
 * 5.1.3) as Dovecot stores them; an IMAP4rev2 session sees and gives
 * UTF-8 (RFC 9051 5.1).  Subscriptions are the lines of the file
 * `subscriptions` in INBOX.  The special-use folders (RFC 6154) are
 * known by name: Sent, Drafts, Trash, Junk, Archive.
 *
 * Trusts: nothing in a name: it must convert strictly, and may not hold
 * "/", an empty level, or start a level with "." (so a name never leaves
 * the user's Maildir); at most IMAPD_NAME_MAX bytes.
 *
 * Fails: NO with a response code (NONEXISTENT, ALREADYEXISTS, CANNOT,
 * HASCHILDREN, SERVERBUG), logged when the system failed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "fsutil.h"
#include "imap_string.h"
#include "imap_utf7.h"
#include "imapd_session.h"
#include "log.h"
#include "maildir.h"
#include "maildir_quota.h"

#define IMAPD_SUBSCRIPTIONS "subscriptions"
#define IMAPD_SUBSCRIPTIONS_MAX (1u << 20)

static const struct { const char *name, *use; } imapd_special_use[] = {
	{ "Sent", "\\Sent" }, { "Drafts", "\\Drafts" }, { "Trash", "\\Trash" },
	{ "Junk", "\\Junk" }, { "Archive", "\\Archive" },
};

const char *imapd_special_use_of(const char *disk)
{
	for (size_t u = 0; u < sizeof(imapd_special_use) / sizeof(imapd_special_use[0]); u++)
		if (strcmp(disk, imapd_special_use[u].name) == 0)
			return imapd_special_use[u].use;
	return NULL;
}

static int imapd_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* The stored (modified UTF-7) form of a client's name into out.  The
 * grammar hands every name over in UTF-8, whatever the client sent:
 * modified UTF-7 (IMAP4rev1) decoded, or UTF-8 (IMAP4rev2, UTF8=ACCEPT)
 * checked. */
static int imapd_disk_name(struct imapd_session *ss, const char *name, struct buf *out, const char **why_r)
{
	const char *err;
	size_t len = strlen(name);

	(void)ss;
	buf_reset(out);
	if (len == 0 || len > IMAPD_NAME_MAX || imap_utf8_to_utf7(name, len, out, &err) < 0) {
		*why_r = "[CANNOT] Invalid mailbox name";
		return -1;
	}
	const char *p = out->data;
	for (size_t i = 0; i < out->len; i++) {
		/* No "/", no empty level, no level starting with ".". */
		if (p[i] == '/' || (unsigned char)p[i] < 0x20 || p[i] == 0x7f ||
		    (p[i] == IMAPD_HIERARCHY_SEP && (i == 0 || i + 1 == out->len || p[i + 1] == IMAPD_HIERARCHY_SEP))) {
			*why_r = "[CANNOT] Invalid mailbox name";
			return -1;
		}
	}
	if (out->len > 5 && strncasecmp(out->data, "INBOX", 5) == 0 && out->data[5] == IMAPD_HIERARCHY_SEP) {
		*why_r = "[CANNOT] Mailboxes below INBOX are not supported";
		return -1;
	}
	return 0;
}

int imapd_mailbox_path(struct imapd_session *ss, const char *name, char *path, size_t pathlen,
		       const char **why_r)
{
	struct buf disk;
	int n;

	if (imapd_is_inbox(name)) {
		n = snprintf(path, pathlen, "%s", ss->root);
		return n < 0 || (size_t)n >= pathlen ? (*why_r = "[CANNOT] Name too long", -1) : 0;
	}
	buf_init(&disk, IMAPD_NAME_MAX * 4);
	if (imapd_disk_name(ss, name, &disk, why_r) < 0) {
		buf_free(&disk);
		return -1;
	}
	n = snprintf(path, pathlen, "%s/.%s", ss->root, buf_cstr(&disk));
	buf_free(&disk);
	if (n < 0 || (size_t)n >= pathlen) {
		*why_r = "[CANNOT] Name too long";
		return -1;
	}
	return 0;
}

/* ---- the folder list ---- */

static int imapd_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void imapd_folders_free(struct imapd_folders *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->name[i]);
	free(f->name);
	memset(f, 0, sizeof(*f));
}

int imapd_folders_read(struct imapd_session *ss, struct imapd_folders *f)
{
	DIR *d = opendir(ss->root);
	struct dirent *de;

	memset(f, 0, sizeof(*f));
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (f->n == IMAPD_FOLDERS_MAX) {
			f->truncated = 1;
			break;
		}
		struct stat sb;
		char cur[IMAPD_FOLDER_PATH_MAX];
		if (de->d_name[0] != '.' || de->d_name[1] == '\0' || de->d_name[1] == '.' ||
		    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		if ((size_t)snprintf(cur, sizeof(cur), "%s/%s/cur", ss->root, de->d_name) >= sizeof(cur) ||
		    stat(cur, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		char **p = reallocarray(f->name, f->n + 1, sizeof(*p));
		if (p == NULL || (p[f->n] = strdup(de->d_name + 1)) == NULL) {
			if (p != NULL)
				f->name = p;
			closedir(d);
			return -1;
		}
		f->name = p;
		f->n++;
	}
	closedir(d);
	if (f->n > 1)
		qsort(f->name, f->n, sizeof(f->name[0]), imapd_name_cmp);
	return 0;
}

static int imapd_has_children(const struct imapd_folders *f, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < f->n; i++)
		if (strncmp(f->name[i], name, len) == 0 && f->name[i][len] == IMAPD_HIERARCHY_SEP)
			return 1;
	return 0;
}

/* ---- subscriptions ---- */

/* root/name into out; -1 when it does not fit. */
static int imapd_root_file(const struct imapd_session *ss, const char *name, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", ss->root, name);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int imapd_subs_read(struct imapd_session *ss, struct buf *b)
{
	char path[IMAPD_FOLDER_PATH_MAX + 64];

	buf_init(b, IMAPD_SUBSCRIPTIONS_MAX);
	if (imapd_root_file(ss, IMAPD_SUBSCRIPTIONS, path, sizeof(path)) < 0)
		return -1;
	if (file_read_all(path, O_NOFOLLOW, b, IMAPD_SUBSCRIPTIONS_MAX) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

static int imapd_subscribed(const struct buf *subs, const char *disk)
{
	size_t len = strlen(disk);
	const char *p = subs->data, *end = subs->data + subs->len;

	while (p != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (l == len && memcmp(p, disk, len) == 0)
			return 1;
		p = nl != NULL ? nl + 1 : NULL;
	}
	return 0;
}

/* ---- STATUS ---- */

int imapd_status_send(struct imapd_session *ss, const char *name, const char *path, unsigned int items)
{
	const char *error;
	struct mbox *mb = NULL;

	if ((items & IMAP_STATUS_HIGHESTMODSEQ) != 0)
		imapd_condstore_enable(ss);   /* RFC 7162 3.1 (LIST-STATUS too) */
	if (mbox_open(path, strlen(path), 0, &mb, &error) < 0)
		return -1;
	size_t unseen = 0, deleted = 0, recent = 0;
	unsigned long long size = 0, deleted_size = 0;
	uint32_t recent_from = mbox_recent_from(mb);
	for (size_t i = 0; i < mb->n; i++) {
		unseen += (mb->msgs[i].flags & MBOX_SEEN) == 0;
		deleted += (mb->msgs[i].flags & MBOX_DELETED) != 0;
		deleted_size += (mb->msgs[i].flags & MBOX_DELETED) != 0 ? mb->msgs[i].size : 0;
		recent += mb->msgs[i].uid >= recent_from;
		size += mb->msgs[i].vsize;
	}
	struct buf out;
	buf_init(&out, IMAPD_NAME_MAX * 8 + 512);
	buf_append_str(&out, "* STATUS ");
	imap_write_astring(&out, name, strlen(name), imapd_utf8(ss) ? IMAP_STR_UTF8 : 0);
	buf_append_str(&out, " (");
	const char *sep = "";
#define IMAPD_STATUS_ITEM(bit, fmt, value) \
	if ((items & (bit)) != 0) { buf_printf(&out, "%s" fmt, sep, value); sep = " "; }
	IMAPD_STATUS_ITEM(IMAP_STATUS_MESSAGES, "MESSAGES %zu", mb->n)
	IMAPD_STATUS_ITEM(IMAP_STATUS_RECENT, "RECENT %zu", recent)
	IMAPD_STATUS_ITEM(IMAP_STATUS_UIDNEXT, "UIDNEXT %u", mb->uidnext)
	IMAPD_STATUS_ITEM(IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY %u", mb->uidvalidity)
	IMAPD_STATUS_ITEM(IMAP_STATUS_UNSEEN, "UNSEEN %zu", unseen)
	IMAPD_STATUS_ITEM(IMAP_STATUS_DELETED, "DELETED %zu", deleted)
	/* RFC 9208 DELETED-STORAGE: what EXPUNGE would free, in STORAGE's units of 1024 octets. */
	IMAPD_STATUS_ITEM(IMAP_STATUS_DELETED_STORAGE, "DELETED-STORAGE %llu", deleted_size / 1024 + (deleted_size % 1024 != 0))
	IMAPD_STATUS_ITEM(IMAP_STATUS_SIZE, "SIZE %llu", size)
	IMAPD_STATUS_ITEM(IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu", (unsigned long long)mb->highestmodseq)
	IMAPD_STATUS_ITEM(IMAP_STATUS_APPENDLIMIT, "APPENDLIMIT %llu", (unsigned long long)ss->l->literal_max)
	char mailboxid[48];
	mbox_mailboxid(mb, mailboxid, sizeof(mailboxid));
	IMAPD_STATUS_ITEM(IMAP_STATUS_MAILBOXID, "MAILBOXID (%s)", mailboxid)
#undef IMAPD_STATUS_ITEM
	buf_append_str(&out, ")\r\n");
	stream_write(ss->s, out.data, out.len);
	buf_free(&out);
	mbox_close(&mb);
	return 0;
}

void imapd_cmd_status(struct imapd_session *ss, const struct imap_command *c)
{
	char path[IMAPD_FOLDER_PATH_MAX];
	const char *why;

	if (imapd_mailbox_path(ss, c->u.status.mailbox, path, sizeof(path), &why) < 0) {
		imapd_tagged(ss, c->tag, "NO %s", why);
		return;
	}
	/* The name as the client writes names (given to us in UTF-8). */
	struct buf shown;
	const char *err;
	buf_init(&shown, IMAPD_NAME_MAX * 4);
	if (!imapd_utf8(ss) && imap_utf8_to_utf7(c->u.status.mailbox, strlen(c->u.status.mailbox), &shown, &err) < 0)
		buf_reset(&shown);
	int r = imapd_status_send(ss, shown.len > 0 ? buf_cstr(&shown) : c->u.status.mailbox, path,
				  c->u.status.items);
	buf_free(&shown);
	if (r < 0) {
		imapd_tagged(ss, c->tag, errno == ENOENT ? "NO [NONEXISTENT] No such mailbox"
							 : "NO [SERVERBUG] Cannot open the mailbox");
		return;
	}
	imapd_tagged(ss, c->tag, "OK STATUS completed");
}

/* ---- CREATE, DELETE, RENAME ---- */

void imapd_cmd_create(struct imapd_session *ss, const struct imap_command *c)
{
	char path[IMAPD_FOLDER_PATH_MAX];
	const char *why, *error;
	struct stat sb;
	char name[IMAPD_NAME_MAX + 2];

	/* A trailing separator only says a hierarchy is meant (RFC 9051 6.3.4). */
	snprintf(name, sizeof(name), "%s", c->u.create.mailbox);
	size_t len = strlen(name);
	if (len > 1 && name[len - 1] == IMAPD_HIERARCHY_SEP)
		name[len - 1] = '\0';
	if (imapd_is_inbox(name) || imapd_mailbox_path(ss, name, path, sizeof(path), &why) < 0) {
		imapd_tagged(ss, c->tag, "NO %s", imapd_is_inbox(name) ? "[ALREADYEXISTS] INBOX exists" : why);
		return;
	}
	if (stat(path, &sb) == 0) {
		imapd_tagged(ss, c->tag, "NO [ALREADYEXISTS] Mailbox exists");
		return;
	}
	if (maildir_create(path, &error) < 0) {
		log_warn("user=%s %s: %s: %s", buf_cstr(&ss->user), path, error, strerror(errno));
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot create the mailbox");
		return;
	}
	/* RFC 8474 4.1: the new folder's MAILBOXID (its UID list, made now). */
	struct mbox *mb;
	if (mbox_open(path, strlen(path), 0, &mb, &error) == 0) {
		char mailboxid[48];
		mbox_mailboxid(mb, mailboxid, sizeof(mailboxid));
		mbox_close(&mb);
		imapd_tagged(ss, c->tag, "OK [MAILBOXID (%s)] CREATE completed", mailboxid);
		return;
	}
	imapd_tagged(ss, c->tag, "OK CREATE completed");
}

/* Remove the files of dir (not recursing further), then dir. */
static int imapd_rmdir_flat(int parent, const char *dir)
{
	int fd = openat(parent, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
			if (errno == EISDIR && (strcmp(de->d_name, "cur") == 0 || strcmp(de->d_name, "new") == 0 ||
						strcmp(de->d_name, "tmp") == 0)) {
				if (imapd_rmdir_flat(fd, de->d_name) == 0)
					continue;
			}
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return unlinkat(parent, dir, AT_REMOVEDIR) < 0 && errno != ENOENT ? -1 : 0;
}

void imapd_cmd_delete(struct imapd_session *ss, const struct imap_command *c)
{
	char path[IMAPD_FOLDER_PATH_MAX];
	const char *why;
	struct imapd_folders f;
	struct buf disk;
	struct stat sb;

	if (imapd_is_inbox(c->u.mailbox)) {
		imapd_tagged(ss, c->tag, "NO [CANNOT] INBOX cannot be deleted");
		return;
	}
	buf_init(&disk, IMAPD_NAME_MAX * 4);
	if (imapd_disk_name(ss, c->u.mailbox, &disk, &why) < 0 ||
	    imapd_mailbox_path(ss, c->u.mailbox, path, sizeof(path), &why) < 0) {
		buf_free(&disk);
		imapd_tagged(ss, c->tag, "NO %s", why);
		return;
	}
	if (stat(path, &sb) < 0) {
		buf_free(&disk);
		imapd_tagged(ss, c->tag, "NO [NONEXISTENT] No such mailbox");
		return;
	}
	if (imapd_folders_read(ss, &f) == 0 && imapd_has_children(&f, buf_cstr(&disk))) {
		imapd_folders_free(&f);
		buf_free(&disk);
		imapd_tagged(ss, c->tag, "NO [HASCHILDREN] Delete the mailboxes below it first");
		return;
	}
	imapd_folders_free(&f);
	if (ss->mb != NULL && strcmp(ss->mb->path, path) == 0)
		imapd_unselect(ss);
	char sub[IMAPD_NAME_MAX * 4 + 2];
	snprintf(sub, sizeof(sub), ".%s", buf_cstr(&disk));
	buf_free(&disk);
	/* Its messages leave the quota (a failed delete is found by the next rebuild). */
	struct maildir_usage gone = { 0, 0 };
	maildir_quota_scan_folder(path, &gone);
	int rootfd = open(ss->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || imapd_rmdir_flat(rootfd, sub) < 0) {
		log_warn("user=%s %s: cannot delete: %s", buf_cstr(&ss->user), path, strerror(errno));
		if (rootfd >= 0)
			close(rootfd);
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot delete the mailbox");
		return;
	}
	close(rootfd);
	imapd_quota_account(ss, -(long long)gone.bytes, -(long long)gone.count);
	imapd_tagged(ss, c->tag, "OK DELETE completed");
}

/* RFC 9051 6.3.6: renaming INBOX moves every message in it to a new
 * mailbox of the new name and leaves INBOX empty (its own children stay). */
static void imapd_rename_inbox(struct imapd_session *ss, const struct imap_command *c)
{
	char tpath[IMAPD_FOLDER_PATH_MAX];
	const char *why, *error;
	struct mbox *inbox = NULL, *dst = NULL;
	struct stat sb;
	size_t failed = 0;

	if (imapd_is_inbox(c->u.rename.to) || imapd_mailbox_path(ss, c->u.rename.to, tpath, sizeof(tpath), &why) < 0) {
		imapd_tagged(ss, c->tag, "NO %s", imapd_is_inbox(c->u.rename.to) ? "[ALREADYEXISTS] INBOX exists" : why);
		return;
	}
	if (stat(tpath, &sb) == 0) {
		imapd_tagged(ss, c->tag, "NO [ALREADYEXISTS] The new name exists");
		return;
	}
	if (maildir_create(tpath, &error) < 0 || mbox_open(tpath, strlen(tpath), 0, &dst, &error) < 0 ||
	    mbox_open(ss->root, strlen(ss->root), 0, &inbox, &error) < 0) {
		log_warn("user=%s rename INBOX: %s: %s", buf_cstr(&ss->user), error, strerror(errno));
		mbox_close(&dst);
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot rename INBOX");
		return;
	}
	/* One MOVE of every message: all or none, but for messages whose
	 * source cannot be removed, which stay (mbox_move_set). */
	size_t *idx = calloc(inbox->n > 0 ? inbox->n : 1, sizeof(*idx));
	uint32_t *uids = calloc(inbox->n > 0 ? inbox->n : 1, sizeof(*uids));
	long stayed = -1;
	if (idx != NULL && uids != NULL) {
		for (size_t i = 0; i < inbox->n; i++)
			idx[i] = i;
		stayed = mbox_move_set(inbox, idx, inbox->n, dst, uids, &failed, &error);
		if (stayed < 0)
			log_warn("user=%s rename INBOX: UID %u: %s: %s", buf_cstr(&ss->user), inbox->msgs[failed].uid,
				 error, strerror(errno));
	}
	free(idx);
	free(uids);
	mbox_close(&inbox);
	mbox_close(&dst);
	imapd_send_updates(ss, true);
	if (stayed < 0)
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot move the messages of INBOX");
	else if (stayed > 0)
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Some messages stayed in INBOX");
	else
		imapd_tagged(ss, c->tag, "OK RENAME completed");
}

void imapd_cmd_rename(struct imapd_session *ss, const struct imap_command *c)
{
	const char *why;
	struct buf from, to;
	struct imapd_folders f;
	struct stat sb;
	char fpath[IMAPD_FOLDER_PATH_MAX], tpath[IMAPD_FOLDER_PATH_MAX];

	if (imapd_is_inbox(c->u.rename.from)) {
		imapd_rename_inbox(ss, c);
		return;
	}
	buf_init(&from, IMAPD_NAME_MAX * 4);
	buf_init(&to, IMAPD_NAME_MAX * 4);
	if (imapd_disk_name(ss, c->u.rename.from, &from, &why) < 0 ||
	    (!imapd_is_inbox(c->u.rename.to) && imapd_disk_name(ss, c->u.rename.to, &to, &why) < 0) ||
	    imapd_mailbox_path(ss, c->u.rename.from, fpath, sizeof(fpath), &why) < 0 ||
	    imapd_mailbox_path(ss, c->u.rename.to, tpath, sizeof(tpath), &why) < 0) {
		imapd_tagged(ss, c->tag, "NO %s", why);
		goto out;
	}
	if (stat(fpath, &sb) < 0) {
		imapd_tagged(ss, c->tag, "NO [NONEXISTENT] No such mailbox");
		goto out;
	}
	if (imapd_is_inbox(c->u.rename.to) || stat(tpath, &sb) == 0) {
		imapd_tagged(ss, c->tag, "NO [ALREADYEXISTS] The new name exists");
		goto out;
	}
	/* The mailbox and every one below it (".from.x" -> ".to.x"). */
	if (imapd_folders_read(ss, &f) < 0) {
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot list the mailboxes");
		goto out;
	}
	int rootfd = open(ss->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), failed = rootfd < 0;
	for (size_t i = 0; !failed && i < f.n; i++) {
		const char *n = f.name[i];
		if (strncmp(n, from.data, from.len) != 0 || (n[from.len] != '\0' && n[from.len] != IMAPD_HIERARCHY_SEP))
			continue;
		char a[IMAPD_FOLDER_PATH_MAX], b[IMAPD_FOLDER_PATH_MAX];
		snprintf(a, sizeof(a), ".%s", n);
		if ((size_t)snprintf(b, sizeof(b), ".%s%s", buf_cstr(&to), n + from.len) >= sizeof(b) ||
		    renameat2(rootfd, a, rootfd, b, RENAME_NOREPLACE) < 0) {
			log_warn("user=%s: rename %s to %s: %s", buf_cstr(&ss->user), a, b, strerror(errno));
			failed = 1;
		}
	}
	if (rootfd >= 0)
		close(rootfd);
	imapd_folders_free(&f);
	if (failed)
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot rename the mailbox");
	else
		imapd_tagged(ss, c->tag, "OK RENAME completed");
out:
	buf_free(&from);
	buf_free(&to);
}

/* ---- SUBSCRIBE, UNSUBSCRIBE ---- */

void imapd_cmd_subscribe(struct imapd_session *ss, const struct imap_command *c, bool on)
{
	struct buf subs, disk, out;
	const char *why;
	char path[IMAPD_FOLDER_PATH_MAX + 64];

	buf_init(&disk, IMAPD_NAME_MAX * 4);
	if (imapd_is_inbox(c->u.mailbox))
		buf_set(&disk, "INBOX", 5);
	else if (imapd_disk_name(ss, c->u.mailbox, &disk, &why) < 0) {
		buf_free(&disk);
		imapd_tagged(ss, c->tag, "NO %s", why);
		return;
	}
	if (imapd_subs_read(ss, &subs) < 0) {
		buf_free(&disk);
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot read the subscriptions");
		return;
	}
	buf_init(&out, IMAPD_SUBSCRIPTIONS_MAX);
	/* Every line but this name, then the name when subscribing. */
	const char *p = subs.data, *end = subs.data + subs.len;
	while (p != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (l > 0 && !(l == disk.len && memcmp(p, disk.data, l) == 0)) {
			buf_append(&out, p, l);
			buf_putc(&out, '\n');
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	int r = on ? buf_append(&out, disk.data, disk.len) | buf_putc(&out, '\n') : 0;
	if (r == 0 && imapd_root_file(ss, IMAPD_SUBSCRIPTIONS, path, sizeof(path)) < 0)
		r = -1;
	/* A temporary name of this process (NULL): two sessions of the user
	 * may subscribe at once, and no lock keeps them apart.  The last
	 * rename wins, but the file is always one of theirs whole. */
	if (r < 0 ||
	    atomic_file_write(AT_FDCWD, path, NULL, out.data, out.len, 0600, ATOMIC_SYNC | ATOMIC_SYNC_DIR) < 0) {
		log_warn("user=%s %s: %s", buf_cstr(&ss->user), path, strerror(errno));
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot write the subscriptions");
	} else {
		imapd_tagged(ss, c->tag, "OK %s completed", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
	}
	buf_free(&out);
	buf_free(&subs);
	buf_free(&disk);
}

void imapd_mailbox_autocreate(struct imapd_session *ss)
{
	struct buf subs;
	int subs_ok = imapd_subs_read(ss, &subs) == 0;
	struct buf add;
	char inbox[IMAPD_FOLDER_PATH_MAX + 8];
	struct stat isb;
	const char *ierr;

	/* A user who never got mail has no Maildir yet. */
	if ((size_t)snprintf(inbox, sizeof(inbox), "%s/cur", ss->root) < sizeof(inbox) &&
	    stat(inbox, &isb) < 0 && maildir_create(ss->root, &ierr) < 0)
		log_warn("user=%s %s: %s: %s", buf_cstr(&ss->user), ss->root, ierr, strerror(errno));
	buf_init(&add, 256);
	for (size_t u = 0; u < sizeof(imapd_special_use) / sizeof(imapd_special_use[0]); u++) {
		char path[IMAPD_FOLDER_PATH_MAX + 64];
		const char *error;
		struct stat sb;
		int n = snprintf(path, sizeof(path), "%s/.%s", ss->root, imapd_special_use[u].name);
		if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &sb) == 0)
			continue;
		if (maildir_create(path, &error) < 0) {
			log_warn("user=%s %s: %s: %s", buf_cstr(&ss->user), path, error, strerror(errno));
			continue;
		}
		if (subs_ok && !imapd_subscribed(&subs, imapd_special_use[u].name))
			buf_printf(&add, "%s\n", imapd_special_use[u].name);
	}
	if (subs_ok && add.len > 0) {
		char path[IMAPD_FOLDER_PATH_MAX + 64];
		if (imapd_root_file(ss, IMAPD_SUBSCRIPTIONS, path, sizeof(path)) == 0) {
			int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0 || write(fd, add.data, add.len) != (ssize_t)add.len)
				log_warn("user=%s %s: %s", buf_cstr(&ss->user), path, strerror(errno));
			if (fd >= 0)
				close(fd);
		}
	}
	buf_free(&add);
	if (subs_ok)
		buf_free(&subs);
}
