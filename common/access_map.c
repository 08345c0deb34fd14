/* access_map: access(5)-style lookups of client addresses, host names and
 * envelope addresses (see the header for the key series).
 *
 * Trusts: nothing in the item (it comes from the network: a peer address,
 * a HELO argument, a parsed envelope address); it is bounded by
 * ACCESS_ITEM_MAX and copied before keys are cut from it.  The map is
 * the operator's, its values are still parsed strictly.
 *
 * DUNNO found under a key ends the walk as if nothing were found
 * (access(5): shorter keys are not tried).
 *
 * Fails: a bad value or a read error is -1 with a static message; the
 * caller answers with a temporary error rather than guess. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "access_map.h"
#include "buf.h"

#define ACCESS_VALUE_MAX 4096

/* IPv4 (or anything without ':'): the address and each octet prefix. */
static int access_keys_ipv4(char *k, size_t len, access_key_fn *fn, void *arg)
{
	int r;

	for (;;) {
		k[len] = '\0';
		if ((r = fn(arg, k, len)) != 0)
			return r;
		while (len > 0 && k[len - 1] != '.')
			len--;
		if (len <= 1)
			return 0;
		len--;   /* drop the dot */
	}
}

/* IPv6: the text as given, then the full hextet form and its prefixes. */
static int access_keys_ipv6(const char *item, size_t len, access_key_fn *fn, void *arg)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN], full[8 * 5 + 1];
	size_t ends[8], n = 0;
	int r;

	if (len >= sizeof(text))
		return 0;
	memcpy(text, item, len);
	text[len] = '\0';
	if ((r = fn(arg, text, len)) != 0 || inet_pton(AF_INET6, text, a) != 1)
		return r;
	for (int i = 0; i < 8; i++) {
		int w = snprintf(full + n, sizeof(full) - n, "%s%x", i ? ":" : "",
				 (unsigned)(a[2 * i] << 8 | a[2 * i + 1]));

		if (w < 0 || (size_t)w >= sizeof(full) - n)
			return 0;
		n += (size_t)w;
		ends[i] = n;
	}
	for (int i = 7; i >= 0; i--) {
		full[ends[i]] = '\0';
		if (i == 7 && strcmp(full, text) == 0)
			continue;   /* already offered */
		if ((r = fn(arg, full, ends[i])) != 0)
			return r;
	}
	return 0;
}

/* A host name and its parent domains; an address literal only as is. */
static int access_keys_domain(const char *d, size_t len, access_key_fn *fn, void *arg,
			      char *k)
{
	int r;

	while (len > 0 && d[len - 1] == '.')
		len--;   /* the root's dot: "example.com." is example.com */
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len;) {
		memcpy(k, d + i, len - i);
		k[len - i] = '\0';
		if ((r = fn(arg, k, len - i)) != 0)
			return r;
		if (d[0] == '[')
			return 0;
		while (i < len && d[i] != '.')
			i++;
		i++;   /* past the dot: the parent domain */
	}
	return 0;
}

/* user@domain, the domain series, user@. */
static int access_keys_email(const char *item, size_t len, access_key_fn *fn, void *arg, char *k)
{
	const char *at;
	size_t local;
	int r;

	if (len == 0) {
		memcpy(k, "<>", 3);
		return fn(arg, k, 2);
	}
	memcpy(k, item, len);
	k[len] = '\0';
	if ((r = fn(arg, k, len)) != 0)
		return r;
	at = memrchr(item, '@', len);
	if (at == NULL)
		return 0;
	local = (size_t)(at - item);
	if ((r = access_keys_domain(at + 1, len - local - 1, fn, arg, k)) != 0)
		return r;
	if (local == 0)
		return 0;
	memcpy(k, item, local + 1);
	k[local + 1] = '\0';
	return fn(arg, k, local + 1);
}

int access_keys(enum access_kind kind, const char *item, size_t len, access_key_fn *fn, void *arg)
{
	char k[ACCESS_ITEM_MAX + 3];

	if (len > ACCESS_ITEM_MAX || memchr(item, '\0', len) != NULL)
		return 0;
	switch (kind) {
	case ACCESS_ADDRESS:
		if (len == 0)
			return 0;
		if (memchr(item, ':', len) != NULL)
			return access_keys_ipv6(item, len, fn, arg);
		memcpy(k, item, len);
		return access_keys_ipv4(k, len, fn, arg);
	case ACCESS_DOMAIN:
		return access_keys_domain(item, len, fn, arg, k);
	case ACCESS_EMAIL:
		return access_keys_email(item, len, fn, arg, k);
	}
	return 0;
}

int access_action_parse(const char *value, size_t len, struct policy_action *a_r)
{
	if (policy_action_parse(value, len, a_r) < 0)
		return -1;
	switch (a_r->verdict) {
	case POLICY_OK: case POLICY_DUNNO: case POLICY_REJECT: case POLICY_DEFER:
	case POLICY_HOLD: case POLICY_DISCARD:
		return 0;
	default:
		a_r->verdict = POLICY_UNSUPPORTED;
		return -1;
	}
}

const char *access_value_check(const char *value, size_t len)
{
	struct policy_action a;

	return access_action_parse(value, len, &a) < 0
		? "not an access action (OK, DUNNO, REJECT, DEFER, 4NN/5NN text, HOLD or DISCARD)"
		: NULL;
}

struct access_find {
	struct cdbmap *map;
	struct buf value;
	struct policy_action *a;
	char *key_r;
	size_t cap;
	const char *error;
};

/* One key: 1 found (decided), 0 absent (go on), 2 DUNNO (stop: no
 * shorter key is tried, access(5)), -1 error. */
static int access_find_key(void *arg, const char *key, size_t len)
{
	struct access_find *f = arg;
	int r = cdbmap_lookup(f->map, key, len, &f->value);

	if (r < 0) {
		f->error = "map read error or value too long";
		return -1;
	}
	if (r == 0)
		return 0;
	if (access_action_parse(f->value.data != NULL ? f->value.data : "", f->value.len, f->a) < 0) {
		f->error = "bad access action in map";
		return -1;
	}
	if (f->a->verdict == POLICY_DUNNO)
		return 2;
	if (f->cap > 0)
		snprintf(f->key_r, f->cap, "%s", key);
	return 1;
}

int access_map_find(struct cdbmap *map, enum access_kind kind, const char *item,
		    struct policy_action *a_r, char *key_r, size_t cap, const char **error_r)
{
	struct access_find f = { .map = map, .a = a_r, .key_r = key_r, .cap = cap, .error = "" };
	int r;

	buf_init(&f.value, ACCESS_VALUE_MAX);
	r = access_keys(kind, item, strlen(item), access_find_key, &f);
	buf_free(&f.value);
	if (r < 0)
		*error_r = f.error;
	return r == 2 ? 0 : r;
}
