/* imap_sort: what SORT and THREAD read of a message, and SORT's order.
 *
 * Offers:
 *  - imap_sort_criteria_parse: RFC 5256 sort-criteria (ARRIVAL CC DATE
 *    FROM SIZE SUBJECT TO, each may follow REVERSE) and RFC 5957's
 *    DISPLAYFROM and DISPLAYTO.
 *  - imap_base_subject: RFC 5256 2.1, step by step: (1) unfold, decode
 *    RFC 2047 words to UTF-8, tabs to spaces, runs of spaces to one;
 *    (2) remove subj-trailers ("(fwd)" or WSP) at the end, repeatedly;
 *    (3) remove subj-leaders (*subj-blob subj-refwd, or WSP) at the
 *    start; (4) remove a leading subj-blob when text remains after it;
 *    (5) repeat (3) and (4) until nothing changes; (6) when the text is
 *    "[fwd:" ... "]", remove both and go back to (2).  The ABNF's strings
 *    match case-insensitively (RFC 5234).  The ABNF is written over
 *    CHAR (7 bit) while step (1) makes UTF-8: octets >= 0x80 count as
 *    BLOBCHAR and NONWSP, so "[Liste] x" is x as "[list] x" is.  Whether
 *    a reply or forward marker was removed is what THREAD=REFERENCES
 *    asks (RFC 5256 3: a subj-refwd, a "(fwd)" trailer, or the
 *    "[fwd:" ... "]" pair).
 *  - imap_sort_collation_key: RFC 5256 asks for I18NLEVEL=1 collation,
 *    i;unicode-casemap (RFC 5051): the text case mapped and decomposed
 *    (imap_search_fold, the SEARCH comparator's folding), then ASCII
 *    letters made upper case, so that keys compare as octets in the
 *    order RFC 5051 gives (title case) and, on ASCII text, in the order
 *    of i;ascii-casemap ("_x" sorts after "Z", as upper case has it).
 *  - imap_msgid_next: msg-ids (RFC 5322 3.6.4, with obs-id-left /
 *    obs-id-right) normalized as RFC 5256 3 requires: quoted strings
 *    unquoted, quoted pairs undone, CFWS dropped; so <"a b"@x> is
 *    "a b@x" and <a@x> equals <"a"@x>.  Text that is no msg-id is
 *    skipped up to the next "<".
 *  - imap_sort_msg_fill: the keys of one header: the first Subject,
 *    From, To, Cc, Date, Message-ID, References and In-Reply-To field
 *    each.  Address keys: the IMAP addr-mailbox of the first address
 *    (RFC 5256; a group's first address is the group marker, whose
 *    mailbox is the group name); DISPLAYFROM / DISPLAYTO: RFC 5957 3's
 *    display value (the decoded display name, else mailbox@host, else
 *    the mailbox).  Absent fields are "", which sorts first.  Sent date
 *    (RFC 5256 2.2): the first Date field in UTC (an unknown zone is
 *    UTC); a Date missing or unparsable: the internal date.  References:
 *    the valid msg-ids of References, the last IMAP_SORT_REFS_MAX of
 *    them (the nearest ancestors; the RFC itself says the start of a
 *    long References line is the least reliable), or else the first
 *    valid msg-id of In-Reply-To.
 *  - imap_sort_cmp / imap_sort_run: SORT's order: the criteria in turn
 *    (REVERSE turns one), then the sequence number (RFC 5256 3).
 *
 * Trusts: nothing of the header: it goes through mime_header.c, which
 * takes (pointer, length) and bounds everything; the parsers here do the
 * same and never recurse (comment nesting is a counter).
 *
 * Fails: -1 when memory, a buffer cap or the arena's cap runs out;
 * malformed input gives a best-effort key, never an error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap_search_eval.h"
#include "imap_sort.h"
#include "imap_types.h"
#include "mime_header.h"

#define NELEM(x) (sizeof(x) / sizeof((x)[0]))

/* ------------------------------------------------------------ criteria */

#define SORT_REVERSE 100

int imap_sort_criteria_parse(const struct imap_arg *list, struct arena *a,
			     const struct imap_sort_criterion **crit_r, unsigned int *n_r,
			     const char **error_r)
{
	static const struct imap_word keys[] = {
		IMAP_WORD("ARRIVAL", IMAP_SORT_ARRIVAL, 0), IMAP_WORD("CC", IMAP_SORT_CC, 0),
		IMAP_WORD("DATE", IMAP_SORT_DATE, 0), IMAP_WORD("FROM", IMAP_SORT_FROM, 0),
		IMAP_WORD("SIZE", IMAP_SORT_SIZE, 0), IMAP_WORD("SUBJECT", IMAP_SORT_SUBJECT, 0),
		IMAP_WORD("TO", IMAP_SORT_TO, 0), IMAP_WORD("DISPLAYFROM", IMAP_SORT_DISPLAYFROM, 0),
		IMAP_WORD("DISPLAYTO", IMAP_SORT_DISPLAYTO, 0), IMAP_WORD("REVERSE", SORT_REVERSE, 0),
	};
	struct imap_sort_criterion *crit;
	unsigned int n = 0;
	bool reverse = false;

	if (list->type != IMAP_ARG_LIST || list->count == 0) {
		*error_r = "SORT needs a list of sort criteria";
		return -1;
	}
	crit = arena_calloc(a, IMAP_SORT_CRITERIA_MAX, sizeof(*crit));
	if (crit == NULL) {
		*error_r = "Command too large";
		return -1;
	}
	for (unsigned int k = 0; k < list->count; k++) {
		const struct imap_word *w = imap_arg_word(&list->items[k], keys, NELEM(keys));

		if (w == NULL) {
			*error_r = "Unknown sort criterion";
			return -1;
		}
		if (w->value == SORT_REVERSE) {
			if (reverse) {
				*error_r = "REVERSE must be followed by a sort criterion";
				return -1;
			}
			reverse = true;
			continue;
		}
		if (n == IMAP_SORT_CRITERIA_MAX) {
			*error_r = "Too many sort criteria";
			return -1;
		}
		crit[n].key = (enum imap_sort_key)w->value;
		crit[n++].reverse = reverse;
		reverse = false;
	}
	if (reverse) {
		*error_r = "REVERSE must be followed by a sort criterion";
		return -1;
	}
	*crit_r = crit;
	*n_r = n;
	return 0;
}

unsigned int imap_sort_needs(const struct imap_sort_criterion *crit, unsigned int n)
{
	unsigned int need = 0;

	for (unsigned int k = 0; k < n; k++) {
		switch (crit[k].key) {
		case IMAP_SORT_ARRIVAL:
		case IMAP_SORT_SIZE: break;
		case IMAP_SORT_CC: need |= IMAP_SORT_NEED_CC; break;
		case IMAP_SORT_DATE: need |= IMAP_SORT_NEED_DATE; break;
		case IMAP_SORT_FROM: need |= IMAP_SORT_NEED_FROM; break;
		case IMAP_SORT_SUBJECT: need |= IMAP_SORT_NEED_SUBJECT; break;
		case IMAP_SORT_TO: need |= IMAP_SORT_NEED_TO; break;
		case IMAP_SORT_DISPLAYFROM: need |= IMAP_SORT_NEED_DISPLAYFROM; break;
		case IMAP_SORT_DISPLAYTO: need |= IMAP_SORT_NEED_DISPLAYTO; break;
		}
	}
	return need;
}

/* ------------------------------------------------------------ base subject */

static bool bs_ci(const char *s, size_t b, size_t e, const char *lit, size_t n)
{
	return e - b >= n && strncasecmp(s + b, lit, n) == 0;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at s[b..e): its length, or 0. */
static size_t bs_blob(const char *s, size_t b, size_t e)
{
	size_t i = b;

	if (i >= e || s[i] != '[')
		return 0;
	for (i++; i < e && s[i] != '[' && s[i] != ']'; i++)
		;
	if (i >= e || s[i] != ']')
		return 0;
	for (i++; i < e && s[i] == ' '; i++)
		;
	return i - b;
}

/* subj-leader's first form, *subj-blob subj-refwd, where subj-refwd =
 * ("re" / ("fw" ["d"])) *WSP [subj-blob] ":".  Its length, or 0. */
static size_t bs_refwd_leader(const char *s, size_t b, size_t e)
{
	size_t i = b, k;

	while ((k = bs_blob(s, i, e)) > 0)
		i += k;
	if (bs_ci(s, i, e, "re", 2))
		i += 2;
	else if (bs_ci(s, i, e, "fwd", 3))
		i += 3;
	else if (bs_ci(s, i, e, "fw", 2))
		i += 2;
	else
		return 0;
	while (i < e && s[i] == ' ')
		i++;
	i += bs_blob(s, i, e);
	if (i >= e || s[i] != ':')
		return 0;
	return i + 1 - b;
}

/* Steps 2 to 6 on s[*b..*e) (step 1 done: WSP is a single space). */
static void bs_extract(const char *s, size_t *bp, size_t *ep, bool *reply)
{
	size_t b = *bp, e = *ep, k;

	for (;;) {
		/* (2) subj-trailer = "(fwd)" / WSP, repeatedly */
		for (;;) {
			if (e > b && s[e - 1] == ' ') {
				e--;
			} else if (e - b >= 5 && strncasecmp(s + e - 5, "(fwd)", 5) == 0) {
				e -= 5;
				*reply = true;
			} else {
				break;
			}
		}
		/* (3), (4), repeated (5) */
		for (bool changed = true; changed;) {
			changed = false;
			for (;;) {
				if (b < e && s[b] == ' ') {
					b++;
				} else if ((k = bs_refwd_leader(s, b, e)) > 0) {
					b += k;
					*reply = true;
				} else {
					break;
				}
				changed = true;
			}
			/* (4) only when a non-empty subj-base is left */
			if ((k = bs_blob(s, b, e)) > 0 && b + k < e) {
				b += k;
				changed = true;
			}
		}
		/* (6) subj-fwd-hdr "[fwd:" ... subj-fwd-trl "]" */
		if (e - b >= 6 && strncasecmp(s + b, "[fwd:", 5) == 0 && s[e - 1] == ']') {
			b += 5;
			e--;
			*reply = true;
			continue;
		}
		break;
	}
	*bp = b;
	*ep = e;
}

int imap_base_subject(const char *value, size_t len, struct buf *out, bool *reply_r)
{
	struct buf u, d;
	size_t b = 0, e = 0;
	int rc = -1;

	*reply_r = false;
	/* Decoded text is at most 3 times as long (a byte of a one-byte
	 * charset is at most 3 in UTF-8); the cap leaves room beyond that. */
	buf_init(&u, len + 1 > len ? len + 1 : len);
	buf_init(&d, len < IMAP_SORT_MEM_MAX / 4 ? 4 * len + 64 : IMAP_SORT_MEM_MAX);
	/* (1) unfold, decode, tabs to spaces, runs of spaces to one */
	if (mime_unfold(value, len, &u) < 0 ||
	    mime_decode_words(u.data != NULL ? u.data : "", u.len, &d) < 0)
		goto done;
	for (size_t i = 0; i < d.len; i++) {
		char c = d.data[i] == '\t' ? ' ' : d.data[i];

		if (c == ' ' && e > 0 && d.data[e - 1] == ' ')
			continue;
		d.data[e++] = c;
	}
	bs_extract(d.data != NULL ? d.data : "", &b, &e, reply_r);
	rc = e > b ? buf_append(out, d.data + b, e - b) : 0;
done:
	buf_free(&u);
	buf_free(&d);
	return rc;
}

int imap_sort_collation_key(const char *p, size_t n, struct buf *out)
{
	size_t start = out->len;

	if (imap_search_fold(p, n, out) < 0)
		return -1;
	for (size_t i = start; i < out->len; i++)
		if (out->data[i] >= 'a' && out->data[i] <= 'z')
			out->data[i] = (char)(out->data[i] - 32);
	return 0;
}

/* ------------------------------------------------------------ msg-id */

struct mid {
	const char *s;
	size_t n, i;
	struct buf *out;
};

static bool mid_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* CFWS: white space, line ends and (nested) comments. */
static void mid_cfws(struct mid *m)
{
	size_t depth = 0;

	while (m->i < m->n) {
		char c = m->s[m->i];

		if (depth > 0 && c == '\\' && m->i + 1 < m->n) {
			m->i += 2;
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return;
		m->i++;
	}
}

/* word = atom / quoted-string, appended unquoted.  0, 1 (none), -1. */
static int mid_word(struct mid *m)
{
	size_t start = m->i;

	if (m->i < m->n && m->s[m->i] == '"') {
		for (m->i++; m->i < m->n && m->s[m->i] != '"'; m->i++) {
			char c = m->s[m->i];

			if (c == '\\' && m->i + 1 < m->n)
				c = m->s[++m->i];
			else if (c == '\r' || c == '\n')
				continue;   /* FWS: the line end goes, the blank stays */
			if (buf_putc(m->out, c) < 0)
				return -1;
		}
		if (m->i >= m->n)
			return 1;   /* unterminated */
		m->i++;
		return 0;
	}
	while (m->i < m->n && mid_atext((unsigned char)m->s[m->i]))
		m->i++;
	if (m->i == start)
		return 1;
	return buf_append(m->out, m->s + start, m->i - start);
}

/* word *("." word), CFWS around each.  0, 1 (not one), -1. */
static int mid_dotted(struct mid *m)
{
	int rc;

	for (;;) {
		mid_cfws(m);
		if ((rc = mid_word(m)) != 0)
			return rc;
		mid_cfws(m);
		if (m->i >= m->n || m->s[m->i] != '.')
			return 0;
		m->i++;
		if (buf_putc(m->out, '.') < 0)
			return -1;
	}
}

/* "[" *dtext "]" as written, quoted pairs undone.  0, 1, -1. */
static int mid_literal(struct mid *m)
{
	if (buf_putc(m->out, '[') < 0)
		return -1;
	for (m->i++; m->i < m->n && m->s[m->i] != ']'; m->i++) {
		char c = m->s[m->i];

		if (c == '[' || c == '\r' || c == '\n' || c == ' ' || c == '\t')
			return 1;
		if (c == '\\' && m->i + 1 < m->n)
			c = m->s[++m->i];
		if (buf_putc(m->out, c) < 0)
			return -1;
	}
	if (m->i >= m->n)
		return 1;
	m->i++;
	return buf_putc(m->out, ']');
}

/* "<" id-left "@" id-right ">" with m->i at the "<".  0, 1, -1. */
static int mid_one(struct mid *m)
{
	size_t left;
	int rc;

	m->i++;
	left = m->out->len;
	if ((rc = mid_dotted(m)) != 0)
		return rc;
	if (m->out->len == left || m->i >= m->n || m->s[m->i] != '@')
		return 1;
	m->i++;
	if (buf_putc(m->out, '@') < 0)
		return -1;
	mid_cfws(m);
	left = m->out->len;
	if (m->i < m->n && m->s[m->i] == '[')
		rc = mid_literal(m);
	else
		rc = mid_dotted(m);
	if (rc != 0)
		return rc;
	mid_cfws(m);
	if (m->out->len == left || m->i >= m->n || m->s[m->i] != '>')
		return 1;
	m->i++;
	return 0;
}

int imap_msgid_next(const char *p, size_t len, size_t *pos, struct buf *out)
{
	struct mid m = { p, len, *pos, out };

	while (m.i < len) {
		const char *lt = memchr(p + m.i, '<', len - m.i);
		size_t mark = out->len;
		int rc;

		if (lt == NULL)
			break;
		m.i = (size_t)(lt - p);
		if ((rc = mid_one(&m)) == 0) {
			*pos = m.i;
			return 1;
		}
		buf_truncate(out, mark);
		if (rc < 0)
			return -1;
		m.i = (size_t)(lt - p) + 1;   /* try from the next "<" */
	}
	*pos = len;
	return 0;
}

/* ------------------------------------------------------------ one message */

enum { F_SUBJECT, F_FROM, F_TO, F_CC, F_DATE, F_MESSAGE_ID, F_REFERENCES, F_IN_REPLY_TO, F_COUNT };

static const char *const fill_names[F_COUNT] = {
	"Subject", "From", "To", "Cc", "Date", "Message-ID", "References", "In-Reply-To",
};

struct fill {
	struct imap_sort_msg *m;
	struct arena *a;
	struct buf t1, t2;
};

/* m->str[k] = the collation key of text[0..n). */
static int fill_key(struct fill *f, enum imap_sort_str k, const char *text, size_t n)
{
	char *s;

	buf_reset(&f->t2);
	if (imap_sort_collation_key(text, n, &f->t2) < 0 ||
	    (s = arena_strndup(f->a, f->t2.data != NULL ? f->t2.data : "", f->t2.len)) == NULL)
		return -1;
	f->m->str[k] = s;
	f->m->len[k] = f->t2.len;
	return 0;
}

/* RFC 5957 3: the display value of an address into f->t1. */
static int fill_display(struct fill *f, const struct mime_address *ad)
{
	buf_reset(&f->t1);
	if (ad->name.p != NULL && mime_decode_words(ad->name.p, ad->name.len, &f->t1) < 0)
		return -1;
	if (f->t1.len > 0 || ad->mailbox.p == NULL)
		return 0;
	if (buf_append(&f->t1, ad->mailbox.p, ad->mailbox.len) < 0)
		return -1;
	if (ad->host.p != NULL && (buf_putc(&f->t1, '@') < 0 || buf_append(&f->t1, ad->host.p, ad->host.len) < 0))
		return -1;
	return 0;
}

/* The address keys of one field: mailbox (key) and display (dkey). */
static int fill_address(struct fill *f, const struct mime_str *v, unsigned int need, unsigned int need_mbox,
			enum imap_sort_str key, unsigned int need_disp, enum imap_sort_str dkey)
{
	struct mime_address_list list = { 0 };
	struct mime_arena ma;
	const struct mime_address *ad = NULL;
	int rc = 0;

	if ((need & (need_mbox | need_disp)) == 0 || v->p == NULL)
		return 0;
	mime_arena_init(&ma);
	if (mime_address_list_parse(v->p, v->len, &ma, &list) < 0)
		rc = -1;
	else if (list.n > 0)
		ad = &list.addrs[0];
	if (rc == 0 && ad != NULL && (need & need_mbox) != 0 && ad->mailbox.p != NULL)
		rc = fill_key(f, key, ad->mailbox.p, ad->mailbox.len);
	if (rc == 0 && ad != NULL && (need & need_disp) != 0) {
		rc = fill_display(f, ad);
		if (rc == 0)
			rc = fill_key(f, dkey, f->t1.data != NULL ? f->t1.data : "", f->t1.len);
	}
	mime_address_list_free(&list);
	mime_arena_free(&ma);
	return rc;
}

/* References, else In-Reply-To (RFC 5256 3). */
static int fill_refs(struct fill *f, const struct mime_str *refs, const struct mime_str *irt)
{
	const char **v;
	size_t pos = 0, total = 0, skip, k = 0;
	int r;

	if (refs->p != NULL) {
		while ((r = imap_msgid_next(refs->p, refs->len, &pos, &f->t1)) == 1) {
			total++;
			buf_reset(&f->t1);
		}
		if (r < 0)
			return -1;
	}
	if (total == 0) {
		if (irt->p == NULL)
			return 0;
		pos = 0;
		buf_reset(&f->t1);
		if ((r = imap_msgid_next(irt->p, irt->len, &pos, &f->t1)) <= 0)
			return r;
		if ((v = arena_alloc(f->a, sizeof(*v))) == NULL ||
		    (v[0] = arena_strndup(f->a, f->t1.data, f->t1.len)) == NULL)
			return -1;
		f->m->refs = v;
		f->m->nrefs = 1;
		return 0;
	}
	skip = total > IMAP_SORT_REFS_MAX ? total - IMAP_SORT_REFS_MAX : 0;
	if ((v = arena_calloc(f->a, total - skip, sizeof(*v))) == NULL)
		return -1;
	pos = 0;
	for (size_t i = 0; i < total; i++) {
		buf_reset(&f->t1);
		if (imap_msgid_next(refs->p, refs->len, &pos, &f->t1) != 1)
			return -1;
		if (i >= skip && (v[k++] = arena_strndup(f->a, f->t1.data, f->t1.len)) == NULL)
			return -1;
	}
	f->m->refs = v;
	f->m->nrefs = (unsigned int)k;
	return 0;
}

static int fill_run(struct fill *f, const struct mime_str *v, unsigned int need)
{
	struct imap_sort_msg *m = f->m;

	if ((need & IMAP_SORT_NEED_SUBJECT) != 0 && v[F_SUBJECT].p != NULL) {
		if (imap_base_subject(v[F_SUBJECT].p, v[F_SUBJECT].len, &f->t1, &m->reply) < 0 ||
		    fill_key(f, IMAP_SORT_S_SUBJECT, f->t1.data != NULL ? f->t1.data : "", f->t1.len) < 0)
			return -1;
	}
	if (fill_address(f, &v[F_FROM], need, IMAP_SORT_NEED_FROM, IMAP_SORT_S_FROM,
			 IMAP_SORT_NEED_DISPLAYFROM, IMAP_SORT_S_DISPLAYFROM) < 0 ||
	    fill_address(f, &v[F_TO], need, IMAP_SORT_NEED_TO, IMAP_SORT_S_TO,
			 IMAP_SORT_NEED_DISPLAYTO, IMAP_SORT_S_DISPLAYTO) < 0 ||
	    fill_address(f, &v[F_CC], need, IMAP_SORT_NEED_CC, IMAP_SORT_S_CC, 0, IMAP_SORT_S_CC) < 0)
		return -1;
	if ((need & IMAP_SORT_NEED_DATE) != 0 && v[F_DATE].p != NULL) {
		time_t t;
		int zone;

		if (mime_date_parse(v[F_DATE].p, v[F_DATE].len, &t, &zone) == 0)
			m->sent = (int64_t)t;
	}
	if ((need & IMAP_SORT_NEED_REFS) != 0) {
		size_t pos = 0;
		int r;

		buf_reset(&f->t1);
		if (v[F_MESSAGE_ID].p != NULL &&
		    (r = imap_msgid_next(v[F_MESSAGE_ID].p, v[F_MESSAGE_ID].len, &pos, &f->t1)) != 0) {
			if (r < 0 || (m->msgid = arena_strndup(f->a, f->t1.data, f->t1.len)) == NULL)
				return -1;
		}
		if (fill_refs(f, &v[F_REFERENCES], &v[F_IN_REPLY_TO]) < 0)
			return -1;
	}
	return 0;
}

int imap_sort_msg_fill(struct imap_sort_msg *m, const char *header, size_t len, unsigned int need,
		       struct arena *a)
{
	struct mime_str v[F_COUNT];
	struct fill f = { m, a, { 0 }, { 0 } };
	int rc;

	for (int k = 0; k < IMAP_SORT_S_COUNT; k++) {
		m->str[k] = "";
		m->len[k] = 0;
	}
	m->sent = m->arrival;
	m->reply = false;
	m->msgid = NULL;
	m->refs = NULL;
	m->nrefs = 0;
	if (need == 0)
		return 0;
	mime_header_find(header, len, fill_names, F_COUNT, v);
	/* The keys of one command share IMAP_SORT_MEM_MAX; so may one key. */
	buf_init(&f.t1, IMAP_SORT_MEM_MAX);
	buf_init(&f.t2, IMAP_SORT_MEM_MAX);
	rc = fill_run(&f, v, need);
	int e = errno;
	buf_free(&f.t1);
	buf_free(&f.t2);
	errno = e;
	return rc;
}

/* ------------------------------------------------------------ order */

static int sort_cmp64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

int imap_sort_cmp(const struct imap_sort_criterion *crit, unsigned int n, const struct imap_sort_msg *a,
		  const struct imap_sort_msg *b)
{
	static const enum imap_sort_str str_of[] = {
		[IMAP_SORT_CC] = IMAP_SORT_S_CC, [IMAP_SORT_FROM] = IMAP_SORT_S_FROM,
		[IMAP_SORT_SUBJECT] = IMAP_SORT_S_SUBJECT, [IMAP_SORT_TO] = IMAP_SORT_S_TO,
		[IMAP_SORT_DISPLAYFROM] = IMAP_SORT_S_DISPLAYFROM, [IMAP_SORT_DISPLAYTO] = IMAP_SORT_S_DISPLAYTO,
	};

	for (unsigned int k = 0; k < n; k++) {
		int r;

		switch (crit[k].key) {
		case IMAP_SORT_ARRIVAL: r = sort_cmp64(a->arrival, b->arrival); break;
		case IMAP_SORT_DATE: r = sort_cmp64(a->sent, b->sent); break;
		case IMAP_SORT_SIZE: r = a->size < b->size ? -1 : a->size > b->size; break;
		default: {
			enum imap_sort_str s = str_of[crit[k].key];
			size_t l = a->len[s] < b->len[s] ? a->len[s] : b->len[s];

			r = l > 0 ? memcmp(a->str[s], b->str[s], l) : 0;
			if (r == 0)
				r = a->len[s] < b->len[s] ? -1 : a->len[s] > b->len[s];
			break;
		}
		}
		if (r != 0)
			return crit[k].reverse ? -r : r;
	}
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

struct sort_ctx {
	const struct imap_sort_criterion *crit;
	unsigned int n;
};

static int sort_qcmp(const void *x, const void *y, void *ctx)
{
	const struct sort_ctx *c = ctx;

	return imap_sort_cmp(c->crit, c->n, *(const struct imap_sort_msg *const *)x,
			     *(const struct imap_sort_msg *const *)y);
}

void imap_sort_run(const struct imap_sort_msg **v, size_t n, const struct imap_sort_criterion *crit,
		   unsigned int ncrit)
{
	struct sort_ctx c = { crit, ncrit };

	if (n > 1)
		qsort_r(v, n, sizeof(*v), sort_qcmp, &c);
}
