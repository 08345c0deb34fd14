/* imap_string: write IMAP strings (RFC 3501 4.3, RFC 9051 4.3) in the
 * form the bytes allow: atom, quoted, literal or NIL.  See imap_string.c. */
#ifndef POSTERN_IMAP_STRING_H
#define POSTERN_IMAP_STRING_H

#include <stddef.h>

#include "buf.h"

/* Quoted strings may carry UTF-8 (IMAP4rev2, or UTF8=ACCEPT enabled). */
#define IMAP_STR_UTF8 0x01

enum imap_str_form { IMAP_STR_ATOM, IMAP_STR_QUOTED, IMAP_STR_LITERAL };

/* Whether c is an ATOM-CHAR (RFC 3501 9: no atom-specials). */
int imap_is_atom_char(int c);
/* Whether c is an ASTRING-CHAR (ATOM-CHAR or "]"). */
int imap_is_astring_char(int c);
/* The simplest form that can carry p[0..n): an atom only when
 * allow_atom and p is 1*ASTRING-CHAR and not "NIL". */
enum imap_str_form imap_string_form(const char *p, size_t n, int allow_atom, unsigned int flags);
/* Append p as a string (quoted or literal).  0 or -1 (out's cap). */
int imap_write_string(struct buf *out, const char *p, size_t n, unsigned int flags);
/* Append p as an nstring: NIL when p == NULL.  0 or -1. */
int imap_write_nstring(struct buf *out, const char *p, size_t n, unsigned int flags);
/* Append p as an astring: an atom when it can be one.  0 or -1. */
int imap_write_astring(struct buf *out, const char *p, size_t n, unsigned int flags);
/* Append a literal's prefix "{n}\r\n" (or "~{n}\r\n" with binary, RFC
 * 3516 literal8); the caller sends the n bytes.  0 or -1. */
int imap_write_literal_prefix(struct buf *out, size_t n, int binary);

#endif
