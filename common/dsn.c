/* dsn: delivery status notifications (RFC 3464, RFC 3461, RFC 6533).
 *
 * Offers: dsn_compose, which writes a complete report message (header,
 * multipart/report body with the three parts of RFC 3464 section 2) into
 * a struct buf, and two helpers (header length, RFC 5322 date).  qmgr
 * writes the result into a new queue file addressed to the sender.
 *
 * Trusts: addresses, ORCPT and ENVID only as far as the queue file
 * reader checked them (no control bytes); diagnostics come from delivery
 * agents and remote servers, so every byte under 0x20 or 0x7f is replaced
 * by '?', bytes over 0x7f too unless the report is SMTPUTF8, and long
 * diagnostics are folded (RFC 5322 2.2.3) so that no line exceeds 998
 * octets.  The original message is copied as it is; the MIME boundary is
 * chosen so that it does not occur in it.
 *
 * Fails: -1 with a static *error_r when out reaches its cap (the caller
 * sized it) or the arguments are unusable; out then holds garbage. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dsn.h"

#define DSN_FOLD 76                /* fold diagnostics near this column */
#define DSN_HARD_FOLD 900          /* ... and at the latest here (RFC 5322 2.1.1: 998) */
#define DSN_BOUNDARY_TRIES 16

int dsn_date(long long t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	/* RFC 5322 3.3; English names whatever the locale. */
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int n;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11)
		return -1;
	n = snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
		     tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

size_t dsn_header_length(const char *msg, size_t n)
{
	if (n > 0 && msg[0] == '\n')
		return 1;   /* no header at all */
	for (size_t i = 0; i + 1 < n; i++)
		if (msg[i] == '\n' && msg[i + 1] == '\n')
			return i + 2;
	return n;
}

/* Append text with unsafe bytes replaced, folded at white space (or hard
 * at DSN_HARD_FOLD) so that header lines stay short. */
static int dsn_put_safe(struct buf *out, const char *s, size_t n, int utf8, size_t col)
{
	size_t max = n > DSN_DIAG_MAX ? DSN_DIAG_MAX : n;

	for (size_t i = 0; i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (c > 0x7f && !utf8))
			c = (c == '\t' || c == '\n' || c == '\r') ? ' ' : '?';
		if ((c == ' ' && col >= DSN_FOLD) || col >= DSN_HARD_FOLD) {
			if (buf_append(out, "\n ", 2) < 0)
				return -1;
			col = 1;
			if (c == ' ')
				continue;
		}
		if (buf_putc(out, (char)c) < 0)
			return -1;
		col++;
	}
	if (n > max)
		return buf_append_str(out, " [...]");   /* said, not silently cut */
	return 0;
}

/* `Name: value` with a trusted value (already checked by the reader). */
static int dsn_field(struct buf *out, const char *name, const char *value)
{
	return buf_printf(out, "%s: %s\n", name, value);
}

static int dsn_date_field(struct buf *out, const char *name, long long t)
{
	char date[64];

	if (dsn_date(t, date, sizeof(date)) < 0)
		return -1;
	return dsn_field(out, name, date);
}

static const char *dsn_action_word(enum dsn_action a)
{
	static const char *const words[] = { [DSN_FAILED] = "failed", [DSN_DELAYED] = "delayed",
					     [DSN_DELIVERED] = "delivered", [DSN_RELAYED] = "relayed",
					     [DSN_EXPANDED] = "expanded" };

	return (unsigned)a < sizeof(words) / sizeof(words[0]) ? words[a] : "delivered";
}

/* Whether a success report names a relayed or expanded recipient. */
static int dsn_any_handed_on(const struct dsn *d)
{
	for (size_t i = 0; i < d->nrcpt; i++)
		if (d->rcpt[i].action == DSN_RELAYED || d->rcpt[i].action == DSN_EXPANDED)
			return 1;
	return 0;
}

/* The "worst" action decides the subject: failed, then delayed. */
static enum dsn_action dsn_worst(const struct dsn *d)
{
	enum dsn_action w = DSN_DELIVERED;

	for (size_t i = 0; i < d->nrcpt; i++) {
		if (d->rcpt[i].action == DSN_FAILED)
			return DSN_FAILED;
		if (d->rcpt[i].action == DSN_DELAYED)
			w = DSN_DELAYED;
	}
	return w;
}

static const char *dsn_subject(const struct dsn *d)
{
	if (d->postmaster)
		return "Undeliverable delivery status notification";
	switch (dsn_worst(d)) {
	case DSN_FAILED:
		return "Undelivered Mail Returned to Sender";
	case DSN_DELAYED:
		return "Delayed Mail (still being retried)";
	default:
		return "Successful Mail Delivery Report";
	}
}

/* A boundary that no line of the original starts with. */
static int dsn_boundary(const struct dsn *d, const char *orig, size_t n, char *out, size_t outlen)
{
	for (unsigned k = 0; k < DSN_BOUNDARY_TRIES; k++) {
		char probe[160];
		int len = snprintf(out, outlen, "=_postern/%s/%lld/%u", d->queue_id, d->now, k);

		if (len < 0 || (size_t)len >= outlen)
			return -1;
		len = snprintf(probe, sizeof(probe), "--%s", out);
		if (len < 0 || (size_t)len >= sizeof(probe))
			return -1;
		if (memmem(orig, n, probe, (size_t)len) == NULL)
			return 0;
	}
	return -1;
}

static int dsn_headers(const struct dsn *d, const char *boundary, struct buf *out)
{
	if (buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", d->reporting_mta) < 0 ||
	    buf_printf(out, "To: <%s>\n", d->to) < 0 ||
	    dsn_field(out, "Subject", dsn_subject(d)) < 0 ||
	    dsn_date_field(out, "Date", d->now) < 0 ||
	    buf_printf(out, "Message-ID: <%s.%lld.dsn@%s>\n", d->queue_id, d->now, d->reporting_mta) < 0 ||
	    /* RFC 3834 5: no automatic answers to this one. */
	    dsn_field(out, "Auto-Submitted", "auto-replied") < 0 ||
	    dsn_field(out, "MIME-Version", "1.0") < 0)
		return -1;
	return buf_printf(out, "Content-Type: multipart/report; report-type=%s;\n\tboundary=\"%s\"\n\n"
			  "This is a MIME-encapsulated message: a delivery status notification (RFC 3464).\n",
			  d->smtputf8 ? "global-delivery-status" : "delivery-status", boundary);
}

/* Part 1: what happened, for people. */
static int dsn_text(const struct dsn *d, const char *boundary, struct buf *out)
{
	static const char *const intro[] = {
		[DSN_FAILED] = "Your message could not be delivered to one or more recipients;\n"
			       "the reasons are given below.  This is final: the mail system\n"
			       "will not try again.\n",
		[DSN_DELAYED] = "Your message has not been delivered yet to the recipients below.\n"
				"The mail system keeps trying; you do not need to send it again.\n",
		[DSN_DELIVERED] = "Your message was delivered to the recipients below, as you\n"
				  "asked when you sent it.\n",
	};

	if (buf_printf(out, "\n--%s\nContent-Type: text/plain; charset=%s\n"
		       "Content-Description: Notification\n\n"
		       "This is the mail system at host %s.\n\n", boundary,
		       d->smtputf8 ? "utf-8" : "us-ascii", d->reporting_mta) < 0)
		return -1;
	if (d->postmaster) {
		if (buf_printf(out, "A delivery status notification from this mail system could not be\n"
			       "delivered; it is attached.  It is not reported again.\n") < 0)
			return -1;
	} else if (buf_append_str(out, intro[dsn_worst(d)]) < 0) {
		return -1;
	} else if (dsn_any_handed_on(d) &&
		   buf_append_str(out, "\"relayed\": handed to a mail system that sends no such reports;\n"
				  "\"expanded\": passed on to the addresses an alias names.\n") < 0) {
		return -1;
	}
	if (buf_putc(out, '\n') < 0)
		return -1;
	for (size_t i = 0; i < d->nrcpt; i++) {
		const struct dsn_rcpt *r = &d->rcpt[i];
		const char *diag = r->diag != NULL ? r->diag : "";

		if (buf_printf(out, "<%s>: %s", r->addr, dsn_action_word(r->action)) < 0)
			return -1;
		if (diag[0] != '\0' && (buf_append(out, ": ", 2) < 0 ||
					dsn_put_safe(out, diag, strlen(diag), d->smtputf8, 20) < 0))
			return -1;
		if (buf_putc(out, '\n') < 0)
			return -1;
	}
	return 0;
}

/* RFC 6533 3: a non-ASCII address is of type utf-8. */
static const char *dsn_addr_type(const char *addr)
{
	for (const unsigned char *p = (const unsigned char *)addr; *p != '\0'; p++)
		if (*p > 0x7f)
			return "utf-8";
	return "rfc822";
}

/* One per-recipient block of the delivery-status part (RFC 3464 2.3). */
static int dsn_rcpt_fields(const struct dsn *d, const struct dsn_rcpt *r, struct buf *out)
{
	if (buf_printf(out, "\nFinal-Recipient: %s; %s\n", dsn_addr_type(r->addr), r->addr) < 0)
		return -1;
	if (r->orcpt != NULL && r->orcpt[0] != '\0' && dsn_field(out, "Original-Recipient", r->orcpt) < 0)
		return -1;
	if (dsn_field(out, "Action", dsn_action_word(r->action)) < 0 ||
	    dsn_field(out, "Status", r->status) < 0)
		return -1;
	/* RFC 3464 2.3.5 */
	if (r->remote_mta != NULL && r->remote_mta_len > 0 &&
	    (buf_append_str(out, "Remote-MTA: dns; ") < 0 ||
	     dsn_put_safe(out, r->remote_mta, r->remote_mta_len, d->smtputf8, 17) < 0 || buf_putc(out, '\n') < 0))
		return -1;
	if (r->diag_type != NULL && r->diag != NULL && r->diag[0] != '\0') {
		const char *code = r->code != NULL ? r->code : r->diag;
		size_t code_len = r->code != NULL ? r->code_len : strlen(r->diag);

		if (buf_printf(out, "Diagnostic-Code: %s; ", r->diag_type) < 0 ||
		    dsn_put_safe(out, code, code_len, d->smtputf8, 20) < 0 ||
		    buf_putc(out, '\n') < 0)
			return -1;
	}
	if (r->last_attempt > 0 && dsn_date_field(out, "Last-Attempt-Date", r->last_attempt) < 0)
		return -1;
	if (r->action == DSN_DELAYED && r->retry_until > 0 &&
	    dsn_date_field(out, "Will-Retry-Until", r->retry_until) < 0)
		return -1;
	return 0;
}

/* Part 2: the same, for programs. */
static int dsn_status(const struct dsn *d, const char *boundary, struct buf *out)
{
	if (buf_printf(out, "\n--%s\nContent-Type: message/%s\n"
		       "Content-Description: Delivery report\n\n"
		       "Reporting-MTA: dns; %s\nX-Postern-Queue-ID: %s\n", boundary,
		       d->smtputf8 ? "global-delivery-status" : "delivery-status",
		       d->reporting_mta, d->queue_id) < 0)
		return -1;
	if (d->envid != NULL && d->envid[0] != '\0' &&
	    dsn_field(out, "Original-Envelope-Id", d->envid) < 0)
		return -1;
	if (d->orig_sender != NULL && d->orig_sender[0] != '\0' &&
	    buf_printf(out, "X-Postern-Sender: %s; %s\n", dsn_addr_type(d->orig_sender), d->orig_sender) < 0)
		return -1;
	if (dsn_date_field(out, "Arrival-Date", d->arrival) < 0)
		return -1;
	for (size_t i = 0; i < d->nrcpt; i++)
		if (dsn_rcpt_fields(d, &d->rcpt[i], out) < 0)
			return -1;
	return 0;
}

static int dsn_has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] > 0x7f)
			return 1;
	return 0;
}

/* Part 3: the message, or its header (RFC 3462 / RFC 6533 types); the
 * description fits failure, delay and success reports alike. */
static int dsn_original(const struct dsn *d, const char *boundary, const char *orig, size_t n,
			struct buf *out)
{
	size_t len = d->full ? n : dsn_header_length(orig, n);
	const char *type = d->full ? (d->smtputf8 ? "message/global" : "message/rfc822")
				   : (d->smtputf8 ? "message/global-headers" : "text/rfc822-headers");

	if (buf_printf(out, "\n--%s\nContent-Type: %s\nContent-Description: %s\n%s\n", boundary, type,
		       d->full ? "The original message" : "Header of the original message",
		       dsn_has_8bit(orig, len) ? "Content-Transfer-Encoding: 8bit\n" : "") < 0 ||
	    buf_append(out, orig, len) < 0)
		return -1;
	if (len > 0 && orig[len - 1] != '\n' && buf_putc(out, '\n') < 0)
		return -1;
	return buf_printf(out, "\n--%s--\n", boundary);
}

int dsn_compose(const struct dsn *d, const char *orig, size_t n, struct buf *out, int *eightbit_r,
		const char **error_r)
{
	char boundary[128];

	if (d->nrcpt == 0 || d->nrcpt > DSN_RCPT_MAX || d->to == NULL || d->reporting_mta == NULL ||
	    d->queue_id == NULL || (orig == NULL && n > 0)) {
		*error_r = "bad report arguments";
		return -1;
	}
	if (orig == NULL)
		orig = "";
	if (dsn_boundary(d, orig, n, boundary, sizeof(boundary)) < 0) {
		*error_r = "no usable MIME boundary";
		return -1;
	}
	if (dsn_headers(d, boundary, out) < 0 || dsn_text(d, boundary, out) < 0 ||
	    dsn_status(d, boundary, out) < 0 || dsn_original(d, boundary, orig, n, out) < 0) {
		*error_r = "report too large";
		return -1;
	}
	*eightbit_r = dsn_has_8bit(out->data, out->len);
	return 0;
}
