/* smtpd_rcpt: RCPT TO and the recipient policy of the skeleton.
 *
 * Offers: smtpd_cmd_rcpt() parses the forward-path (RFC 5321 4.1.1.3),
 * decides whether we take mail for it and adds it to the transaction.
 * Policy: a recipient in a domain of etc/domains.cdb must be a key of
 * etc/mailboxes.cdb (550 5.1.1 otherwise); any other domain is refused
 * (554 5.7.1: this skeleton never relays).  The bare <postmaster> of
 * RFC 5321 4.5.1 means postmaster@ the first local domain, and is taken
 * only when that address exists.
 *
 * Trusts: the maps (written by the operator through `postern map`);
 * nothing about the client's text, which goes through the address parser
 * before any lookup.
 *
 * Fails: a map read error is a temporary 451 4.3.0 (the client retries);
 * the recipient count is bounded by smtpd_recipient_limit (452 4.5.3). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "cdbmap.h"
#include "log.h"
#include "smtp_cmd.h"
#include "smtpd.h"

enum smtpd_rcpt_verdict {
	SMTPD_RCPT_OK,
	SMTPD_RCPT_UNKNOWN,   /* local domain, no such mailbox */
	SMTPD_RCPT_RELAY,     /* not a local domain */
	SMTPD_RCPT_TEMP,      /* lookup failed */
};

/* Whether the map has key: 1, 0, or -1 on a read error. */
static int smtpd_map_has(struct cdbmap *map, const char *key, size_t len)
{
	struct buf value;
	int r;

	buf_init(&value, 65536);
	r = cdbmap_lookup(map, key, len, &value);
	buf_free(&value);
	return r;
}

/* The policy for a syntactically valid mailbox addr (domain folded). */
static enum smtpd_rcpt_verdict smtpd_rcpt_policy(const struct smtpd_ctx *ctx,
						 const char *addr, size_t len)
{
	long at = address_at(addr, len);
	int r;

	if (at < 0 || (size_t)at + 1 >= len)
		return SMTPD_RCPT_RELAY;   /* no domain: not one of ours */
	r = smtpd_map_has(ctx->domains, addr + at + 1, len - (size_t)at - 1);
	if (r < 0)
		return SMTPD_RCPT_TEMP;
	if (r == 0)
		return SMTPD_RCPT_RELAY;
	/* cdbmap folds the key to lower case, as `postern map` stored it. */
	r = smtpd_map_has(ctx->mailboxes, addr, len);
	if (r < 0)
		return SMTPD_RCPT_TEMP;
	return r == 1 ? SMTPD_RCPT_OK : SMTPD_RCPT_UNKNOWN;
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

/* Append a recipient to the transaction; -1 on memory exhaustion. */
static int smtpd_rcpt_add(struct smtpd_session *ss, const char *addr, size_t len)
{
	char *copy;

	if (ss->nrcpt == ss->rcpt_alloc) {
		size_t n = ss->rcpt_alloc ? ss->rcpt_alloc * 2 : 8;
		char **p;

		if (n > ss->ctx->rcpt_limit)
			n = (size_t)ss->ctx->rcpt_limit;
		if (n <= ss->nrcpt || n > SIZE_MAX / sizeof(*p))
			return -1;
		p = realloc(ss->rcpts, n * sizeof(*p));
		if (p == NULL)
			return -1;
		ss->rcpts = p;
		ss->rcpt_alloc = n;
	}
	copy = strndup(addr, len);
	if (copy == NULL)
		return -1;
	ss->rcpts[ss->nrcpt++] = copy;
	return 0;
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
	if (address_parse_path(p, len, 0, 0, &addr, used_r, &err) < 0 || *used_r > len ||
	    addr.len == 0 || address_normalize(buf_cstr(&addr), addr.len, norm) < 0) {
		smtpd_reply(ss, "501 5.1.3 Bad recipient address syntax");
		r = -1;
	}
	buf_free(&addr);
	return r;
}

/* ESMTP parameters on RCPT: we support none (RFC 5321 4.1.1.11: 555). */
static int smtpd_rcpt_params(struct smtpd_session *ss, const char *p, size_t len)
{
	struct smtp_param params[SMTP_CMD_MAX_PARAMS];
	const char *err;
	size_t n;

	if (smtp_cmd_params(p, len, params, SMTP_CMD_MAX_PARAMS, &n, &err) < 0) {
		smtpd_reply(ss, "501 5.5.4 Syntax error in parameters: %s", err);
		return -1;
	}
	if (n > 0) {
		smtpd_reply(ss, "555 5.5.4 Unsupported option: %.*s",
			    (int)params[0].key_len, params[0].key);
		return -1;
	}
	return 0;
}

/* Answer a parsed recipient according to the policy. */
static void smtpd_rcpt_decide(struct smtpd_session *ss, const struct buf *norm,
			      const char *shown)
{
	enum smtpd_rcpt_verdict v = norm->len == 0 ? SMTPD_RCPT_UNKNOWN :
		smtpd_rcpt_policy(ss->ctx, norm->data, norm->len);

	switch (v) {
	case SMTPD_RCPT_OK:
		if (smtpd_rcpt_add(ss, norm->data, norm->len) < 0) {
			smtpd_reply(ss, "452 4.5.3 Error: too many recipients");
			return;
		}
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
	}
}

void smtpd_cmd_rcpt(struct smtpd_session *ss, const struct smtp_cmd *cmd)
{
	const char *rest;
	size_t rest_len, used;
	struct buf norm;

	if (!ss->in_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (!smtp_cmd_arg_prefix(cmd->arg, cmd->arg_len, "TO:", &rest, &rest_len)) {
		smtpd_reply(ss, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (ss->nrcpt >= ss->ctx->rcpt_limit) {
		smtpd_reply(ss, "452 4.5.3 Error: too many recipients");
		return;
	}
	buf_init(&norm, ADDRESS_PATH_MAX);
	if (smtpd_rcpt_parse(ss, rest, rest_len, &norm, &used) == 0 &&
	    smtpd_rcpt_params(ss, rest + used, rest_len - used) == 0)
		smtpd_rcpt_decide(ss, &norm, norm.len > 0 ? buf_cstr(&norm) : "postmaster");
	buf_free(&norm);
}
