/* http_request: one HTTP request head, parsed with every count bounded.
 *
 * Offers: http_request_parse() (http_request.h) for the metrics
 * service's HTTP listener: the request line (RFC 9112 3) and the header
 * field lines (RFC 9112 5), up to the empty line.  Only the method, the
 * target's path, the Host field and whether Accept names OpenMetrics
 * count; every other field is checked for its syntax and ignored.
 *
 * Trusts: nothing: the input comes from the network.  Takes (pointer,
 * length), looks only at complete lines, never past n; a head longer
 * than HTTP_REQUEST_MAX, more than HTTP_HEADERS_MAX fields or a target
 * longer than HTTP_TARGET_MAX are errors, never cut.
 *
 * Fails: malformed input gives status 400 (RFC 9112: a bare CR, white
 * space before a field's colon, obsolete line folding, an HTTP/1.1
 * request without exactly one Host); an unknown method 405; another
 * path 404.  Nothing allocates. */
#include "http_request.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 5.6.2: tchar */
static int http_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int http_token(const char *p, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!http_tchar((unsigned char)p[i]))
			return 0;
	return 1;
}

/* The request line (p, n), without its line end, into r; 0 or -1 (400). */
static int http_request_line(const char *p, size_t n, const char *served, struct http_request *r,
			     int *minor_r)
{
	const char *sp1 = memchr(p, ' ', n), *sp2, *target, *q;
	size_t mlen, tlen, vlen, plen;

	if (sp1 == NULL)
		return -1;
	mlen = (size_t)(sp1 - p);
	target = sp1 + 1;
	sp2 = memchr(target, ' ', n - mlen - 1);
	if (sp2 == NULL)
		return -1;
	tlen = (size_t)(sp2 - target);
	vlen = n - mlen - 1 - tlen - 1;
	if (!http_token(p, mlen) || tlen == 0 || tlen >= HTTP_TARGET_MAX || target[0] != '/')
		return -1;
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
			return -1;
	if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
		return -1;
	*minor_r = sp2[8] - '0';
	q = memchr(target, '?', tlen);
	plen = q != NULL ? (size_t)(q - target) : tlen;
	memcpy(r->path, target, plen);
	r->path[plen] = '\0';
	r->head = mlen == 4 && memcmp(p, "HEAD", 4) == 0;
	if (!(mlen == 3 && memcmp(p, "GET", 3) == 0) && !r->head)
		r->status = 405;
	else
		r->status = strcmp(r->path, served) == 0 ? 200 : 404;
	return 0;
}

/* Whether (p, n) holds s, ignoring case. */
static int http_has(const char *p, size_t n, const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i + len <= n; i++)
		if (strncasecmp(p + i, s, len) == 0)
			return 1;
	return 0;
}

/* A header field line (p, n), without its line end; 0 or -1 (400).
 * *host_r counts the Host fields; an Accept field that names
 * OpenMetrics sets r->openmetrics (Prometheus asks for it first). */
static int http_field_line(const char *p, size_t n, int *host_r, struct http_request *r)
{
	const char *colon = memchr(p, ':', n);
	size_t nlen;

	if (colon == NULL)
		return -1;
	nlen = (size_t)(colon - p);
	/* a name of tchar only: no space before the colon (RFC 9112 5.1),
	 * no leading space (obsolete folding, 5.2) */
	if (!http_token(p, nlen))
		return -1;
	for (size_t i = nlen + 1; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	if (nlen == 4 && strncasecmp(p, "Host", 4) == 0)
		(*host_r)++;
	if (nlen == 6 && strncasecmp(p, "Accept", 6) == 0 &&
	    http_has(colon + 1, n - nlen - 1, "application/openmetrics-text"))
		r->openmetrics = 1;
	return 0;
}

int http_request_parse(const char *p, size_t n, const char *served, struct http_request *r)
{
	size_t pos = 0, nfields = 0;
	int minor = 0, host = 0;

	memset(r, 0, sizeof *r);
	if (n > HTTP_REQUEST_MAX)
		n = HTTP_REQUEST_MAX;   /* never look further; no end there is a 400 for the caller */
	for (size_t line = 0;; line++) {
		const char *nl = memchr(p + pos, '\n', n - pos);
		size_t len;

		if (nl == NULL)
			return 0;
		len = (size_t)(nl - (p + pos));
		if (len > 0 && p[pos + len - 1] == '\r')
			len--;
		if (memchr(p + pos, '\r', len) != NULL)
			goto bad;   /* a bare CR (RFC 9112 2.2) */
		if (line == 0) {
			if (http_request_line(p + pos, len, served, r, &minor) < 0)
				goto bad;
		} else if (len == 0) {
			break;
		} else if (++nfields > HTTP_HEADERS_MAX || http_field_line(p + pos, len, &host, r) < 0) {
			goto bad;
		}
		pos = (size_t)(nl - p) + 1;
	}
	/* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one before */
	if (host > 1 || (minor == 1 && host == 0))
		goto bad;
	return 1;
bad:
	memset(r, 0, sizeof *r);
	r->status = 400;
	return 1;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	default: return "Bad Request";
	}
}
