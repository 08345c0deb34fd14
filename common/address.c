/* address: RFC 5321 paths and mailboxes.
 *
 * Offers: address_parse_path for the argument of MAIL FROM: / RCPT TO:
 * (section 4.1.2: Path = "<" [ A-d-l ":" ] Mailbox ">", the source route
 * accepted and dropped per appendix C), address_validate for a bare
 * mailbox, address_at (the '@' that separates local part and domain) and
 * address_normalize, the canonical form recipients are compared in:
 * domain folded to lower case, a quoted local part written without its
 * quotes when it is also a Dot-string (RFC 5321 4.1.2) and with minimal
 * escaping otherwise; the case of the local part is left alone, since
 * only the receiving system may interpret it.  (A source route never
 * gets that far: address_parse_path drops it.)
 *
 * Grammar enforced: Local-part = Dot-string / Quoted-string (at most 64
 * octets); Domain = sub-domain *("." sub-domain), each a letter-digit-
 * hyphen label of at most 63 octets with no leading or trailing hyphen
 * (no trailing dot); address-literal = "[" IPv4 / "IPv6:" IPv6 /
 * tag ":" dcontent "]" (IP forms checked with inet_pton); the domain is at
 * most 255 octets and the whole path at most 256 (section 4.5.3.1).  With
 * utf8 (RFC 6531 SMTPUTF8) well-formed UTF-8 is also accepted in atoms,
 * quoted strings and domain labels; malformed UTF-8 (overlong forms,
 * surrogates, values past U+10FFFF) is always refused.
 *
 * Trusts: nothing; every function takes (pointer, length), never reads
 * past it and never walks backwards.
 *
 * Fails: -1 with a static, human-readable *error_r; choosing the SMTP
 * reply code is the caller's job. */
#include <arpa/inet.h>
#include <string.h>

#include "address.h"
#include "utf8.h"

struct addr_parser {
	const char *s;
	size_t len;
	size_t pos;
	int utf8;
	const char *error;
};

static int addr_fail(struct addr_parser *p, const char *error)
{
	p->error = error;
	return -1;
}

static int addr_peek(const struct addr_parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int addr_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int addr_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext. */
static int addr_is_atext(int c)
{
	return addr_is_alpha(c) || addr_is_digit(c) ||
		(c > 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Accept one UTF-8 character at the cursor when allowed; 1 taken, 0 not
 * UTF-8 here, -1 malformed. */
static int addr_take_utf8(struct addr_parser *p)
{
	size_t n;

	if (addr_peek(p) < 0x80)
		return 0;
	if (!p->utf8)
		return addr_fail(p, "non-ASCII character in address (SMTPUTF8 not in use)");
	uint32_t cp;
	n = utf8_decode((const unsigned char *)p->s + p->pos, p->len - p->pos, &cp);   /* >= 2 here */
	if (n == 0)
		return addr_fail(p, "malformed UTF-8 in address");
	p->pos += n;
	return 1;
}

/* ---- local part ---- */

/* Atom = 1*atext (plus UTF-8 characters under SMTPUTF8). */
static int addr_atom(struct addr_parser *p)
{
	size_t start = p->pos;

	for (;;) {
		int c = addr_peek(p), r;

		if (c >= 0 && c < 0x80 && addr_is_atext(c)) {
			p->pos++;
			continue;
		}
		r = addr_take_utf8(p);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
	}
	if (p->pos == start)
		return addr_fail(p, "empty word in local part (misplaced dot?)");
	return 0;
}

static int addr_dot_string(struct addr_parser *p)
{
	if (addr_atom(p) < 0)
		return -1;
	while (addr_peek(p) == '.') {
		p->pos++;
		if (addr_atom(p) < 0)
			return -1;
	}
	return 0;
}

/* Quoted-string = DQUOTE *( qtextSMTP / "\" %d32-126 ) DQUOTE */
static int addr_quoted_string(struct addr_parser *p)
{
	p->pos++;   /* the opening quote */
	for (;;) {
		int c = addr_peek(p), r;

		if (c < 0)
			return addr_fail(p, "unterminated quoted local part");
		if (c == '"') {
			p->pos++;
			return 0;
		}
		if (c == '\\') {
			p->pos++;
			c = addr_peek(p);
			if (c < 32 || c > 126)
				return addr_fail(p, "bad quoted pair in local part");
			p->pos++;
			continue;
		}
		if (c >= 32 && c <= 126) {
			p->pos++;
			continue;
		}
		r = addr_take_utf8(p);
		if (r < 0)
			return -1;
		if (r == 0)
			return addr_fail(p, "control character in quoted local part");
	}
}

static int addr_local_part(struct addr_parser *p)
{
	size_t start = p->pos;
	int r = addr_peek(p) == '"' ? addr_quoted_string(p) : addr_dot_string(p);

	if (r < 0)
		return -1;
	if (p->pos - start > ADDRESS_LOCAL_MAX)
		return addr_fail(p, "local part longer than 64 octets");
	return 0;
}

/* ---- domain ---- */

/* sub-domain = Let-dig [Ldh-str]: no leading or trailing hyphen. */
static int addr_label(struct addr_parser *p)
{
	size_t start = p->pos;
	int last = -1;

	for (;;) {
		int c = addr_peek(p), r;

		if (c >= 0 && c < 0x80 && (addr_is_alpha(c) || addr_is_digit(c) || c == '-')) {
			if (c == '-' && p->pos == start)
				return addr_fail(p, "domain label starts with a hyphen");
			p->pos++;
			last = c;
			continue;
		}
		r = addr_take_utf8(p);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		last = 0x80;
	}
	if (p->pos == start)
		return addr_fail(p, "empty domain label");
	if (last == '-')
		return addr_fail(p, "domain label ends with a hyphen");
	if (p->pos - start > 63)
		return addr_fail(p, "domain label longer than 63 octets");
	return 0;
}

static int addr_domain_name(struct addr_parser *p)
{
	size_t start = p->pos;

	if (addr_label(p) < 0)
		return -1;
	while (addr_peek(p) == '.') {
		p->pos++;
		if (addr_label(p) < 0)
			return -1;
	}
	if (p->pos - start > ADDRESS_DOMAIN_MAX)
		return addr_fail(p, "domain longer than 255 octets");
	return 0;
}

/* General-address-literal = Standardized-tag ":" 1*dcontent */
static int addr_general_literal(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t tag = colon != NULL ? (size_t)(colon - s) : 0;

	if (tag == 0 || tag + 1 >= n || s[0] == '-' || s[tag - 1] == '-')
		return -1;
	for (size_t i = 0; i < tag; i++)
		if (!addr_is_alpha((unsigned char)s[i]) && !addr_is_digit((unsigned char)s[i]) && s[i] != '-')
			return -1;
	for (size_t i = tag + 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 33 && c <= 90) || (c >= 94 && c <= 126)))
			return -1;
	}
	return 0;
}

/* The text between the brackets of an address literal. */
static int addr_literal_body(const char *s, size_t n)
{
	char text[INET6_ADDRSTRLEN + 8];
	unsigned char bin[16];

	if (n >= 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		if (n - 5 >= sizeof(text))
			return -1;
		memcpy(text, s + 5, n - 5);
		text[n - 5] = '\0';
		return inet_pton(AF_INET6, text, bin) == 1 ? 0 : -1;
	}
	if (memchr(s, ':', n) != NULL)
		return addr_general_literal(s, n);
	if (n >= sizeof(text))
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET, text, bin) == 1 ? 0 : -1;
}

static int addr_literal(struct addr_parser *p)
{
	const char *body = p->s + p->pos + 1;
	const char *end = memchr(body, ']', p->len - p->pos - 1);

	if (end == NULL)
		return addr_fail(p, "unterminated address literal");
	if (addr_literal_body(body, (size_t)(end - body)) < 0)
		return addr_fail(p, "bad address literal");
	p->pos = (size_t)(end - p->s) + 1;
	if (p->pos - (size_t)(body - 1 - p->s) > ADDRESS_DOMAIN_MAX)
		return addr_fail(p, "domain longer than 255 octets");
	return 0;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ) */
static int addr_mailbox(struct addr_parser *p)
{
	if (addr_peek(p) < 0)
		return addr_fail(p, "empty address");
	if (addr_local_part(p) < 0)
		return -1;
	if (addr_peek(p) != '@')
		return addr_fail(p, "missing '@' after local part");
	p->pos++;
	if (addr_peek(p) == '[')
		return addr_literal(p);
	return addr_domain_name(p);
}

/* A-d-l = At-domain *( "," At-domain ) ":"  (parsed, then ignored) */
static int addr_source_route(struct addr_parser *p)
{
	for (;;) {
		p->pos++;   /* the '@' */
		if (addr_domain_name(p) < 0)
			return -1;
		if (addr_peek(p) == ':') {
			p->pos++;
			return 0;
		}
		if (addr_peek(p) != ',')
			return addr_fail(p, "bad source route");
		p->pos++;
		if (addr_peek(p) != '@')
			return addr_fail(p, "bad source route");
	}
}

/* Report a path or mailbox error to the caller. */
static int addr_error(const char **error_r, const char *error)
{
	*error_r = error;
	return -1;
}

int address_parse_path(const char *s, size_t len, int allow_empty, int utf8,
		       struct buf *addr_r, size_t *consumed_r, const char **error_r)
{
	struct addr_parser p = { s, len, 0, utf8, NULL };
	size_t open, mbox;

	/* Tolerated: "MAIL FROM: <a@b>" (a space before the bracket). */
	while (addr_peek(&p) == ' ')
		p.pos++;
	if (addr_peek(&p) != '<')
		return addr_error(error_r, "path must be enclosed in <>");
	open = p.pos++;
	if (addr_peek(&p) == '>') {
		if (!allow_empty)
			return addr_error(error_r, "empty path <> not allowed here");
		if (buf_set(addr_r, "", 0) < 0)
			return addr_error(error_r, "out of memory");
		*consumed_r = p.pos + 1;
		return 0;
	}
	if (addr_peek(&p) == '@' && addr_source_route(&p) < 0)
		return addr_error(error_r, p.error);
	mbox = p.pos;
	if (addr_mailbox(&p) < 0)
		return addr_error(error_r, p.error);
	if (addr_peek(&p) != '>')
		return addr_error(error_r, "unexpected character in path (missing '>'?)");
	p.pos++;
	if (p.pos - open > ADDRESS_PATH_MAX)
		return addr_error(error_r, "path longer than 256 octets");
	if (buf_set(addr_r, s + mbox, p.pos - 1 - mbox) < 0)
		return addr_error(error_r, "address too long for the caller's buffer");
	*consumed_r = p.pos;
	return 0;
}

int address_validate(const char *addr, size_t len, int utf8, const char **error_r)
{
	struct addr_parser p = { addr, len, 0, utf8, NULL };

	if (len > ADDRESS_PATH_MAX - 2)
		return addr_error(error_r, "address longer than 254 octets");
	if (addr_mailbox(&p) < 0)
		return addr_error(error_r, p.error);
	if (p.pos != len)
		return addr_error(error_r, "unexpected character after the domain");
	return 0;
}

long address_at(const char *addr, size_t len)
{
	long at = -1;
	int quoted = 0;

	for (size_t i = 0; i < len; i++) {
		char c = addr[i];

		if (quoted && c == '\\' && i + 1 < len)
			i++;   /* a quoted pair: skip the escaped byte */
		else if (c == '"')
			quoted = !quoted;
		else if (c == '@' && !quoted)
			at = (long)i;
	}
	return at;
}

/* Whether s (n bytes) is a Dot-string: atoms of atext (or octets of
 * UTF-8, which the parser checked when it took the address) joined by
 * single dots. */
static int addr_is_dot_string(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' ? s[i + 1] == '.' : c < 0x80 && !addr_is_atext(c))
			return 0;
	}
	return 1;
}

/* The local part addr[0..at) in canonical form into out: a quoted
 * string whose content is a Dot-string loses its quotes (RFC 5321 4.1.2:
 * "bob" and bob are the same mailbox), any other quoted string keeps
 * them with only '"' and '\' escaped.  Anything else, or a quoted
 * string that is not well formed, is copied as it is.  The result is
 * never longer than the input. */
static int addr_local_canonical(const char *addr, size_t at, struct buf *out)
{
	char text[ADDRESS_PATH_MAX];
	size_t n = 0;

	if (at < 2 || addr[0] != '"' || addr[at - 1] != '"' || at > sizeof(text))
		return buf_set(out, addr, at);
	for (size_t i = 1; i < at - 1; i++) {
		if (addr[i] == '"')
			return buf_set(out, addr, at);   /* not one quoted string */
		if (addr[i] == '\\' && ++i == at - 1)
			return buf_set(out, addr, at);   /* the closing quote is escaped */
		text[n++] = addr[i];
	}
	if (addr_is_dot_string(text, n))
		return buf_set(out, text, n);
	if (buf_set(out, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (((text[i] == '"' || text[i] == '\\') && buf_append(out, "\\", 1) < 0) ||
		    buf_append(out, text + i, 1) < 0)
			return -1;
	return buf_append(out, "\"", 1);
}

int address_normalize(const char *addr, size_t len, struct buf *out)
{
	long at = address_at(addr, len);
	size_t dom;

	if (at < 0)
		return buf_set(out, addr, len);
	if (addr_local_canonical(addr, (size_t)at, out) < 0)
		return -1;
	dom = out->len;
	if (buf_append(out, addr + at, len - (size_t)at) < 0)
		return -1;
	/* RFC 5321 2.4: domains are case-insensitive, local parts are not. */
	for (size_t i = dom + 1; i < out->len; i++) {
		char c = out->data[i];
		if (c >= 'A' && c <= 'Z')
			out->data[i] = (char)(c - 'A' + 'a');
	}
	return 0;
}
