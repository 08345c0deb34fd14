/* crlf: a stored message's bytes in the form IMAP sends them.
 *
 * Offers: crlf_expand, the copy that makes every bare LF CRLF (Maildir
 * files have LF line ends; IMAP's sizes, offsets and literals count
 * CRLF, RFC 9051 2.2).  imapd reads messages through it, and the FETCH
 * renderer writes a whole message through it straight into a response.
 *
 * How: memchr from LF to LF and one memcpy per run, not a test of every
 * byte (every FETCH of a body and every SEARCH of the text comes through
 * here); a CR is inserted only before an LF whose preceding byte (prev
 * across calls) is not a CR.
 *
 * Trusts: nothing in the bytes.  Never writes past room.
 * Fails: SIZE_MAX when the result would not fit in room. */
#include <stdbool.h>
#include <string.h>

#include "crlf.h"

size_t crlf_expand(char *dst, size_t room, const char *src, size_t n, char prev)
{
	char *d = dst, *limit = dst + room;
	const char *p = src, *end = src + n, *run = src;

	for (;; p++) {
		p = memchr(p, '\n', (size_t)(end - p));
		if (p != NULL && (p > src ? p[-1] : prev) == '\r')
			continue;   /* a CRLF already: goes with the run */
		size_t k = (size_t)((p != NULL ? p : end) - run);
		if ((size_t)(limit - d) < k + (p != NULL ? 1 : 0))
			return SIZE_MAX;
		memcpy(d, run, k);
		d += k;
		if (p == NULL)
			return (size_t)(d - dst);
		*d++ = '\r';
		run = p;   /* the LF goes with the next run */
	}
}
