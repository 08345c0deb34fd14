/* hash: FNV-1a over strings and bytes, 32 and 64 bits, for the hash
 * tables of qmgr, smtpd's session slots and remote's connection slots.
 * Start from HASH_FNV32_INIT / HASH_FNV64_INIT (or a seed mixed into it)
 * and feed strings or bytes in order.  Not keyed: use it only where a
 * crafted collision costs a longer chain or a shared bound, never a
 * security decision. */
#ifndef POSTERN_HASH_H
#define POSTERN_HASH_H

#include <stdint.h>

#define HASH_FNV32_INIT 2166136261u
#define HASH_FNV64_INIT 14695981039346656037ULL   /* 0xcbf29ce484222325 */

/* h with the octets of the NUL-terminated s folded in (FNV-1a, 32 bits). */
static inline uint32_t hash_fnv32_str(uint32_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* h with one octet folded in (FNV-1a, 64 bits). */
static inline uint64_t hash_fnv64_byte(uint64_t h, unsigned char c)
{
	return (h ^ c) * 1099511628211ULL;
}

/* h with the octets of the NUL-terminated s folded in (FNV-1a, 64 bits). */
static inline uint64_t hash_fnv64_str(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = hash_fnv64_byte(h, (unsigned char)*s);
	return h;
}

#endif
