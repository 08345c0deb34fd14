/* verify_cache: remembered answers of recipient probes, in one file.
 *
 * Offers: verify_cache_open/get/put/close (verify_cache.h).  The file
 * (DIR/run/verify.cache, opened by each verify process before its
 * privilege drop) is a 64-byte header, then VERIFY_CACHE_SLOTS slots of
 * 64 bytes in buckets of VERIFY_CACHE_BUCKET: a slot holds the SHA-256
 * of its key (the caller's: LMTP destination and address), the wall
 * clock time of the answer, its kind and enhanced code.  A key lives in
 * the bucket its digest names; a new key takes an empty slot there, else
 * the oldest.  So the file never grows (1 MiB), and a flood of probed
 * addresses evicts old answers instead of filling a disk: an evicted
 * answer only costs one more probe.  Times to live are the caller's at
 * lookup, so a changed setting applies to what is stored already.
 *
 * Concurrency: every verify process opens the file itself; a lookup
 * reads its bucket under flock(LOCK_SH), a store rewrites one slot under
 * flock(LOCK_EX).  A slot is written by one pwrite of 64 aligned bytes.
 *
 * Trusts: the file only as far as its shape: the header must match
 * exactly (else the file is emptied), a slot's kind must be one of ours
 * and its code a valid RFC 3463 code, else the slot is a miss.  An
 * answer time more than a minute in the future (the clock was set back)
 * is a miss.
 *
 * Fails: open errors are returned; read errors are misses and write
 * errors -1, the caller then simply probes again next time. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "smtp_reply.h"
#include "verify_cache.h"

#define VERIFY_CACHE_BUCKET 8
#define VERIFY_CACHE_MAGIC "postern verify cache 1"
#define VERIFY_CACHE_FUTURE 60        /* seconds of clock skew taken as "now" */

struct verify_slot {
	unsigned char digest[32];
	int64_t when;                 /* time(2) of the answer */
	uint8_t kind;                 /* 0 empty, else enum verify_cache_result */
	char dsn[VERIFY_CACHE_DSN_MAX - 1];   /* NUL-terminated within */
	uint8_t pad[8];
};
_Static_assert(sizeof(struct verify_slot) == 64, "a slot is 64 bytes");

struct verify_header {
	char magic[48];
	uint32_t slots, slot_size, bucket, zero;
};
_Static_assert(sizeof(struct verify_header) == 64, "the header is 64 bytes");
_Static_assert(VERIFY_CACHE_SLOTS % VERIFY_CACHE_BUCKET == 0, "whole buckets");

#define VERIFY_CACHE_FILE_SIZE \
	((off_t)sizeof(struct verify_header) + (off_t)VERIFY_CACHE_SLOTS * (off_t)sizeof(struct verify_slot))

struct verify_cache {
	int fd;
};

static void verify_header_make(struct verify_header *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, VERIFY_CACHE_MAGIC, sizeof(VERIFY_CACHE_MAGIC));
	h->slots = VERIFY_CACHE_SLOTS;
	h->slot_size = sizeof(struct verify_slot);
	h->bucket = VERIFY_CACHE_BUCKET;
}

/* Whether fd holds a cache of our shape; else empty it into one. */
static int verify_cache_shape(int fd)
{
	struct verify_header want, have;
	struct stat st;

	verify_header_make(&want);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == VERIFY_CACHE_FILE_SIZE &&
	    pread(fd, &have, sizeof(have), 0) == (ssize_t)sizeof(have) &&
	    memcmp(&have, &want, sizeof(want)) == 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	/* Truncate to nothing first: every old slot becomes zero (empty). */
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, VERIFY_CACHE_FILE_SIZE) < 0 ||
	    pwrite(fd, &want, sizeof(want), 0) != (ssize_t)sizeof(want))
		return -1;
	return 0;
}

struct verify_cache *verify_cache_open(const char *path, const char **error_r)
{
	struct verify_cache *c;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		*error_r = strerror(errno);
		return NULL;
	}
	if (flock(fd, LOCK_EX) < 0 || verify_cache_shape(fd) < 0) {
		*error_r = strerror(errno);
		close(fd);
		return NULL;
	}
	(void)flock(fd, LOCK_UN);
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		*error_r = "out of memory";
		close(fd);
		return NULL;
	}
	c->fd = fd;
	return c;
}

void verify_cache_close(struct verify_cache **c)
{
	if (*c == NULL)
		return;
	close((*c)->fd);
	free(*c);
	*c = NULL;
}

static int verify_digest(const char *key, size_t len, unsigned char digest[32])
{
	unsigned int n = 0;

	return EVP_Digest(key, len, digest, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

/* Offset of the bucket of digest in the file. */
static off_t verify_bucket_offset(const unsigned char digest[32])
{
	uint64_t h = 0;

	for (int i = 0; i < 8; i++)
		h = h << 8 | digest[i];
	return (off_t)sizeof(struct verify_header) +
	       (off_t)(h % (VERIFY_CACHE_SLOTS / VERIFY_CACHE_BUCKET)) *
	       (off_t)(VERIFY_CACHE_BUCKET * sizeof(struct verify_slot));
}

/* Read the bucket of digest under the lock the caller holds. */
static int verify_bucket_read(const struct verify_cache *c, const unsigned char digest[32],
			      struct verify_slot bucket[VERIFY_CACHE_BUCKET])
{
	size_t n = VERIFY_CACHE_BUCKET * sizeof(struct verify_slot);

	return pread(c->fd, bucket, n, verify_bucket_offset(digest)) == (ssize_t)n ? 0 : -1;
}

/* A slot's code, checked: the file is only as good as its shape. */
static int verify_slot_dsn_ok(const struct verify_slot *s)
{
	const char *nul = memchr(s->dsn, '\0', sizeof(s->dsn));

	return nul != NULL && smtp_enhanced_code_ok(s->dsn, (size_t)(nul - s->dsn));
}

enum verify_cache_result verify_cache_get(struct verify_cache *c, const char *key, size_t len,
					  time_t now, unsigned long long ok_ttl,
					  unsigned long long fail_ttl, char dsn_r[VERIFY_CACHE_DSN_MAX])
{
	struct verify_slot bucket[VERIFY_CACHE_BUCKET];
	unsigned char digest[32];
	int r;

	dsn_r[0] = '\0';
	if (verify_digest(key, len, digest) < 0 || flock(c->fd, LOCK_SH) < 0)
		return VERIFY_CACHE_MISS;
	r = verify_bucket_read(c, digest, bucket);
	(void)flock(c->fd, LOCK_UN);
	if (r < 0)
		return VERIFY_CACHE_MISS;
	for (int i = 0; i < VERIFY_CACHE_BUCKET; i++) {
		const struct verify_slot *s = &bucket[i];
		unsigned long long ttl;
		int64_t age;

		if (memcmp(s->digest, digest, sizeof(digest)) != 0)
			continue;
		if ((s->kind != VERIFY_CACHE_OK && s->kind != VERIFY_CACHE_FAIL) || !verify_slot_dsn_ok(s))
			return VERIFY_CACHE_MISS;
		ttl = s->kind == VERIFY_CACHE_OK ? ok_ttl : fail_ttl;
		age = (int64_t)now - s->when;
		if (age < -VERIFY_CACHE_FUTURE)
			return VERIFY_CACHE_MISS;   /* the clock was set back */
		if (age < 0)
			age = 0;
		if ((unsigned long long)age >= ttl)
			return VERIFY_CACHE_MISS;
		memcpy(dsn_r, s->dsn, sizeof(s->dsn));
		dsn_r[VERIFY_CACHE_DSN_MAX - 1] = '\0';
		return (enum verify_cache_result)s->kind;
	}
	return VERIFY_CACHE_MISS;
}

/* The slot a new answer for digest takes: its own, an empty one, else
 * the oldest. */
static int verify_slot_pick(const struct verify_slot bucket[VERIFY_CACHE_BUCKET],
			    const unsigned char digest[32])
{
	int pick = 0;

	for (int i = 0; i < VERIFY_CACHE_BUCKET; i++)
		if (memcmp(bucket[i].digest, digest, 32) == 0)
			return i;
	for (int i = 0; i < VERIFY_CACHE_BUCKET; i++) {
		if (bucket[i].kind == 0)
			return i;
		if (bucket[i].when < bucket[pick].when)
			pick = i;
	}
	return pick;
}

int verify_cache_put(struct verify_cache *c, const char *key, size_t len,
		     enum verify_cache_result result, const char *dsn, time_t now)
{
	struct verify_slot bucket[VERIFY_CACHE_BUCKET], slot;
	size_t dlen = strlen(dsn);
	int i, r = -1;

	if ((result != VERIFY_CACHE_OK && result != VERIFY_CACHE_FAIL) || dlen >= sizeof(slot.dsn) ||
	    !smtp_enhanced_code_ok(dsn, dlen))
		return -1;
	memset(&slot, 0, sizeof(slot));
	if (verify_digest(key, len, slot.digest) < 0)
		return -1;
	slot.when = (int64_t)now;
	slot.kind = (uint8_t)result;
	memcpy(slot.dsn, dsn, dlen);
	if (flock(c->fd, LOCK_EX) < 0)
		return -1;
	if (verify_bucket_read(c, slot.digest, bucket) == 0) {
		i = verify_slot_pick(bucket, slot.digest);
		if (pwrite(c->fd, &slot, sizeof(slot), verify_bucket_offset(slot.digest) +
			   (off_t)i * (off_t)sizeof(slot)) == (ssize_t)sizeof(slot))
			r = 0;
	}
	(void)flock(c->fd, LOCK_UN);
	return r;
}
