/* dkim_tags: the tag=value lists of DKIM-Signature fields and DKIM key
 * records (RFC 6376 3.2). */
#ifndef POSTERN_DKIM_TAGS_H
#define POSTERN_DKIM_TAGS_H

#include <stddef.h>

#include "buf.h"

#define DKIM_TAGS_MAX 64          /* tags in one list; more is an invalid list */
#define DKIM_TAGS_MAX_INPUT 8192  /* bytes of one list; more is an invalid list */

struct dkim_tag {
	const char *name;     /* into the input; name_len bytes */
	size_t name_len;
	const char *value;    /* into the input, FWS around it trimmed, inside kept */
	size_t value_len;
	size_t value_off;     /* offset of the value's first byte (or of where it would be, when empty) */
};

struct dkim_tags {
	struct dkim_tag tag[DKIM_TAGS_MAX];
	size_t n;
};

/* Parse a tag list (LF or CRLF in folding).  0, or -1 with errno EINVAL
 * (bad syntax, a duplicate tag, no tag at all) or E2BIG (too many tags,
 * too long).  On failure tags->n is 0. */
int dkim_tags_parse(const char *p, size_t n, struct dkim_tags *tags);
/* The tag named name (case-sensitive, as 3.2 says), or NULL. */
const struct dkim_tag *dkim_tags_find(const struct dkim_tags *tags, const char *name);
/* Whether two names are equal ignoring ASCII case (field names in h=,
 * list items); bytes, not C strings. */
int dkim_name_eq(const char *a, size_t an, const char *b, size_t bn);
/* The next item of a colon-separated list (h=, q=, k= ...) from *pos,
 * white space around it trimmed; 0 when the list is used up. */
int dkim_list_next(const char *p, size_t n, size_t *pos, const char **item, size_t *len);
/* Whether p (n bytes, at most max) is a domain or selector name as DKIM
 * uses them: dot-separated labels of 1..63 letters, digits, '-' and '_'. */
int dkim_dns_name_ok(const char *p, size_t n, size_t max);
/* Append a value without its white space (FWS inside base64 values, 3.5
 * b= and bh=, 3.6.1 p=).  0, or -1 (out full). */
int dkim_tag_value_compact(const struct dkim_tag *t, struct buf *out);

#endif
