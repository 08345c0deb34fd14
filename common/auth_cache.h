/* auth_cache: the recent successful password checks of one authd
 * process, so that a client that logs in again and again (a phone that
 * reconnects, a submission client that authenticates per message) does
 * not pay crypt(3) each time (yescrypt: 30-100 ms of CPU), as Dovecot's
 * auth_cache does.
 *
 * An entry's key is HMAC-SHA256, under 32 random bytes drawn when the
 * cache is made and held only in this process's memory, of the user (as
 * stored), a NUL and the password: neither the password nor anything an
 * attacker could test guesses against offline is kept, and a restart
 * forgets everything.  Its value is the SHA-256 of the user's stored
 * hash at the time and an expiry: an entry counts only while the users
 * file still holds the same hash for that user, so `postern user passwd`
 * and `postern user del` void a user's entries in every authd process at
 * once, without telling them.  Only successes are stored; a wrong
 * password is never answered from here.
 *
 * The table is direct-mapped (a key's slot is fixed by its first bytes):
 * a bounded size, no allocation after creation, and a collision simply
 * replaces the older entry. */
#ifndef POSTERN_AUTH_CACHE_H
#define POSTERN_AUTH_CACHE_H

#include <stddef.h>

#define AUTH_CACHE_ENTRIES_MAX 1000000   /* largest auth_cache_size taken */

struct auth_cache;

/* A cache of `entries` slots (0: none, every call below then misses or
 * does nothing) whose entries live ttl seconds.  0, or -1 (errno: out of
 * memory, or no random bytes). */
int auth_cache_new(size_t entries, unsigned long long ttl, struct auth_cache **c_r);
/* 1 when user (as stored) and password passed a check less than ttl
 * seconds before `now` (a monotonic clock, seconds) while the user's
 * stored hash was stored_hash; else 0. */
int auth_cache_hit(const struct auth_cache *c, const char *user, const char *password,
		   size_t password_len, const char *stored_hash, unsigned long long now);
/* Remember a successful check at now. */
void auth_cache_put(struct auth_cache *c, const char *user, const char *password,
		    size_t password_len, const char *stored_hash, unsigned long long now);
/* Wipe and free; *c = NULL. */
void auth_cache_free(struct auth_cache **c);

#endif
