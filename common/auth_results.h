/* auth_results: the Authentication-Results header field (RFC 8601).
 * A list of method results (spf now; dkim and dmarc later) written as
 * one field, a parser of the field, and the removal of fields that
 * claim our authserv-id from a message received from outside (5). */
#ifndef POSTERN_AUTH_RESULTS_H
#define POSTERN_AUTH_RESULTS_H

#include <stddef.h>

#include "buf.h"

#define AUTH_RESULTS_MAX 17        /* method results in one field: spf, dkim..., dmarc */
#define AUTH_RESULTS_PROPS_MAX 6   /* properties of one result */
#define AUTH_RESULTS_ID_MAX 255    /* longest authserv-id */
#define AUTH_RESULTS_VALUE_MAX 512 /* longest property value or reason */
#define AUTH_RESULTS_COMMENT_DEPTH 8 /* nested comments the parser follows */

struct auth_result_prop {
	char ptype[16];                /* "smtp", "header", "policy" */
	char property[32];             /* "mailfrom", "helo", "d", "i" */
	char value[AUTH_RESULTS_VALUE_MAX + 1];
};

struct auth_result {
	char method[32];               /* "spf", "dkim", "dmarc" */
	unsigned version;              /* method-version, 0 when absent */
	char result[32];               /* "pass", "fail", ... */
	char reason[AUTH_RESULTS_VALUE_MAX + 1];   /* reason= text, "" if none */
	char comment[64];              /* written "(comment)" after the result, "" if none; never parsed */
	struct auth_result_prop prop[AUTH_RESULTS_PROPS_MAX];
	size_t nprop;
};

struct auth_results {
	char authserv_id[AUTH_RESULTS_ID_MAX + 1];   /* filled by the parser */
	unsigned version;              /* authres-version, 0 when absent */
	struct auth_result r[AUTH_RESULTS_MAX];
	size_t n;                      /* 0: "none" */
};

/* Add a method result (method and result: keywords); reason may be NULL.
 * The new entry, or NULL when the list is full or a word is bad. */
struct auth_result *auth_results_add(struct auth_results *ar, const char *method, const char *result,
				     const char *reason);
/* Give a result a comment (RFC 8601 2.2 allows CFWS after the result;
 * DMARC writes its policy there).  0, or -1 when too long or holding
 * bytes a comment cannot (parentheses, backslash, control bytes). */
int auth_result_comment(struct auth_result *r, const char *text);
/* Add ptype.property=value to a result.  0, or -1 when full, too long
 * or not writable (control bytes). */
int auth_result_prop(struct auth_result *r, const char *ptype, const char *property, const char *value);
/* Append the whole field, "Authentication-Results: ID; ..." folded one
 * result a line, LF-ended, to out ("none" when ar has no results).
 * 0, or -1 (out's cap, or an authserv-id that is not a token). */
int auth_results_write(const char *authserv_id, const struct auth_results *ar, struct buf *out);
/* Parse the value of a field (after the colon; folding allowed) into
 * out.  0, or -1 with *error_r; out->authserv_id is filled as soon as it
 * was read, also when something after it is malformed. */
int auth_results_parse(const char *value, size_t len, struct auth_results *out, const char **error_r);
/* Remove from the header section hdr..len (LF line ends) every
 * Authentication-Results field whose authserv-id is authserv_id (any
 * case), in place.  Returns the new length; *removed_r counts them. */
size_t auth_results_strip(char *hdr, size_t len, const char *authserv_id, size_t *removed_r);

#endif
