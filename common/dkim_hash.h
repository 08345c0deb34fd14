/* dkim_hash: the header hash of RFC 6376 3.7, shared by signing and
 * verification. */
#ifndef POSTERN_DKIM_HASH_H
#define POSTERN_DKIM_HASH_H

#include <stddef.h>

#include "dkim_sig.h"

#define DKIM_HASH_MAX_FIELDS 1000        /* header fields considered (docs/dkim.md) */
#define DKIM_HASH_MAX_INPUT (1UL << 20)  /* bytes of canonical header data hashed */

/* SHA-256 over the fields that sig's h= names, selected bottom up (5.4.2;
 * a name with no instance left counts as nothing), canonicalized with
 * sig's header mode, then the DKIM-Signature field sig_field itself with
 * its b= value emptied and without its final line end.  hdr is the
 * header section (LF or CRLF); sig was parsed from sig_field's value,
 * which starts at value_off.  0, or -1 with *error_r. */
int dkim_header_hash(const struct dkim_sig *sig, const char *hdr, size_t hdr_len, const char *sig_field,
		     size_t sig_field_len, size_t value_off, unsigned char out[32], const char **error_r);

#endif
