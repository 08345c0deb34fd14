/* spf_record: parse an SPF record and expand its macros (RFC 7208).
 *
 * Offers: spf_record_is_spf1 (4.5: which TXT record is SPF),
 * spf_record_parse (4.6, 5, 6: the record's terms: directives with
 * their qualifier, domain-spec and CIDR lengths, the redirect= and exp=
 * modifiers, unknown modifiers checked and ignored), and the macros of
 * section 7: spf_macro_string_ok checks one, spf_macro_expand expands it
 * (letters s l o d i p h c r t v, upper case URL-escaped, the digit and
 * "r" transformers, delimiters; %%, %_ and %-).
 *
 * Trusts: nothing in the record, which comes from the DNS.  Every walk
 * is bounded by (pointer, length); counts are bounded (SPF_TERMS_MAX
 * terms, SPF_RECORD_MAX bytes of record, SPF_EXPAND_MAX bytes of one
 * expansion, the digit transformer saturates at 255 parts).
 *
 * Fails: a syntax error anywhere is -1 with a short reason (the caller's
 * permerror, 4.6); an expansion that would pass its cap is -1 too,
 * never a clipped name. */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "spf_record.h"

#define SPF_PARTS_MAX 256        /* labels one macro value is split into */

const char *spf_result_str(enum spf_result r)
{
	switch (r) {
	case SPF_NONE: return "none";
	case SPF_NEUTRAL: return "neutral";
	case SPF_PASS: return "pass";
	case SPF_FAIL: return "fail";
	case SPF_SOFTFAIL: return "softfail";
	case SPF_TEMPERROR: return "temperror";
	case SPF_PERMERROR: return "permerror";
	}
	return "permerror";
}

static int spf_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int spf_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int spf_delimiter(char c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

int spf_record_is_spf1(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 && (len == 6 || txt[6] == ' ');
}

/* ---- macros (RFC 7208 7.1) ---- */

/* Length of the macro-expand at p (p[0] == '%'), or 0 when malformed.
 * *letter_r is the macro letter, or 0 for %%, %_ and %-. */
static size_t spf_macro_len(const char *p, size_t len, int explain, char *letter_r)
{
	size_t i = 2;
	char l;

	*letter_r = 0;
	if (len < 2)
		return 0;
	if (p[1] == '%' || p[1] == '_' || p[1] == '-')
		return 2;
	if (p[1] != '{' || len < 4)
		return 0;
	l = (char)(p[2] | 0x20);
	if (strchr("slodiphv", l) == NULL && !(explain && strchr("crt", l) != NULL))
		return 0;
	*letter_r = p[2];
	for (i = 3; i < len && spf_digit(p[i]); i++)
		;
	if (i < len && (p[i] == 'r' || p[i] == 'R'))
		i++;
	while (i < len && spf_delimiter(p[i]))
		i++;
	if (i >= len || p[i] != '}')
		return 0;
	/* 7.1: a digit transformer must be nonzero. */
	if (spf_digit(p[3])) {
		unsigned n = 0;
		for (size_t k = 3; k < len && spf_digit(p[k]) && n < 1000; k++)
			n = n * 10 + (unsigned)(p[k] - '0');
		if (n == 0)
			return 0;
	}
	return i + 1;
}

int spf_macro_string_ok(const char *p, size_t len, int explain)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)p[i];
		char letter;
		size_t m;

		if (c == '%') {
			if ((m = spf_macro_len(p + i, len - i, explain, &letter)) == 0)
				return 0;
			i += m;
			continue;
		}
		if (!((c >= 0x21 && c <= 0x7e) || (explain && c == ' ')))
			return 0;
		i++;
	}
	return 1;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static int spf_toplabel_ok(const char *p, size_t len)
{
	int alpha = 0, dash = 0;

	if (len == 0 || p[0] == '-' || p[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '-')
			dash = 1;
		else if (spf_alpha(p[i]))
			alpha = 1;
		else if (!spf_digit(p[i]))
			return 0;
	}
	return alpha || dash;
}

/* domain-spec = macro-string domain-end;
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static int spf_domain_spec_ok(const char *p, size_t len)
{
	size_t i = 0, end = len, dot;
	int last_macro = 0;

	if (len == 0 || !spf_macro_string_ok(p, len, 0))
		return 0;
	/* The string is well-formed: every '%' starts a macro-expand. */
	while (i < len) {
		char letter;
		size_t m = p[i] == '%' ? spf_macro_len(p + i, len - i, 0, &letter) : 0;
		last_macro = m > 0;
		i += m > 0 ? m : 1;
	}
	if (last_macro)
		return 1;
	if (p[end - 1] == '.')
		end--;
	for (dot = end; dot > 0 && p[dot - 1] != '.'; dot--)
		;
	return dot > 0 && spf_toplabel_ok(p + dot, end - dot);
}

/* Append c, URL-escaped when asked (RFC 3986 unreserved kept). */
static int spf_put(struct buf *out, char c, int escape)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char u = (unsigned char)c;

	if (!escape || spf_alpha(c) || spf_digit(c) || c == '-' || c == '.' || c == '_' || c == '~')
		return buf_putc(out, c);
	return buf_putc(out, '%') < 0 || buf_putc(out, hex[u >> 4]) < 0 ? -1 : buf_putc(out, hex[u & 15]);
}

static const char *spf_macro_value(const struct spf_macro_vars *v, char letter)
{
	switch (letter | 0x20) {
	case 's': return v->sender;
	case 'l': return v->local;
	case 'o': return v->sender_domain;
	case 'd': return v->domain;
	case 'i': return v->ip_dotted;
	case 'c': return v->ip_text;
	case 'v': return v->ip_version;
	case 'h': return v->helo;
	case 'r': return v->receiver;
	case 't': return v->time;
	case 'p': return v->validated != NULL ? v->validated(v->arg) : "unknown";
	}
	return "";
}

/* Expand one %{...} (7.3): split the value at the delimiters, reverse
 * with "r", keep the rightmost N parts, join with dots, escape when the
 * letter is upper case. */
static int spf_macro_one(const char *m, size_t mlen, const struct spf_macro_vars *v, struct buf *out)
{
	const char *value = spf_macro_value(v, m[2]), *delims = ".";
	size_t starts[SPF_PARTS_MAX], lens[SPF_PARTS_MAX], nparts = 0, i = 3, keep, vlen;
	unsigned digits = 0;
	int have_digits = 0, reverse = 0, escape = m[2] >= 'A' && m[2] <= 'Z';
	char dset[8];
	size_t nd = 0;

	if (value == NULL)
		value = "";
	vlen = strlen(value);
	for (; i < mlen && spf_digit(m[i]); i++) {
		have_digits = 1;
		if (digits < SPF_PARTS_MAX)
			digits = digits * 10 + (unsigned)(m[i] - '0');
	}
	if (i < mlen && (m[i] == 'r' || m[i] == 'R')) {
		reverse = 1;
		i++;
	}
	for (; i < mlen && m[i] != '}'; i++)
		if (nd < sizeof(dset) - 1 && memchr(dset, m[i], nd) == NULL)
			dset[nd++] = m[i];
	dset[nd] = '\0';
	if (nd > 0)
		delims = dset;
	for (size_t s = 0;;) {
		size_t e = s;
		while (e < vlen && strchr(delims, value[e]) == NULL)
			e++;
		if (nparts == SPF_PARTS_MAX)
			return -1;
		starts[nparts] = s;
		lens[nparts++] = e - s;
		if (e >= vlen)
			break;
		s = e + 1;
	}
	keep = have_digits && digits < nparts ? digits : nparts;
	for (size_t k = 0; k < keep; k++) {
		/* The rightmost `keep` parts of the (possibly reversed) list. */
		size_t idx = nparts - keep + k;
		size_t part = reverse ? nparts - 1 - idx : idx;
		if (k > 0 && buf_putc(out, '.') < 0)
			return -1;
		for (size_t c = 0; c < lens[part]; c++)
			if (spf_put(out, value[starts[part] + c], escape) < 0)
				return -1;
	}
	return 0;
}

int spf_macro_expand(const char *p, size_t len, const struct spf_macro_vars *v, int explain,
		     struct buf *out, const char **error_r)
{
	if (!spf_macro_string_ok(p, len, explain)) {
		*error_r = "bad macro syntax";
		return -1;
	}
	for (size_t i = 0; i < len;) {
		char letter;
		size_t m;
		int r;

		if (p[i] != '%') {
			size_t lit = i;
			while (lit < len && p[lit] != '%')
				lit++;
			if (buf_append(out, p + i, lit - i) < 0)
				goto toolong;
			i = lit;
			continue;
		}
		m = spf_macro_len(p + i, len - i, explain, &letter);
		if (letter == 0)
			r = buf_append_str(out, p[i + 1] == '%' ? "%" : p[i + 1] == '_' ? " " : "%20");
		else
			r = spf_macro_one(p + i, m, v, out);
		if (r < 0)
			goto toolong;
		i += m;
	}
	return 0;
toolong:
	*error_r = "macro expansion too long";
	return -1;
}

/* ---- the record (RFC 7208 4.6.1, 5, 6) ---- */

static const struct { const char *name; enum spf_mech mech; } spf_mechs[] = {
	{ "all", SPF_MECH_ALL }, { "include", SPF_MECH_INCLUDE }, { "a", SPF_MECH_A },
	{ "mx", SPF_MECH_MX }, { "ptr", SPF_MECH_PTR }, { "ip4", SPF_MECH_IP4 },
	{ "ip6", SPF_MECH_IP6 }, { "exists", SPF_MECH_EXISTS },
};

/* "/" ( "0" / %x31-39 0*ndigits DIGIT ) up to max, at p..len; bytes used or 0. */
static size_t spf_cidr(const char *p, size_t len, unsigned max, unsigned *out)
{
	size_t i = 1;
	unsigned v = 0;

	if (len < 2 || p[0] != '/' || !spf_digit(p[1]))
		return 0;
	if (p[1] == '0')
		i = 2;
	else
		for (; i < len && spf_digit(p[i]) && i < 4; i++)
			v = v * 10 + (unsigned)(p[i] - '0');
	if (v > max || (i < len && spf_digit(p[i])))
		return 0;
	*out = v;
	return i;
}

/* Take a dual-cidr-length from the end of the term t..len (a and mx):
 * "/n", "//n" or "/n//m".  Returns the length left, or (size_t)-1 when
 * a CIDR part is malformed. */
static size_t spf_dual_cidr(const char *t, size_t len, struct spf_term *term)
{
	size_t s = len, used;

	/* The last '/'-run that is followed only by digits starts the CIDR. */
	while (s > 0 && spf_digit(t[s - 1]))
		s--;
	if (s == len || s == 0 || t[s - 1] != '/')
		return len;
	s--;
	if (s > 0 && t[s - 1] == '/') {
		/* "//m": an IPv6 length, possibly after an IPv4 one. */
		if ((used = spf_cidr(t + s, len - s, 128, &term->cidr6)) != len - s)
			return (size_t)-1;
		s--;
		size_t e = s;
		while (s > 0 && spf_digit(t[s - 1]))
			s--;
		if (s < e && s > 0 && t[s - 1] == '/') {
			s--;
			if (spf_cidr(t + s, e - s, 32, &term->cidr4) != e - s)
				return (size_t)-1;
			return s;
		}
		return e;
	}
	if ((used = spf_cidr(t + s, len - s, 32, &term->cidr4)) != len - s)
		return (size_t)-1;
	return s;
}

/* ip4:network[/n] or ip6:network[/n] (the text after the colon). */
static int spf_ip_parse(const char *p, size_t len, int v6, struct spf_term *term)
{
	char text[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(p, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - p) : len;

	if (alen == 0 || alen >= sizeof(text))
		return -1;
	memcpy(text, p, alen);
	text[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, text, term->addr) != 1)
		return -1;
	if (slash != NULL &&
	    spf_cidr(slash, len - alen, v6 ? 128 : 32, v6 ? &term->cidr6 : &term->cidr4) != len - alen)
		return -1;
	return 0;
}

/* The mechanism-specific part after the name (rest..len, starting with
 * ':' or '/' or empty). */
static int spf_mech_args(const char *rest, size_t len, struct spf_term *t, const char **error_r)
{
	int needs_spec = t->mech == SPF_MECH_INCLUDE || t->mech == SPF_MECH_EXISTS;

	*error_r = "malformed mechanism";
	switch (t->mech) {
	case SPF_MECH_ALL:
		return len == 0 ? 0 : -1;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		if (len < 2 || rest[0] != ':')
			return -1;
		return spf_ip_parse(rest + 1, len - 1, t->mech == SPF_MECH_IP6, t);
	case SPF_MECH_A:
	case SPF_MECH_MX:
		len = spf_dual_cidr(rest, len, t);
		if (len == (size_t)-1)
			return -1;
		break;
	default:
		break;
	}
	if (len == 0)
		return needs_spec ? -1 : 0;
	if (rest[0] != ':' || !spf_domain_spec_ok(rest + 1, len - 1)) {
		*error_r = "malformed domain-spec";
		return -1;
	}
	t->spec = rest + 1;
	t->spec_len = len - 1;
	return 0;
}

/* One directive: [qualifier] mechanism. */
static int spf_directive(const char *p, size_t len, struct spf_record *rec, const char **error_r)
{
	struct spf_term *t;
	size_t name = 0;

	if (rec->n == SPF_TERMS_MAX) {
		*error_r = "too many terms";
		return -1;
	}
	t = &rec->term[rec->n];
	memset(t, 0, sizeof(*t));
	t->qual = SPF_PASS;
	t->cidr4 = 32;
	t->cidr6 = 128;
	switch (p[0]) {
	case '+': t->qual = SPF_PASS; p++; len--; break;
	case '-': t->qual = SPF_FAIL; p++; len--; break;
	case '~': t->qual = SPF_SOFTFAIL; p++; len--; break;
	case '?': t->qual = SPF_NEUTRAL; p++; len--; break;
	}
	while (name < len && p[name] != ':' && p[name] != '/')
		name++;
	for (size_t i = 0; i < sizeof(spf_mechs) / sizeof(spf_mechs[0]); i++) {
		if (strlen(spf_mechs[i].name) != name || strncasecmp(p, spf_mechs[i].name, name) != 0)
			continue;
		t->mech = spf_mechs[i].mech;
		if (spf_mech_args(p + name, len - name, t, error_r) < 0)
			return -1;
		rec->has_all |= t->mech == SPF_MECH_ALL;
		rec->n++;
		return 0;
	}
	*error_r = "unknown mechanism";
	return -1;
}

/* One modifier: name "=" macro-string. */
static int spf_modifier(const char *p, size_t len, size_t eq, struct spf_record *rec, const char **error_r)
{
	const char *v = p + eq + 1;
	size_t vlen = len - eq - 1;
	const char **slot = NULL;
	size_t *slot_len = NULL;

	if (eq == 8 && strncasecmp(p, "redirect", 8) == 0) {
		slot = &rec->redirect;
		slot_len = &rec->redirect_len;
	} else if (eq == 3 && strncasecmp(p, "exp", 3) == 0) {
		slot = &rec->exp;
		slot_len = &rec->exp_len;
	}
	if (slot == NULL) {
		/* 6: unknown modifiers are ignored, but must be well-formed. */
		if (!spf_macro_string_ok(v, vlen, 0)) {
			*error_r = "malformed modifier";
			return -1;
		}
		return 0;
	}
	/* 6: redirect and exp each at most once. */
	if (*slot != NULL) {
		*error_r = "modifier given twice";
		return -1;
	}
	if (!spf_domain_spec_ok(v, vlen)) {
		*error_r = "malformed domain-spec";
		return -1;
	}
	*slot = v;
	*slot_len = vlen;
	return 0;
}

/* One term (1*SP already skipped). */
static int spf_term(const char *p, size_t len, struct spf_record *rec, const char **error_r)
{
	size_t i = 0;

	/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) followed by '='. */
	if (spf_alpha(p[0])) {
		i = 1;
		while (i < len && (spf_alpha(p[i]) || spf_digit(p[i]) || p[i] == '-' || p[i] == '_' || p[i] == '.'))
			i++;
		if (i < len && p[i] == '=')
			return spf_modifier(p, len, i, rec, error_r);
	}
	return spf_directive(p, len, rec, error_r);
}

int spf_record_parse(const char *txt, size_t len, struct spf_record *rec, const char **error_r)
{
	size_t i = 6;

	memset(rec, 0, sizeof(*rec));
	if (len > SPF_RECORD_MAX) {
		*error_r = "record too long";
		return -1;
	}
	if (!spf_record_is_spf1(txt, len)) {
		*error_r = "not an SPF version 1 record";
		return -1;
	}
	while (i < len) {
		size_t s, e;

		if (txt[i] != ' ') {
			*error_r = "terms not separated by spaces";
			goto fail;
		}
		while (i < len && txt[i] == ' ')
			i++;
		if (i == len)
			break;
		s = i;
		for (e = s; e < len && txt[e] != ' '; e++)
			;
		if (spf_term(txt + s, e - s, rec, error_r) < 0)
			goto fail;
		i = e;
	}
	return 0;
fail:
	memset(rec, 0, sizeof(*rec));
	return -1;
}
