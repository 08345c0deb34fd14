/* auth_cache: recent successful password checks (see auth_cache.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth_cache.h"

#define AUTH_CACHE_MAGIC "pstnac2"     /* 8 bytes with the NUL */
#define AUTH_CACHE_KEY_WORDS 4         /* 32 bytes of HMAC-SHA256 */
/* Bytes of user, stored hash and password keyed: SASL_USER_MAX and
 * SASL_PASSWORD_MAX with their NULs leave 767 for the stored hash. */
#define AUTH_CACHE_KEY_INPUT 2048

struct auth_cache_header {
	char magic[8];
	uint64_t entries;
	unsigned char secret[32];
};

struct auth_cache_entry {
	uint64_t key[AUTH_CACHE_KEY_WORDS];  /* HMAC(secret, user NUL hash NUL password) */
	uint64_t expires;                    /* 0: empty or being written */
};

struct auth_cache {
	struct auth_cache_header *map;       /* NULL: a cache that always misses */
	struct auth_cache_entry *e;
	size_t n;
	size_t map_len;
	unsigned long long ttl;
};

static size_t auth_cache_bytes(size_t entries)
{
	return sizeof(struct auth_cache_header) + entries * sizeof(struct auth_cache_entry);
}

int auth_cache_memfd(size_t entries)
{
	struct auth_cache_header h;
	int fd;

	if (entries == 0) {
		errno = EINVAL;
		return -1;
	}
	if (entries > AUTH_CACHE_ENTRIES_MAX)
		entries = AUTH_CACHE_ENTRIES_MAX;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, AUTH_CACHE_MAGIC, sizeof(h.magic));
	h.entries = entries;
	if (getrandom(h.secret, sizeof(h.secret), 0) != (ssize_t)sizeof(h.secret))
		return -1;
	fd = memfd_create("postern-auth-cache", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int ok = fd >= 0 && ftruncate(fd, (off_t)auth_cache_bytes(entries)) == 0 &&
		 pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
		 fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0;
	int e = errno;
	OPENSSL_cleanse(&h, sizeof(h));
	if (!ok) {
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int auth_cache_attach(int fd, unsigned long long ttl, struct auth_cache **c_r)
{
	struct auth_cache *c;
	struct stat st;

	*c_r = NULL;
	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size < auth_cache_bytes(1)) {
		errno = EINVAL;
		return -1;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->map_len = (size_t)st.st_size;
	c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c->map == MAP_FAILED) {
		int e = errno;
		free(c);
		errno = e;
		return -1;
	}
	c->n = (size_t)c->map->entries;
	if (memcmp(c->map->magic, AUTH_CACHE_MAGIC, sizeof(c->map->magic)) != 0 || c->n == 0 ||
	    c->n > AUTH_CACHE_ENTRIES_MAX || auth_cache_bytes(c->n) != c->map_len) {
		munmap(c->map, c->map_len);
		free(c);
		errno = EINVAL;
		return -1;
	}
	c->e = (struct auth_cache_entry *)(c->map + 1);
	c->ttl = ttl;
	*c_r = c;
	return 0;
}

int auth_cache_new(size_t entries, unsigned long long ttl, struct auth_cache **c_r)
{
	*c_r = NULL;
	if (entries == 0 || ttl == 0) {
		*c_r = calloc(1, sizeof(**c_r));
		return *c_r == NULL ? -1 : 0;
	}
	int fd = auth_cache_memfd(entries);
	if (fd < 0)
		return -1;
	int r = auth_cache_attach(fd, ttl, c_r);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static int auth_cache_on(const struct auth_cache *c)
{
	return c != NULL && c->map != NULL && c->ttl > 0;
}

/* The entry key; 0, or -1 when OpenSSL fails or the login is longer
 * than AUTH_CACHE_KEY_INPUT (the cache is then bypassed, never
 * trusted: such a login is checked in full every time). */
static int auth_cache_key(const struct auth_cache *c, const char *user, const char *password,
			  size_t password_len, const char *stored_hash,
			  uint64_t key[AUTH_CACHE_KEY_WORDS])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	/* each with its NUL: "ab"+"c" differs from "a"+"bc" */
	size_t ulen = strlen(user) + 1, hlen = strlen(stored_hash) + 1;
	unsigned char msg[AUTH_CACHE_KEY_INPUT];
	int r = -1;

	if (ulen + hlen > sizeof(msg) || password_len > sizeof(msg) - ulen - hlen)
		return -1;
	memcpy(msg, user, ulen);
	memcpy(msg + ulen, stored_hash, hlen);
	memcpy(msg + ulen + hlen, password, password_len);
	if (HMAC(EVP_sha256(), c->map->secret, sizeof(c->map->secret), msg, ulen + hlen + password_len,
		 mac, &mac_len) != NULL && mac_len >= AUTH_CACHE_KEY_WORDS * sizeof(uint64_t)) {
		memcpy(key, mac, AUTH_CACHE_KEY_WORDS * sizeof(uint64_t));
		r = 0;
	}
	OPENSSL_cleanse(msg, ulen + hlen + password_len);
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

static struct auth_cache_entry *auth_cache_slot(const struct auth_cache *c,
						const uint64_t key[AUTH_CACHE_KEY_WORDS])
{
	return &c->e[key[0] % c->n];
}

int auth_cache_hit(const struct auth_cache *c, const char *user, const char *password,
		   size_t password_len, const char *stored_hash, unsigned long long now)
{
	uint64_t key[AUTH_CACHE_KEY_WORDS], diff = 0;

	if (!auth_cache_on(c) || auth_cache_key(c, user, password, password_len, stored_hash, key) < 0)
		return 0;
	struct auth_cache_entry *e = auth_cache_slot(c, key);
	uint64_t expires = __atomic_load_n(&e->expires, __ATOMIC_ACQUIRE);
	for (int i = 0; i < AUTH_CACHE_KEY_WORDS; i++)   /* every word: no early exit */
		diff |= __atomic_load_n(&e->key[i], __ATOMIC_RELAXED) ^ key[i];
	int hit = diff == 0 && expires > now;
	OPENSSL_cleanse(key, sizeof(key));
	return hit;
}

void auth_cache_put(struct auth_cache *c, const char *user, const char *password,
		    size_t password_len, const char *stored_hash, unsigned long long now)
{
	uint64_t key[AUTH_CACHE_KEY_WORDS];

	if (!auth_cache_on(c) || auth_cache_key(c, user, password, password_len, stored_hash, key) < 0)
		return;
	struct auth_cache_entry *e = auth_cache_slot(c, key);
	__atomic_store_n(&e->expires, 0, __ATOMIC_RELEASE);
	for (int i = 0; i < AUTH_CACHE_KEY_WORDS; i++)
		__atomic_store_n(&e->key[i], key[i], __ATOMIC_RELAXED);
	__atomic_store_n(&e->expires, (uint64_t)(now + c->ttl), __ATOMIC_RELEASE);
	OPENSSL_cleanse(key, sizeof(key));
}

void auth_cache_free(struct auth_cache **c)
{
	if (*c == NULL)
		return;
	if ((*c)->map != NULL)
		munmap((*c)->map, (*c)->map_len);
	free(*c);
	*c = NULL;
}
