/* imap_search_eval: whether one message matches a parsed SEARCH program
 * (imap_search.h; RFC 3501 and RFC 9051 6.4.4, CONDSTORE's MODSEQ, WITHIN's
 * OLDER / YOUNGER, SEARCHRES's "$").  The session compiles a program once
 * per command, then asks message by message; what it must supply is in
 * struct imap_search_env and struct imap_search_msg.  No I/O: message
 * bytes come from the caller (given, or loaded on demand).  See the .c. */
#ifndef POSTERN_IMAP_SEARCH_EVAL_H
#define POSTERN_IMAP_SEARCH_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap_search.h"
#include "imap_types.h"

/* Bytes one compiled program may use (folded strings, resolved sets). */
#define IMAP_SEARCH_EVAL_MEM_MAX (64u << 20)

/* What of a message a program reads, beyond its flags, sizes and dates. */
enum imap_search_need {
	IMAP_SEARCH_NEED_NONE,    /* nothing: flags, keywords, sizes, dates, sets, MODSEQ */
	IMAP_SEARCH_NEED_HEADER,  /* the header (the bytes up to the blank line) */
	IMAP_SEARCH_NEED_FULL,    /* the whole message (BODY, TEXT) */
};

/* What the session knows once per command. */
struct imap_search_env {
	uint32_t max_seq;                 /* messages in the view: "*" of a sequence set */
	uint32_t max_uid;                 /* UID of the last message: "*" of a UID set */
	const struct imap_seqset *saved;  /* "$": the saved result as resolved UIDs (NULL: empty) */
	int64_t now;                      /* seconds since the epoch, for OLDER / YOUNGER */
	int zone;                         /* the server's zone, minutes east of UTC, for the
					     dates of internal dates (BEFORE, ON, SINCE) */
};

/* One message.  data may be NULL: load (if set) is then called the first
 * time the program needs the bytes, with what it needs; it returns 0 with
 * the bytes (valid until the match returns), or -1. */
struct imap_search_msg {
	uint32_t seq, uid;
	unsigned int flags;               /* IMAP_FLAG_*, \Recent included */
	const char *const *keywords;      /* keyword names (compared ASCII case-insensitively) */
	unsigned int nkeywords;
	uint64_t modseq;
	uint64_t emailid;                 /* RFC 8474, "E" and 16 hex digits; 0: none */
	uint64_t size;                    /* RFC822.SIZE */
	int64_t internal_date;            /* seconds since the epoch */
	const char *data;                 /* the message (LF or CRLF line ends), its header only
					     when the program needs no more, or NULL */
	size_t len;
	int (*load)(void *ctx, enum imap_search_need need, const char **data_r, size_t *len_r);
	void *load_ctx;
};

/* Results of imap_search_eval_new besides 0. */
#define IMAP_SEARCH_EVAL_NOMEM (-1)       /* out of memory: NO */
#define IMAP_SEARCH_EVAL_BADCHARSET (-2)  /* CHARSET unknown: NO [BADCHARSET (...)] */
#define IMAP_SEARCH_EVAL_BADSTRING (-3)   /* a string not valid in CHARSET: BAD */

/* The charsets CHARSET surely accepts, for NO [BADCHARSET (...)]. */
#define IMAP_SEARCH_CHARSETS "UTF-8 US-ASCII ISO-8859-1 WINDOWS-1252"

struct imap_search_eval;

/* What of each message the program needs (NONE, HEADER or FULL). */
enum imap_search_need imap_search_needs(const struct imap_search *s);
/* Compile s for env (both may go once this returns).  0 with *ev_r, or
 * IMAP_SEARCH_EVAL_* with *error_r. */
int imap_search_eval_new(const struct imap_search *s, const struct imap_search_env *env,
			 struct imap_search_eval **ev_r, const char **error_r);
/* 1 when msg matches, 0 when not, -1 with *error_r when its bytes were
 * needed and could not be had, or memory ran out. */
int imap_search_eval_match(struct imap_search_eval *ev, const struct imap_search_msg *msg,
			   const char **error_r);
/* Free a compiled program and set *ev to NULL (NULL is fine). */
void imap_search_eval_free(struct imap_search_eval **ev);

/* Append the folded form of UTF-8 text (case mapped and decomposed as
 * RFC 5051 i;unicode-casemap does; malformed bytes kept).  0 or -1 (cap). */
int imap_search_fold(const char *p, size_t n, struct buf *out);

#endif
