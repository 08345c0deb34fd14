/* smtpd_rcpt: RCPT TO, its DSN parameters and the recipient policy.
 *
 * Offers: smtpd_cmd_rcpt() parses the forward-path (RFC 5321 4.1.1.3)
 * and its NOTIFY and ORCPT parameters (RFC 3461 4.1, 4.2), decides
 * whether we take mail for it and adds it to the transaction.  Policy: a
 * recipient in a local domain (etc/domains.cdb or myhostname,
 * common/local_domain.c) must resolve the way local delivery resolves
 * it (mailboxes, aliases, +extensions, catch-all: common/recipient.h;
 * 550 5.1.1 otherwise), and one of a domain delivered
 * over LMTP must be known to the LMTP server (smtpd_verify.c, through the
 * verify service: 550, or 450/451 while it cannot say); any other domain is relayed
 * only for an authenticated client or one in mynetworks, else refused
 * with 554 5.7.1 (no open relay).  The bare <postmaster> of RFC 5321
 * 4.5.1 means postmaster@ the first local domain, and is taken only when
 * that address exists.  A UTF-8 address needs SMTPUTF8 on MAIL
 * (553 5.6.7, RFC 6531 3.5).  A recipient named again (after
 * address_normalize: domain case, quoting, source route; for a local
 * domain also the case of the local part, as the maps fold it) gets its
 * 250 but is stored once, its DSN requests merged; only distinct
 * recipients count against smtpd_recipient_limit.
 *
 * Trusts: the maps (written by the operator through `postern map`);
 * nothing about the client's text, which goes through the address parser
 * before any lookup.
 *
 * Fails: a map read error is a temporary 451 4.3.0 (the client retries);
 * the recipient count is bounded by smtpd_recipient_limit and by the
 * fields an enqueue record may carry (452 4.5.3 to every RCPT beyond
 * them; only the first of a transaction counts as an error and is
 * logged, so a client that pipelines more keeps its transaction). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "cdbmap.h"
#include "local_domain.h"
#include "log.h"
#include "queuefile.h"
#include "record.h"
#include "smtp_cmd.h"
#include "smtpd.h"

enum smtpd_rcpt_verdict {
	SMTPD_RCPT_OK,
	SMTPD_RCPT_UNKNOWN,   /* local domain, no such mailbox */
	SMTPD_RCPT_RELAY,     /* not a local domain */
	SMTPD_RCPT_TEMP,      /* lookup failed */
	SMTPD_RCPT_LMTP,      /* an LMTP domain: its server decides (smtpd_verify.c) */
	SMTPD_RCPT_ANSWERED,  /* refused, the reply sent */
};

/* The policy for a syntactically valid mailbox addr (domain folded). */
static enum smtpd_rcpt_verdict smtpd_rcpt_policy(const struct smtpd_ctx *ctx,
						 const char *addr, size_t len)
{
	long at = address_at(addr, len);
	int r;

	if (at < 0 || (size_t)at + 1 >= len)
		return SMTPD_RCPT_RELAY;   /* no domain: not one of ours */
	r = local_domain_is(ctx->domains, addr + at + 1, len - (size_t)at - 1);
	if (r < 0)
		return SMTPD_RCPT_TEMP;
	if (r == 0)
		return SMTPD_RCPT_RELAY;
	/* The rules local delivery resolves by: mailboxes, aliases,
	 * +extensions, catch-all, LMTP domains (common/recipient.h). */
	const char *why;
	switch (recipient_lookup(&ctx->recipients, addr, len, &why)) {
	case RECIPIENT_KNOWN:
		return SMTPD_RCPT_OK;
	case RECIPIENT_UNKNOWN:
		return SMTPD_RCPT_UNKNOWN;
	case RECIPIENT_LMTP:
		return SMTPD_RCPT_LMTP;
	default:
		log_warn("recipient lookup for <%.*s>: %s", (int)len, addr, why);
		return SMTPD_RCPT_TEMP;
	}
}

/* "<postmaster>" (any case, leading spaces allowed): RFC 5321 4.1.1.3
 * says it must be accepted without a domain.  Returns the bytes used or
 * 0 when the path is something else. */
static size_t smtpd_rcpt_is_postmaster(const char *p, size_t len)
{
	static const char pm[] = "<postmaster>";
	size_t i = 0;

	while (i < len && p[i] == ' ')
		i++;
	if (len - i < sizeof(pm) - 1 || strncasecmp(p + i, pm, sizeof(pm) - 1) != 0)
		return 0;
	return i + sizeof(pm) - 1;
}

int smtpd_rcpt_add(struct smtpd_session *ss, const char *addr, size_t len,
			  char *notify, char *orcpt)
{
	struct smtpd_rcpt *r;

	if (ss->nrcpt == ss->rcpt_alloc) {
		size_t n = ss->rcpt_alloc ? ss->rcpt_alloc * 2 : 8;
		struct smtpd_rcpt *p;

		if (n > ss->ctx->rcpt_limit)
			n = (size_t)ss->ctx->rcpt_limit;
		if (n <= ss->nrcpt || n > SIZE_MAX / sizeof(*p))
			goto fail;
		p = realloc(ss->rcpts, n * sizeof(*p));
		if (p == NULL)
			goto fail;
		ss->rcpts = p;
		ss->rcpt_alloc = n;
	}
	r = &ss->rcpts[ss->nrcpt];
	r->addr = strndup(addr, len);
	if (r->addr == NULL)
		goto fail;
	r->notify = notify;
	r->orcpt = orcpt;
	ss->nrcpt++;
	ss->rcpt_fields += 1 + (notify != NULL) + (orcpt != NULL);
	return 0;
fail:
	free(notify);
	free(orcpt);
	return -1;
}

/* Parse the forward-path into norm (domain folded to lower case).  On
 * failure the reply has been sent and -1 returned. */
static int smtpd_rcpt_parse(struct smtpd_session *ss, const char *p, size_t len,
			    struct buf *norm, size_t *used_r)
{
	struct buf addr;
	const char *err;
	int r = 0;

	*used_r = smtpd_rcpt_is_postmaster(p, len);
	if (*used_r > 0) {
		if (ss->ctx->first_domain[0] == '\0' ||
		    buf_printf(norm, "postmaster@%s", ss->ctx->first_domain) < 0)
			buf_reset(norm);   /* no local domain: the policy says 550 */
		return 0;
	}
	buf_init(&addr, ADDRESS_PATH_MAX);
	/* RFC 5321 4.1.1.3: the empty path <> is not a recipient. */
	if (address_parse_path(p, len, 0, 1, &addr, used_r, &err) < 0 || *used_r > len ||
	    addr.len == 0 || address_normalize(buf_cstr(&addr), addr.len, norm) < 0) {
		smtpd_reply(ss, "501 5.1.3 Bad recipient address syntax");
		r = -1;
	} else if (!ss->smtputf8) {
		for (size_t i = 0; i < addr.len && r == 0; i++)
			if ((unsigned char)addr.data[i] >= 0x80) {
				smtpd_reply(ss, "553 5.6.7 Non-ASCII recipient address needs SMTPUTF8");
				r = -1;
			}
	}
	buf_free(&addr);
	return r;
}

struct smtpd_dsn {
	char notify[32];          /* canonical NOTIFY, "" if none */
	struct buf orcpt;         /* "type;decoded-address", empty if none */
};

/* RFC 3461 4.2: ORCPT=addr-type;xtext.  The type is an atom; the
 * address is decoded and must be printable. */
static int smtpd_orcpt_parse(const struct smtp_param *pa, struct buf *out)
{
	const char *semi;
	size_t tlen;

	if (pa->value == NULL || out->len > 0 ||
	    (semi = memchr(pa->value, ';', pa->value_len)) == NULL)
		return -1;
	tlen = (size_t)(semi - pa->value);
	if (tlen == 0 || tlen > 32 || semi + 1 == pa->value + pa->value_len)
		return -1;
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)pa->value[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return -1;
	}
	if (buf_append(out, pa->value, tlen + 1) < 0)
		return -1;
	return smtp_xtext_decode(semi + 1, pa->value_len - tlen - 1, out);
}

/* ESMTP parameters on RCPT: NOTIFY and ORCPT (RFC 3461); anything else
 * is 555 (RFC 5321 4.1.1.11).  0, or -1 after a reply. */
static int smtpd_rcpt_params(struct smtpd_session *ss, const char *p, size_t len,
			     struct smtpd_dsn *dsn)
{
	struct smtp_param params[SMTP_CMD_MAX_PARAMS];
	size_t n;

	if (smtpd_params(ss, p, len, params, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct smtp_param *pa = &params[i];

		if (smtp_param_is(pa, "NOTIFY")) {
			if (dsn->notify[0] != '\0' || pa->value == NULL ||
			    smtp_notify_parse(pa->value, pa->value_len, dsn->notify, sizeof(dsn->notify)) < 0) {
				smtpd_reply(ss, "501 5.5.4 Bad NOTIFY parameter (RFC 3461 4.1)");
				return -1;
			}
		} else if (smtp_param_is(pa, "ORCPT")) {
			if (smtpd_orcpt_parse(pa, &dsn->orcpt) < 0) {
				smtpd_reply(ss, "501 5.5.4 Bad ORCPT parameter (RFC 3461 4.2)");
				return -1;
			}
		} else {
			smtpd_reply(ss, "555 5.5.4 Unsupported option: %.*s",
				    (int)pa->key_len, pa->key);
			return -1;
		}
	}
	return 0;
}

/* Duplicate the DSN values for the transaction (NULL when absent). */
static int smtpd_dsn_take(const struct smtpd_dsn *dsn, char **notify_r, char **orcpt_r)
{
	*notify_r = dsn->notify[0] != '\0' ? strdup(dsn->notify) : NULL;
	*orcpt_r = dsn->orcpt.len > 0 ? strdup(buf_cstr(&dsn->orcpt)) : NULL;
	if ((dsn->notify[0] != '\0' && *notify_r == NULL) || (dsn->orcpt.len > 0 && *orcpt_r == NULL)) {
		free(*notify_r);
		free(*orcpt_r);
		return -1;
	}
	return 0;
}

/* The recipient of the transaction that addr (canonical) names again,
 * or NULL: the same bytes, or for a local domain the same mailbox as
 * local delivery resolves it (common/recipient.h). */
static struct smtpd_rcpt *smtpd_rcpt_find(const struct smtpd_session *ss, const char *addr,
					  size_t len, int local)
{
	for (size_t i = 0; i < ss->nrcpt; i++) {
		const char *a = ss->rcpts[i].addr;

		if (strlen(a) != len)
			continue;
		if (memcmp(a, addr, len) == 0 ||
		    (local && recipient_same_mailbox(&ss->ctx->recipients, a, len, addr, len)))
			return &ss->rcpts[i];
	}
	return NULL;
}

/* A recipient named again: RFC 3461 lets us keep one delivery with
 * every notice either RCPT asked for (NOTIFY merged as
 * queuefile_notify_merge does) and the first ORCPT given.  -1 on
 * memory exhaustion. */
static int smtpd_rcpt_merge(struct smtpd_session *ss, struct smtpd_rcpt *r, const struct smtpd_dsn *dsn)
{
	if (dsn->notify[0] != '\0') {
		unsigned had = 0, more = 0;
		char text[QUEUEFILE_NOTIFY_TEXT_MAX];
		char *copy = NULL;

		if ((r->notify != NULL && queuefile_notify_parse(r->notify, strlen(r->notify), &had) < 0) ||
		    queuefile_notify_parse(dsn->notify, strlen(dsn->notify), &more) < 0)
			log_panic("smtpd: NOTIFY not canonical after smtp_notify_parse");
		queuefile_notify_format(queuefile_notify_merge(had, more), text, sizeof(text));
		if (text[0] != '\0' && (copy = strdup(text)) == NULL)
			return -1;
		if (copy != NULL && r->notify == NULL)
			ss->rcpt_fields++;   /* a merge never drops a NOTIFY */
		free(r->notify);
		r->notify = copy;
	}
	if (r->orcpt == NULL && dsn->orcpt.len > 0) {
		if ((r->orcpt = strdup(buf_cstr(&dsn->orcpt))) == NULL)
			return -1;
		ss->rcpt_fields++;
	}
	return 0;
}

/* At the recipient limit: whether this parsed RCPT names a recipient
 * the transaction already has, with room left to merge its DSN
 * requests, so that it gets its 250 as it would below the limit (a 452
 * would make the client send it again in another transaction, a second
 * delivery); it then goes the way of any RCPT and is merged into the
 * one it names. */
static int smtpd_rcpt_named_before(const struct smtpd_session *ss, const struct buf *norm)
{
	if (norm->len == 0 || ss->rcpt_fields + 2 + 9 > RECORD_MAX_FIELDS)
		return 0;
	return smtpd_rcpt_find(ss, norm->data, norm->len, 0) != NULL ||
	       (smtpd_rcpt_policy(ss->ctx, norm->data, norm->len) == SMTPD_RCPT_OK &&
		smtpd_rcpt_find(ss, norm->data, norm->len, 1) != NULL);
}

/* Add an accepted recipient, or merge it into the one it duplicates
 * (issue 9 item 8: a recipient named many times is stored once; only
 * distinct recipients count against smtpd_recipient_limit).  -1 when
 * there is no room or memory. */
static int smtpd_rcpt_take(struct smtpd_session *ss, const struct buf *norm,
			   const struct smtpd_dsn *dsn, int local)
{
	struct smtpd_rcpt *dup = smtpd_rcpt_find(ss, norm->data, norm->len, local);
	char *notify, *orcpt;

	if (dup != NULL)
		return smtpd_rcpt_merge(ss, dup, dsn);
	if (smtpd_dsn_take(dsn, &notify, &orcpt) < 0)
		return -1;
	return smtpd_rcpt_add(ss, norm->data, norm->len, notify, orcpt);
}

/* A non-local recipient: allowed for AUTH and mynetworks clients only. */
static int smtpd_rcpt_may_relay(const struct smtpd_session *ss)
{
	return ss->auth_user.len > 0 || smtpd_policy_mynetworks(ss->ctx, ss->client);
}

/* Answer a parsed recipient according to the policy. */
static void smtpd_rcpt_decide(struct smtpd_session *ss, const struct buf *norm,
			      const char *shown, const struct smtpd_dsn *dsn)
{
	enum smtpd_rcpt_verdict v = norm->len == 0 ? SMTPD_RCPT_UNKNOWN :
		smtpd_rcpt_policy(ss->ctx, norm->data, norm->len);
	int local = v == SMTPD_RCPT_OK;   /* a local domain, as opposed to relayed */
	int mark;

	ss->log_rcpt = shown;   /* smtpd_cmd_rcpt clears it */
	if (!smtpd_access_rcpt(ss, shown, &mark))
		return;

	if (v == SMTPD_RCPT_RELAY && norm->len > 0 && smtpd_rcpt_may_relay(ss))
		v = SMTPD_RCPT_OK;
	if (v == SMTPD_RCPT_LMTP)
		v = smtpd_verify_rcpt(ss, norm->data, norm->len, shown) ? SMTPD_RCPT_OK : SMTPD_RCPT_ANSWERED;
	switch (v) {
	case SMTPD_RCPT_OK:
		if (!smtpd_spf_rcpt(ss, shown) || !smtpd_delegate_rcpt(ss, shown) || !smtpd_milter_rcpt(ss, shown))
			return;
		if (smtpd_rcpt_take(ss, norm, dsn, local) < 0) {
			smtpd_reply(ss, "452 4.5.3 Error: too many recipients");
			return;
		}
		smtpd_access_mark(ss, mark);
		ss->rcpts_total++;
		smtpd_reply(ss, "250 2.1.5 Ok");
		return;
	case SMTPD_RCPT_UNKNOWN:
		smtpd_reply(ss, "550 5.1.1 <%s>: Recipient address rejected: User unknown", shown);
		return;
	case SMTPD_RCPT_RELAY:
		smtpd_reply(ss, "554 5.7.1 <%s>: Relay access denied", shown);
		return;
	case SMTPD_RCPT_TEMP:
		log_warn("recipient lookup failed for <%s>", shown);
		smtpd_reply(ss, "451 4.3.0 <%s>: Temporary lookup failure", shown);
		return;
	case SMTPD_RCPT_LMTP:         /* decided above */
	case SMTPD_RCPT_ANSWERED:
		return;
	}
}

/* Room for one more recipient: the configured limit, and the fields of
 * the enqueue record (three per recipient at most, nine for the rest). */
static int smtpd_rcpt_room(const struct smtpd_session *ss)
{
	return ss->nrcpt < ss->ctx->rcpt_limit && ss->rcpt_fields + 3 + 9 <= RECORD_MAX_FIELDS;
}

void smtpd_cmd_rcpt(struct smtpd_session *ss, const struct smtp_cmd *cmd)
{
	const char *rest;
	size_t rest_len, used;
	struct buf norm;
	struct smtpd_dsn dsn;

	if (!ss->in_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (ss->msg != NULL) {
		smtpd_reply(ss, "503 5.5.1 Error: message data already started");
		return;
	}
	if (!smtp_cmd_arg_prefix(cmd->arg, cmd->arg_len, "TO:", &rest, &rest_len)) {
		smtpd_reply(ss, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	buf_init(&norm, ADDRESS_PATH_MAX);
	memset(&dsn, 0, sizeof(dsn));
	buf_init(&dsn.orcpt, SMTPD_ORCPT_MAX);
	if (smtpd_rcpt_parse(ss, rest, rest_len, &norm, &used) < 0) {
		/* answered */
	} else if (!smtpd_rcpt_room(ss) && !smtpd_rcpt_named_before(ss, &norm)) {
		/* RFC 5321 4.5.3.1.10: a client may pipeline more recipients
		 * than we take and send the rest in another transaction, so
		 * only the first refusal of a transaction is an error (and a
		 * log line): 100,000 pipelined RCPTs count as one. */
		if (ss->rcpt_overshoot++ == 0)
			smtpd_reply(ss, "452 4.5.3 Error: too many recipients");
		else
			smtpd_reply_again(ss, "452 4.5.3 Error: too many recipients");
	} else if (smtpd_rcpt_params(ss, rest + used, rest_len - used, &dsn) == 0) {
		smtpd_rcpt_decide(ss, &norm, norm.len > 0 ? buf_cstr(&norm) : "postmaster", &dsn);
	}
	ss->log_rcpt = NULL;
	buf_free(&norm);
	buf_free(&dsn.orcpt);
}
