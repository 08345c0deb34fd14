/* dkim_canon: DKIM canonicalization (RFC 6376 3.4), simple and relaxed,
 * of header fields one at a time and of the body incrementally into
 * SHA-256 with bounded state. */
#ifndef POSTERN_DKIM_CANON_H
#define POSTERN_DKIM_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum dkim_canon_mode { DKIM_CANON_SIMPLE = 0, DKIM_CANON_RELAXED = 1 };

/* Body hash state; opaque contents, on the stack or in a struct. */
struct dkim_body {
	void *md;             /* EVP_MD_CTX * */
	struct buf *copy;     /* when set, the canonical bytes are appended too (tests) */
	uint64_t limit;       /* bytes hashed at most (l=); UINT64_MAX for all */
	uint64_t hashed;      /* canonical bytes hashed so far */
	uint64_t empty_lines; /* empty lines seen and not yet emitted */
	int relaxed;
	int pending_cr;       /* a CR was the last byte: line end if LF follows */
	int pending_wsp;      /* relaxed: white space seen and not yet emitted */
	int line_started;     /* bytes of the current line were emitted */
	int failed;           /* the hash or the copy failed */
	int over_limit;       /* canonical bytes past the limit were left out (l= shorter than the body) */
};

/* Canonicalize one header field (name, colon, value with its folding,
 * its line end optional; LF or CRLF) and append it to out, ended by
 * CRLF when crlf is set (the DKIM-Signature itself is hashed without).
 * 0, or -1 with errno: EINVAL (no colon, or a name that is empty or not
 * printable ASCII, RFC 5322 2.2), EMSGSIZE or
 * ENOMEM (out is full). */
int dkim_canon_header(enum dkim_canon_mode mode, const char *p, size_t n, int crlf, struct buf *out);
/* Start a body hash; limit as in the struct.  0, or -1 (ENOMEM). */
int dkim_body_init(struct dkim_body *b, enum dkim_canon_mode mode, uint64_t limit, struct buf *copy);
/* Feed n more body bytes (LF or CRLF line ends, any chunking). */
void dkim_body_update(struct dkim_body *b, const char *p, size_t n);
/* Finish: the 32-byte SHA-256 into out.  0, or -1 (hash or copy failed). */
int dkim_body_final(struct dkim_body *b, unsigned char out[32]);
/* Free the state (after final, or instead of it). */
void dkim_body_free(struct dkim_body *b);

#endif
