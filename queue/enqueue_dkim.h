/* enqueue_dkim: DKIM signing of submitted mail inside enqueue
 * (docs/dkim.md): the header kept and the body hashed as the data
 * streams, the signature asked of the dkim-sign service at the end. */
#ifndef POSTERN_ENQUEUE_DKIM_H
#define POSTERN_ENQUEUE_DKIM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dkim_sign.h"

#define ENQUEUE_DKIM_HEADER_MAX (1024 * 1024)   /* header bytes kept; a longer one is not signed */

struct enqueue_dkim_conf {
	int enabled;                  /* dkim_signing */
	enum dkim_canon_mode c_header, c_body;
	const char *signed_headers;
	uint64_t ttl;                 /* dkim_signature_ttl, 0: no x= */
	int accept_on_failure;        /* dkim_sign_failure = accept */
	size_t slot;                  /* dkim_prepend_slot */
	int timeout_ms;
};

struct enqueue_dkim;

/* Read the dkim_* keys; a bad value is logged and its default used. */
void enqueue_dkim_conf_load(struct enqueue_dkim_conf *c, int timeout_ms);
/* Whether a message is submitted mail to sign: proto names SMTP AUTH
 * (ESMTPA, ESMTPSA, UTF8SMTPA, UTF8SMTPSA) or the client said
 * submission=1 (pickup). */
int enqueue_dkim_submitted(const char *proto, int submission);
/* Start the state for one message; NULL when out of memory. */
struct enqueue_dkim *enqueue_dkim_start(const struct enqueue_dkim_conf *c);
/* The next n message bytes (as stored: LF line ends). */
void enqueue_dkim_data(struct enqueue_dkim *d, const char *p, size_t n);
/* At the end of the data: the DKIM-Signature fields to prepend into
 * fields (empty: not signed, and logged why: no key, no single From, a
 * header too big).  0, or -1 when signing failed (signer unreachable,
 * no answer, a refusal): *error_r says why; the caller applies
 * dkim_sign_failure.  t is the signature time (the arrival). */
int enqueue_dkim_finish(struct enqueue_dkim *d, const char *queue_id, uint64_t t, struct buf *fields,
			const char **error_r);
/* Free the state; *d = NULL. */
void enqueue_dkim_free(struct enqueue_dkim **d);

#endif
