/* dovecot_keywords: reader and writer of Dovecot's Maildir
 * `dovecot-keywords`, the names of the keyword letters a-z in a folder's
 * file names ("0 $Junk" = letter 'a').  Pure: no I/O, no allocation.
 * See dovecot_keywords.c for the format. */
#ifndef POSTERN_DOVECOT_KEYWORDS_H
#define POSTERN_DOVECOT_KEYWORDS_H

#include <stddef.h>

#include "buf.h"

#define DOVECOT_KEYWORDS_NAME "dovecot-keywords"
/* Keyword letters in a Maildir name: 'a' (index 0) to 'z' (index 25). */
#define DOVECOT_KEYWORDS_MAX 26
/* Longest keyword name.  Dovecot refuses longer than its
 * mail_max_keyword_length, 50 by default; an operator may raise it. */
#define DOVECOT_KEYWORD_LEN_MAX 255
/* Largest valid file: 26 lines "NN NAME\n". */
#define DOVECOT_KEYWORDS_FILE_MAX (DOVECOT_KEYWORDS_MAX * (DOVECOT_KEYWORD_LEN_MAX + 4))

struct dovecot_keywords {
	size_t len[DOVECOT_KEYWORDS_MAX];                          /* 0: the letter has no name */
	char name[DOVECOT_KEYWORDS_MAX][DOVECOT_KEYWORD_LEN_MAX + 1];   /* NUL-terminated */
};

/* Empty the table (no letter named). */
void dovecot_keywords_init(struct dovecot_keywords *kw);
/* Whether name[0, len) can be a keyword: an IMAP atom of at most
 * DOVECOT_KEYWORD_LEN_MAX bytes (RFC 9051 flag-keyword). */
int dovecot_keyword_ok(const char *name, size_t len);
/* Parse a dovecot-keywords file held in p[0, len) into kw (initialised
 * here).  0, or -1 with *error_r (static) and kw empty. */
int dovecot_keywords_parse(const char *p, size_t len, struct dovecot_keywords *kw, const char **error_r);
/* The letter ('a'-'z') named name[0, len) (ASCII case-insensitive, as
 * IMAP keywords compare), or -1. */
int dovecot_keywords_letter(const struct dovecot_keywords *kw, const char *name, size_t len);
/* The name of letter (NUL-terminated, its length in *len_r when len_r is
 * not NULL), or NULL when the letter is not 'a'-'z' or has no name. */
const char *dovecot_keywords_name(const struct dovecot_keywords *kw, char letter, size_t *len_r);
/* The letter of name[0, len) in *letter_r, giving it the first free letter
 * when it has none: 1 when added (the file must be rewritten), 0 when it
 * had one, -1 with *error_r when the name is no keyword or all 26 letters
 * are taken. */
int dovecot_keywords_add(struct dovecot_keywords *kw, const char *name, size_t len, char *letter_r,
			 const char **error_r);
/* Append the file for kw, one "INDEX NAME\n" per named letter in letter
 * order, as Dovecot writes it.  0, or -1 with the buf's errno (b unchanged). */
int dovecot_keywords_write(const struct dovecot_keywords *kw, struct buf *b);

#endif
