/* imap_types: the small typed pieces of the IMAP grammar (RFC 3501 and
 * RFC 9051 section 9) read from parsed arguments (imap_parser.h):
 * strings (astring, string, nstring), numbers, sequence sets, dates,
 * date-times, flags, and mailbox names in modified UTF-7 or UTF-8.  What
 * they build lives in the command arena.  Used by imap_fetch,
 * imap_search and imap_grammar; no I/O. */
#ifndef POSTERN_IMAP_TYPES_H
#define POSTERN_IMAP_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "imap_parser.h"

/* RFC 9051 section 9: number is 32-bit, number64 and mod-sequence 63-bit. */
#define IMAP_NUMBER_MAX UINT32_MAX
#define IMAP_NUMBER64_MAX INT64_MAX
/* Most ranges in one sequence set (a 64 KiB line holds at most ~32k). */
#define IMAP_SEQSET_RANGES_MAX 32768
/* Most keywords in one flag list. */
#define IMAP_FLAGS_KEYWORDS_MAX 256

/* --- strings */

/* The text of an astring (atom, quoted, or literal in memory; NIL is the
 * text "NIL"), or NULL when a is none of those, a literal8, or holds NUL. */
const char *imap_arg_astring(const struct imap_arg *a, size_t *len_r);
/* The text of a string (quoted or literal in memory), else NULL. */
const char *imap_arg_string(const struct imap_arg *a, size_t *len_r);
/* An nstring: NIL gives "" with *nil_r set; else as imap_arg_string. */
const char *imap_arg_nstring(const struct imap_arg *a, size_t *len_r, bool *nil_r);
/* True when (s, len) is the word (wlen bytes), ASCII case-insensitive
 * (no locale: IMAP keywords are ASCII). */
bool imap_word_eq(const char *s, size_t len, const char *word, size_t wlen);
/* True when a is the atom word (ASCII case-insensitive). */
static inline bool imap_arg_is_atom(const struct imap_arg *a, const char *word)
{
	return (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) &&
	       imap_word_eq(a->text, a->len, word, __builtin_strlen(word));
}

/* One row of a keyword table: the word, its length, what it stands for. */
struct imap_word {
	const char *name;
	size_t len;
	unsigned int value;
	unsigned int extra;
};
#define IMAP_WORD(name, value, extra) { name, sizeof(name) - 1, value, extra }
/* The row of table (n rows) whose word is (s, len), or NULL. */
const struct imap_word *imap_word_find(const char *s, size_t len, const struct imap_word *table, size_t n);
/* The same for an atom argument; NULL when a is no atom. */
const struct imap_word *imap_arg_word(const struct imap_arg *a, const struct imap_word *table, size_t n);
/* True when a is an atom made only of ATOM-CHARs (no "%", "*", "]"). */
bool imap_arg_is_strict_atom(const struct imap_arg *a);

/* --- numbers */

/* Parse 1*DIGIT at most max into *r (nonzero: digit-nz first as well when
 * nz).  0, or -1 for bad syntax or a value over max. */
int imap_number_parse(const char *s, size_t len, uint64_t max, bool nz, uint64_t *r);
/* The same for an atom argument. */
int imap_arg_number(const struct imap_arg *a, uint64_t max, bool nz, uint64_t *r);

/* --- sequence sets (RFC 9051 section 9 sequence-set; "$" of RFC 5182) */

/* "*" in a range: the largest number in use. */
#define IMAP_SEQ_STAR 0u

struct imap_seq_range {
	uint32_t lo, hi;              /* as written: lo may be above hi; IMAP_SEQ_STAR for "*" */
};

struct imap_seqset {
	bool saved;                   /* "$": the result saved by SEARCH RETURN (SAVE) */
	unsigned int count;
	struct imap_seq_range *ranges;
};

/* Parse a sequence set (allow_star: "*" allowed; allow_saved: "$"). */
int imap_seqset_parse(const char *s, size_t len, bool allow_star, bool allow_saved, struct arena *a,
		      struct imap_seqset *set_r, const char **error_r);
/* The same for an atom argument. */
int imap_arg_seqset(const struct imap_arg *arg, bool allow_star, bool allow_saved, struct arena *a,
		    struct imap_seqset *set_r, const char **error_r);
/* Resolve "*" to max, order every range, sort, merge, and drop what lies
 * above max, into *out (allocated in a).  Not for a "$" set. */
int imap_seqset_resolve(const struct imap_seqset *set, uint32_t max, struct arena *a,
			struct imap_seqset *out);
/* True when n is in a resolved set (binary search). */
bool imap_seqset_contains(const struct imap_seqset *resolved, uint32_t n);
/* The largest number written in the set ("*" not counted; 0 when none). */
uint32_t imap_seqset_highest(const struct imap_seqset *set);

/* --- dates (RFC 9051 section 9 date, date-time) */

struct imap_date {
	int year;                     /* 4 digits */
	int month;                    /* 1..12 */
	int day;                      /* 1..31, valid for the month */
	int64_t days;                 /* days since 1970-01-01 */
};

/* A date "1-Feb-1994" (atom or quoted). */
int imap_arg_date(const struct imap_arg *a, struct imap_date *r);
/* A date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (quoted): seconds since the
 * epoch (UTC) and the zone in minutes east of UTC. */
int imap_arg_date_time(const struct imap_arg *a, int64_t *time_r, int *zone_r);
/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t imap_days_from_civil(int year, int month, int day);

/* --- flags (RFC 9051 section 2.3.2) */

#define IMAP_FLAG_ANSWERED 0x01u
#define IMAP_FLAG_FLAGGED  0x02u
#define IMAP_FLAG_DELETED  0x04u
#define IMAP_FLAG_SEEN     0x08u
#define IMAP_FLAG_DRAFT    0x10u
#define IMAP_FLAG_RECENT   0x20u      /* read-only: never in STORE or APPEND */

struct imap_flags {
	unsigned int system;          /* IMAP_FLAG_* */
	unsigned int nkeywords;
	const char **keywords;        /* as written (keywords are atoms) */
};

/* Read flags from n arguments (the items of a flag-list, or STORE's
 * bare flags).  \Recent and unknown \Flags are refused. */
int imap_flags_parse(const struct imap_arg *items, unsigned int n, struct arena *a,
		     struct imap_flags *r, const char **error_r);
/* A flag list argument "(" [flag *(SP flag)] ")". */
int imap_arg_flag_list(const struct imap_arg *arg, struct arena *a, struct imap_flags *r,
		       const char **error_r);
/* The bit of a system flag name ("\Seen"), 0 when it is not one. */
unsigned int imap_flag_system(const char *name, size_t len);

/* --- mailbox names */

/* The UTF-8 name of a mailbox argument (astring): from modified UTF-7,
 * or, when utf8 (IMAP4rev2 / UTF8=ACCEPT enabled), as UTF-8 checked to be
 * well-formed.  "INBOX" in any case becomes "INBOX" (RFC 9051 5.1).
 * Control characters are refused. */
int imap_arg_mailbox(const struct imap_arg *arg, bool utf8, struct arena *a, const char **name_r,
		     const char **error_r);
/* The same for a LIST pattern (list-mailbox: also atoms with "%", "*"
 * and "]"); INBOX is not folded, the pattern matcher does that. */
int imap_arg_list_mailbox(const struct imap_arg *arg, bool utf8, struct arena *a, const char **name_r,
			  const char **error_r);

#endif
