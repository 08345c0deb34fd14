/* verify_cache: the answers of recipient probes (deliver/verify.c),
 * shared by every verify process through one fixed-size file, so that a
 * second RCPT for the same address needs no new LMTP connection.  A
 * key's accepted and refused answers each live for their own time to
 * live, read at lookup; temporary answers are never stored. */
#ifndef POSTERN_VERIFY_CACHE_H
#define POSTERN_VERIFY_CACHE_H

#include <stddef.h>
#include <time.h>

#define VERIFY_CACHE_SLOTS 16384      /* entries kept; the oldest of a bucket makes room */
#define VERIFY_CACHE_DSN_MAX 16       /* an RFC 3463 code and its NUL */

enum verify_cache_result {
	VERIFY_CACHE_MISS = 0,        /* nothing fresh known */
	VERIFY_CACHE_OK,              /* the server took the recipient */
	VERIFY_CACHE_FAIL,            /* the server refused it (5xx) */
};

struct verify_cache;

/* Open (creating, mode 0600) the cache file at path and make it a cache
 * if it is not one (wrong size or header: emptied).  NULL with *error_r. */
struct verify_cache *verify_cache_open(const char *path, const char **error_r);
/* Close; *c = NULL; NULL is fine. */
void verify_cache_close(struct verify_cache **c);
/* The answer stored for key (len bytes) at most ok_ttl (accepted) or
 * fail_ttl (refused) seconds before now (0: that kind is never fresh);
 * a refusal's enhanced code goes to dsn_r.  Read errors are misses. */
enum verify_cache_result verify_cache_get(struct verify_cache *c, const char *key, size_t len,
					  time_t now, unsigned long long ok_ttl,
					  unsigned long long fail_ttl, char dsn_r[VERIFY_CACHE_DSN_MAX]);
/* Store result (OK or FAIL, with dsn, an enhanced code) for key as of
 * now, replacing its old answer or the oldest entry of its bucket.  0,
 * or -1 (the answer is just not remembered). */
int verify_cache_put(struct verify_cache *c, const char *key, size_t len,
		     enum verify_cache_result result, const char *dsn, time_t now);

#endif
