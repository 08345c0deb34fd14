/* dkim_tags: tag=value lists, RFC 6376 3.2.
 *
 *   tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  =  ALPHA *ALNUMPUNC          (ALNUMPUNC = ALPHA / DIGIT / "_")
 *   tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
 *   tval      =  1*VALCHAR                 (VALCHAR = %x21-3A / %x3C-7E)
 *
 * Offers dkim_tags_parse, which records each tag's name and value as
 * spans of the input (and where the value starts, so that a signer or
 * verifier can empty b=), refuses duplicates (3.2: the whole list is
 * then invalid) and bounds the count and the size; dkim_tags_find; and
 * dkim_tag_value_compact for base64 values; dkim_list_next and
 * dkim_name_eq for the colon lists inside values; dkim_dns_name_ok for
 * the d= and s= names (and the key map's).
 *
 * FWS is taken as runs of SP, HTAB, CR and LF where a line end (CRLF or
 * LF) is followed by SP or HTAB (folding) or ends the input (the field's
 * own line end); any other line end, and a bare CR, is invalid.  Bytes above 0x7e are refused (RFC
 * 6376 has no UTF-8 in tag values).
 *
 * Trusts: nothing; (pointer, length), never reads past the length. */
#include <errno.h>
#include <string.h>

#include "dkim_tags.h"

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnumpunc(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

static int is_valchar(char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

/* Skip FWS from i; -1 when a line end is not a fold. */
static int skip_fws(const char *p, size_t n, size_t *i)
{
	while (*i < n) {
		char c = p[*i];
		if (c == ' ' || c == '\t') {
			(*i)++;
		} else if (c == '\r' || c == '\n') {
			size_t j = *i + (c == '\r' && *i + 1 < n && p[*i + 1] == '\n' ? 2 : 1);
			if (c == '\r' && j == *i + 1)
				return -1;   /* a bare CR */
			/* 3.2: folding is CRLF followed by WSP; the field's own
			 * line end may close the input */
			if (j < n && p[j] != ' ' && p[j] != '\t')
				return -1;
			*i = j;
		} else {
			break;
		}
	}
	return 0;
}

static int tag_dup(const struct dkim_tags *tags, const char *name, size_t len)
{
	for (size_t k = 0; k < tags->n; k++)
		if (tags->tag[k].name_len == len && memcmp(tags->tag[k].name, name, len) == 0)
			return 1;
	return 0;
}

/* One tag-spec at *i, up to the ';' or the end; *i is left there. */
static int parse_spec(const char *p, size_t n, size_t *i, struct dkim_tag *t)
{
	size_t end;

	if (skip_fws(p, n, i) < 0 || *i >= n || !is_alpha(p[*i]))
		return -1;
	t->name = p + *i;
	while (*i < n && is_alnumpunc(p[*i]))
		(*i)++;
	t->name_len = (size_t)(p + *i - t->name);
	if (skip_fws(p, n, i) < 0 || *i >= n || p[*i] != '=')
		return -1;
	(*i)++;
	if (skip_fws(p, n, i) < 0)
		return -1;
	t->value = p + *i;
	t->value_off = *i;
	end = *i;
	/* tvals separated by FWS; the value ends after the last tval */
	while (*i < n && p[*i] != ';') {
		if (is_valchar(p[*i])) {
			(*i)++;
			end = *i;
		} else if (skip_fws(p, n, i) < 0 || (*i < n && p[*i] != ';' && !is_valchar(p[*i]))) {
			return -1;
		}
	}
	t->value_len = end - t->value_off;
	return 0;
}

int dkim_tags_parse(const char *p, size_t n, struct dkim_tags *tags)
{
	size_t i = 0;

	tags->n = 0;
	if (n > DKIM_TAGS_MAX_INPUT) {
		errno = E2BIG;
		return -1;
	}
	for (;;) {
		struct dkim_tag t;
		size_t save = i;

		/* a final ';' may be followed by FWS only */
		if (tags->n > 0) {
			if (skip_fws(p, n, &i) < 0)
				goto bad;
			if (i == n)
				return 0;
			i = save;
		}
		if (parse_spec(p, n, &i, &t) < 0 || tag_dup(tags, t.name, t.name_len))
			goto bad;
		if (tags->n == DKIM_TAGS_MAX) {
			tags->n = 0;
			errno = E2BIG;
			return -1;
		}
		tags->tag[tags->n++] = t;
		if (i == n)
			return 0;
		i++;   /* the ';' */
	}
bad:
	tags->n = 0;
	errno = EINVAL;
	return -1;
}

const struct dkim_tag *dkim_tags_find(const struct dkim_tags *tags, const char *name)
{
	size_t len = strlen(name);

	for (size_t k = 0; k < tags->n; k++)
		if (tags->tag[k].name_len == len && memcmp(tags->tag[k].name, name, len) == 0)
			return &tags->tag[k];
	return NULL;
}

int dkim_name_eq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t k = 0; k < an; k++) {
		char x = a[k], y = b[k];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

static int is_fws_byte(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int dkim_list_next(const char *p, size_t n, size_t *pos, const char **item, size_t *len)
{
	size_t start = *pos, end;

	if (*pos > n)
		return 0;
	while (*pos < n && p[*pos] != ':')
		(*pos)++;
	end = *pos;
	(*pos)++;   /* past the ':' (or past the end: the list is used up) */
	while (start < end && is_fws_byte(p[start]))
		start++;
	while (end > start && is_fws_byte(p[end - 1]))
		end--;
	*item = p + start;
	*len = end - start;
	return 1;
}

int dkim_tag_value_compact(const struct dkim_tag *t, struct buf *out)
{
	size_t mark = out->len;

	for (size_t k = 0; k < t->value_len; k++) {
		char c = t->value[k];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (buf_putc(out, c) < 0) {
			buf_truncate(out, mark);
			return -1;
		}
	}
	return 0;
}

int dkim_dns_name_ok(const char *p, size_t n, size_t max)
{
	size_t label = 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (label == 0 || label > 63)
				return 0;
			label = 0;
			continue;
		}
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '_'))
			return 0;
		label++;
	}
	return 1;
}
