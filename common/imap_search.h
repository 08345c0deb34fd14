/* imap_search: SEARCH programs (RFC 3501 6.4.4, RFC 9051 6.4.4) read
 * from parsed arguments into a tree of typed keys, with the RETURN
 * options of ESEARCH (RFC 4731) and SEARCHRES (RFC 5182), CHARSET, the
 * MODSEQ key of CONDSTORE (RFC 7162) and OLDER / YOUNGER of WITHIN
 * (RFC 5032).  No I/O: matching messages is the server's business. */
#ifndef POSTERN_IMAP_SEARCH_H
#define POSTERN_IMAP_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "imap_parser.h"
#include "imap_types.h"

/* Deepest nesting of NOT / OR / ( ) in one program. */
#define IMAP_SEARCH_DEPTH_MAX 64

enum imap_search_key {
	/* no argument */
	IMAP_SEARCH_ALL, IMAP_SEARCH_ANSWERED, IMAP_SEARCH_DELETED, IMAP_SEARCH_DRAFT,
	IMAP_SEARCH_FLAGGED, IMAP_SEARCH_SEEN, IMAP_SEARCH_RECENT, IMAP_SEARCH_NEW, IMAP_SEARCH_OLD,
	IMAP_SEARCH_UNANSWERED, IMAP_SEARCH_UNDELETED, IMAP_SEARCH_UNDRAFT, IMAP_SEARCH_UNFLAGGED,
	IMAP_SEARCH_UNSEEN,
	/* str: a keyword */
	IMAP_SEARCH_KEYWORD, IMAP_SEARCH_UNKEYWORD,
	/* str: an objectid (RFC 8474 6) */
	IMAP_SEARCH_EMAILID, IMAP_SEARCH_THREADID,
	/* str: a string to find */
	IMAP_SEARCH_BCC, IMAP_SEARCH_BODY, IMAP_SEARCH_CC, IMAP_SEARCH_FROM, IMAP_SEARCH_SUBJECT,
	IMAP_SEARCH_TEXT, IMAP_SEARCH_TO,
	/* field and str */
	IMAP_SEARCH_HEADER,
	/* date */
	IMAP_SEARCH_BEFORE, IMAP_SEARCH_ON, IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE, IMAP_SEARCH_SENTON, IMAP_SEARCH_SENTSINCE,
	/* number */
	IMAP_SEARCH_LARGER, IMAP_SEARCH_SMALLER,     /* octets (number64) */
	IMAP_SEARCH_OLDER, IMAP_SEARCH_YOUNGER,      /* seconds (RFC 5032) */
	IMAP_SEARCH_MODSEQ,                          /* number (+ entry, RFC 7162) */
	/* set */
	IMAP_SEARCH_UID, IMAP_SEARCH_SEQSET,
	/* children */
	IMAP_SEARCH_NOT,          /* 1 child */
	IMAP_SEARCH_OR,           /* 2 children */
	IMAP_SEARCH_AND,          /* a ( ) list or the whole program: n children */
};

enum imap_search_entry_type { IMAP_ENTRY_ALL, IMAP_ENTRY_PRIV, IMAP_ENTRY_SHARED };

struct imap_search_node {
	enum imap_search_key key;
	const char *str;                  /* KEYWORD, string keys, HEADER value */
	size_t len;
	const char *field;                /* HEADER field name */
	struct imap_date date;
	uint64_t number;
	struct imap_seqset set;           /* UID, SEQSET */
	const char *entry;                /* MODSEQ entry name, or NULL */
	enum imap_search_entry_type entry_type;
	unsigned int count;               /* children */
	struct imap_search_node *children;
};

#define IMAP_SEARCH_RETURN_MIN   (1u << 0)
#define IMAP_SEARCH_RETURN_MAX   (1u << 1)
#define IMAP_SEARCH_RETURN_ALL   (1u << 2)
#define IMAP_SEARCH_RETURN_COUNT (1u << 3)
#define IMAP_SEARCH_RETURN_SAVE  (1u << 4)

struct imap_search {
	const char *charset;              /* as written, or NULL */
	bool esearch;                     /* RETURN given: answer with ESEARCH */
	unsigned int ret;                 /* IMAP_SEARCH_RETURN_*; RETURN () means ALL */
	bool uses_saved;                  /* a "$" occurs in the program */
	bool uses_modseq;                 /* a MODSEQ key occurs (CONDSTORE) */
	bool uses_objectid;               /* an EMAILID or THREADID key occurs (RFC 8474) */
	struct imap_search_node root;     /* IMAP_SEARCH_AND of the top-level keys */
};

/* Read SEARCH's arguments (after the command name): [RETURN (...)]
 * [CHARSET x] key *(SP key).  0, or -1 with *error_r for a tagged BAD. */
int imap_search_parse(const struct imap_arg *args, unsigned int count, struct arena *a,
		      struct imap_search *r, const char **error_r);

/* SORT's and THREAD's search-criteria (RFC 5256): charset SP key *(SP key),
 * into r (not cleared first: RETURN may be there).  0, or -1 with *error_r. */
int imap_search_parse_criteria(const struct imap_arg *args, unsigned int count, struct arena *a,
			       struct imap_search *r, const char **error_r);
/* The list after RETURN (RFC 4731, RFC 5267) into r.  0, or -1 with *error_r. */
int imap_search_parse_return(const struct imap_arg *list, struct imap_search *r, const char **error_r);

#endif
