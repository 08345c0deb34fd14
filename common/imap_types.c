/* imap_types: the small typed pieces of the IMAP grammar.
 *
 * Offers: readers of parsed arguments for the grammar's leaf rules
 * (RFC 9051 section 9, with RFC 3501 where it differs):
 *   astring / string / nstring  text without NUL; an atom is an astring
 *                 only when all its characters are ASTRING-CHARs (the
 *                 parser also lets "%" and "*" into atoms for patterns
 *                 and sequence sets); literal8 is never a string (RFC 3516)
 *   number        bounded decimal, nz-number without a leading zero
 *   sequence-set  ranges as written ("*" kept as IMAP_SEQ_STAR), at most
 *                 IMAP_SEQSET_RANGES_MAX, counted before anything is
 *                 allocated; resolve sorts and merges them against the
 *                 mailbox size for the commands that run them
 *   date          d-Mon-yyyy; date-time "dd-Mon-yyyy hh:mm:ss +zzzz",
 *                 checked against the calendar (30 Feb is refused)
 *   flags         system flags by name (case-insensitive), keywords as
 *                 strict atoms, at most IMAP_FLAGS_KEYWORDS_MAX
 *   mailbox       astring decoded from modified UTF-7 (imap_utf7), or
 *                 checked as UTF-8 once the client enabled IMAP4rev2 or
 *                 UTF8=ACCEPT; INBOX folded to upper case; no controls
 *
 * Trusts: the parser's arguments to be as imap_parser.h documents them;
 * nothing about their content.  Every number is overflow-checked.
 *
 * Fails: -1 (or NULL) with a static reason suitable for a tagged BAD;
 * allocation failure in the arena is reported the same way. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_types.h"
#include "imap_utf7.h"
#include "utf8.h"

/* ------------------------------------------------------------ strings */

/* True when all len (>= 1) bytes at s are of the class. */
static bool all_of_class(const char *s, size_t len, unsigned char cls)
{
	for (size_t i = 0; i < len; i++)
		if (!(imap_char_class[(unsigned char)s[i]] & cls))
			return false;
	return len > 0;
}

const char *imap_arg_astring(const struct imap_arg *a, size_t *len_r)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
		if (!all_of_class(a->text, a->len, IMAP_CC_ASTRING))
			return NULL;
		break;
	case IMAP_ARG_NIL:
		break;
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_LITERAL:
		if (a->flags & (IMAP_ARG_F_BINARY | IMAP_ARG_F_NUL))
			return NULL;
		break;
	default:
		return NULL;
	}
	*len_r = a->len;
	return a->text;
}

const char *imap_arg_string(const struct imap_arg *a, size_t *len_r)
{
	if (a->type != IMAP_ARG_QUOTED && a->type != IMAP_ARG_LITERAL)
		return NULL;
	return imap_arg_astring(a, len_r);
}

const char *imap_arg_nstring(const struct imap_arg *a, size_t *len_r, bool *nil_r)
{
	*nil_r = a->type == IMAP_ARG_NIL;
	if (*nil_r) {
		*len_r = 0;
		return "";
	}
	return imap_arg_string(a, len_r);
}

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

bool imap_word_eq(const char *s, size_t len, const char *word, size_t wlen)
{
	if (len != wlen)
		return false;
	for (size_t i = 0; i < len; i++)
		if (ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)word[i]))
			return false;
	return true;
}

const struct imap_word *imap_word_find(const char *s, size_t len, const struct imap_word *table, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (imap_word_eq(s, len, table[k].name, table[k].len))
			return &table[k];
	return NULL;
}

const struct imap_word *imap_arg_word(const struct imap_arg *a, const struct imap_word *table, size_t n)
{
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
		return NULL;
	return imap_word_find(a->text, a->len, table, n);
}

bool imap_arg_is_strict_atom(const struct imap_arg *a)
{
	return (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) && all_of_class(a->text, a->len, IMAP_CC_ATOM);
}

/* ------------------------------------------------------------ numbers */

int imap_number_parse(const char *s, size_t len, uint64_t max, bool nz, uint64_t *r)
{
	uint64_t v = 0;

	if (len == 0 || (nz && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (__builtin_mul_overflow(v, (uint64_t)10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v) || v > max)
			return -1;
	}
	*r = v;
	return 0;
}

int imap_arg_number(const struct imap_arg *a, uint64_t max, bool nz, uint64_t *r)
{
	if (a->type != IMAP_ARG_ATOM)
		return -1;
	return imap_number_parse(a->text, a->len, max, nz, r);
}

/* ------------------------------------------------------------ sequence sets */

/* One seq-number at s[*ip]: nz-number or "*". */
static int seq_number(const char *s, size_t len, size_t *ip, bool allow_star, uint32_t *r)
{
	size_t i = *ip, start = i;
	uint64_t v;

	if (i < len && s[i] == '*') {
		if (!allow_star)
			return -1;
		*r = IMAP_SEQ_STAR;
		*ip = i + 1;
		return 0;
	}
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	if (imap_number_parse(s + start, i - start, IMAP_NUMBER_MAX, true, &v) < 0)
		return -1;
	*r = (uint32_t)v;
	*ip = i;
	return 0;
}

int imap_seqset_parse(const char *s, size_t len, bool allow_star, bool allow_saved, struct arena *a,
		      struct imap_seqset *set_r, const char **error_r)
{
	size_t i = 0, n = 1;

	memset(set_r, 0, sizeof(*set_r));
	if (len == 1 && s[0] == '$') {
		if (!allow_saved) {
			*error_r = "$ is not allowed here";
			return -1;
		}
		set_r->saved = true;
		return 0;
	}
	for (size_t k = 0; k < len; k++)
		if (s[k] == ',')
			n++;
	if (n > IMAP_SEQSET_RANGES_MAX) {
		*error_r = "Too many ranges in sequence set";
		return -1;
	}
	set_r->ranges = arena_alloc(a, n * sizeof(*set_r->ranges));
	if (set_r->ranges == NULL) {
		*error_r = "Command too large";
		return -1;
	}
	while (set_r->count < n) {
		struct imap_seq_range *r = &set_r->ranges[set_r->count++];

		if (seq_number(s, len, &i, allow_star, &r->lo) < 0)
			goto bad;
		r->hi = r->lo;
		if (i < len && s[i] == ':') {
			i++;
			if (seq_number(s, len, &i, allow_star, &r->hi) < 0)
				goto bad;
		}
		if (set_r->count < n) {
			if (i >= len || s[i] != ',')
				goto bad;
			i++;
		}
	}
	if (i != len)
		goto bad;
	return 0;
bad:
	*error_r = "Invalid sequence set";
	return -1;
}

int imap_arg_seqset(const struct imap_arg *arg, bool allow_star, bool allow_saved, struct arena *a,
		    struct imap_seqset *set_r, const char **error_r)
{
	if (arg->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	return imap_seqset_parse(arg->text, arg->len, allow_star, allow_saved, a, set_r, error_r);
}

static int range_cmp(const void *x, const void *y)
{
	const struct imap_seq_range *a = x, *b = y;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->hi < b->hi ? -1 : a->hi > b->hi;
}

int imap_seqset_resolve(const struct imap_seqset *set, uint32_t max, struct arena *a,
			struct imap_seqset *out)
{
	struct imap_seq_range *r;
	unsigned int n = 0;

	memset(out, 0, sizeof(*out));
	if (set->saved || set->count == 0)
		return set->saved ? -1 : 0;
	r = arena_alloc(a, (size_t)set->count * sizeof(*r));
	if (r == NULL)
		return -1;
	for (unsigned int k = 0; k < set->count; k++) {
		uint32_t lo = set->ranges[k].lo == IMAP_SEQ_STAR ? max : set->ranges[k].lo;
		uint32_t hi = set->ranges[k].hi == IMAP_SEQ_STAR ? max : set->ranges[k].hi;

		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		if (lo == 0)
			lo = 1;           /* "*" of an empty mailbox */
		if (hi > max)
			hi = max;
		if (lo > hi)
			continue;
		r[n].lo = lo;
		r[n].hi = hi;
		n++;
	}
	qsort(r, n, sizeof(*r), range_cmp);
	out->count = 0;
	for (unsigned int k = 0; k < n; k++) {
		if (out->count > 0 && r[out->count - 1].hi != UINT32_MAX &&
		    r[k].lo <= r[out->count - 1].hi + 1) {
			if (r[k].hi > r[out->count - 1].hi)
				r[out->count - 1].hi = r[k].hi;
			continue;
		}
		r[out->count++] = r[k];
	}
	out->ranges = r;
	return 0;
}

bool imap_seqset_contains(const struct imap_seqset *resolved, uint32_t n)
{
	unsigned int lo = 0, hi = resolved->count;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct imap_seq_range *r = &resolved->ranges[mid];

		if (n < r->lo)
			hi = mid;
		else if (n > r->hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint32_t imap_seqset_highest(const struct imap_seqset *set)
{
	uint32_t m = 0;

	for (unsigned int k = 0; k < set->count; k++) {
		if (set->ranges[k].lo > m)
			m = set->ranges[k].lo;
		if (set->ranges[k].hi > m)
			m = set->ranges[k].hi;
	}
	return m;
}

/* ------------------------------------------------------------ dates */

static const struct imap_word imap_months[12] = {
	IMAP_WORD("Jan", 1, 0), IMAP_WORD("Feb", 2, 0), IMAP_WORD("Mar", 3, 0), IMAP_WORD("Apr", 4, 0),
	IMAP_WORD("May", 5, 0), IMAP_WORD("Jun", 6, 0), IMAP_WORD("Jul", 7, 0), IMAP_WORD("Aug", 8, 0),
	IMAP_WORD("Sep", 9, 0), IMAP_WORD("Oct", 10, 0), IMAP_WORD("Nov", 11, 0), IMAP_WORD("Dec", 12, 0),
};

int64_t imap_days_from_civil(int year, int month, int day)
{
	/* Count in 400-year eras of 146097 days starting on 1 March, so
	 * that the leap day is the last day of a year. */
	int64_t y = (int64_t)year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (month + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static int days_in_month(int year, int month)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : dim[month - 1];
}

static int digits(const char *s, size_t n, int *r)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*r = v;
	return 0;
}

/* "Mon-yyyy" at s (8 bytes) after the day and its "-". */
static int month_year(const char *s, struct imap_date *d)
{
	const struct imap_word *m = imap_word_find(s, 3, imap_months, 12);

	if (m == NULL || s[3] != '-' || digits(s + 4, 4, &d->year) < 0)
		return -1;
	d->month = (int)m->value;
	if (d->day < 1 || d->day > days_in_month(d->year, d->month))
		return -1;
	d->days = imap_days_from_civil(d->year, d->month, d->day);
	return 0;
}

int imap_arg_date(const struct imap_arg *a, struct imap_date *r)
{
	const char *s = a->text;
	size_t len = a->len;
	size_t dl;

	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED)
		return -1;
	/* date-day = 1*2DIGIT */
	dl = len > 0 && s[0] >= '0' && s[0] <= '9' ? (len > 1 && s[1] >= '0' && s[1] <= '9' ? 2 : 1) : 0;
	if (dl == 0 || len != dl + 1 + 8 || s[dl] != '-' || digits(s, dl, &r->day) < 0)
		return -1;
	return month_year(s + dl + 1, r);
}

int imap_arg_date_time(const struct imap_arg *a, int64_t *time_r, int *zone_r)
{
	const char *s = a->text;
	struct imap_date d;
	int hh, mm, ss, zh, zm;

	/* "dd-Mon-yyyy hh:mm:ss +zzzz": 26 characters; date-day-fixed may
	 * start with a space. */
	if (a->type != IMAP_ARG_QUOTED || a->len != 26)
		return -1;
	if (digits(s[0] == ' ' ? s + 1 : s, s[0] == ' ' ? 1 : 2, &d.day) < 0 || s[2] != '-' ||
	    month_year(s + 3, &d) < 0 || s[11] != ' ' ||
	    digits(s + 12, 2, &hh) < 0 || s[14] != ':' || digits(s + 15, 2, &mm) < 0 || s[17] != ':' ||
	    digits(s + 18, 2, &ss) < 0 || s[20] != ' ' || (s[21] != '+' && s[21] != '-') ||
	    digits(s + 22, 2, &zh) < 0 || digits(s + 24, 2, &zm) < 0)
		return -1;
	if (hh > 23 || mm > 59 || ss > 60 || zm > 59)
		return -1;
	*zone_r = (s[21] == '-' ? -1 : 1) * (zh * 60 + zm);
	*time_r = d.days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)*zone_r * 60;
	return 0;
}

/* ------------------------------------------------------------ flags */

static const struct imap_word imap_system_flags[] = {
	IMAP_WORD("\\Answered", IMAP_FLAG_ANSWERED, 0),
	IMAP_WORD("\\Flagged", IMAP_FLAG_FLAGGED, 0),
	IMAP_WORD("\\Deleted", IMAP_FLAG_DELETED, 0),
	IMAP_WORD("\\Seen", IMAP_FLAG_SEEN, 0),
	IMAP_WORD("\\Draft", IMAP_FLAG_DRAFT, 0),
	IMAP_WORD("\\Recent", IMAP_FLAG_RECENT, 0),
};

unsigned int imap_flag_system(const char *name, size_t len)
{
	const struct imap_word *w = imap_word_find(name, len, imap_system_flags,
						   sizeof(imap_system_flags) / sizeof(imap_system_flags[0]));

	return w != NULL ? w->value : 0;
}

int imap_flags_parse(const struct imap_arg *items, unsigned int n, struct arena *a,
		     struct imap_flags *r, const char **error_r)
{
	unsigned int nkw = 0;

	memset(r, 0, sizeof(*r));
	for (unsigned int k = 0; k < n; k++)
		if ((items[k].type == IMAP_ARG_ATOM || items[k].type == IMAP_ARG_NIL) &&
		    items[k].len > 0 && items[k].text[0] != '\\')
			nkw++;
	if (nkw > IMAP_FLAGS_KEYWORDS_MAX) {
		*error_r = "Too many keywords";
		return -1;
	}
	if (nkw > 0) {
		r->keywords = arena_alloc(a, nkw * sizeof(*r->keywords));
		if (r->keywords == NULL) {
			*error_r = "Command too large";
			return -1;
		}
	}
	for (unsigned int k = 0; k < n; k++) {
		const struct imap_arg *f = &items[k];
		unsigned int bit;

		if (f->type != IMAP_ARG_ATOM && f->type != IMAP_ARG_NIL) {
			*error_r = "Invalid flag";
			return -1;
		}
		if (f->len > 0 && f->text[0] == '\\') {
			bit = imap_flag_system(f->text, f->len);
			if (bit == 0 || bit == IMAP_FLAG_RECENT) {
				*error_r = bit == 0 ? "Invalid system flag" : "\\Recent cannot be set";
				return -1;
			}
			r->system |= bit;
			continue;
		}
		/* flag-keyword = atom (a NIL atom is the keyword "NIL"). */
		if (!imap_arg_is_strict_atom(f)) {
			*error_r = "Invalid keyword";
			return -1;
		}
		r->keywords[r->nkeywords++] = f->text;
	}
	return 0;
}

int imap_arg_flag_list(const struct imap_arg *arg, struct arena *a, struct imap_flags *r,
		       const char **error_r)
{
	if (arg->type != IMAP_ARG_LIST) {
		*error_r = "Flags must be a list";
		return -1;
	}
	return imap_flags_parse(arg->items, arg->count, a, r, error_r);
}

/* ------------------------------------------------------------ mailboxes */

static int mailbox_text(const char *s, size_t len, bool utf8, struct arena *a, const char **name_r,
			const char **error_r)
{
	struct buf b;
	const char *src = s;
	size_t n = len;

	buf_init(&b, 4 * len + 1);
	if (!utf8) {
		if (imap_utf7_to_utf8(s, len, &b, error_r) < 0) {
			buf_free(&b);
			return -1;
		}
		src = buf_cstr(&b);
		n = b.len;
	} else if (!utf8_valid(s, len)) {
		*error_r = "Mailbox name is not UTF-8";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c < 0x20 || c == 0x7f) {
			buf_free(&b);
			*error_r = "Control character in mailbox name";
			return -1;
		}
	}
	*name_r = arena_strndup(a, src, n);
	buf_free(&b);
	if (*name_r == NULL) {
		*error_r = "Command too large";
		return -1;
	}
	return 0;
}

int imap_arg_mailbox(const struct imap_arg *arg, bool utf8, struct arena *a, const char **name_r,
		     const char **error_r)
{
	size_t len;
	const char *s = imap_arg_astring(arg, &len);

	if (s == NULL) {
		*error_r = "Invalid mailbox name";
		return -1;
	}
	if (imap_word_eq(s, len, "INBOX", 5)) {
		*name_r = "INBOX";
		return 0;
	}
	return mailbox_text(s, len, utf8, a, name_r, error_r);
}

int imap_arg_list_mailbox(const struct imap_arg *arg, bool utf8, struct arena *a, const char **name_r,
			  const char **error_r)
{
	size_t len;
	const char *s;

	/* list-char = ATOM-CHAR / list-wildcards / resp-specials */
	if (arg->type == IMAP_ARG_ATOM) {
		if (!all_of_class(arg->text, arg->len, IMAP_CC_LIST)) {
			*error_r = "Invalid mailbox pattern";
			return -1;
		}
		s = arg->text;
		len = arg->len;
	} else {
		s = imap_arg_astring(arg, &len);
		if (s == NULL) {
			*error_r = "Invalid mailbox pattern";
			return -1;
		}
	}
	return mailbox_text(s, len, utf8, a, name_r, error_r);
}
