/* address: RFC 5321 paths and mailboxes.  Parses the argument of MAIL
 * FROM: and RCPT TO: (`<local@domain>`, `<>`, source routes accepted and
 * dropped per RFC 5321 appendix C), validates local parts (dot-string or
 * quoted-string, at most 64 octets), domains (at most 255 octets) and
 * address literals.  Takes (pointer, length); never reads past it. */
#ifndef POSTERN_ADDRESS_H
#define POSTERN_ADDRESS_H

#include <stddef.h>
#include "buf.h"

#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 255
#define ADDRESS_PATH_MAX 256

/* Parse a path starting at s ("<...>" with optional leading spaces); on
 * success the mailbox (without brackets, "" for <>) is in *addr_r and
 * *consumed_r counts the bytes used (parameters follow).  allow_empty
 * permits "<>".  0, or -1 with *error_r. UTF-8 is accepted when utf8. */
int address_parse_path(const char *s, size_t len, int allow_empty, int utf8,
		       struct buf *addr_r, size_t *consumed_r, const char **error_r);
/* Validate a bare mailbox "local@domain". 0 or -1 with *error_r. */
int address_validate(const char *addr, size_t len, int utf8, const char **error_r);
/* Offset of the '@' separating local part and domain (the last one
 * outside quotes), or -1. */
long address_at(const char *addr, size_t len);
/* Copy addr into out in canonical form: the domain folded to lower
 * case, a quoted local part unquoted when it is a Dot-string ("bob" ->
 * bob), other quoted local parts with only '"' and '\' escaped.  Never
 * longer than addr.  0, or -1 when out's cap is too small. */
int address_normalize(const char *addr, size_t len, struct buf *out);

#endif
