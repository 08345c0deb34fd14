/* dmarc_from: the RFC5322.From domain.
 *
 * Offers: dmarc_from_domain() finds the From fields of a header section
 * (common/mime_header.c), parses the one there must be as an
 * address-list (obsolete forms, comments, groups and folding included)
 * and checks that its addresses share one domain.  RFC 7489 6.6.1 lets a
 * receiver reject or skip a message without a single usable From
 * domain; Postern evaluates none of them (dmarc=permerror, no policy
 * applied: docs/operator.md, "DMARC"), except that several addresses in
 * one domain are that domain, as DMARCbis allows.
 *
 * Trusts: nothing in the header; the address parser is bounded by the
 * field (MIME_MAX_ADDRESSES addresses at most) and the header by
 * smtpd_header_size_limit.
 *
 * Fails: -1 with a static reason; out of memory reads as an unusable
 * From ("cannot parse the From field"). */
#include <string.h>
#include <strings.h>

#include "dmarc_from.h"
#include "mime.h"
#include "mime_header.h"

/* A DNS name as a From domain may be: labels of letters, digits, '-',
 * '_' or UTF-8 bytes (RFC 6532), 1..63 bytes each. */
static int dmarc_from_name_ok(const char *p, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > DMARC_FROM_DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			   c == '-' || c == '_' || c >= 0x80) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0;
}

/* The one From field's value; -1 when there is none or more than one. */
static int dmarc_from_field(const char *hdr, size_t len, struct mime_str *value, const char **error_r)
{
	struct mime_header_iter it;
	struct mime_field f;
	size_t n = 0;

	mime_header_iter_init(&it, hdr, len);
	while (mime_header_next(&it, &f))
		if (f.name.len > 0 && mime_field_is(&f.name, "From", 4) && n++ == 0)
			*value = f.value;
	if (n != 1)
		*error_r = n == 0 ? "no From field" : "more than one From field";
	return n == 1 ? 0 : -1;
}

/* The shared domain of the list's mailboxes into out; -1 with *error_r. */
static int dmarc_from_list(const struct mime_address_list *list, char *out, size_t outlen, const char **error_r)
{
	size_t have = 0;

	for (size_t i = 0; i < list->n; i++) {
		const struct mime_address *a = &list->addrs[i];
		size_t n = a->host.len;

		if (a->host.p == NULL)
			continue;   /* a group's start or end */
		if (n > 0 && a->host.p[n - 1] == '.')
			n--;
		/* the parser names an address without a domain MISSING_DOMAIN */
		if (!dmarc_from_name_ok(a->host.p, n) || n >= outlen ||
		    (n == 14 && memcmp(a->host.p, "MISSING_DOMAIN", 14) == 0)) {
			*error_r = "From domain is not a domain name";
			return -1;
		}
		if (have == 0) {
			for (size_t k = 0; k < n; k++)
				out[k] = a->host.p[k] >= 'A' && a->host.p[k] <= 'Z' ? (char)(a->host.p[k] + 32) : a->host.p[k];
			out[n] = '\0';
			have = n;
		} else if (have != n || strncasecmp(out, a->host.p, n) != 0) {
			*error_r = "From addresses in more than one domain";
			return -1;
		}
	}
	if (have == 0)
		*error_r = "no address in the From field";
	return have > 0 ? 0 : -1;
}

int dmarc_from_domain(const char *hdr, size_t len, char *out, size_t outlen, const char **error_r)
{
	struct mime_address_list list;
	struct mime_arena arena;
	struct mime_str value;
	int r = -1;

	if (outlen == 0) {
		*error_r = "no room for the From domain";
		return -1;
	}
	out[0] = '\0';
	if (dmarc_from_field(hdr, len, &value, error_r) < 0)
		return -1;
	memset(&list, 0, sizeof(list));
	mime_arena_init(&arena);
	/* junk the tolerant parser skipped could hide the domain a reader sees */
	if (mime_address_list_parse(value.p, value.len, &arena, &list) < 0 || list.truncated || list.junk > 0)
		*error_r = "cannot parse the From field";
	else
		r = dmarc_from_list(&list, out, outlen, error_r);
	mime_address_list_free(&list);
	mime_arena_free(&arena);
	if (r < 0)
		out[0] = '\0';
	return r;
}
