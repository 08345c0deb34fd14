/* imap_list: which mailbox names LIST and LSUB return, and with which
 * attributes (RFC 3501 6.3.8-9, RFC 5258 LIST-EXTENDED, RFC 6154
 * SPECIAL-USE, RFC 9051 6.3.9), as a pure function of the names a store
 * has (existing, subscribed), the patterns and the options.  The mailbox
 * patterns are matched in time linear in the name (no backtracking). */
#ifndef POSTERN_IMAP_LIST_H
#define POSTERN_IMAP_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define IMAP_LIST_NAME_MAX 1024      /* longest name (stored form) taken into a LIST */

/* ---- patterns ---- */

struct imap_list_pattern;

/* Compile the pattern (pat, len) ("*", "%" wildcards, sep the hierarchy
 * separator).  0, or -1 with errno ENOMEM. */
int imap_list_pattern_compile(const char *pat, size_t len, char sep, struct imap_list_pattern **p_r);
/* Free a compiled pattern and NULL the pointer. */
void imap_list_pattern_free(struct imap_list_pattern **p);
/* Whether name (len bytes) matches; "INBOX" (and the names below it) is
 * matched without regard to the case of its five letters. */
bool imap_list_match(struct imap_list_pattern *p, const char *name, size_t len);
/* Whether the pattern's last character is "%" (RFC 9051 6.3.9: then the
 * matching levels of hierarchy are returned too). */
bool imap_list_pattern_pct_last(const struct imap_list_pattern *p);
/* Whether the pattern holds a "%" (RFC 3501 6.3.9: LSUB's parents). */
bool imap_list_pattern_has_pct(const struct imap_list_pattern *p);

/* ---- names ---- */

#define IMAP_LIST_EXISTS     (1u << 0)   /* a selectable mailbox of that name exists */
#define IMAP_LIST_SUBSCRIBED (1u << 1)   /* the name is subscribed */

struct imap_list_name {
	const char *name;        /* stored form, NUL-terminated */
	unsigned int flags;      /* IMAP_LIST_EXISTS, IMAP_LIST_SUBSCRIBED */
	const char *use;         /* its special-use attribute ("\\Sent"), or NULL */
};

/* Whether name is one LIST may show: 1 to IMAP_LIST_NAME_MAX bytes, no
 * control character, no empty level (nor a leading or trailing sep). */
bool imap_list_name_valid(const char *name, char sep);
/* Sort names by strcmp and merge duplicates (flags or-ed, the first use
 * kept); the new count. */
size_t imap_list_names_merge(struct imap_list_name *names, size_t n);

/* ---- one LIST or LSUB ---- */

/* Attributes of a reply. */
#define IMAP_LIST_NOSELECT      (1u << 0)
#define IMAP_LIST_NONEXISTENT   (1u << 1)
#define IMAP_LIST_HASCHILDREN   (1u << 2)
#define IMAP_LIST_HASNOCHILDREN (1u << 3)
#define IMAP_LIST_SUBSCRIBED_A  (1u << 4)   /* \Subscribed */
#define IMAP_LIST_CHILDINFO     (1u << 5)   /* extended data ("CHILDINFO" ("SUBSCRIBED")) */

struct imap_list_query {
	char sep;
	bool lsub;               /* LSUB: subscribed names, \Noselect parents */
	bool nonexistent;        /* \NonExistent (extended LIST, IMAP4rev2) rather than \Noselect */
	unsigned int select;     /* IMAP_LIST_SEL_* of imap_grammar.h */
	unsigned int ret;        /* IMAP_LIST_RET_* of imap_grammar.h */
};

struct imap_list_reply {
	const char *name;        /* stored form, len bytes (not NUL-terminated) */
	size_t len;
	unsigned int attrs;      /* IMAP_LIST_NOSELECT ... */
	const char *use;         /* special-use attribute to show, or NULL */
	bool selectable;         /* an existing mailbox (LIST-STATUS may follow) */
};

typedef void imap_list_emit_fn(void *ctx, const struct imap_list_reply *r);

/* Call emit once for every name the query returns, names being sorted
 * and merged (imap_list_names_merge).  0, or -1 with errno ENOMEM before
 * any emit. */
int imap_list_run(const struct imap_list_query *q, struct imap_list_pattern *const *pats, size_t npats,
		  const struct imap_list_name *names, size_t n, imap_list_emit_fn *emit, void *ctx);

#endif
