/* dmarc_record: parse a DMARC policy record (RFC 7489 6.3, 6.4).
 *
 * Offers: dmarc_record_parse() tells a record that begins with
 * "v=DMARC1" (6.6.3 step 2; the version literal is case-sensitive, as
 * the ABNF's %x44.4d.41.52.43.31 says) from any other TXT record, and
 * reads its tag list (the DKIM tag-value syntax, 6.3): p, sp, adkim,
 * aspf, pct, and RFC 9091's np; rua, ruf, fo, rf and ri are checked and
 * otherwise ignored, as a receiver that sends no reports may.  Tag names
 * and keyword values are compared without regard to case (ABNF strings,
 * RFC 5234 2.3); the first of two equal tags counts; unknown tags and
 * malformed list entries are ignored (6.3: "Unknown tags MUST be
 * ignored"; syntax errors fall back to the defaults).  A missing or
 * invalid p=, or an invalid sp=, leaves the record without a policy
 * unless rua= names a valid URI, when p=none is taken (6.6.3 step 6).
 *
 * Trusts: nothing: (pointer, length), at most DMARC_RECORD_MAX bytes and
 * DMARC_RECORD_TAGS_MAX tags; every number is bounded by its digits.
 *
 * Fails: never; the status says what the record is worth. */
#include <string.h>
#include <strings.h>

#include "dmarc_record.h"

#define DMARC_TAG_P     0x001u
#define DMARC_TAG_SP    0x002u
#define DMARC_TAG_NP    0x004u
#define DMARC_TAG_ADKIM 0x008u
#define DMARC_TAG_ASPF  0x010u
#define DMARC_TAG_PCT   0x020u
#define DMARC_TAG_RI    0x040u
#define DMARC_TAG_FO    0x080u
#define DMARC_TAG_RF    0x100u
#define DMARC_TAG_RUA   0x200u
#define DMARC_TAG_RUF   0x400u

struct dmarc_span {
	const char *p;
	size_t n;
};

static int dmarc_wsp(char c)
{
	/* WSP, and the CR LF of folding that a TXT record should not hold */
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int dmarc_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int dmarc_digit(char c)
{
	return c >= '0' && c <= '9';
}

static struct dmarc_span dmarc_trim(const char *p, size_t n)
{
	struct dmarc_span s = { p, n };

	while (s.n > 0 && dmarc_wsp(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && dmarc_wsp(s.p[s.n - 1]))
		s.n--;
	return s;
}

static int dmarc_is(struct dmarc_span s, const char *word)
{
	return strlen(word) == s.n && strncasecmp(s.p, word, s.n) == 0;
}

/* ---- values ---- */

static enum dmarc_policy dmarc_policy_value(struct dmarc_span v)
{
	if (dmarc_is(v, "none"))
		return DMARC_POLICY_NONE;
	if (dmarc_is(v, "quarantine"))
		return DMARC_POLICY_QUARANTINE;
	if (dmarc_is(v, "reject"))
		return DMARC_POLICY_REJECT;
	return DMARC_POLICY_UNSET;
}

/* 1*digits (at most max_digits) into *out when at most max. */
static int dmarc_number(struct dmarc_span v, size_t max_digits, unsigned long max, unsigned long *out)
{
	unsigned long x = 0;

	if (v.n == 0 || v.n > max_digits)
		return -1;
	for (size_t i = 0; i < v.n; i++) {
		if (!dmarc_digit(v.p[i]))
			return -1;
		x = x * 10 + (unsigned long)(v.p[i] - '0');
	}
	if (x > max)
		return -1;
	*out = x;
	return 0;
}

/* The next item of a list separated by sep, trimmed; 0 when used up. */
static int dmarc_item(struct dmarc_span v, char sep, size_t *pos, struct dmarc_span *item)
{
	const char *end;
	size_t n;

	if (*pos > v.n)
		return 0;
	end = memchr(v.p + *pos, sep, v.n - *pos);
	n = end != NULL ? (size_t)(end - (v.p + *pos)) : v.n - *pos;
	*item = dmarc_trim(v.p + *pos, n);
	*pos += n + 1;
	return 1;
}

/* fo: 0, 1, d or s, colon-separated. */
static int dmarc_fo_ok(struct dmarc_span v)
{
	struct dmarc_span item;
	size_t pos = 0;

	while (dmarc_item(v, ':', &pos, &item))
		if (item.n != 1 || strchr("01dDsS", item.p[0]) == NULL || item.p[0] == '\0')
			return 0;
	return 1;
}

/* rf: report formats (keywords such as afrf), colon-separated. */
static int dmarc_rf_ok(struct dmarc_span v)
{
	struct dmarc_span item;
	size_t pos = 0;

	while (dmarc_item(v, ':', &pos, &item)) {
		if (item.n == 0 || !dmarc_alpha(item.p[0]))
			return 0;
		for (size_t i = 1; i < item.n; i++)
			if (!dmarc_alpha(item.p[i]) && !dmarc_digit(item.p[i]) && item.p[i] != '-')
				return 0;
	}
	return 1;
}

/* 6.4 dmarc-uri: URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ].  The
 * URI is checked loosely: a scheme (RFC 3986 3.1), a colon, then at
 * least one visible character; a literal '!' belongs to the size. */
static int dmarc_uri_ok(struct dmarc_span u)
{
	const char *bang = NULL;
	size_t colon = 0, end;

	for (size_t i = 0; i < u.n; i++)
		if (u.p[i] == '!')
			bang = u.p + i;
	end = bang != NULL ? (size_t)(bang - u.p) : u.n;
	if (bang != NULL) {
		size_t i = end + 1, digits = 0;

		while (i < u.n && dmarc_digit(u.p[i])) {
			i++;
			digits++;
		}
		if (i < u.n && strchr("kmgtKMGT", u.p[i]) != NULL && u.p[i] != '\0')
			i++;
		if (digits == 0 || i != u.n)
			return 0;
	}
	if (end == 0 || !dmarc_alpha(u.p[0]))
		return 0;
	while (colon < end && u.p[colon] != ':') {
		char c = u.p[colon];

		if (!dmarc_alpha(c) && !dmarc_digit(c) && c != '+' && c != '-' && c != '.')
			return 0;
		colon++;
	}
	if (colon == end || colon + 1 == end)
		return 0;
	for (size_t i = colon + 1; i < end; i++)
		if ((unsigned char)u.p[i] <= 0x20 || (unsigned char)u.p[i] >= 0x7f || u.p[i] == ',')
			return 0;
	return 1;
}

/* The valid URIs of a comma-separated list; -1 when one is invalid
 * (the whole tag is then ignored) or the list is empty. */
static int dmarc_uris(struct dmarc_span v)
{
	struct dmarc_span item;
	size_t pos = 0;
	int n = 0;

	while (dmarc_item(v, ',', &pos, &item)) {
		if (!dmarc_uri_ok(item))
			return -1;
		n++;
	}
	return n > 0 ? n : -1;
}

/* ---- the tag list ---- */

static unsigned dmarc_tag_id(struct dmarc_span name)
{
	static const struct { const char *name; unsigned id; } tags[] = {
		{ "p", DMARC_TAG_P }, { "sp", DMARC_TAG_SP }, { "np", DMARC_TAG_NP },
		{ "adkim", DMARC_TAG_ADKIM }, { "aspf", DMARC_TAG_ASPF }, { "pct", DMARC_TAG_PCT },
		{ "ri", DMARC_TAG_RI }, { "fo", DMARC_TAG_FO }, { "rf", DMARC_TAG_RF },
		{ "rua", DMARC_TAG_RUA }, { "ruf", DMARC_TAG_RUF },
	};

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (dmarc_is(name, tags[i].name))
			return tags[i].id;
	return 0;
}

/* 6.3: adkim and aspf, 'r' or 's'. */
static char dmarc_mode(struct dmarc_span v, unsigned bad_bit, unsigned *bad)
{
	if (dmarc_is(v, "r"))
		return 'r';
	if (dmarc_is(v, "s"))
		return 's';
	*bad |= bad_bit;
	return 'r';
}

struct dmarc_parse {
	struct dmarc_record *rec;
	int p_invalid, sp_invalid;   /* given with a value that is no policy */
};

static void dmarc_tag(struct dmarc_parse *ps, unsigned id, struct dmarc_span v)
{
	struct dmarc_record *rec = ps->rec;
	unsigned long x = 0;
	int n;

	switch (id) {
	case DMARC_TAG_P:
		ps->p_invalid = (rec->p = dmarc_policy_value(v)) == DMARC_POLICY_UNSET;
		break;
	case DMARC_TAG_SP:
		ps->sp_invalid = (rec->sp = dmarc_policy_value(v)) == DMARC_POLICY_UNSET;
		break;
	case DMARC_TAG_NP:
		if ((rec->np = dmarc_policy_value(v)) == DMARC_POLICY_UNSET)
			rec->bad |= DMARC_BAD_NP;
		break;
	case DMARC_TAG_ADKIM:
		rec->adkim = dmarc_mode(v, DMARC_BAD_ADKIM, &rec->bad);
		break;
	case DMARC_TAG_ASPF:
		rec->aspf = dmarc_mode(v, DMARC_BAD_ASPF, &rec->bad);
		break;
	case DMARC_TAG_PCT:
		if (dmarc_number(v, 3, 100, &x) == 0)
			rec->pct = (unsigned)x;
		else
			rec->bad |= DMARC_BAD_PCT;
		break;
	case DMARC_TAG_RI:
		if (dmarc_number(v, 10, 4294967295UL, &x) == 0)
			rec->ri = x;
		else
			rec->bad |= DMARC_BAD_RI;
		break;
	case DMARC_TAG_FO:
		if (!dmarc_fo_ok(v))
			rec->bad |= DMARC_BAD_FO;
		break;
	case DMARC_TAG_RF:
		if (!dmarc_rf_ok(v))
			rec->bad |= DMARC_BAD_RF;
		break;
	case DMARC_TAG_RUA:
	case DMARC_TAG_RUF:
		n = dmarc_uris(v);
		if (n < 0)
			rec->bad |= id == DMARC_TAG_RUA ? DMARC_BAD_RUA : DMARC_BAD_RUF;
		else if (id == DMARC_TAG_RUA)
			rec->rua = (unsigned)n;
		else
			rec->ruf = (unsigned)n;
		break;
	}
}

/* 6.4 dmarc-version: "v" *WSP "=" *WSP "DMARC1", then the end, white
 * space or the separator.  The offset after it, or 0. */
static size_t dmarc_version(const char *p, size_t len)
{
	size_t i = 0;

	if (len == 0 || (p[0] != 'v' && p[0] != 'V'))
		return 0;
	for (i = 1; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	if (i >= len || p[i] != '=')
		return 0;
	for (i++; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	if (len - i < 6 || memcmp(p + i, "DMARC1", 6) != 0)
		return 0;
	i += 6;
	if (i < len && !dmarc_wsp(p[i]) && p[i] != ';')
		return 0;
	return i;
}

/* One "name = value" entry; a malformed one is ignored. */
static void dmarc_entry(struct dmarc_parse *ps, struct dmarc_span e, unsigned *seen)
{
	const char *eq = memchr(e.p, '=', e.n);
	struct dmarc_span name, value;
	unsigned id;

	if (eq == NULL)
		return;
	name = dmarc_trim(e.p, (size_t)(eq - e.p));
	value = dmarc_trim(eq + 1, e.n - (size_t)(eq - e.p) - 1);
	if (name.n == 0 || !dmarc_alpha(name.p[0]))
		return;
	for (size_t i = 1; i < name.n; i++)
		if (!dmarc_alpha(name.p[i]) && !dmarc_digit(name.p[i]) && name.p[i] != '_')
			return;
	id = dmarc_tag_id(name);
	if (id == 0 || (*seen & id) != 0)
		return;   /* unknown, or not the first of its name */
	*seen |= id;
	dmarc_tag(ps, id, value);
}

enum dmarc_record_status dmarc_record_parse(const char *p, size_t len, struct dmarc_record *rec)
{
	struct dmarc_parse ps = { rec, 0, 0 };
	struct dmarc_span rest, e;
	size_t start = dmarc_version(p, len), pos = 0, tags = 0;
	unsigned seen = 0;

	memset(rec, 0, sizeof(*rec));
	rec->adkim = rec->aspf = 'r';
	rec->pct = 100;
	rec->ri = 86400;
	if (start == 0)
		return DMARC_RECORD_NOT_DMARC;
	if (len > DMARC_RECORD_MAX)
		return DMARC_RECORD_NO_POLICY;
	rest.p = p + start;
	rest.n = len - start;
	while (tags < DMARC_RECORD_TAGS_MAX && dmarc_item(rest, ';', &pos, &e)) {
		if (e.n == 0)
			continue;   /* the empty entry before the first ';' or after the last */
		dmarc_entry(&ps, e, &seen);
		tags++;
	}
	if (ps.p_invalid || ps.sp_invalid || rec->p == DMARC_POLICY_UNSET) {
		/* 6.6.3 step 6 */
		if (rec->rua == 0)
			return DMARC_RECORD_NO_POLICY;
		rec->p = DMARC_POLICY_NONE;
		rec->sp = DMARC_POLICY_UNSET;
		rec->bad |= DMARC_BAD_P;
	}
	return DMARC_RECORD_OK;
}

const char *dmarc_policy_str(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE:
		return "none";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_REJECT:
		return "reject";
	default:
		return "";
	}
}
