/* dkim-sign: the DKIM signer service (docs/dkim.md, docs/protocols.md).
 *
 * Offers two requests on its socket, one record each:
 *   cmd=info domain=D    -> status=ok domain=SIGNING-DOMAIN, then for each
 *                           key selector=S alg=A (in map order); or
 *                           status=none (no key for D or a parent)
 *   cmd=sign domain=D selector=S digest=BASE64 (32 bytes)
 *                        -> status=ok b=BASE64, or status=fail reason=TEXT
 * It signs 32-byte digests only and parses no message: the header hash
 * is computed by its caller (common/dkim_sign.c).
 *
 * Runs as: postern-dkim, chrooted into the empty run/jail.  As root it
 * reads etc/dkim_keys and every key file under etc/dkim/ before the drop;
 * nothing is opened after.  Keys are loaded once per process: a changed
 * map takes effect when the master restarts the service (postern reload).
 *
 * Trusts: only enqueue's user (postern-queue) and root may connect
 * (daemon_peer_ok, from the service table); their requests are still
 * checked (names, a digest of exactly 32 bytes).
 *
 * Fails: a map that does not parse is fatal (the master restarts us and
 * the log says why); a key that cannot be loaded is skipped with a
 * warning, so its domain goes unsigned and `postern check` reports it.
 * Keys are freed (OpenSSL clears them) at exit. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base64.h"
#include "config.h"
#include "daemon.h"
#include "dkim_keys.h"
#include "dkim_sign.h"
#include "log.h"
#include "record.h"

#define SIGNER_ANSWER_MAX 4096

struct signer {
	struct dkim_key_entry *entries;
	EVP_PKEY **keys;          /* per entry; NULL when it could not be loaded */
	size_t n;
	int timeout_ms;
};

static void signer_read_map(const struct daemon *d, struct signer *s)
{
	char path[sizeof d->etc_dir + 16];
	const char *err;
	size_t line;
	struct stat st;
	char *text = NULL;
	int fd;

	if (snprintf(path, sizeof path, "%s/dkim_keys", d->etc_dir) >= (int)sizeof path)
		log_fatal("%s: path too long", d->etc_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			log_fatal("%s: %s", path, strerror(errno));
		log_info("no %s: nothing is signed", path);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > DKIM_KEYS_TEXT_MAX)
		log_fatal("%s: not a regular file of at most %d bytes", path, DKIM_KEYS_TEXT_MAX);
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL || read(fd, text, (size_t)st.st_size) != st.st_size)
		log_fatal("%s: cannot read: %s", path, strerror(errno));
	close(fd);
	if (dkim_keys_parse(text, (size_t)st.st_size, config_size("dkim_key_limit"), &s->entries, &s->n, &line,
			    &err) < 0)
		log_fatal("%s:%zu: %s", path, line, err);
	free(text);
}

/* The key of entry e, or NULL (logged). */
static EVP_PKEY *signer_load_key(const struct daemon *d, const struct dkim_key_entry *e)
{
	char path[sizeof d->etc_dir + DKIM_KEYS_FILE_MAX + 8];
	EVP_PKEY *key = NULL;
	FILE *f;

	if (snprintf(path, sizeof path, "%s/dkim/%s", d->etc_dir, e->file) >= (int)sizeof path)
		return NULL;
	if ((f = fopen(path, "re")) == NULL) {
		log_warn("%s: %s; %s is not signed with selector %s", path, strerror(errno), e->domain, e->selector);
		return NULL;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL) {
		log_warn("%s: not a PEM private key", path);
		return NULL;
	}
	if (e->alg == DKIM_ALG_ED25519_SHA256 ? EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519
	    : EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 1024 || EVP_PKEY_get_bits(key) > 4096) {
		/* RFC 8301 3.2: RSA keys of 1024 to 4096 bits */
		log_warn("%s: not an %s key%s", path, e->alg == DKIM_ALG_ED25519_SHA256 ? "Ed25519" : "RSA",
			 e->alg == DKIM_ALG_RSA_SHA256 ? " of 1024 to 4096 bits" : "");
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* The digest: base64 of exactly 32 bytes (common/base64.c, strict). */
static int signer_digest(const char *b64, unsigned char out[32])
{
	struct buf bin;
	int r = -1;

	buf_init(&bin, 32);
	if (b64 != NULL && base64_decode_strict(b64, strlen(b64), &bin) == 0 && bin.len == 32) {
		memcpy(out, bin.data, 32);
		r = 0;
	}
	buf_free(&bin);
	return r;
}

static int signer_info(const struct signer *s, const char *domain, struct buf *out)
{
	size_t found[2], idx[2], nfound = 0, k = 0;

	if (domain != NULL && strlen(domain) <= DKIM_KEYS_DOMAIN_MAX)
		nfound = dkim_keys_find(s->entries, s->n, domain, found);
	/* a key that failed to load does not sign */
	for (size_t i = 0; i < nfound; i++)
		if (s->keys[found[i]] != NULL)
			idx[k++] = found[i];
	if (k == 0)
		return record_put_str(out, "status", "none");
	if (record_put_str(out, "status", "ok") < 0 ||
	    record_put_str(out, "domain", s->entries[idx[0]].domain) < 0)
		return -1;
	for (size_t i = 0; i < k; i++)
		if (record_put_str(out, "selector", s->entries[idx[i]].selector) < 0 ||
		    record_put_str(out, "alg", dkim_alg_name(s->entries[idx[i]].alg)) < 0)
			return -1;
	return 0;
}

static int signer_sign(const struct signer *s, const struct record *req, struct buf *out)
{
	const char *domain = record_get(req, "domain"), *selector = record_get(req, "selector");
	unsigned char digest[32], b[DKIM_SIG_MAX_B];
	struct buf text;
	size_t b_len;
	int r;

	if (signer_digest(record_get(req, "digest"), digest) < 0 || domain == NULL || selector == NULL)
		return record_put_str(out, "status", "fail") < 0 ? -1
			: record_put_str(out, "reason", "malformed request");
	for (size_t i = 0; i < s->n; i++) {
		if (s->keys[i] == NULL || strcmp(s->entries[i].domain, domain) != 0 ||
		    strcmp(s->entries[i].selector, selector) != 0)
			continue;
		if (dkim_sign_digest(s->keys[i], s->entries[i].alg, digest, b, &b_len) < 0) {
			log_warn("signing for %s selector %s failed", domain, selector);
			break;
		}
		buf_init(&text, SIGNER_ANSWER_MAX);
		r = base64_encode(b, b_len, &text) < 0 || record_put_str(out, "status", "ok") < 0 ||
		    record_put(out, "b", text.data, text.len) < 0 ? -1 : 0;
		buf_free(&text);
		explicit_bzero(b, sizeof b);
		log_debug("signed for d=%s s=%s", domain, selector);
		return r;
	}
	return record_put_str(out, "status", "fail") < 0 ? -1 : record_put_str(out, "reason", "no such key");
}

/* daemon_answer_fn: one request. */
static int signer_answer(void *arg, struct record *req, struct buf *out)
{
	const struct signer *s = arg;
	const char *cmd = record_get(req, "cmd");
	int r;

	if (cmd != NULL && strcmp(cmd, "info") == 0)
		r = signer_info(s, record_get(req, "domain"), out);
	else if (cmd != NULL && strcmp(cmd, "sign") == 0)
		r = signer_sign(s, req, out);
	else
		r = record_put_str(out, "status", "fail") < 0 ? -1 : record_put_str(out, "reason", "unknown cmd");
	return r < 0 || record_end(out) < 0 ? -1 : 0;
}

static void signer_serve(int in_fd, int out_fd, void *arg)
{
	const struct signer *s = arg;

	daemon_serve_records(in_fd, out_fd, s->timeout_ms, SIGNER_ANSWER_MAX, signer_answer, arg);
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct signer s = { 0 };
	unsigned long long t;
	size_t loaded = 0;

	daemon_init(&d, "dkim-sign", argc, argv);
	if (d.argc != 0)
		log_fatal("unexpected argument: %s", d.argv[0]);
	t = config_time("ipc_timeout");
	s.timeout_ms = t > INT_MAX / 1000 ? INT_MAX : (int)(t * 1000);
	signer_read_map(&d, &s);
	s.keys = calloc(s.n ? s.n : 1, sizeof(*s.keys));
	if (s.keys == NULL)
		log_fatal("out of memory");
	for (size_t i = 0; i < s.n; i++)
		loaded += (s.keys[i] = signer_load_key(&d, &s.entries[i])) != NULL;
	log_debug("%zu of %zu keys loaded", loaded, s.n);
	daemon_drop(&d);
	daemon_serve(&d, signer_serve, &s);
	for (size_t i = 0; i < s.n; i++)
		EVP_PKEY_free(s.keys[i]);
	free(s.keys);
	free(s.entries);
	return 0;
}
