/* smtpd_verify: RCPT of a domain delivered over LMTP, verified there.
 *
 * Offers: smtpd_verify_rcpt(), which asks the verify service
 * (private/verify in our root, docs/protocols.md "verify") whether the
 * LMTP server of the recipient's domain would take it, and answers the
 * client when it would not:
 *   - fail (the server said 5xx at RCPT): 550 with the server's RFC 3463
 *     code (5.1.1 when it gave no 5.x.x one), so the mail is refused
 *     here and nobody gets a bounce (backscatter, issue 9 item 9);
 *   - tempfail because the server answered 4xx: 450 4.1.1, as Postfix
 *     answers an unverified address; because it could not be asked
 *     (connect, timeout, map trouble: 4.4.x / 4.3.x): 451 with that code;
 *   - the verify service unreachable or a broken answer: 451 4.3.0.
 * The client may retry every 4xx.  The bare postmaster of a domain is
 * never probed (RFC 5321 4.5.1: it must be accepted), nor anything when
 * lmtp_verify_recipients = no.  A tree whose master.conf has no verify
 * service (no link private/verify: ENOENT) accepts unverified, with one
 * warning per process, as before this check existed.
 *
 * Trusts: verify only as far as its answer's shape: an unknown status
 * or a code that is not an RFC 3463 code of the status's class is a
 * temporary failure; its reason is not shown to the client.
 *
 * Fails: never with a 5xx that the LMTP server did not give. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "record.h"
#include "smtp_reply.h"
#include "smtpd.h"

#define SMTPD_VERIFY_REQUEST_MAX (3 * ADDRESS_PATH_MAX + 64)

/* The code of an answer, checked: class cls ('2', '4', '5'), RFC 3463. */
static const char *smtpd_verify_dsn(const struct record *rec, char cls)
{
	const char *dsn = record_get(rec, "dsn");

	if (dsn == NULL || dsn[0] != cls || !smtp_enhanced_code_ok(dsn, strlen(dsn)))
		return NULL;
	return dsn;
}

/* Ask verify about addr: 0 with the answer in rec, or -1 (logged; *gone
 * set when there is no verify service in this tree at all). */
static int smtpd_verify_ask(const struct smtpd_ctx *ctx, const char *addr, struct record *rec,
			    int *gone)
{
	static const char *const what[] = {
		[RECORD_CALL_CONNECT] = "cannot connect", [RECORD_CALL_SEND] = "cannot send the request",
		[RECORD_CALL_ANSWER] = "no valid answer",
	};
	char path[64];
	struct buf req;
	enum record_call_status st = RECORD_CALL_SEND;

	*gone = 0;
	buf_init(&req, SMTPD_VERIFY_REQUEST_MAX);
	if (daemon_socket_path("verify", path, sizeof(path)) == 0 &&
	    record_put_str(&req, "addr", addr) == 0 && record_end(&req) == 0)
		st = record_call(path, &req, ctx->verify_ms, rec);
	buf_free(&req);
	if (st == RECORD_CALL_OK)
		return 0;
	*gone = st == RECORD_CALL_CONNECT && errno == ENOENT;
	if (!*gone)
		log_warn("verify service: %s for <%s>", what[st], addr);
	return -1;
}

/* Whether addr's local part is postmaster (any case), which RFC 5321
 * 4.5.1 says every domain must accept. */
static int smtpd_verify_is_postmaster(const char *addr, size_t len)
{
	long at = address_at(addr, len);

	return at == 10 && strncasecmp(addr, "postmaster", 10) == 0;
}

int smtpd_verify_rcpt(struct smtpd_session *ss, const char *addr, size_t len, const char *shown)
{
	static int warned;
	struct record rec = { 0 };
	const char *status, *dsn;
	int gone, ok = 0;

	if (!ss->ctx->lmtp_verify || smtpd_verify_is_postmaster(addr, len))
		return 1;
	if (smtpd_verify_ask(ss->ctx, addr, &rec, &gone) < 0) {
		if (gone) {
			/* An older master.conf without the service: as before. */
			if (!warned++)
				log_warn("lmtp_verify_recipients: no verify service (master.conf); "
					 "recipients of LMTP domains are accepted unverified");
			return 1;
		}
		smtpd_reply(ss, "451 4.3.0 <%s>: Temporary lookup failure", shown);
		return 0;
	}
	status = record_get(&rec, "status");
	if (status == NULL)
		status = "";
	if (strcmp(status, "ok") == 0) {
		ok = 1;
	} else if (strcmp(status, "fail") == 0) {
		dsn = smtpd_verify_dsn(&rec, '5');
		if (dsn == NULL || strncmp(dsn, "5.1.", 4) == 0)
			smtpd_reply(ss, "550 %s <%s>: Recipient address rejected: User unknown",
				    dsn != NULL ? dsn : "5.1.1", shown);
		else
			smtpd_reply(ss, "550 %s <%s>: Recipient address rejected: undeliverable address",
				    dsn, shown);
	} else if (strcmp(status, "tempfail") == 0 && (dsn = smtpd_verify_dsn(&rec, '4')) != NULL &&
		   (strncmp(dsn, "4.4.", 4) == 0 || strncmp(dsn, "4.3.", 4) == 0)) {
		smtpd_reply(ss, "451 %s <%s>: Recipient address rejected: unverified address: "
			    "mailbox server unavailable", dsn, shown);
	} else if (strcmp(status, "tempfail") == 0 && smtpd_verify_dsn(&rec, '4') != NULL) {
		smtpd_reply(ss, "450 4.1.1 <%s>: Recipient address rejected: unverified address: "
			    "mailbox server said try again later", shown);
	} else {
		log_warn("verify service: bad answer (status %s) for <%s>", status, addr);
		smtpd_reply(ss, "451 4.3.0 <%s>: Temporary lookup failure", shown);
	}
	record_clear(&rec);
	return ok;
}
