/* imapd_quota: the QUOTA extension (RFC 9208) over the Maildir++ quota
 * that local delivery keeps (common/maildir_quota.c).
 *
 * Offers: one quota root per user, named "" (the empty string), that
 * governs INBOX and every folder; its resources STORAGE (in units of
 * 1024 octets, usage and limit rounded up as Dovecot rounds them, so
 * clients see the same numbers from either server) and MESSAGE.  The
 * limits are the ones local delivery applies: the user's entry in
 * etc/quota (the session process opens quota.cdb before it chroots),
 * else mailbox_quota and mailbox_quota_messages; a resource without a
 * limit is not listed, a user without any has no quota root.  The usage
 * is maildirsize, rebuilt as local delivery rebuilds it.  GETQUOTAROOT,
 * GETQUOTA and the OVERQUOTA refusal of APPEND and COPY
 * (imapd_quota_reserve); after a message is stored or removed the
 * delta line goes into maildirsize (imapd_quota_account).  SETQUOTA is
 * refused (no QUOTASET: limits are the administrator's).
 *
 * Trusts: the user name from authd (the map key, as for local delivery).
 * Fails: NO for an unknown quota root or mailbox; a maildirsize that
 * cannot be written is logged and never fails a command. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "imap_string.h"
#include "imap_utf7.h"
#include "imapd_session.h"
#include "log.h"
#include "maildir_quota.h"

#define IMAPD_QUOTA_ROOT ""   /* the name of every user's one quota root */

static void imapd_quota_of(struct imapd_session *ss, struct maildir_quota *q_r)
{
	maildir_quota_of(ss->l->quota_map, buf_cstr(&ss->user), q_r);
}

/* RFC 9208: STORAGE is in units of 1024 octets. */
static unsigned long long imapd_kib_up(unsigned long long bytes)
{
	return bytes / 1024 + (bytes % 1024 != 0);
}

/* "* QUOTA "" (STORAGE used limit MESSAGE used limit)" (RFC 9208 4.2.1). */
static void imapd_quota_send(struct imapd_session *ss, const struct maildir_quota *q)
{
	struct maildir_usage u;
	const char *sep = "";

	maildir_quota_check(ss->root, q, 0, 0, &u);
	stream_printf(ss->s, "* QUOTA \"%s\" (", IMAPD_QUOTA_ROOT);
	if (q->bytes > 0) {
		stream_printf(ss->s, "STORAGE %llu %llu", imapd_kib_up(u.bytes), imapd_kib_up(q->bytes));
		sep = " ";
	}
	if (q->messages > 0)
		stream_printf(ss->s, "%sMESSAGE %llu %llu", sep, u.count, q->messages);
	stream_puts(ss->s, ")\r\n");
}

void imapd_cmd_getquotaroot(struct imapd_session *ss, const struct imap_command *c)
{
	char path[IMAPD_FOLDER_PATH_MAX];
	const char *why, *err;
	struct maildir_quota q;
	struct buf out, shown;
	struct stat sb;

	if (imapd_mailbox_path(ss, c->u.mailbox, path, sizeof(path), &why) < 0) {
		imapd_tagged(ss, c->tag, "NO %s", why);
		return;
	}
	if (stat(path, &sb) < 0) {
		imapd_tagged(ss, c->tag, "NO [NONEXISTENT] No such mailbox");
		return;
	}
	imapd_quota_of(ss, &q);
	/* The name as the client writes names (given to us in UTF-8). */
	buf_init(&shown, IMAPD_NAME_MAX * 4);
	if (!imapd_utf8(ss) && imap_utf8_to_utf7(c->u.mailbox, strlen(c->u.mailbox), &shown, &err) < 0)
		buf_reset(&shown);
	const char *name = shown.len > 0 ? buf_cstr(&shown) : c->u.mailbox;
	buf_init(&out, IMAPD_NAME_MAX * 8 + 64);
	buf_append_str(&out, "* QUOTAROOT ");
	imap_write_astring(&out, name, strlen(name), imapd_utf8(ss) ? IMAP_STR_UTF8 : 0);
	if (maildir_quota_active(&q))
		buf_append_str(&out, " \"" IMAPD_QUOTA_ROOT "\"");
	buf_append_str(&out, "\r\n");
	stream_write(ss->s, out.data, out.len);
	buf_free(&out);
	buf_free(&shown);
	if (maildir_quota_active(&q))
		imapd_quota_send(ss, &q);
	imapd_tagged(ss, c->tag, "OK GETQUOTAROOT completed");
}

void imapd_cmd_getquota(struct imapd_session *ss, const struct imap_command *c)
{
	struct maildir_quota q;

	imapd_quota_of(ss, &q);
	if (strcmp(c->u.quota_root, IMAPD_QUOTA_ROOT) != 0 || !maildir_quota_active(&q)) {
		imapd_tagged(ss, c->tag, "NO No such quota root");
		return;
	}
	imapd_quota_send(ss, &q);
	imapd_tagged(ss, c->tag, "OK GETQUOTA completed");
}

void imapd_cmd_setquota(struct imapd_session *ss, const struct imap_command *c)
{
	/* No QUOTASET (RFC 9208 4.1.3): the limits are etc/quota's. */
	imapd_tagged(ss, c->tag, "NO [NOPERM] Quota limits are set by the administrator");
}

int imapd_quota_reserve(struct imapd_session *ss, const char *tag, unsigned long long bytes,
			unsigned long long count)
{
	struct maildir_quota q;
	struct maildir_usage u;

	imapd_quota_of(ss, &q);
	if (!maildir_quota_active(&q) || maildir_quota_check(ss->root, &q, bytes, count, &u))
		return 0;
	log_info("user=%s client=%s: over quota: %llu more bytes in %llu messages do not fit "
		 "(used %llu bytes in %llu, quota %llu bytes, %llu messages)",
		 buf_cstr(&ss->user), ss->client, bytes, count, u.bytes, u.count, q.bytes, q.messages);
	imapd_tagged(ss, tag, "NO [OVERQUOTA] Quota exceeded");
	return -1;
}

void imapd_quota_account(struct imapd_session *ss, long long bytes, long long count)
{
	struct maildir_quota q;

	if (bytes == 0 && count == 0)
		return;
	imapd_quota_of(ss, &q);
	if (maildir_quota_active(&q) && maildir_quota_add(ss->root, bytes, count) < 0)
		log_warn("user=%s %s: cannot update %s: %s", buf_cstr(&ss->user), ss->root, MAILDIR_QUOTA_FILE,
			 strerror(errno));
}
