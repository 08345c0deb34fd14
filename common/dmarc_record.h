/* dmarc_record: the DMARC policy record of a domain (RFC 7489 6.3, 6.4),
 * the TXT record at _dmarc.DOMAIN, parsed into the tags a receiver
 * acts on; the reporting tags are checked and otherwise ignored. */
#ifndef POSTERN_DMARC_RECORD_H
#define POSTERN_DMARC_RECORD_H

#include <stddef.h>

#define DMARC_RECORD_MAX 4096     /* bytes of one record; a longer one is not used */
#define DMARC_RECORD_TAGS_MAX 64  /* tags read from one record; the rest are ignored */

enum dmarc_policy {
	DMARC_POLICY_UNSET = 0,   /* tag absent */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

enum dmarc_record_status {
	DMARC_RECORD_OK = 0,      /* a policy record to act on */
	DMARC_RECORD_NOT_DMARC,   /* does not begin with v=DMARC1: discarded (6.6.3 step 2) */
	DMARC_RECORD_NO_POLICY,   /* v=DMARC1, but p= (or sp=) missing or invalid and no valid rua= (6.6.3 step 6) */
};

/* Tags whose value was invalid and replaced by its default (6.3: "syntax
 * errors ... discarded in favor of default values"). */
#define DMARC_BAD_ADKIM 0x01u
#define DMARC_BAD_ASPF  0x02u
#define DMARC_BAD_PCT   0x04u
#define DMARC_BAD_RI    0x08u
#define DMARC_BAD_FO    0x10u
#define DMARC_BAD_RF    0x20u
#define DMARC_BAD_RUA   0x40u   /* rua= given without one valid URI */
#define DMARC_BAD_RUF   0x80u
#define DMARC_BAD_NP    0x100u  /* RFC 9091 np=: ignored when invalid */
#define DMARC_BAD_P     0x200u  /* p= or sp= invalid: p=none taken because rua= is valid */

struct dmarc_record {
	enum dmarc_policy p;      /* after 6.6.3 step 6: never UNSET when OK */
	enum dmarc_policy sp;     /* UNSET: p applies to subdomains too */
	enum dmarc_policy np;     /* RFC 9091, parsed only; UNSET when absent */
	char adkim, aspf;         /* 'r' relaxed (default) or 's' strict */
	unsigned pct;             /* 0..100, default 100 */
	unsigned long ri;         /* report interval, default 86400 */
	unsigned rua, ruf;        /* valid reporting URIs given */
	unsigned bad;             /* DMARC_BAD_* */
};

/* Parse one TXT record (its strings joined; p need not be NUL-terminated
 * and may hold NUL bytes) into rec.  DMARC_RECORD_OK, _NOT_DMARC or
 * _NO_POLICY; rec is filled (defaults included) in every case. */
enum dmarc_record_status dmarc_record_parse(const char *p, size_t len, struct dmarc_record *rec);
/* The keyword of a policy ("none", "quarantine", "reject"; "" when unset). */
const char *dmarc_policy_str(enum dmarc_policy p);

#endif
