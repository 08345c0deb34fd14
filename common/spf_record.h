/* spf_record: the text of an SPF record (RFC 7208 4.5, 4.6, 5, 6) and
 * its macros (7).  The parser checks the whole record before anything
 * is evaluated (4.6: any syntax error makes the record a permerror) and
 * keeps pointers into the text, which must outlive the record. */
#ifndef POSTERN_SPF_RECORD_H
#define POSTERN_SPF_RECORD_H

#include <stddef.h>

#include "buf.h"

#define SPF_TERMS_MAX 128        /* directives in one record; more is a permerror */
#define SPF_RECORD_MAX 8192      /* longest record text; longer is a permerror */
#define SPF_EXPAND_MAX 4096      /* longest macro expansion */

/* RFC 7208 2.6, in the order of the results of check_host(). */
enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	enum spf_result qual;     /* PASS (+), FAIL (-), SOFTFAIL (~) or NEUTRAL (?) */
	const char *spec;         /* domain-spec, macros unexpanded; NULL: the current domain */
	size_t spec_len;
	unsigned char addr[16];   /* ip4 (first 4 bytes) / ip6 network */
	unsigned cidr4, cidr6;    /* prefix lengths: 32 and 128 when not given */
};

struct spf_record {
	struct spf_term term[SPF_TERMS_MAX];
	size_t n;
	const char *redirect;     /* redirect= domain-spec, or NULL */
	size_t redirect_len;
	const char *exp;          /* exp= domain-spec, or NULL */
	size_t exp_len;
	int has_all;              /* an "all" anywhere: redirect is ignored (5.1) */
};

/* What the macro letters of RFC 7208 7.3 stand for.  All strings
 * NUL-terminated; p is asked for only when %{p} is used. */
struct spf_macro_vars {
	const char *sender;       /* s: <sender> (local-part@domain) */
	const char *local;        /* l: its local-part ("postmaster" when it had none) */
	const char *sender_domain;/* o */
	const char *domain;       /* d: the current <domain> */
	const char *ip_dotted;    /* i: dotted quad or dotted nibbles */
	const char *ip_text;      /* c: the address as people write it */
	const char *ip_version;   /* v: "in-addr" or "ip6" */
	const char *helo;         /* h */
	const char *receiver;     /* r */
	const char *time;         /* t: seconds since the epoch, decimal */
	const char *(*validated)(void *arg);   /* p: a validated name, or "unknown" */
	void *arg;
};

/* Whether txt is an SPF version 1 record: "v=spf1" (any case) then a
 * space or the end (4.5). */
int spf_record_is_spf1(const char *txt, size_t len);
/* Parse a whole record (starting with v=spf1) into rec.  0, or -1 with
 * *error_r on any syntax error (the record is a permerror). */
int spf_record_parse(const char *txt, size_t len, struct spf_record *rec, const char **error_r);
/* Whether p..len is a macro-string (explain: the explain-string of an
 * exp= TXT record, where spaces and the c, r and t letters may appear). */
int spf_macro_string_ok(const char *p, size_t len, int explain);
/* Expand the macro-string p..len into out (appended).  0, or -1 with
 * *error_r (syntax, or longer than out's cap). */
int spf_macro_expand(const char *p, size_t len, const struct spf_macro_vars *v, int explain,
		     struct buf *out, const char **error_r);
/* Lower-case text of a result ("pass", "permerror", ...). */
const char *spf_result_str(enum spf_result r);

#endif
