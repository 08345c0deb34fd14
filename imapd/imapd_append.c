/* imapd_append: APPEND (with MULTIAPPEND, RFC 3502), COPY and MOVE
 * (RFC 6851), answering with UIDPLUS's APPENDUID and COPYUID (RFC 4315).
 *
 * Offers: an APPEND message literal never sits in memory: the parser
 * hands its bytes to a sink (imapd_literal_policy) that writes them to a
 * new file in INBOX's tmp/, line ends stored as LF as the rest of the
 * Maildir is (Dovecot does the same).  When the command is complete the
 * files are fsynced, moved into the target folder's tmp/ (every folder
 * of a user lives on one file system) and taken in by the store, which
 * gives each its UID at once.  A command that fails or is refused leaves
 * no file behind.  COPY links each message file into the target; MOVE
 * does the same and then removes the sources (the store's mbox_copy_set
 * and mbox_move_set), then reports COPYUID and the EXPUNGEs.
 *
 * Trusts: the literal's size was checked by the parser (at most
 * message_size_limit, else NO [TOOBIG] before the client sends it).
 * Fails: NO [TRYCREATE] for a missing target, NO [SERVERBUG] for a
 * store error (logged); a partly done MULTIAPPEND keeps what it took
 * (each message is appended on its own).  A COPY or MOVE that cannot
 * copy one message takes back the copies it made (RFC 9051 6.4.7: the
 * target as it was; for MOVE also the source untouched), and says
 * NO [EXPUNGEISSUED] (RFC 5530) when the message was expunged by another
 * session meanwhile, which is no server fault.  APPEND and COPY that
 * would exceed the user's quota store nothing and say NO [OVERQUOTA]
 * (imapd_quota.c), also for the whole of a MULTIAPPEND; what they store
 * is added to maildirsize.  A MOVE whose sources
 * cannot all be removed keeps those messages where they were (their
 * copies taken back: RFC 6851 3.1, none in both folders), reports the
 * others as moved and says NO [SERVERBUG]. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "imapd_session.h"
#include "log.h"

#define IMAPD_APPEND_MAX 64   /* messages of one MULTIAPPEND */

struct imapd_sink {
	int fd;
	char name[MBOX_BASE_MAX + 8];   /* "tmp/BASE" in INBOX */
	int cr;                         /* a CR ended the last chunk */
	int failed;
};

struct imapd_appends {
	struct imapd_sink sink[IMAPD_APPEND_MAX];
	unsigned int n;
	int inbox_fd;                   /* INBOX's directory */
};

static struct imapd_appends imapd_appends = { .inbox_fd = -1 };

static int imapd_sink_out(struct imapd_sink *k, const char *p, size_t n)
{
	return fd_write_all(k->fd, p, n);
}

/* Write a chunk, CRLF as LF (a CR at a chunk's end waits for the next). */
static int imapd_sink_write(void *ctx, const unsigned char *data, size_t len)
{
	struct imapd_sink *k = ctx;
	const char *p = (const char *)data, *end = p + len, *run = p;

	if (k->failed)
		return -1;
	if (k->cr && len > 0 && p[0] != '\n' && imapd_sink_out(k, "\r", 1) < 0)
		goto fail;
	k->cr = 0;
	for (; p < end; p++) {
		if (*p != '\r')
			continue;
		if (p + 1 == end) {
			if (imapd_sink_out(k, run, (size_t)(p - run)) < 0)
				goto fail;
			k->cr = 1;
			return 0;
		}
		if (p[1] == '\n') {
			if (imapd_sink_out(k, run, (size_t)(p - run)) < 0)
				goto fail;
			run = p + 1;
		}
	}
	if (imapd_sink_out(k, run, (size_t)(end - run)) < 0)
		goto fail;
	return 0;
fail:
	k->failed = 1;
	return -1;
}

/* Remove every temp file of the command. */
static void imapd_appends_clear(void)
{
	struct imapd_appends *a = &imapd_appends;

	for (unsigned int i = 0; i < a->n; i++) {
		if (a->sink[i].fd >= 0)
			close(a->sink[i].fd);
		if (a->sink[i].name[0] != '\0' && a->inbox_fd >= 0)
			unlinkat(a->inbox_fd, a->sink[i].name, 0);
	}
	a->n = 0;
}

enum imap_literal_action imapd_literal_policy(void *ctx, const struct imap_literal_info *info,
					      struct imap_literal_sink *sink_r, struct imap_parse_error *refusal_r)
{
	struct imapd_session *ss = ctx;
	struct imapd_appends *a = &imapd_appends;
	enum imap_literal_action act = imap_grammar_literal_action(info, refusal_r);

	if (act != IMAP_LITERAL_SINK)
		return act;
	refusal_r->kind = IMAP_REPLY_NO;
	refusal_r->code = "SERVERBUG";
	refusal_r->text = "Cannot store the message";
	if (a->inbox_fd < 0 && (a->inbox_fd = open(ss->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return IMAP_LITERAL_REFUSE;
	if (a->n == IMAPD_APPEND_MAX) {
		refusal_r->code = "LIMIT";
		refusal_r->text = "Too many messages in one APPEND";
		return IMAP_LITERAL_REFUSE;
	}
	struct imapd_sink *k = &a->sink[a->n];
	memset(k, 0, sizeof(*k));
	struct mbox tmp = { .dirfd = a->inbox_fd };
	k->fd = mbox_tmp_create(&tmp, k->name, sizeof(k->name));
	if (k->fd < 0) {
		log_warn("user=%s: cannot create a temp file: %s", buf_cstr(&ss->user), strerror(errno));
		k->name[0] = '\0';
		return IMAP_LITERAL_REFUSE;
	}
	a->n++;
	sink_r->write = imapd_sink_write;
	sink_r->ctx = k;
	return IMAP_LITERAL_SINK;
}

void imapd_literal_abandon(void)
{
	imapd_appends_clear();
}

/* Open the target folder of APPEND, COPY or MOVE: its mbox, or NULL
 * after the reply (TRYCREATE when it does not exist). */
static struct mbox *imapd_target(struct imapd_session *ss, const char *tag, const char *name)
{
	char path[IMAPD_FOLDER_PATH_MAX];
	const char *why, *error;
	struct mbox *mb;
	struct stat sb;

	if (imapd_mailbox_path(ss, name, path, sizeof(path), &why) < 0) {
		imapd_tagged(ss, tag, "NO %s", why);
		return NULL;
	}
	if (stat(path, &sb) < 0) {
		imapd_tagged(ss, tag, "NO [TRYCREATE] No such mailbox");
		return NULL;
	}
	if (mbox_open(path, strlen(path), 0, &mb, &error) < 0) {
		log_warn("user=%s %s: %s: %s", buf_cstr(&ss->user), path, error, strerror(errno));
		imapd_tagged(ss, tag, "NO [SERVERBUG] Cannot open the mailbox");
		return NULL;
	}
	return mb;
}

void imapd_cmd_append(struct imapd_session *ss, const struct imap_command *c)
{
	struct imapd_appends *a = &imapd_appends;
	const struct imap_append *ap = &c->u.append;
	struct mbox *mb;
	struct buf uids;
	unsigned int done = 0;
	unsigned long long size[IMAPD_APPEND_MAX], total = 0, stored = 0;

	if (ap->count != a->n) {
		imapd_appends_clear();
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Message data went astray");
		return;
	}
	if ((mb = imapd_target(ss, c->tag, ap->mailbox)) == NULL) {
		imapd_appends_clear();
		return;
	}
	/* The quota is checked for all the messages at once, before any is
	 * taken: a MULTIAPPEND over quota stores none (RFC 9208 OVERQUOTA). */
	for (unsigned int i = 0; i < ap->count; i++) {
		struct stat st;
		size[i] = a->sink[i].fd >= 0 && fstat(a->sink[i].fd, &st) == 0 ? (unsigned long long)st.st_size : 0;
		size[i] += a->sink[i].cr != 0;   /* the last CR, written below */
		total += size[i];
	}
	if (imapd_quota_reserve(ss, c->tag, total, ap->count) < 0) {
		imapd_appends_clear();
		mbox_close(&mb);
		return;
	}
	buf_init(&uids, 16 * IMAPD_APPEND_MAX);
	for (unsigned int i = 0; i < ap->count; i++) {
		struct imapd_sink *k = &a->sink[i];
		const struct imap_append_msg *m = &ap->msgs[i];
		uint32_t flags = 0, uid;
		const char *error = "";
		/* A last CR without LF is kept as it was. */
		if ((k->cr && imapd_sink_out(k, "\r", 1) < 0) || k->failed ||
		    (m->data->flags & IMAP_ARG_F_SINK_ERR) != 0 || fsync(k->fd) < 0)
			break;
		close(k->fd);
		k->fd = -1;
		if (imapd_flag_bits(ss, c->tag, &m->flags, mb, true, &flags) < 0) {
			imapd_appends_clear();
			imapd_quota_account(ss, (long long)stored, done);
			mbox_close(&mb);
			buf_free(&uids);
			return;   /* replied */
		}
		/* Into the target's own tmp/, then the store takes it. */
		if (renameat(a->inbox_fd, k->name, mb->dirfd, k->name) < 0 ||
		    mbox_append_tmp(mb, k->name, flags, m->has_date ? m->date : -1, &uid, &error) < 0) {
			log_warn("user=%s %s: append: %s: %s", buf_cstr(&ss->user), mb->path, error, strerror(errno));
			break;
		}
		k->name[0] = '\0';   /* taken */
		buf_printf(&uids, "%s%u", done > 0 ? "," : "", uid);
		stored += size[i];
		done++;
	}
	uint32_t uidvalidity = mb->uidvalidity;
	mbox_close(&mb);
	imapd_appends_clear();
	imapd_quota_account(ss, (long long)stored, done);
	imapd_send_updates(ss, true);
	if (done < ap->count)
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot store the message");
	else
		imapd_tagged(ss, c->tag, "OK [APPENDUID %u %s] APPEND completed", uidvalidity, buf_cstr(&uids));
	buf_free(&uids);
}

/* Whether message idx was expunged (its file removed) by another
 * session or program since the last sync. */
static bool imapd_msg_gone(struct mbox *mb, size_t idx)
{
	int fd = mbox_msg_open(mb, idx);

	if (fd >= 0)
		close(fd);
	return fd < 0 && errno == ENOENT;
}

void imapd_cmd_copy(struct imapd_session *ss, const struct imap_command *c, bool move)
{
	size_t *idx, n, failed = 0;
	const char *error = "";
	uint32_t *uids;
	struct mbox *dst;
	struct buf from, to;
	long r;

	if (move && ss->readonly) {
		imapd_tagged(ss, c->tag, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	if (imapd_resolve(ss, c->tag, &c->u.copy.set, c->uid, &idx, &n) < 0)
		return;
	if ((uids = calloc(n > 0 ? n : 1, sizeof(*uids))) == NULL) {
		free(idx);
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Out of memory");
		return;
	}
	if ((dst = imapd_target(ss, c->tag, c->u.copy.mailbox)) == NULL) {
		free(uids);
		free(idx);
		return;
	}
	/* A COPY adds to the quota; a MOVE stays in the user's one quota
	 * root and changes nothing. */
	unsigned long long bytes = 0;
	for (size_t i = 0; i < n && !move; i++)
		bytes += ss->mb->msgs[idx[i]].size;
	if (!move && n > 0 && imapd_quota_reserve(ss, c->tag, bytes, n) < 0) {
		mbox_close(&dst);
		free(uids);
		free(idx);
		return;
	}
	r = move ? mbox_move_set(ss->mb, idx, n, dst, uids, &failed, &error)
		 : mbox_copy_set(ss->mb, idx, n, dst, uids, &failed, &error);
	int e = errno;
	if (!move && r == 0)
		imapd_quota_account(ss, (long long)bytes, (long long)n);
	bool gone = r < 0 && imapd_msg_gone(ss->mb, idx[failed]);
	if (r < 0 && !gone)
		log_warn("user=%s %s: %s UID %u: %s: %s", buf_cstr(&ss->user), dst->path, move ? "move" : "copy",
			 ss->mb->msgs[idx[failed]].uid, error, strerror(e));
	buf_init(&from, 16 * (n + 1));
	buf_init(&to, 16 * (n + 1));
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (uids[i] == 0)
			continue;   /* a MOVE that left this one where it was */
		buf_printf(&from, "%s%u", from.len > 0 ? "," : "", ss->mb->msgs[idx[i]].uid);
		buf_printf(&to, "%s%u", to.len > 0 ? "," : "", uids[i]);
	}
	uint32_t uidvalidity = dst->uidvalidity;
	mbox_close(&dst);
	free(uids);
	free(idx);
	if (r < 0) {
		/* Nothing was copied or moved.  The EXPUNGE that explains an
		 * EXPUNGEISSUED may be told now (RFC 9051 7.5.1). */
		if (gone)
			imapd_send_updates(ss, true);
		imapd_tagged(ss, c->tag, "NO %s", gone ? "[EXPUNGEISSUED] Some of the messages were expunged meanwhile"
						: move ? "[SERVERBUG] Cannot move the messages"
						       : "[SERVERBUG] Cannot copy the messages");
	} else if (move) {
		/* RFC 6851 3.3: COPYUID untagged, then the expunges. */
		if (to.len > 0)
			stream_printf(ss->s, "* OK [COPYUID %u %s %s] Moved\r\n", uidvalidity, buf_cstr(&from),
				      buf_cstr(&to));
		imapd_send_updates(ss, true);
		if (r > 0)
			imapd_tagged(ss, c->tag, "NO [SERVERBUG] %ld of the messages could not be moved and stay here", r);
		else
			imapd_tagged(ss, c->tag, "OK MOVE completed");
	} else if (to.len == 0) {
		imapd_tagged(ss, c->tag, "OK COPY completed (no messages)");
	} else {
		imapd_tagged(ss, c->tag, "OK [COPYUID %u %s %s] COPY completed", uidvalidity, buf_cstr(&from),
			     buf_cstr(&to));
	}
	buf_free(&from);
	buf_free(&to);
}
