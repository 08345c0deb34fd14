/* arena: a bump allocator whose allocations are all freed at once.
 *
 * Offers: arena_alloc / arena_calloc / arena_strndup hand out memory from
 * chunks of a fixed size (a request larger than half a chunk gets a chunk
 * of its own, so one big literal does not waste the rest of a chunk);
 * arena_reset forgets everything in O(chunks) and keeps the first chunk,
 * so a steady stream of small commands allocates nothing after the first.
 *
 * Trusts: the caller for sane chunk_size and max.  Nothing about sizes:
 * every sum and product is overflow-checked.
 *
 * Fails: past the cap (bytes handed out since the last reset, padding
 * included) an allocation returns NULL with errno = EMSGSIZE; when malloc
 * fails, NULL with errno = ENOMEM.  The arena is unchanged by a failed
 * allocation. */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;                  /* usable bytes in data */
	size_t used;                  /* bytes handed out from data */
	alignas(max_align_t) unsigned char data[];
};

#define ARENA_ALIGN alignof(max_align_t)

void arena_init(struct arena *a, size_t chunk_size, size_t max)
{
	a->first = NULL;
	a->cur = NULL;
	a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
	a->used = 0;
	a->max = max;
}

static struct arena_chunk *arena_chunk_new(size_t size)
{
	struct arena_chunk *c;
	size_t total;

	if (__builtin_add_overflow(sizeof(*c), size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	c = malloc(total);
	if (c == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

/* Charge n bytes against the cap. */
static int arena_charge(struct arena *a, size_t n)
{
	size_t used;

	if (__builtin_add_overflow(a->used, n, &used) || used > a->max) {
		errno = EMSGSIZE;
		return -1;
	}
	a->used = used;
	return 0;
}

/* Space for size bytes at the given alignment (a power of two). */
static void *arena_take(struct arena *a, size_t size, size_t align)
{
	struct arena_chunk *c;
	size_t pad, need;

	if (a->first == NULL) {
		a->first = arena_chunk_new(a->chunk_size);
		if (a->first == NULL)
			return NULL;
		a->cur = a->first;
	}
	c = a->cur;
	pad = (align - (c->used & (align - 1))) & (align - 1);
	if (!__builtin_add_overflow(size, pad, &need) && need <= c->size - c->used) {
		if (arena_charge(a, need) < 0)
			return NULL;
		c->used += need;
		return c->data + c->used - size;
	}
	/* A request larger than half a chunk gets a chunk of its own, linked
	 * after the current one so that the current one keeps serving small
	 * requests; otherwise a new ordinary chunk becomes the current one. */
	if (arena_charge(a, size) < 0)
		return NULL;
	c = arena_chunk_new(size > a->chunk_size / 2 ? size : a->chunk_size);
	if (c == NULL) {
		a->used -= size;
		return NULL;
	}
	c->used = size;
	c->next = a->cur->next;
	a->cur->next = c;
	if (size <= a->chunk_size / 2)
		a->cur = c;
	return c->data;
}

void *arena_alloc(struct arena *a, size_t size)
{
	return arena_take(a, size == 0 ? 1 : size, ARENA_ALIGN);
}

void *arena_calloc(struct arena *a, size_t n, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = EMSGSIZE;
		return NULL;
	}
	p = arena_alloc(a, total);
	if (p != NULL)
		memset(p, 0, total == 0 ? 1 : total);
	return p;
}

char *arena_strndup(struct arena *a, const void *s, size_t n)
{
	size_t total;
	char *p;

	if (__builtin_add_overflow(n, (size_t)1, &total)) {
		errno = EMSGSIZE;
		return NULL;
	}
	p = arena_take(a, total, 1);
	if (p == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *c, *next;

	if (a->first == NULL)
		return;
	for (c = a->first->next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->first->next = NULL;
	a->first->used = 0;
	a->cur = a->first;
	a->used = 0;
}

void arena_wipe(struct arena *a)
{
	for (struct arena_chunk *c = a->first; c != NULL; c = c->next)
		explicit_bzero(c->data, c->used);
}

void arena_free(struct arena *a)
{
	arena_reset(a);
	free(a->first);
	a->first = NULL;
	a->cur = NULL;
}
