/* libFuzzer target for the slot reader of common/verify_cache.c (a
 * damaged or hostile cache file): a few keys are stored, then everything
 * of their slots but the key digest (time, kind, code, padding) is
 * overwritten with the input, and the keys are looked up.  Checks that a
 * hit carries a valid kind and a NUL-terminated code, and that a new
 * store is found again.
 *
 * Speed: the harness's five keys (the four below and "k") are stored
 * once at start-up and the slots they took are listed then, so an input
 * rewrites only those slots' 32 bytes after the digest instead of
 * reading and rewriting the whole 1 MiB image.  The list cannot change
 * later: the digests are never overwritten, a store finds its key's own
 * slot again, and five keys cannot fill a bucket of VERIFY_CACHE_BUCKET
 * (8) slots, so nothing is ever evicted or placed anew.  The cache lives
 * on /dev/shm when there is one. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verify_cache.h"

#define FUZZ_SLOT 64
#define FUZZ_DIGEST 32

static struct verify_cache *fuzz_cache;
static int fuzz_fd = -1;
static unsigned char fuzz_image[VERIFY_CACHE_SLOTS * FUZZ_SLOT];
static off_t fuzz_slots[VERIFY_CACHE_SLOTS];   /* file offsets of the occupied slots */
static size_t fuzz_nslots;

static const char *const fuzz_keys[] = { "", "a", "d\nbob@example.test", "unix:x\nroot@y" };
#define FUZZ_NKEYS (sizeof fuzz_keys / sizeof fuzz_keys[0])

static char fuzz_dir[64], fuzz_path[96];

/* The 1 MiB cache and its directory go with the process: long runs and
 * merges start many. */
static void fuzz_cleanup(void)
{
	unlink(fuzz_path);
	rmdir(fuzz_dir);
}

static void fuzz_init(void)
{
	static const unsigned char zero[FUZZ_DIGEST];
	const char *err;

	if (snprintf(fuzz_dir, sizeof fuzz_dir, "%s/fuzz_verify_cache_XXXXXX",
		     access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") >= (int)sizeof fuzz_dir ||
	    mkdtemp(fuzz_dir) == NULL)
		abort();
	if (snprintf(fuzz_path, sizeof fuzz_path, "%s/verify.cache", fuzz_dir) >= (int)sizeof fuzz_path)
		abort();
	atexit(fuzz_cleanup);
	fuzz_cache = verify_cache_open(fuzz_path, &err);
	fuzz_fd = fuzz_cache != NULL ? open(fuzz_path, O_RDWR) : -1;
	if (fuzz_cache == NULL || fuzz_fd < 0)
		abort();
	for (size_t i = 0; i < FUZZ_NKEYS; i++)
		if (verify_cache_put(fuzz_cache, fuzz_keys[i], strlen(fuzz_keys[i]), VERIFY_CACHE_OK, "2.0.0",
				     (time_t)1700000000) < 0)
			abort();
	if (verify_cache_put(fuzz_cache, "k", 1, VERIFY_CACHE_FAIL, "5.1.1", (time_t)1700000000) < 0)
		abort();
	if (pread(fuzz_fd, fuzz_image, sizeof fuzz_image, 64) != (ssize_t)sizeof fuzz_image)
		abort();
	for (size_t off = 0; off < sizeof fuzz_image; off += FUZZ_SLOT)
		if (memcmp(fuzz_image + off, zero, FUZZ_DIGEST) != 0)
			fuzz_slots[fuzz_nslots++] = (off_t)(64 + off);
	if (fuzz_nslots != FUZZ_NKEYS + 1)
		abort();   /* each key its own slot: the list above holds */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *const *keys = fuzz_keys;
	const size_t nkeys = FUZZ_NKEYS;
	char dsn[VERIFY_CACHE_DSN_MAX];
	time_t now = (time_t)1700000000;
	size_t k = 0;

	if (fuzz_cache == NULL)
		fuzz_init();
	for (size_t i = 0; i < nkeys; i++)
		if (verify_cache_put(fuzz_cache, keys[i], strlen(keys[i]), VERIFY_CACHE_OK, "2.0.0", now) < 0)
			abort();
	for (size_t i = 0; size > 0 && i < fuzz_nslots; i++) {
		unsigned char tail[FUZZ_SLOT - FUZZ_DIGEST];
		for (size_t j = 0; j < sizeof tail; j++)
			tail[j] = data[k++ % size];
		if (pwrite(fuzz_fd, tail, sizeof tail, fuzz_slots[i] + FUZZ_DIGEST) != (ssize_t)sizeof tail)
			abort();
	}
	for (size_t i = 0; i < nkeys; i++) {
		enum verify_cache_result r = verify_cache_get(fuzz_cache, keys[i], strlen(keys[i]), now,
							      1000000, 1000000, dsn);
		if (r != VERIFY_CACHE_MISS && r != VERIFY_CACHE_OK && r != VERIFY_CACHE_FAIL)
			abort();
		if (r != VERIFY_CACHE_MISS && strnlen(dsn, sizeof dsn) >= sizeof dsn)
			abort();
	}
	if (verify_cache_put(fuzz_cache, "k", 1, VERIFY_CACHE_FAIL, "5.1.1", now) == 0 &&
	    verify_cache_get(fuzz_cache, "k", 1, now, 60, 60, dsn) != VERIFY_CACHE_FAIL)
		abort();
	return 0;
}
