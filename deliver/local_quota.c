/* local_quota: the local agent's quota policy.
 *
 * Offers: local_quota_of() (the quota of a mailbox: its entry in the
 * optional map etc/quota, `ADDRESS SIZE[,COUNT]` with the address as in
 * etc/mailboxes, else mailbox_quota and mailbox_quota_messages from
 * postern.conf), local_quota_check() before a delivery and
 * local_quota_add() after one.  The Maildir++ `maildirsize` file itself
 * (parse, rebuild, delta lines) is common/maildir_quota.c, shared with
 * imapd; a mailbox without a quota leaves it alone.
 *
 * Trusts: see common/maildir_quota.c; the Maildir path was checked.
 *
 * Fails: over quota -> deferred 4.2.2, or failed 5.2.2 when
 * mailbox_quota_action = bounce (RFC 3463: mailbox full).  A maildirsize
 * that cannot be read or rebuilt is logged and the delivery goes ahead:
 * a broken quota file must not stop mail. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "local.h"
#include "log.h"
#include "maildir_quota.h"

void local_quota_of(const struct local_ctx *ctx, const char *addr, struct maildir_quota *q_r)
{
	maildir_quota_of(ctx->quota, addr, q_r);
}

int local_quota_check(const char *maildir, const struct maildir_quota *q, unsigned long long size,
		      struct local_result *r)
{
	struct maildir_usage u;
	struct stat st;
	const char *status;

	if (!maildir_quota_active(q))
		return 0;
	if (stat(maildir, &st) < 0)
		return 0;   /* a new Maildir is empty; delivery creates it */
	if (maildir_quota_check(maildir, q, size, 1, &u))
		return 0;
	status = strcmp(config_str("mailbox_quota_action"), "bounce") == 0 ? "failed" : "deferred";
	if (q->bytes > 0 && !maildir_quota_fits(&(struct maildir_quota){ .bytes = q->bytes }, &u, size, 1))
		local_result_set(r, status, *status == 'f' ? "5.2.2" : "4.2.2",
				 "mailbox full (quota %llu bytes, used %llu)", q->bytes, u.bytes);
	else
		local_result_set(r, status, *status == 'f' ? "5.2.2" : "4.2.2",
				 "mailbox full (quota %llu messages, used %llu)", q->messages, u.count);
	return -1;
}

void local_quota_add(const char *maildir, const struct maildir_quota *q, unsigned long long size)
{
	if (!maildir_quota_active(q))
		return;
	if (maildir_quota_add(maildir, (long long)size, 1) < 0)
		log_warn("maildir %s: cannot update %s: %s", maildir, MAILDIR_QUOTA_FILE, strerror(errno));
}
