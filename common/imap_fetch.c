/* imap_fetch: FETCH data items.
 *
 * Offers: imap_fetch_parse and imap_fetch_modifiers.  The grammar read
 * (RFC 9051 section 9, RFC 3516 section 6, RFC 7162 section 7):
 *   fetch-att    ENVELOPE / FLAGS / INTERNALDATE / RFC822 / RFC822.HEADER
 *                / RFC822.SIZE / RFC822.TEXT / BODY / BODYSTRUCTURE / UID
 *                / MODSEQ / PREVIEW ["(" "LAZY" ")"] / EMAILID / THREADID
 *                / BODY[.PEEK] section [partial]
 *                / BINARY[.PEEK] section-binary [partial]
 *                / BINARY.SIZE section-binary
 *   macros       ALL, FAST, FULL (only on their own, never in a list)
 *   section      "[" [section-msgtext / section-part ["." section-text]] "]"
 *                section-msgtext = HEADER / HEADER.FIELDS[.NOT] SP
 *                header-list / TEXT; section-text adds MIME (only after a
 *                part); section-binary = "[" [section-part] "]"
 *   partial      "<" number64 "." nz-number64 ">"
 *   modifiers    CHANGEDSINCE mod-sequence-valzer, VANISHED
 * Names are case-insensitive; header field names must be RFC 5322 field
 * names (printable ASCII without ":"), since no other can match.
 *
 * Trusts: the parser's argument tree (the section of BODY[...] arrives as
 * an IMAP_ARG_SECTION with the partial as its suffix).
 *
 * Fails: -1 with a static reason for a tagged BAD; arena exhaustion the
 * same way.  Part paths are bounded by IMAP_SECTION_PARTS_MAX, every
 * number by its grammar's width. */
#include <string.h>

#include "imap_fetch.h"
#include "imap_types.h"

/* Simple items; extra: the item sets \Seen. */
static const struct imap_word fetch_simple[] = {
	IMAP_WORD("FLAGS", IMAP_FETCH_FLAGS, 0),
	IMAP_WORD("UID", IMAP_FETCH_UID, 0),
	IMAP_WORD("RFC822.SIZE", IMAP_FETCH_RFC822_SIZE, 0),
	IMAP_WORD("INTERNALDATE", IMAP_FETCH_INTERNALDATE, 0),
	IMAP_WORD("ENVELOPE", IMAP_FETCH_ENVELOPE, 0),
	IMAP_WORD("BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, 0),
	IMAP_WORD("BODY", IMAP_FETCH_BODY, 0),
	IMAP_WORD("MODSEQ", IMAP_FETCH_MODSEQ, 0),
	IMAP_WORD("PREVIEW", IMAP_FETCH_PREVIEW, 0),
	IMAP_WORD("EMAILID", IMAP_FETCH_EMAILID, 0),
	IMAP_WORD("THREADID", IMAP_FETCH_THREADID, 0),
	IMAP_WORD("RFC822", IMAP_FETCH_RFC822, 1),
	IMAP_WORD("RFC822.HEADER", IMAP_FETCH_RFC822_HEADER, 0),
	IMAP_WORD("RFC822.TEXT", IMAP_FETCH_RFC822_TEXT, 1),
};

static const struct imap_word fetch_macros[] = {
	IMAP_WORD("ALL", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE | IMAP_FETCH_ENVELOPE, 0),
	IMAP_WORD("FAST", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE, 0),
	IMAP_WORD("FULL", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE | IMAP_FETCH_ENVELOPE |
		  IMAP_FETCH_BODY, 0),
};

/* Section names; extra: PEEK. */
static const struct imap_word fetch_section_names[] = {
	IMAP_WORD("BODY.PEEK", IMAP_SECTION_BODY, 1),
	IMAP_WORD("BODY", IMAP_SECTION_BODY, 0),
	IMAP_WORD("BINARY.PEEK", IMAP_SECTION_BINARY, 1),
	IMAP_WORD("BINARY", IMAP_SECTION_BINARY, 0),
	IMAP_WORD("BINARY.SIZE", IMAP_SECTION_BINARY_SIZE, 1),
};

/* Section texts; extra: needs a part number before it. */
static const struct imap_word section_texts[] = {
	IMAP_WORD("HEADER", IMAP_SECTION_HEADER, 0),
	IMAP_WORD("HEADER.FIELDS", IMAP_SECTION_HEADER_FIELDS, 0),
	IMAP_WORD("HEADER.FIELDS.NOT", IMAP_SECTION_HEADER_FIELDS_NOT, 0),
	IMAP_WORD("TEXT", IMAP_SECTION_TEXT, 0),
	IMAP_WORD("MIME", IMAP_SECTION_MIME, 1),
};

#define NELEM(x) (sizeof(x) / sizeof((x)[0]))

/* RFC 5322 3.6.8: field-name = 1*ftext, ftext = %d33-57 / %d59-126. */
static bool field_name_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 || s[i] == ':')
			return false;
	return len > 0;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" */
static int section_fields(const struct imap_arg *list, struct arena *a, struct imap_section *sec,
			  const char **error_r)
{
	const char **fields;

	if (list->type != IMAP_ARG_LIST || list->count == 0) {
		*error_r = "HEADER.FIELDS needs a list of field names";
		return -1;
	}
	fields = arena_alloc(a, (size_t)list->count * sizeof(*fields));
	if (fields == NULL) {
		*error_r = "Command too large";
		return -1;
	}
	for (unsigned int k = 0; k < list->count; k++) {
		size_t len;
		const char *s = imap_arg_astring(&list->items[k], &len);

		if (s == NULL || !field_name_ok(s, len)) {
			*error_r = "Invalid header field name";
			return -1;
		}
		fields[k] = s;
	}
	sec->fields = fields;
	sec->nfields = list->count;
	return 0;
}

/* The text after the part path: HEADER, HEADER.FIELDS[.NOT], TEXT, MIME. */
static int section_text(const char *s, size_t len, struct imap_section *sec, const char **error_r)
{
	const struct imap_word *w = imap_word_find(s, len, section_texts, NELEM(section_texts));

	if (w == NULL || (w->extra && sec->nparts == 0)) {
		*error_r = "Invalid section";
		return -1;
	}
	sec->text = (enum imap_section_text)w->value;
	return 0;
}

/* section-part ["." section-text], or section-msgtext alone. */
static int section_spec(const char *s, size_t len, struct arena *a, struct imap_section *sec,
			const char **error_r)
{
	uint32_t parts[IMAP_SECTION_PARTS_MAX];
	size_t i = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		size_t start = i;
		uint64_t v;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (sec->nparts >= IMAP_SECTION_PARTS_MAX ||
		    imap_number_parse(s + start, i - start, IMAP_NUMBER_MAX, true, &v) < 0) {
			*error_r = "Invalid section part number";
			return -1;
		}
		parts[sec->nparts++] = (uint32_t)v;
		if (i == len)
			break;
		if (s[i] != '.' || i + 1 == len) {
			*error_r = "Invalid section";
			return -1;
		}
		i++;
	}
	if (sec->nparts > 0) {
		uint32_t *p = arena_alloc(a, sec->nparts * sizeof(*p));

		if (p == NULL) {
			*error_r = "Command too large";
			return -1;
		}
		memcpy(p, parts, sec->nparts * sizeof(*p));
		sec->parts = p;
	}
	if (i == len)
		return 0;
	if (sec->kind != IMAP_SECTION_BODY) {
		/* RFC 3516: section-binary = "[" [section-part] "]" */
		*error_r = "Invalid BINARY section";
		return -1;
	}
	return section_text(s + i, len - i, sec, error_r);
}

/* partial = "<" number64 "." nz-number64 ">" */
static int section_partial(const char *s, size_t len, struct imap_section *sec, const char **error_r)
{
	const char *dot;

	if (len == 0)
		return 0;
	dot = len > 2 ? memchr(s, '.', len) : NULL;
	if (sec->kind == IMAP_SECTION_BINARY_SIZE || s[0] != '<' || s[len - 1] != '>' || dot == NULL ||
	    imap_number_parse(s + 1, (size_t)(dot - s) - 1, IMAP_NUMBER64_MAX, false, &sec->offset) < 0 ||
	    imap_number_parse(dot + 1, (size_t)(s + len - 1 - dot) - 1, IMAP_NUMBER64_MAX, true,
			      &sec->length) < 0) {
		*error_r = "Invalid partial range";
		return -1;
	}
	sec->partial = true;
	return 0;
}

static int fetch_section(const struct imap_arg *att, struct arena *a, struct imap_section *sec,
			 const char **error_r)
{
	const struct imap_word *w = imap_word_find(att->text, att->len, fetch_section_names,
						   NELEM(fetch_section_names));

	memset(sec, 0, sizeof(*sec));
	if (w == NULL) {
		*error_r = "Invalid fetch attribute";
		return -1;
	}
	sec->kind = (enum imap_section_kind)w->value;
	sec->peek = w->extra != 0;
	if (att->count > 0) {
		const struct imap_arg *spec = &att->items[0];

		if (spec->type != IMAP_ARG_ATOM ||
		    section_spec(spec->text, spec->len, a, sec, error_r) < 0) {
			if (spec->type != IMAP_ARG_ATOM)
				*error_r = "Invalid section";
			return -1;
		}
		if (sec->text == IMAP_SECTION_HEADER_FIELDS || sec->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
			if (att->count != 2 || section_fields(&att->items[1], a, sec, error_r) < 0) {
				if (att->count != 2)
					*error_r = "HEADER.FIELDS needs a list of field names";
				return -1;
			}
		} else if (att->count != 1) {
			*error_r = "Invalid section";
			return -1;
		}
	}
	return section_partial(att->suffix, att->suffix_len, sec, error_r);
}

static int fetch_section_att(const struct imap_arg *att, struct arena *a, struct imap_fetch *r,
			     struct imap_section *sections, const char **error_r)
{
	struct imap_section *sec = &sections[r->nsections];

	if (fetch_section(att, a, sec, error_r) < 0)
		return -1;
	r->nsections++;
	if (!sec->peek)
		r->sets_seen = true;
	return 0;
}

/* One fetch-att that is not a macro. */
static int fetch_att(const struct imap_arg *att, struct arena *a, struct imap_fetch *r,
		     struct imap_section *sections, const char **error_r)
{
	const struct imap_word *w;

	if (att->type == IMAP_ARG_SECTION)
		return fetch_section_att(att, a, r, sections, error_r);
	w = imap_arg_word(att, fetch_simple, NELEM(fetch_simple));
	if (w == NULL) {
		*error_r = "Invalid fetch attribute";
		return -1;
	}
	r->items |= w->value;
	if (w->extra)
		r->sets_seen = true;
	return 0;
}

int imap_fetch_parse(const struct imap_arg *att, struct arena *a, struct imap_fetch *r,
		     const char **error_r)
{
	const struct imap_arg *items = att;
	unsigned int n = 1, nsec = 0;
	struct imap_section *sections = NULL;
	const struct imap_word *macro = imap_arg_word(att, fetch_macros, NELEM(fetch_macros));

	memset(r, 0, sizeof(*r));
	if (macro != NULL) {
		r->items = macro->value;
		return 0;
	}
	if (att->type == IMAP_ARG_LIST) {
		if (att->count == 0) {
			*error_r = "Empty fetch attribute list";
			return -1;
		}
		items = att->items;
		n = att->count;
	}
	for (unsigned int k = 0; k < n; k++)
		if (items[k].type == IMAP_ARG_SECTION)
			nsec++;
	if (nsec > 0) {
		sections = arena_calloc(a, nsec, sizeof(*sections));
		if (sections == NULL) {
			*error_r = "Command too large";
			return -1;
		}
	}
	for (unsigned int k = 0; k < n; k++) {
		if (fetch_att(&items[k], a, r, sections, error_r) < 0)
			return -1;
		/* PREVIEW's modifiers follow it as a list: only LAZY exists. */
		if (imap_arg_is_atom(&items[k], "PREVIEW") && k + 1 < n && items[k + 1].type == IMAP_ARG_LIST) {
			const struct imap_arg *mods = &items[++k];
			for (unsigned int j = 0; j < mods->count; j++)
				if (!imap_arg_is_atom(&mods->items[j], "LAZY")) {
					*error_r = "Invalid PREVIEW modifier";
					return -1;
				}
			if (mods->count == 0) {
				*error_r = "Invalid PREVIEW modifier";
				return -1;
			}
			r->preview_lazy = true;
		}
	}
	r->sections = sections;
	return 0;
}

int imap_fetch_modifiers(const struct imap_arg *list, bool uid, struct imap_fetch *r,
			 const char **error_r)
{
	if (list->type != IMAP_ARG_LIST || list->count == 0) {
		*error_r = "Invalid fetch modifiers";
		return -1;
	}
	for (unsigned int k = 0; k < list->count; k++) {
		const struct imap_arg *m = &list->items[k];

		if (imap_arg_is_atom(m, "CHANGEDSINCE") && k + 1 < list->count && !r->changedsince_set) {
			/* mod-sequence-valzer: 0 included */
			if (imap_arg_number(&list->items[++k], IMAP_NUMBER64_MAX, false, &r->changedsince) < 0) {
				*error_r = "Invalid CHANGEDSINCE value";
				return -1;
			}
			r->changedsince_set = true;
		} else if (imap_arg_is_atom(m, "VANISHED") && !r->vanished) {
			r->vanished = true;
		} else {
			*error_r = "Invalid fetch modifier";
			return -1;
		}
	}
	/* RFC 7162 3.2.6: VANISHED only in UID FETCH, only with CHANGEDSINCE. */
	if (r->vanished && (!uid || !r->changedsince_set)) {
		*error_r = "VANISHED needs UID FETCH and CHANGEDSINCE";
		return -1;
	}
	return 0;
}
