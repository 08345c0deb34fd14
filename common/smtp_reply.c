/* smtp_reply: parsing what an SMTP server answers.
 *
 * Offers: a line-at-a-time parser for replies (RFC 5321 4.2: "code SP
 * text" ends a reply, "code - text" continues it, every line with the
 * same code), the enhanced status code of the first line (RFC 3463
 * class.subject.detail, class equal to the reply's first digit), the
 * extensions of an EHLO reply, and a printable one-line summary for
 * logs and bounce reasons, and the two things both clients (remote SMTP,
 * LMTP) make of a reply: its RFC 3463 status and its "X said: ..." reason.
 *
 * Trusts: nothing; the peer is any server on the Internet.  Every line
 * is (pointer, length) and never read past; the number of lines
 * (SMTP_REPLY_LINES_MAX) and the kept text (SMTP_REPLY_TEXT_MAX) are
 * bounded; SIZE values are overflow-checked.
 *
 * Fails: a malformed reply is -1 with a static *error_r; the caller
 * treats it as a protocol error of that server (a temporary failure). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smtp_reply.h"

void smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->text, SMTP_REPLY_TEXT_MAX);
}

void smtp_reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->enh[0] = '\0';
	r->nlines = 0;
	r->complete = 0;
	buf_reset(&r->text);
}

void smtp_reply_free(struct smtp_reply *r)
{
	buf_free(&r->text);
	smtp_reply_reset(r);
}

/* 1-3 digits at p[*i], no leading zero unless the number is 0 (RFC 3463 2). */
static int smtp_reply_enh_number(const char *p, size_t n, size_t *i)
{
	size_t start = *i;

	while (*i < n && *i - start < 4 && p[*i] >= '0' && p[*i] <= '9')
		(*i)++;
	if (*i == start || *i - start > 3)
		return -1;
	if (*i - start > 1 && p[start] == '0')
		return -1;
	return 0;
}

/* Enhanced status at the start of text; its length or 0 when absent. */
static size_t smtp_reply_enh_len(const char *p, size_t n, int first_digit)
{
	size_t i = 1;

	if (n < 5 || p[0] != first_digit || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return 0;
	i = 2;
	if (smtp_reply_enh_number(p, n, &i) < 0 || i >= n || p[i] != '.')
		return 0;
	i++;
	if (smtp_reply_enh_number(p, n, &i) < 0)
		return 0;
	if (i < n && p[i] != ' ')
		return 0;
	return i;
}

int smtp_enhanced_code_ok(const char *p, size_t n)
{
	return n > 0 && smtp_reply_enh_len(p, n, p[0]) == n;
}

static int smtp_reply_code_of(const char *line, size_t len)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
	    line[2] < '0' || line[2] > '9')
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len, const char **error_r)
{
	int code;
	const char *text;
	size_t tlen;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (r->complete || r->nlines >= SMTP_REPLY_LINES_MAX) {
		*error_r = r->complete ? "reply already complete" : "too many reply lines";
		return -1;
	}
	code = smtp_reply_code_of(line, len);
	if (code < 0 || (len > 3 && line[3] != ' ' && line[3] != '-')) {
		*error_r = "malformed reply code";
		return -1;
	}
	if (r->nlines > 0 && code != r->code) {
		*error_r = "reply code changes within a reply";
		return -1;
	}
	text = len > 4 ? line + 4 : line + len;
	tlen = len > 4 ? len - 4 : 0;
	if (r->nlines == 0) {
		size_t e = smtp_reply_enh_len(text, tlen, line[0]);
		r->code = code;
		if (e > 0 && e < sizeof r->enh) {
			memcpy(r->enh, text, e);
			r->enh[e] = '\0';
		}
	}
	if ((r->nlines > 0 && buf_putc(&r->text, '\n') < 0) || buf_append(&r->text, text, tlen) < 0) {
		*error_r = errno == EMSGSIZE ? "reply text too long" : "out of memory";
		return -1;
	}
	r->nlines++;
	r->complete = len <= 3 || line[3] == ' ';
	return r->complete;
}

int smtp_reply_parse(struct smtp_reply *r, const char *p, size_t n, size_t *consumed_r,
		     const char **error_r)
{
	size_t off = 0;

	*consumed_r = 0;
	while (off < n) {
		const char *lf = memchr(p + off, '\n', n - off);
		size_t len = lf ? (size_t)(lf - (p + off)) + 1 : n - off;
		int done = smtp_reply_line(r, p + off, len, error_r);
		off += len;
		if (done < 0)
			return -1;
		if (done) {
			*consumed_r = off;
			return 0;
		}
	}
	return 1;
}

/* Case-insensitive: does word (wlen) equal the C string kw? */
static int smtp_reply_word_is(const char *w, size_t wlen, const char *kw)
{
	return strlen(kw) == wlen && strncasecmp(w, kw, wlen) == 0;
}

/* Decimal value of (p, n); -1 if not a number or over the range. */
static int smtp_reply_number(const char *p, size_t n, unsigned long long *v_r)
{
	unsigned long long v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' ||
		    __builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (unsigned)(p[i] - '0'), &v))
			return -1;
	}
	*v_r = v;
	return 0;
}

/* One EHLO line: keyword, then space-separated parameters. */
static void smtp_reply_ehlo_line(const char *p, size_t n, struct smtp_ext *ext)
{
	size_t k = 0, i;

	while (k < n && p[k] != ' ' && p[k] != '=')
		k++;
	if (smtp_reply_word_is(p, k, "PIPELINING"))
		ext->pipelining = 1;
	else if (smtp_reply_word_is(p, k, "8BITMIME"))
		ext->eightbitmime = 1;
	else if (smtp_reply_word_is(p, k, "SMTPUTF8"))
		ext->smtputf8 = 1;
	else if (smtp_reply_word_is(p, k, "DSN"))
		ext->dsn = 1;
	else if (smtp_reply_word_is(p, k, "STARTTLS"))
		ext->starttls = 1;
	else if (smtp_reply_word_is(p, k, "ENHANCEDSTATUSCODES"))
		ext->enhanced = 1;
	else if (smtp_reply_word_is(p, k, "SIZE")) {
		unsigned long long v;
		ext->size = 1;
		i = k;
		while (i < n && p[i] == ' ')
			i++;
		if (i < n && smtp_reply_number(p + i, n - i, &v) == 0)
			ext->size_max = v;
	} else if (smtp_reply_word_is(p, k, "AUTH")) {
		/* RFC 4954 4: mechanisms follow, space-separated. */
		for (i = k; i < n;) {
			size_t w;
			while (i < n && (p[i] == ' ' || p[i] == '='))
				i++;
			for (w = i; w < n && p[w] != ' '; w++)
				;
			if (smtp_reply_word_is(p + i, w - i, "PLAIN"))
				ext->auth_plain = 1;
			else if (smtp_reply_word_is(p + i, w - i, "LOGIN"))
				ext->auth_login = 1;
			i = w;
		}
	}
}

void smtp_reply_ehlo(const struct smtp_reply *r, struct smtp_ext *ext)
{
	const char *p = r->text.data;
	size_t n = r->text.len, off = 0, line = 0;

	memset(ext, 0, sizeof *ext);
	if (r->code != 250 || !r->complete)
		return;
	ext->esmtp = 1;
	while (off <= n && p != NULL) {
		const char *lf = memchr(p + off, '\n', n - off);
		size_t len = lf ? (size_t)(lf - (p + off)) : n - off;
		if (line++ > 0)      /* the first line is the server's name */
			smtp_reply_ehlo_line(p + off, len, ext);
		if (lf == NULL)
			break;
		off += len + 1;
	}
}

int smtp_reply_summary(const struct smtp_reply *r, struct buf *out, size_t max)
{
	size_t n = r->text.len < max ? r->text.len : max;

	if (buf_printf(out, "%03d", r->code) < 0)
		return -1;
	if (n > 0 && buf_putc(out, ' ') < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r->text.data[i];
		if (c == '\n')
			c = ' ';
		else if (c < 0x20 || c >= 0x7f)
			c = '?';
		if (buf_putc(out, (char)c) < 0)
			return -1;
	}
	if (n < r->text.len && buf_append_str(out, "...") < 0)
		return -1;
	return 0;
}

const char *smtp_reply_dsn(const struct smtp_reply *r)
{
	/* RFC 3463 3.1: the class must agree with the reply code's. */
	if (r->enh[0] != '\0' && r->enh[0] - '0' == r->code / 100)
		return r->enh;
	return r->code / 100 == 2 ? "2.0.0" : r->code / 100 == 5 ? "5.0.0" : "4.0.0";
}

const char *smtp_reply_dsn_failure(const struct smtp_reply *r)
{
	/* A reply of the wrong kind (250 where DATA needs 354) is a protocol
	 * error: a temporary failure whose status must not read 2.x.x. */
	return r->code / 100 == 4 || r->code / 100 == 5 ? smtp_reply_dsn(r) : "4.0.0";
}

void smtp_reason(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

void smtp_reply_said(const struct smtp_reply *r, const char *who, const char *cmd, size_t shown,
		     char *out, size_t outlen)
{
	struct buf sum;

	buf_init(&sum, shown + 32);
	if (smtp_reply_summary(r, &sum, shown) < 0)
		buf_set(&sum, "(reply too long)", 16);
	/* A diagnostic: a cut at outlen only shortens it. */
	snprintf(out, outlen, "%s said: %s (in reply to %s)", who, buf_cstr(&sum), cmd);
	buf_free(&sum);
}
