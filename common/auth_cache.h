/* auth_cache: recent successful password checks, shared by every authd
 * process, so that a client that logs in again and again (a phone that
 * reconnects, a submission client that authenticates per message) does
 * not pay crypt(3) each time (yescrypt: 30-100 ms of CPU), as Dovecot's
 * auth_cache does.
 *
 * The table lives in a memfd: the master makes one per configuration
 * generation (master_auth_cache.c) and hands it to every authd process,
 * so a success checked by one process answers the next login whichever
 * process takes it (a login process keeps its authd connection, so
 * without sharing each process would learn every user anew).  Nothing
 * is ever on disk, and a restart or reload of the master forgets all.
 *
 * An entry's key is HMAC-SHA256, under 32 random bytes drawn when the
 * memfd is made, of the user (as stored), a NUL, the user's stored hash,
 * a NUL and the password: neither the password nor anything to test
 * guesses against without the secret is kept, and an entry can only
 * match while the users file still holds the same hash for that user, so
 * `postern user passwd` and `postern user del` void a user's entries at
 * once, without telling anyone.  Only successes are stored; a wrong
 * password is never answered from here.
 *
 * The table is direct-mapped (a key's slot is fixed by its first bytes):
 * a bounded size, no allocation after creation, and a collision simply
 * replaces the older entry.  Processes write slots without a lock: each
 * 8-byte word is stored atomically and the expiry is cleared first, so a
 * reader racing a writer sees either no match or a key that some
 * process checked; mixing words of two keys into a third valid one is a
 * 2^-128 event. */
#ifndef POSTERN_AUTH_CACHE_H
#define POSTERN_AUTH_CACHE_H

#include <stddef.h>

#define AUTH_CACHE_ENTRIES_MAX 1000000   /* largest auth_cache_size taken */
#define AUTH_CACHE_ENV "POSTERN_AUTH_CACHE_FD"   /* the master's memfd, for authd */

struct auth_cache;

/* A new shared table of `entries` slots (1..AUTH_CACHE_ENTRIES_MAX,
 * larger is cut) with a fresh secret, in a sealed memfd (close-on-exec):
 * the descriptor, or -1 (errno). */
int auth_cache_memfd(size_t entries);
/* Use the table in fd (from auth_cache_memfd, in this or another
 * process; fd may be closed afterwards); entries live ttl seconds.
 * 0, or -1 (errno; EINVAL: fd holds no such table). */
int auth_cache_attach(int fd, unsigned long long ttl, struct auth_cache **c_r);
/* A table of this process's own (auth_cache_memfd + attach); `entries`
 * 0 or ttl 0 gives a cache that always misses.  0, or -1 (errno). */
int auth_cache_new(size_t entries, unsigned long long ttl, struct auth_cache **c_r);
/* 1 when user (as stored) and password passed a check less than ttl
 * seconds before `now` (CLOCK_MONOTONIC seconds: the same in every
 * process) while the user's stored hash was stored_hash; else 0. */
int auth_cache_hit(const struct auth_cache *c, const char *user, const char *password,
		   size_t password_len, const char *stored_hash, unsigned long long now);
/* Remember a successful check at now. */
void auth_cache_put(struct auth_cache *c, const char *user, const char *password,
		    size_t password_len, const char *stored_hash, unsigned long long now);
/* Unmap and free; *c = NULL (the table lives on in other processes). */
void auth_cache_free(struct auth_cache **c);

#endif
