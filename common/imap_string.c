/* imap_string: the one writer of IMAP strings, for every server reply
 * that carries header text, names or parameters.
 *
 * Offers: imap_write_string / _nstring / _astring choose the form
 * (RFC 3501 4.3 and 9; RFC 9051 4.3): an atom when allowed and every
 * byte is an ASTRING-CHAR (never "NIL", which a reader could take for
 * nil); a quoted string when every byte is printable ASCII (0x20-0x7e),
 * or also well-formed UTF-8 when IMAP_STR_UTF8 says the client accepts
 * it (IMAP4rev2 QUOTED-CHAR), with '"' and '\' escaped; otherwise a
 * literal "{n}\r\n" + bytes.  Control characters (TAB included) go in a
 * literal, as Dovecot sends them, since clients differ on them in
 * quoted strings.  A NUL, which no IMAP string (not even a literal, RFC
 * 3501 CHAR8) may carry, is sent as '?'.
 *
 * Trusts: nothing; (pointer, length) input.  Fails: -1 only when the
 * output buffer reaches its cap. */
#include <stdint.h>
#include <string.h>

#include "imap_string.h"
#include "utf8.h"

int imap_is_atom_char(int c)
{
	/* atom-specials: ( ) { SP CTL % * " \ ] ; 8-bit is not CHAR */
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

int imap_is_astring_char(int c)
{
	return imap_is_atom_char(c) || c == ']';
}

enum imap_str_form imap_string_form(const char *p, size_t n, int allow_atom, unsigned int flags)
{
	const unsigned char *s = (const unsigned char *)p;
	int atom = allow_atom && n > 0 && !(n == 3 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'i' &&
					     (s[2] | 0x20) == 'l');

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (atom && !imap_is_astring_char(c))
			atom = 0;
		if (c >= 0x20 && c < 0x7f) {
			i++;
			continue;
		}
		if (c >= 0x80 && (flags & IMAP_STR_UTF8) != 0) {
			uint32_t cp;
			size_t l = utf8_decode(s + i, n - i, &cp);
			if (l > 0) {
				i += l;
				continue;
			}
		}
		return IMAP_STR_LITERAL;
	}
	return atom ? IMAP_STR_ATOM : IMAP_STR_QUOTED;
}

int imap_write_literal_prefix(struct buf *out, size_t n, int binary)
{
	return buf_printf(out, "%s{%zu}\r\n", binary ? "~" : "", n);
}

/* The bytes with every NUL as '?'. */
static int imap_write_raw(struct buf *out, const char *p, size_t n)
{
	while (n > 0) {
		const char *nul = memchr(p, '\0', n);
		size_t run = nul != NULL ? (size_t)(nul - p) : n;
		if (buf_append(out, p, run) < 0)
			return -1;
		if (nul == NULL)
			break;
		if (buf_putc(out, '?') < 0)
			return -1;
		p += run + 1;
		n -= run + 1;
	}
	return 0;
}

static int imap_write_form(struct buf *out, const char *p, size_t n, enum imap_str_form form)
{
	size_t i = 0;

	switch (form) {
	case IMAP_STR_ATOM:
		return buf_append(out, p, n);
	case IMAP_STR_LITERAL:
		if (imap_write_literal_prefix(out, n, 0) < 0)
			return -1;
		return imap_write_raw(out, p, n);
	case IMAP_STR_QUOTED:
		break;
	}
	if (buf_putc(out, '"') < 0)
		return -1;
	while (i < n) {
		size_t run = 0;
		while (i + run < n && p[i + run] != '"' && p[i + run] != '\\')
			run++;
		if (buf_append(out, p + i, run) < 0)
			return -1;
		i += run;
		if (i < n) {
			char esc[2] = { '\\', p[i] };
			if (buf_append(out, esc, 2) < 0)
				return -1;
			i++;
		}
	}
	return buf_putc(out, '"');
}

int imap_write_string(struct buf *out, const char *p, size_t n, unsigned int flags)
{
	if (p == NULL)
		p = "", n = 0;
	return imap_write_form(out, p, n, imap_string_form(p, n, 0, flags));
}

int imap_write_nstring(struct buf *out, const char *p, size_t n, unsigned int flags)
{
	if (p == NULL)
		return buf_append(out, "NIL", 3);
	return imap_write_string(out, p, n, flags);
}

int imap_write_astring(struct buf *out, const char *p, size_t n, unsigned int flags)
{
	if (p == NULL)
		p = "", n = 0;
	return imap_write_form(out, p, n, imap_string_form(p, n, 1, flags));
}
