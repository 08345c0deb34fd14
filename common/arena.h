/* arena: a bump allocator whose allocations are all freed at once.  A
 * parsed IMAP command (its tokens and its typed form) lives in one arena
 * that is reset before the next command: no per-token free, no leak on
 * any error path.  The total handed out is capped; every size computation
 * is overflow-checked. */
#ifndef POSTERN_ARENA_H
#define POSTERN_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *first;    /* kept across arena_reset */
	struct arena_chunk *cur;      /* chunk allocations come from */
	size_t chunk_size;            /* usable bytes of an ordinary chunk */
	size_t used;                  /* bytes handed out since the last reset */
	size_t max;                   /* cap on used */
};

/* Initialise an empty arena with ordinary chunks of chunk_size bytes and
 * at most max bytes handed out between resets.  Allocates nothing. */
void arena_init(struct arena *a, size_t chunk_size, size_t max);
/* size bytes aligned for any type; NULL with errno EMSGSIZE (cap) or ENOMEM. */
void *arena_alloc(struct arena *a, size_t size);
/* n elements of size bytes each (overflow-checked), zeroed. */
void *arena_calloc(struct arena *a, size_t n, size_t size);
/* A NUL-terminated copy of n bytes at s. */
char *arena_strndup(struct arena *a, const void *s, size_t n);
/* Forget every allocation; keep the first chunk for reuse. */
void arena_reset(struct arena *a);
/* Overwrite every byte handed out since the last reset (secrets). */
void arena_wipe(struct arena *a);
/* Free all memory (wiping nothing); the arena may be used again. */
void arena_free(struct arena *a);

#endif
