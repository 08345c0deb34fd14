/* dkim_verify: one message's DKIM verification (RFC 6376 6, RFC 8463,
 * RFC 8301) as a state machine: the header section in, the body in as
 * it streams, the key records in as DNS answers them, results out as
 * Authentication-Results entries (RFC 8601 2.7.1).  No I/O of its own. */
#ifndef POSTERN_DKIM_VERIFY_H
#define POSTERN_DKIM_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "auth_results.h"
#include "dns.h"

#define DKIM_VERIFY_SIGS_MAX 16        /* signatures kept per message (results past the limit too) */
#define DKIM_VERIFY_LIMIT_MAX (AUTH_RESULTS_MAX - 2)  /* highest dkim_verify_signature_limit: room for spf and dmarc */
#define DKIM_VERIFY_KEY_MAX 4096       /* bytes of one key record after joining its strings */
#define DKIM_VERIFY_RSA_MIN_BITS 1024  /* RFC 8301 3.2: smaller keys are refused (policy) */
#define DKIM_VERIFY_RSA_MAX_BITS 8192  /* larger keys: permerror */

struct dkim_verify;

/* Start for one message: at most max_sigs (1..DKIM_VERIFY_SIGS_MAX)
 * signatures are verified, the rest reported neutral; now is the
 * receipt time for x=.  NULL when out of memory. */
struct dkim_verify *dkim_verify_new(size_t max_sigs, uint64_t now);
/* The header section (LF or CRLF line ends, blank line optional) as
 * received: each DKIM-Signature is parsed, its header hash computed and
 * its body hash started.  Call once, before the body. */
void dkim_verify_header(struct dkim_verify *v, const char *hdr, size_t len);
/* More body bytes (after the blank line), any chunking. */
void dkim_verify_body(struct dkim_verify *v, const char *p, size_t n);
/* Signatures found, including those past the limit. */
size_t dkim_verify_count(const struct dkim_verify *v);
/* The DNS name of the key of signature i ("s._domainkey.d") into out,
 * when it needs one; 1, or 0 when it is decided already. */
int dkim_verify_key_name(const struct dkim_verify *v, size_t i, char *out, size_t outlen);
/* The answer for signature i's key: a dns_lookup_txt result and its
 * records (NULL unless DNS_OK). */
void dkim_verify_key_answer(struct dkim_verify *v, size_t i, enum dns_result r, const struct dns_txt_list *txt);
/* The body is complete: check every signature whose key arrived (a key
 * never answered is temperror).  Call once. */
void dkim_verify_finish(struct dkim_verify *v);
/* Signature i's result keyword ("pass", "fail", ...) and reason (NULL
 * when none), after finish; d and s ("" when unknown) for the log. */
const char *dkim_verify_result(const struct dkim_verify *v, size_t i, const char **reason_r,
			       const char **d_r, const char **s_r);
/* Add one dkim result per signature to ar (dkim=none when there was
 * none), as many as fit.  0, or -1 when some did not fit. */
int dkim_verify_auth_results(const struct dkim_verify *v, struct auth_results *ar);
/* Free; *v = NULL. */
void dkim_verify_free(struct dkim_verify **v);

#endif
