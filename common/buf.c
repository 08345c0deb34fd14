/* buf: the one growable byte buffer of Postern.
 *
 * Offers: a length-counted byte buffer that grows (doubling) up to a hard
 * cap fixed at buf_init, always NUL-terminated past its length so that
 * buf_cstr() is free, with printf-style appends that fail rather than
 * truncate; and str_copy, the same rule for a string into a fixed array.
 *
 * Trusts: nothing about the data (any byte, NUL included, may be stored);
 * the caller for a sane `max`.
 *
 * Fails: growth past the cap gives -1 with errno = EMSGSIZE, allocation
 * failure -1 with errno = ENOMEM; in both cases the buffer is unchanged,
 * so a caller can report the limit and go on.  Every size computation is
 * overflow-checked (the qmail stralloc lesson). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_MIN_ALLOC 64

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

/* Next allocation size able to hold need bytes (need includes the NUL):
 * doubling from the current size, but never beyond max + 1. */
static size_t buf_next_cap(const struct buf *b, size_t need)
{
	size_t limit = b->max == SIZE_MAX ? SIZE_MAX : b->max + 1;
	size_t cap = b->cap > 0 ? b->cap : BUF_MIN_ALLOC;

	while (cap < need) {
		size_t dbl;
		if (__builtin_mul_overflow(cap, (size_t)2, &dbl)) {
			cap = need;
			break;
		}
		cap = dbl;
	}
	if (cap > limit)
		cap = limit;
	if (cap < need)
		cap = need;
	return cap;
}

/* Make room for n more bytes plus the terminating NUL. */
static int buf_reserve(struct buf *b, size_t n)
{
	size_t newlen, need, cap;
	char *p;

	if (__builtin_add_overflow(b->len, n, &newlen) || newlen > b->max) {
		errno = EMSGSIZE;
		return -1;
	}
	if (__builtin_add_overflow(newlen, (size_t)1, &need)) {
		errno = EMSGSIZE;
		return -1;
	}
	if (b->data != NULL && need <= b->cap)
		return 0;
	cap = buf_next_cap(b, need);
	p = realloc(b->data, cap);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (b->data == NULL)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

char *buf_room(struct buf *b, size_t n)
{
	return buf_reserve(b, n) < 0 ? NULL : b->data + b->len;
}

void buf_extend(struct buf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = '\0';
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	/* Formatted straight into the room the buffer has, which is enough
	 * most of the time: one pass instead of a measuring one and a
	 * writing one (IMAP FETCH responses and every reply are printf'd).
	 * What did not fit is undone (the NUL back at len) and made again
	 * below.  The room may exceed max when a caller lowered max after
	 * growth (imap_fetch_render's limits): max is checked all the same. */
	if (b->data != NULL && b->cap > b->len + 1) {
		size_t room = b->cap - b->len;

		va_copy(ap2, ap);
		n = vsnprintf(b->data + b->len, room, fmt, ap2);
		va_end(ap2);
		if (n >= 0 && (size_t)n < room && b->len + (size_t)n <= b->max) {
			b->len += (size_t)n;
			return 0;
		}
		b->data[b->len] = '\0';
		if (n >= 0 && (size_t)n < room) {
			errno = EMSGSIZE;
			return -1;
		}
	} else {
		/* First pass measures, so that the result is never truncated. */
		va_copy(ap2, ap);
		n = vsnprintf(NULL, 0, fmt, ap2);
		va_end(ap2);
	}
	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	if (vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap) != n) {
		b->data[b->len] = '\0';
		errno = EINVAL;
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int buf_set(struct buf *b, const void *p, size_t n)
{
	if (n > b->max) {
		errno = EMSGSIZE;
		return -1;
	}
	/* p may point into our own data: copy with memmove after reserving
	 * relative to an empty length (reserve may move the block). */
	if (b->data != NULL && p >= (const void *)b->data &&
	    p < (const void *)(b->data + b->cap)) {
		memmove(b->data, p, n);
		b->len = n;
		b->data[n] = '\0';
		return 0;
	}
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
	return buf_append(b, p, n);
}

void buf_consume(struct buf *b, size_t n)
{
	if (b->data == NULL)
		return;
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	b->data[b->len] = '\0';
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->data[len] = '\0';   /* len < b->len, so data is allocated */
}

const char *buf_cstr(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

void buf_wipe(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	b->len = 0;
}

void buf_free(struct buf *b)
{
	size_t max = b->max;

	buf_wipe(b);
	free(b->data);
	buf_init(b, max);
}

int str_copy(char *out, size_t outlen, const char *s)
{
	size_t n = strlen(s);

	if (n >= outlen) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(out, s, n + 1);
	return 0;
}
