/* recipient: is this local recipient known, and how is its domain delivered.
 *
 * Offers: recipient_lookup() for smtpd's RCPT check, recipient_split()
 * (the one place where local@domain, base and +tag are cut apart, used by
 * local delivery too) and recipient_transport() for etc/transport.  The
 * lookup order mirrors deliver/local_resolve.c: a domain the transport
 * map sends over LMTP accepts every local part (the LMTP server answers
 * per recipient after DATA, and a 5xx there becomes a bounce); otherwise
 * the aliases map (address, bare local part, base address, bare base),
 * the mailboxes map (address, base address), the catch-all `@domain`,
 * and finally postmaster, which RFC 5321 4.5.1 requires to exist (local
 * defers it with a warning when it resolves nowhere, never loses it).
 * An alias is known even if its targets are not: local decides those
 * after the message was accepted, like Postfix's alias check.
 * recipient_same_mailbox() tells whether two spellings of a local
 * recipient reach the same place, so that smtpd stores it once.
 *
 * Trusts: the maps are the operator's; addresses are taken as (pointer,
 * length), bounded by ADDRESS_PATH_MAX.  Map values are not parsed here
 * except the transport value, which is parsed with (pointer, length)
 * (fuzz target tests/fuzz/fuzz_recipient.c).
 *
 * Fails: a map read error is RECIPIENT_ERROR (the caller answers 4xx:
 * a broken map must not turn into 550s); a malformed address is
 * RECIPIENT_UNKNOWN. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "recipient.h"

#define RECIPIENT_VALUE_MAX 65536     /* a map value read only to see that it exists */

int recipient_split(const char *addr, size_t len, const char *delimiters, struct recipient_parts *p)
{
	long at = address_at(addr, len);
	size_t dlen, cut;

	if (at <= 0 || len > ADDRESS_PATH_MAX || memchr(addr, '\0', len) != NULL)
		return -1;
	dlen = len - (size_t)at - 1;
	memcpy(p->local, addr, (size_t)at);
	p->local[at] = '\0';
	memcpy(p->domain, addr + at + 1, dlen);
	p->domain[dlen] = '\0';
	p->tag = NULL;
	p->base[0] = p->base_addr[0] = '\0';
	if (delimiters == NULL || delimiters[0] == '\0' || p->local[0] == '"')
		return 0;
	cut = strcspn(p->local, delimiters);
	if (cut == 0 || cut >= (size_t)at)
		return 0;
	memcpy(p->base, p->local, cut);
	p->base[cut] = '\0';
	p->tag = p->local + cut + 1;
	/* base is shorter than local: base@domain fits in len octets. */
	memcpy(p->base_addr, p->base, cut);
	p->base_addr[cut] = '@';
	memcpy(p->base_addr + cut + 1, p->domain, dlen + 1);
	return 0;
}

/* 1 key in map, 0 not (or no map), -1 read error. */
static int recipient_has(struct cdbmap *map, const char *key, const char **error_r, const char *what)
{
	struct buf v;
	int r;

	if (map == NULL || key[0] == '\0')
		return 0;
	buf_init(&v, RECIPIENT_VALUE_MAX);
	r = cdbmap_lookup(map, key, strlen(key), &v);
	buf_free(&v);
	if (r < 0)
		*error_r = what;
	return r;
}

int recipient_transport_parse(const char *value, size_t len, struct buf *dest_r, const char **error_r)
{
	/* Surrounding blanks are the text map's; a value is one word. */
	while (len > 0 && (value[0] == ' ' || value[0] == '\t'))
		value++, len--;
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if ((len == 5 && memcmp(value, "local", 5) == 0) || (len == 6 && memcmp(value, "local:", 6) == 0))
		return 0;
	if (len > 5 && strncasecmp(value, "lmtp:", 5) == 0) {
		for (size_t i = 5; i < len; i++)
			if ((unsigned char)value[i] <= 0x20 || value[i] == 0x7f) {
				errno = EINVAL;
				*error_r = "transport map: blank or control byte in an lmtp destination";
				return -1;
			}
		buf_reset(dest_r);
		if (buf_append(dest_r, value + 5, len - 5) < 0) {
			*error_r = "transport map: destination too long";
			errno = EINVAL;
			return -1;
		}
		return 1;
	}
	errno = EINVAL;
	*error_r = "transport map: value is neither local nor lmtp:DESTINATION";
	return -1;
}

int recipient_transport(const struct recipient_maps *m, const char *domain, size_t len,
			struct buf *dest_r, const char **error_r)
{
	struct buf v;
	int r;

	if (m->transport == NULL)
		return 0;
	buf_init(&v, RECIPIENT_TRANSPORT_MAX);
	r = cdbmap_lookup(m->transport, domain, len, &v);
	if (r < 0) {
		errno = EIO;
		*error_r = "transport map lookup failed";
	} else if (r > 0) {
		r = recipient_transport_parse(v.data, v.len, dest_r, error_r);
	}
	buf_free(&v);
	return r;
}

/* The aliases keys of p in local's order; 1 found, 0 not, -1 error. */
static int recipient_alias(const struct recipient_maps *m, const char *addr,
			   const struct recipient_parts *p, const char **error_r)
{
	const char *keys[4] = { addr, p->local, p->tag != NULL ? p->base_addr : "",
				p->tag != NULL ? p->base : "" };

	for (size_t i = 0; i < 4; i++) {
		int r = recipient_has(m->aliases, keys[i], error_r, "aliases map lookup failed");
		if (r != 0)
			return r;
	}
	return 0;
}

int recipient_lookup(const struct recipient_maps *m, const char *addr, size_t len, const char **error_r)
{
	struct recipient_parts p;
	char a[ADDRESS_PATH_MAX + 1], key[ADDRESS_PATH_MAX + 2];
	struct buf dest;
	int r;

	*error_r = "";
	if (recipient_split(addr, len, m->delimiters, &p) < 0)
		return RECIPIENT_UNKNOWN;
	memcpy(a, addr, len);
	a[len] = '\0';
	buf_init(&dest, RECIPIENT_TRANSPORT_MAX);
	r = recipient_transport(m, p.domain, strlen(p.domain), &dest, error_r);
	buf_free(&dest);
	if (r != 0)
		return r > 0 ? RECIPIENT_KNOWN : RECIPIENT_ERROR;
	r = recipient_alias(m, a, &p, error_r);
	if (r == 0)
		r = recipient_has(m->mailboxes, a, error_r, "mailboxes map lookup failed");
	if (r == 0 && p.tag != NULL)
		r = recipient_has(m->mailboxes, p.base_addr, error_r, "mailboxes map lookup failed");
	if (r == 0) {
		snprintf(key, sizeof key, "@%s", p.domain);   /* domain < ADDRESS_PATH_MAX: fits */
		r = recipient_has(m->aliases, key, error_r, "aliases map lookup failed");
	}
	if (r == 0 && strcasecmp(p.local, "postmaster") == 0)
		r = 1;
	return r < 0 ? RECIPIENT_ERROR : r > 0 ? RECIPIENT_KNOWN : RECIPIENT_UNKNOWN;
}

int recipient_same_mailbox(const struct recipient_maps *m, const char *a, size_t alen,
			   const char *b, size_t blen)
{
	struct recipient_parts pa, pb;
	struct buf dest;
	const char *error;
	int lmtp;

	if (alen != blen || strncasecmp(a, b, alen) != 0)
		return 0;
	if (memcmp(a, b, alen) == 0)
		return 1;
	/* Only local delivery folds case (its maps do); an LMTP server
	 * decides for itself, and an unreadable transport map keeps the
	 * two apart (one copy too many, never one too few). */
	if (recipient_split(a, alen, m->delimiters, &pa) < 0 ||
	    recipient_split(b, blen, m->delimiters, &pb) < 0)
		return 0;
	buf_init(&dest, RECIPIENT_TRANSPORT_MAX);
	lmtp = recipient_transport(m, pa.domain, strlen(pa.domain), &dest, &error);
	buf_free(&dest);
	if (lmtp != 0)
		return 0;
	/* The +tag names a Maildir++ folder, where case counts. */
	if ((pa.tag == NULL) != (pb.tag == NULL) || (pa.tag != NULL && strcmp(pa.tag, pb.tag) != 0))
		return 0;
	return 1;
}
