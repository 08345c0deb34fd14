/* recipient: whether an address of a local domain has somewhere to go,
 * by the rules local delivery resolves it with (docs/operator.md, "Local
 * delivery"), so that smtpd can refuse unknown users at RCPT time and
 * accept aliases, catch-alls, plus-addresses and LMTP domains.  Also the
 * transport map lookup (etc/transport) that local and this check share. */
#ifndef POSTERN_RECIPIENT_H
#define POSTERN_RECIPIENT_H

#include <stddef.h>

#include "address.h"
#include "buf.h"
#include "cdbmap.h"

#define RECIPIENT_TRANSPORT_MAX 512   /* longest transport map value */

/* The maps, opened by the caller (before any chroot); NULL = absent. */
struct recipient_maps {
	struct cdbmap *mailboxes;     /* etc/mailboxes.cdb */
	struct cdbmap *aliases;       /* etc/aliases.cdb */
	struct cdbmap *transport;     /* etc/transport.cdb */
	const char *delimiters;       /* recipient_delimiter; NULL or "" = none */
};

/* An address split the way local resolves it (NUL-terminated parts). */
struct recipient_parts {
	char local[ADDRESS_PATH_MAX + 1], domain[ADDRESS_PATH_MAX + 1];
	char base[ADDRESS_PATH_MAX + 1];       /* local part before the delimiter */
	char base_addr[ADDRESS_PATH_MAX + 2];  /* base@domain */
	const char *tag;                       /* into local after the delimiter; NULL: none */
};

enum recipient_status {
	RECIPIENT_ERROR = -1,         /* a map could not be read: answer 4xx */
	RECIPIENT_UNKNOWN = 0,        /* 550 5.1.1 */
	RECIPIENT_KNOWN = 1,
};

/* Split addr (len bytes, local@domain) into p; the extension starts at
 * the first of delimiters (NULL or "": none; never in a quoted local
 * part, never at its first octet).  0, or -1 for no '@' or too long. */
int recipient_split(const char *addr, size_t len, const char *delimiters, struct recipient_parts *p);
/* Whether addr, an address in a local domain (the caller checked
 * etc/domains), is known: a transport map LMTP domain (the server
 * decides), an alias of the address, its bare local part, its base
 * address or bare base (+tag removed), a mailbox of the address or its
 * base, the catch-all @domain, or postmaster (RFC 5321 4.5.1).  Returns
 * an enum recipient_status; on error *error_r says why. */
int recipient_lookup(const struct recipient_maps *m, const char *addr, size_t len, const char **error_r);
/* Whether a and b, recipients in canonical form (address_normalize) in
 * a local domain (the caller checked etc/domains), name the same place:
 * equal, or - for a domain local delivers (not LMTP) - equal but for the
 * ASCII case of the local part before the extension, since the maps
 * fold case and the +tag names a folder.  1 or 0 (0 on a map error). */
int recipient_same_mailbox(const struct recipient_maps *m, const char *a, size_t alen,
			   const char *b, size_t blen);
/* The transport of domain: 1 LMTP with the destination (text after
 * "lmtp:") in dest_r, 0 local (no entry, or "local"), -1 with *error_r
 * (map read error, errno EIO; or a value that is neither, errno EINVAL). */
int recipient_transport(const struct recipient_maps *m, const char *domain, size_t len,
			struct buf *dest_r, const char **error_r);
/* Parse a transport map value (the fuzz entry): as recipient_transport. */
int recipient_transport_parse(const char *value, size_t len, struct buf *dest_r, const char **error_r);

#endif
