/* auth_cache: recent successful password checks (see auth_cache.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth_cache.h"

#define AUTH_CACHE_KEY 32

struct auth_cache_entry {
	unsigned char key[AUTH_CACHE_KEY];      /* HMAC(secret, user NUL password) */
	unsigned char hash[SHA256_DIGEST_LENGTH];   /* SHA-256 of the stored hash */
	unsigned long long expires;             /* 0: empty slot */
};

struct auth_cache {
	unsigned char secret[32];
	unsigned long long ttl;
	size_t n;
	struct auth_cache_entry e[];
};

int auth_cache_new(size_t entries, unsigned long long ttl, struct auth_cache **c_r)
{
	struct auth_cache *c;

	*c_r = NULL;
	if (entries > AUTH_CACHE_ENTRIES_MAX)
		entries = AUTH_CACHE_ENTRIES_MAX;
	c = calloc(1, sizeof(*c) + entries * sizeof(c->e[0]));
	if (c == NULL)
		return -1;
	if (getrandom(c->secret, sizeof(c->secret), 0) != (ssize_t)sizeof(c->secret)) {
		int e = errno;
		free(c);
		errno = e;
		return -1;
	}
	c->ttl = ttl;
	c->n = ttl == 0 ? 0 : entries;
	*c_r = c;
	return 0;
}

/* The entry key of user + password; 0, or -1 when OpenSSL fails (the
 * cache is then bypassed, never trusted). */
static int auth_cache_key(const struct auth_cache *c, const char *user, const char *password,
			  size_t password_len, unsigned char key[AUTH_CACHE_KEY])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t ulen = strlen(user) + 1;      /* with its NUL: "ab"+"c" differs from "a"+"bc" */
	unsigned char *msg = malloc(ulen + password_len + 1);
	int r = -1;

	if (msg == NULL)
		return -1;
	memcpy(msg, user, ulen);
	memcpy(msg + ulen, password, password_len);
	if (HMAC(EVP_sha256(), c->secret, sizeof(c->secret), msg, ulen + password_len, mac, &mac_len) != NULL &&
	    mac_len >= AUTH_CACHE_KEY) {
		memcpy(key, mac, AUTH_CACHE_KEY);
		r = 0;
	}
	OPENSSL_cleanse(msg, ulen + password_len);
	OPENSSL_cleanse(mac, sizeof(mac));
	free(msg);
	return r;
}

static size_t auth_cache_slot(const struct auth_cache *c, const unsigned char key[AUTH_CACHE_KEY])
{
	uint64_t v;

	memcpy(&v, key, sizeof(v));
	return (size_t)(v % c->n);
}

int auth_cache_hit(const struct auth_cache *c, const char *user, const char *password,
		   size_t password_len, const char *stored_hash, unsigned long long now)
{
	unsigned char key[AUTH_CACHE_KEY], hash[SHA256_DIGEST_LENGTH];

	if (c == NULL || c->n == 0 || auth_cache_key(c, user, password, password_len, key) < 0)
		return 0;
	const struct auth_cache_entry *e = &c->e[auth_cache_slot(c, key)];
	int hit = e->expires > now && CRYPTO_memcmp(e->key, key, sizeof(key)) == 0;
	if (hit) {
		SHA256((const unsigned char *)stored_hash, strlen(stored_hash), hash);
		hit = CRYPTO_memcmp(e->hash, hash, sizeof(hash)) == 0;
	}
	OPENSSL_cleanse(key, sizeof(key));
	return hit;
}

void auth_cache_put(struct auth_cache *c, const char *user, const char *password,
		    size_t password_len, const char *stored_hash, unsigned long long now)
{
	unsigned char key[AUTH_CACHE_KEY];

	if (c == NULL || c->n == 0 || auth_cache_key(c, user, password, password_len, key) < 0)
		return;
	struct auth_cache_entry *e = &c->e[auth_cache_slot(c, key)];
	memcpy(e->key, key, sizeof(key));
	SHA256((const unsigned char *)stored_hash, strlen(stored_hash), e->hash);
	e->expires = now + c->ttl;
	OPENSSL_cleanse(key, sizeof(key));
}

void auth_cache_free(struct auth_cache **c)
{
	if (*c == NULL)
		return;
	OPENSSL_cleanse(*c, sizeof(**c) + (*c)->n * sizeof((*c)->e[0]));
	free(*c);
	*c = NULL;
}
