/* dmarc_from: the RFC5322.From domain that DMARC evaluates (RFC 7489
 * 3.1, 6.6.1), from a message's header section. */
#ifndef POSTERN_DMARC_FROM_H
#define POSTERN_DMARC_FROM_H

#include <stddef.h>

#define DMARC_FROM_DOMAIN_MAX 253   /* a DNS name without its trailing dot */

/* The domain of the author addresses in hdr (len bytes, LF or CRLF
 * lines, the blank line optional) into out (at least
 * DMARC_FROM_DOMAIN_MAX + 1 bytes), ASCII lower-cased, a trailing dot
 * dropped.  There must be exactly one From field, with at least one
 * address, and all its addresses in the same domain, which must be a
 * DNS name (no address literal).  0, or -1 with *error_r (static text
 * for the Authentication-Results reason and the log). */
int dmarc_from_domain(const char *hdr, size_t len, char *out, size_t outlen, const char **error_r);

#endif
