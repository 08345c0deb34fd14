/* libFuzzer target for the slot reader of common/verify_cache.c (a
 * damaged or hostile cache file): a few keys are stored, then everything
 * of their slots but the key digest (time, kind, code, padding) is
 * overwritten with the input, and the keys are looked up.  Checks that a
 * hit carries a valid kind and a NUL-terminated code, and that a new
 * store is found again. */
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

static char fuzz_dir[] = "/tmp/fuzz_verify_cache_XXXXXX", fuzz_path[64];

/* The 1 MiB cache and its directory go with the process: long runs and
 * merges start many. */
static void fuzz_cleanup(void)
{
	unlink(fuzz_path);
	rmdir(fuzz_dir);
}

static void fuzz_init(void)
{
	const char *err;

	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	if (snprintf(fuzz_path, sizeof fuzz_path, "%s/verify.cache", fuzz_dir) >= (int)sizeof fuzz_path)
		abort();
	atexit(fuzz_cleanup);
	fuzz_cache = verify_cache_open(fuzz_path, &err);
	fuzz_fd = fuzz_cache != NULL ? open(fuzz_path, O_RDWR) : -1;
	if (fuzz_cache == NULL || fuzz_fd < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "", "a", "d\nbob@example.test", "unix:x\nroot@y" };
	const size_t nkeys = sizeof keys / sizeof keys[0];
	char dsn[VERIFY_CACHE_DSN_MAX];
	time_t now = (time_t)1700000000;
	size_t k = 0;

	if (fuzz_cache == NULL)
		fuzz_init();
	for (size_t i = 0; i < nkeys; i++)
		if (verify_cache_put(fuzz_cache, keys[i], strlen(keys[i]), VERIFY_CACHE_OK, "2.0.0", now) < 0)
			abort();
	if (pread(fuzz_fd, fuzz_image, sizeof fuzz_image, 64) != (ssize_t)sizeof fuzz_image)
		abort();
	for (size_t off = 0; size > 0 && off < sizeof fuzz_image; off += FUZZ_SLOT) {
		unsigned char *slot = fuzz_image + off;
		static const unsigned char zero[FUZZ_DIGEST];
		if (memcmp(slot, zero, FUZZ_DIGEST) == 0)
			continue;
		for (size_t j = FUZZ_DIGEST; j < FUZZ_SLOT; j++)
			slot[j] = data[k++ % size];
	}
	if (pwrite(fuzz_fd, fuzz_image, sizeof fuzz_image, 64) != (ssize_t)sizeof fuzz_image)
		abort();
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
