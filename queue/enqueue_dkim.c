/* enqueue_dkim: enqueue's side of DKIM signing (docs/dkim.md).
 *
 * Offers the per-message state of enqueue_dkim.h: while the data
 * streams to the queue file, the header section is kept (at most
 * ENQUEUE_DKIM_HEADER_MAX bytes) and the body is hashed incrementally
 * (common/dkim_canon.c, no copy of the body); at the end the signing
 * domain comes from the one From field, the dkim-sign service names the
 * keys for it (cmd=info), common/dkim_sign.c lays out each signature and
 * hashes the header, and the service signs the 32-byte digest (cmd=sign).
 *
 * Trusts: nothing in the message (a client wrote it): a header that is
 * too big, has too many fields, or no single parsable From is simply not
 * signed.  The signer's answers are checked (base64, sizes).
 *
 * Fails: -1 from enqueue_dkim_finish only when the signer could not
 * sign (down, slow, refusing); a missing private/dkim-sign socket means
 * the service is not in master.conf: nothing is signed, no failure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "config.h"
#include "daemon.h"
#include "dkim_canon.h"
#include "dkim_keys.h"
#include "enqueue_dkim.h"
#include "log.h"
#include "mime.h"
#include "mime_header.h"
#include "queuefile.h"
#include "record.h"

#define ENQUEUE_DKIM_KEYS 2   /* one RSA and one Ed25519 per domain */

struct enqueue_dkim {
	const struct enqueue_dkim_conf *conf;
	struct buf header;      /* the header section, blank line excluded */
	struct dkim_body body;
	int in_body;            /* the blank line was seen */
	int last_lf;            /* the last header byte was LF */
	int too_big;            /* the header passed its limit */
};

static const char *const enqueue_dkim_canons[] = { "simple/simple", "simple/relaxed", "relaxed/simple",
						   "relaxed/relaxed" };

void enqueue_dkim_conf_load(struct enqueue_dkim_conf *c, int timeout_ms)
{
	const char *canon = config_str("dkim_canonicalization"), *list = config_str("dkim_signed_headers");
	const char *item;
	size_t pos = 0, n, k;
	int has_from = 0;

	memset(c, 0, sizeof(*c));
	c->enabled = config_bool("dkim_signing");
	c->timeout_ms = timeout_ms;
	c->ttl = config_time("dkim_signature_ttl");
	for (k = 0; k < 4 && strcasecmp(canon, enqueue_dkim_canons[k]) != 0; k++)
		;
	if (k == 4) {
		log_warn("dkim_canonicalization = %s: not one of simple/simple, simple/relaxed, "
			 "relaxed/simple, relaxed/relaxed; using relaxed/relaxed", canon);
		k = 3;
	}
	c->c_header = k >= 2 ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	c->c_body = k % 2 ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	while (config_list_next(list, strlen(list), &pos, &item, &n))
		has_from |= n == 4 && strncasecmp(item, "from", 4) == 0;
	if (!has_from) {
		/* RFC 6376 5.4: From must be signed */
		log_warn("dkim_signed_headers does not name from; using the default list");
		list = config_default("dkim_signed_headers");
	}
	c->signed_headers = list;
	if (strcmp(config_str("dkim_sign_failure"), "accept") == 0)
		c->accept_on_failure = 1;
	else if (strcmp(config_str("dkim_sign_failure"), "tempfail") != 0)
		log_warn("dkim_sign_failure = %s: not tempfail or accept; using tempfail",
			 config_str("dkim_sign_failure"));
	c->slot = (size_t)config_size("dkim_prepend_slot");
	if (c->slot > QUEUEFILE_PREPEND_SLOT_MAX) {
		log_warn("dkim_prepend_slot = %zu: more than %d; using %d", c->slot, QUEUEFILE_PREPEND_SLOT_MAX,
			 QUEUEFILE_PREPEND_SLOT_MAX);
		c->slot = QUEUEFILE_PREPEND_SLOT_MAX;
	}
}

int enqueue_dkim_submitted(const char *proto, int submission)
{
	static const char *const auth[] = { "ESMTPA", "ESMTPSA", "UTF8SMTPA", "UTF8SMTPSA" };

	if (submission)
		return 1;
	for (size_t i = 0; proto != NULL && i < sizeof(auth) / sizeof(auth[0]); i++)
		if (strcmp(proto, auth[i]) == 0)
			return 1;
	return 0;
}

struct enqueue_dkim *enqueue_dkim_start(const struct enqueue_dkim_conf *c)
{
	struct enqueue_dkim *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->conf = c;
	d->last_lf = 1;   /* a first byte LF is the blank line: no header */
	buf_init(&d->header, ENQUEUE_DKIM_HEADER_MAX);
	if (dkim_body_init(&d->body, c->c_body, UINT64_MAX, NULL) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

void enqueue_dkim_data(struct enqueue_dkim *d, const char *p, size_t n)
{
	size_t i = 0;

	if (!d->in_body) {
		/* up to and including the LF that ends the blank line */
		for (; i < n; i++) {
			if (p[i] == '\n' && d->last_lf) {
				d->in_body = 1;
				i++;
				break;
			}
			if (p[i] != '\r')   /* CRLF as well as LF ends a line */
				d->last_lf = p[i] == '\n';
		}
		if (!d->too_big && buf_append(&d->header, p, d->in_body ? i - 1 : i) < 0)
			d->too_big = 1;
	}
	if (d->in_body && i < n)
		dkim_body_update(&d->body, p + i, n - i);
}

/* The domain of the one From field's first address, lower case, into
 * out; NULL, or why the message is not signed. */
static const char *enqueue_dkim_from(const struct enqueue_dkim *d, char *out, size_t outlen)
{
	struct mime_header_iter it;
	struct mime_field f, from = { 0 };
	struct mime_arena arena;
	struct mime_address_list list = { 0 };
	const char *why = "From has no address with a domain";
	size_t nfrom = 0;

	mime_header_iter_init(&it, d->header.data ? d->header.data : "", d->header.len);
	while (mime_header_next(&it, &f))
		if (mime_field_is(&f.name, "from", 4) && nfrom++ == 0)
			from = f;
	if (nfrom != 1)
		return nfrom == 0 ? "no From field" : "more than one From field";
	mime_arena_init(&arena);
	if (mime_address_list_parse(from.value.p, from.value.len, &arena, &list) < 0) {
		why = "out of memory";
	} else {
		for (size_t i = 0; i < list.n; i++) {
			const struct mime_str *h = &list.addrs[i].host;

			if (h->p == NULL)
				continue;   /* a group marker */
			if (h->len == 0 || h->len >= outlen ||
			    (h->len == 14 && memcmp(h->p, "MISSING_DOMAIN", 14) == 0))
				break;
			for (size_t k = 0; k < h->len; k++) {
				char c = h->p[k];

				if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				      c == '-' || c == '.' || c == '_'))
					goto done;
				out[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			}
			out[h->len] = '\0';
			why = NULL;
			break;
		}
	}
done:
	mime_address_list_free(&list);
	mime_arena_free(&arena);
	return why;
}

/* One exchange with dkim-sign.  0, 1 (no such service), -1 (failed). */
static int enqueue_dkim_call(const struct enqueue_dkim *d, const struct buf *req, struct record *ans)
{
	char path[128];
	enum record_call_status st;

	if (daemon_socket_path("dkim-sign", path, sizeof(path)) < 0)
		return -1;
	st = record_call(path, req, d->conf->timeout_ms, ans);
	if (st == RECORD_CALL_CONNECT && errno == ENOENT)
		return 1;
	return st == RECORD_CALL_OK ? 0 : -1;
}

struct enqueue_dkim_key {
	const char *selector;
	enum dkim_alg alg;
};

/* Sign with one key: the field into fields.  0, or -1 with *error_r. */
static int enqueue_dkim_one(const struct enqueue_dkim *d, const char *domain, const struct enqueue_dkim_key *k,
			    const unsigned char bh[32], uint64_t t, struct buf *fields, const char **error_r)
{
	struct dkim_sign_params p = { domain, k->selector, k->alg, d->conf->c_header, d->conf->c_body,
				      d->conf->signed_headers, t, d->conf->ttl ? t + d->conf->ttl : 0 };
	unsigned char digest[32];
	struct buf field, req, b, d64;
	struct record ans = { 0 };
	const char *v;
	int r = -1;

	buf_init(&field, DKIM_SIGN_FIELD_MAX);
	buf_init(&req, 1024);
	buf_init(&b, DKIM_SIG_MAX_B);
	buf_init(&d64, 64);
	if (dkim_sign_prepare(&p, d->header.data ? d->header.data : "", d->header.len, bh, &field, digest,
			      error_r) < 0)
		goto out;
	*error_r = "no answer from dkim-sign";
	if (base64_encode(digest, 32, &d64) < 0 || record_put_str(&req, "cmd", "sign") < 0 ||
	    record_put_str(&req, "domain", domain) < 0 || record_put_str(&req, "selector", k->selector) < 0 ||
	    record_put(&req, "digest", d64.data, d64.len) < 0 ||
	    record_end(&req) < 0 || enqueue_dkim_call(d, &req, &ans) != 0)
		goto out;
	*error_r = "dkim-sign refused to sign";
	if ((v = record_get(&ans, "status")) == NULL || strcmp(v, "ok") != 0 ||
	    (v = record_get(&ans, "b")) == NULL)
		goto out;
	*error_r = "bad signature from dkim-sign";
	if (base64_decode_strict(v, strlen(v), &b) < 0 || b.len == 0 ||
	    dkim_sign_finish(&field, (const unsigned char *)b.data, b.len) < 0 ||
	    buf_append(fields, field.data, field.len) < 0)
		goto out;
	r = 0;
out:
	record_clear(&ans);
	buf_free(&field);
	buf_free(&req);
	buf_free(&b);
	buf_free(&d64);
	return r;
}

/* cmd=info: the signing domain and its keys into sd and keys (strings
 * in ans).  The number of keys (0: none), or -1 (failed). */
static int enqueue_dkim_info(const struct enqueue_dkim *d, const char *domain, struct record *ans,
			     const char **sd, struct enqueue_dkim_key keys[ENQUEUE_DKIM_KEYS])
{
	struct buf req;
	const char *st;
	int n = 0, r;

	buf_init(&req, 1024);
	r = record_put_str(&req, "cmd", "info") < 0 || record_put_str(&req, "domain", domain) < 0 ||
	    record_end(&req) < 0 ? -1 : enqueue_dkim_call(d, &req, ans);
	buf_free(&req);
	if (r != 0)
		return r > 0 ? 0 : -1;
	if ((st = record_get(ans, "status")) != NULL && strcmp(st, "none") == 0)
		return 0;
	if (st == NULL || strcmp(st, "ok") != 0 || (*sd = record_get(ans, "domain")) == NULL)
		return -1;
	for (size_t i = 0; i + 1 < ans->n; i++) {
		const struct record_field *s = &ans->fields[i], *a = &ans->fields[i + 1];

		if (strcmp(s->key, "selector") != 0 || strcmp(a->key, "alg") != 0 || n == ENQUEUE_DKIM_KEYS)
			continue;
		keys[n].selector = s->value;
		keys[n].alg = strcmp(a->value, "ed25519-sha256") == 0 ? DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
		n++;
	}
	return n > 0 ? n : -1;
}

int enqueue_dkim_finish(struct enqueue_dkim *d, const char *queue_id, uint64_t t, struct buf *fields,
			const char **error_r)
{
	struct enqueue_dkim_key keys[ENQUEUE_DKIM_KEYS];
	struct record ans = { 0 };
	unsigned char bh[32];
	char domain[DKIM_KEYS_DOMAIN_MAX + 1];
	const char *why, *sd = NULL;
	int n, r = 0;

	buf_reset(fields);
	if (d->too_big) {
		log_info("%s: not DKIM-signed: header bigger than %d bytes", queue_id, ENQUEUE_DKIM_HEADER_MAX);
		return 0;
	}
	if ((why = enqueue_dkim_from(d, domain, sizeof(domain))) != NULL) {
		log_info("%s: not DKIM-signed: %s", queue_id, why);
		return 0;
	}
	if (dkim_body_final(&d->body, bh) < 0) {
		*error_r = "body hash failed";
		return -1;
	}
	n = enqueue_dkim_info(d, domain, &ans, &sd, keys);
	if (n < 0) {
		*error_r = "no answer from dkim-sign";
		r = -1;
	} else if (n == 0) {
		log_info("%s: not DKIM-signed: no key for %s", queue_id, domain);
	}
	for (int i = 0; i < n && r == 0; i++) {
		if (enqueue_dkim_one(d, sd, &keys[i], bh, t, fields, &why) == 0) {
			log_info("%s: DKIM-Signature d=%s s=%s a=%s", queue_id, sd, keys[i].selector,
				 dkim_alg_name(keys[i].alg));
		} else if (strcmp(why, "too many header fields to sign") == 0 ||
			   strcmp(why, "too many header fields") == 0 || strcmp(why, "header too big to hash") == 0) {
			log_info("%s: not DKIM-signed: %s", queue_id, why);   /* the message's doing */
			buf_reset(fields);
			break;
		} else {
			*error_r = why;
			r = -1;
		}
	}
	if (r < 0)
		buf_reset(fields);
	record_clear(&ans);
	return r;
}

void enqueue_dkim_free(struct enqueue_dkim **d)
{
	if (*d == NULL)
		return;
	dkim_body_free(&(*d)->body);
	buf_free(&(*d)->header);
	free(*d);
	*d = NULL;
}
