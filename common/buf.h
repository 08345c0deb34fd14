/* buf: the one growable byte buffer of Postern.  Length-counted, always
 * NUL-terminated past len, growable up to a hard cap set at init; every
 * size computation is overflow-checked.  Growth past the cap fails with
 * errno = EMSGSIZE and leaves the buffer unchanged. */
#ifndef POSTERN_BUF_H
#define POSTERN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;   /* NULL until first growth; data[len] == '\0' after any append */
	size_t len;   /* bytes in use */
	size_t cap;   /* bytes allocated */
	size_t max;   /* hard cap on len */
};

/* Initialise an empty buffer that may hold at most max bytes. */
void buf_init(struct buf *b, size_t max);
/* Append n bytes; 0 on success, -1 with errno EMSGSIZE (cap) or ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Room for n more bytes at the end: where the caller may write them
 * (then buf_extend), or NULL with errno as buf_append.  Lets a reader
 * fill the buffer in place instead of copying through a block. */
char *buf_room(struct buf *b, size_t n);
/* Count n more bytes, written into the room buf_room gave (n at most
 * what it was asked for), as contents. */
void buf_extend(struct buf *b, size_t n);
/* Append a NUL-terminated string. */
int buf_append_str(struct buf *b, const char *s);
/* Append one byte. */
int buf_putc(struct buf *b, char c);
/* Append printf-formatted text; fails (EMSGSIZE) rather than truncating. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* va_list form of buf_printf. */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Replace the contents with n bytes. */
int buf_set(struct buf *b, const void *p, size_t n);
/* Drop the first n bytes (n > len empties the buffer). */
void buf_consume(struct buf *b, size_t n);
/* Set len to 0, keeping the allocation. */
void buf_reset(struct buf *b);
/* Cut the contents back to len bytes (len > b->len leaves them); errno is
 * kept, so a writer can undo a partial append after a failure. */
void buf_truncate(struct buf *b, size_t len);
/* The contents as a C string ("" when empty; never NULL). */
const char *buf_cstr(const struct buf *b);
/* Wipe the contents with explicit_bzero (for secrets), keeping the allocation. */
void buf_wipe(struct buf *b);
/* Free the allocation (wiping first) and reinitialise with the same cap. */
void buf_free(struct buf *b);

/* Copy the C string s into the fixed array out of outlen bytes: 0, or -1
 * with errno ENOSPC when it does not fit (never a clipped copy). */
int str_copy(char *out, size_t outlen, const char *s);

#endif
