/* postern_dkim: `postern dkim keygen [-d DIR] [--type rsa|ed25519]
 * [--bits N] DOMAIN SELECTOR` (docs/dkim.md).
 *
 * Offers: a new DKIM key in DIR/etc/dkim/DOMAIN.SELECTOR.TYPE.pem
 * (PKCS#8 PEM, mode 0600 in a 0700 directory, both owned by the signer's
 * user postern-dkim when run as root and that user exists), its line in
 * DIR/etc/dkim_keys, and on stdout the DNS record to publish:
 *   SELECTOR._domainkey.DOMAIN. IN TXT ("v=DKIM1; k=rsa; p=..." "...")
 * with the value cut into strings of at most 255 bytes (RFC 1035
 * 3.3.14).  p= is the SubjectPublicKeyInfo for RSA (RFC 6376 3.6.1) and
 * the raw 32-byte key for Ed25519 (RFC 8463 4).
 *
 * Trusts: the operator; DOMAIN and SELECTOR must be DNS names (letters,
 * digits, '-', dots between labels) since they name a file.
 *
 * Fails: an existing key of that name is never overwritten. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base64.h"
#include "postern.h"

#define DKIM_USER "postern-dkim"
#define DKIM_TXT_STRING 255    /* RFC 1035 3.3.14: bytes in one character-string */

static int postern_dkim_usage(void)
{
	fputs("usage: postern dkim keygen [-d DIR] [--type rsa|ed25519] [--bits N] DOMAIN SELECTOR\n", stderr);
	return POSTERN_EXIT_USAGE;
}

/* A DNS name: labels of letters, digits and '-' (not at either end),
 * 1..63 bytes each, joined by dots; lowered in place. */
static int postern_dkim_name_ok(char *s, size_t max)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			s[i] = c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)))
			return 0;
		label++;
	}
	return 1;
}

static void postern_dkim_ssl_error(const char *what)
{
	unsigned long e = ERR_get_error();

	postern_err("%s: %s", what, e ? ERR_reason_error_string(e) : "failed");
}

/* The base64 of the public key as p= wants it. */
static int postern_dkim_public(EVP_PKEY *key, int ed25519, struct buf *p)
{
	unsigned char raw[32], *der = NULL;
	size_t rawlen = sizeof(raw);
	int len, r;

	if (ed25519) {
		if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1 || rawlen != 32)
			return -1;
		return base64_encode(raw, rawlen, p);
	}
	len = i2d_PUBKEY(key, &der);
	if (len <= 0)
		return -1;
	r = base64_encode(der, (size_t)len, p);
	OPENSSL_free(der);
	return r;
}

/* The record, its value cut into strings of at most 255 bytes. */
static int postern_dkim_record(struct buf *out, const char *domain, const char *selector, int ed25519,
			       const struct buf *p)
{
	struct buf value;
	int r = -1;

	buf_init(&value, 1 << 16);
	if (buf_printf(&value, "v=DKIM1; k=%s; p=%s", ed25519 ? "ed25519" : "rsa", buf_cstr(p)) < 0 ||
	    buf_printf(out, "%s._domainkey.%s. IN TXT (", selector, domain) < 0)
		goto done;
	for (size_t off = 0; off < value.len; off += DKIM_TXT_STRING) {
		size_t n = value.len - off < DKIM_TXT_STRING ? value.len - off : DKIM_TXT_STRING;
		if (buf_printf(out, "%s\"%.*s\"", off ? " " : "", (int)n, value.data + off) < 0)
			goto done;
	}
	r = buf_append_str(out, ")\n");
done:
	buf_free(&value);
	return r;
}

/* Who owns etc/dkim and the keys: postern-dkim as root (when it exists). */
static void postern_dkim_owner(struct postern_owner *own, mode_t mode)
{
	own->uid = (uid_t)-1;
	own->gid = (gid_t)-1;
	own->mode = mode;
	if (geteuid() == 0 && postern_user_ids(DKIM_USER, &own->uid, &own->gid) < 0) {
		own->uid = (uid_t)-1;
		own->gid = (gid_t)-1;
	}
}

#define DKIM_MAP_COMMENT "# DKIM signing keys (docs/dkim.md): domain selector algorithm key file under etc/dkim/\n"

int postern_dkim_init(const char *tree)
{
	char dir[PATH_MAX], map[PATH_MAX];
	struct postern_owner own, map_own = { (uid_t)-1, (gid_t)-1, 0644 };

	postern_dkim_owner(&own, 0700);
	if (postern_path(dir, sizeof(dir), "%s/etc/dkim", tree) < 0 ||
	    postern_path(map, sizeof(map), "%s/etc/dkim_keys", tree) < 0 || postern_mkdir(dir, &own) < 0)
		return -1;
	if (access(map, F_OK) == 0)
		return 0;
	return postern_write_file(map, DKIM_MAP_COMMENT, sizeof(DKIM_MAP_COMMENT) - 1, &map_own);
}

static int postern_dkim_save_key(EVP_PKEY *key, const char *path)
{
	BIO *mem = BIO_new(BIO_s_secmem());
	struct postern_owner own;
	char *data;
	long len;
	int r = -1;

	postern_dkim_owner(&own, 0600);
	if (mem == NULL || !PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) {
		postern_dkim_ssl_error("PEM encoding");
	} else {
		len = BIO_get_mem_data(mem, &data);
		if (len > 0)
			r = postern_write_file(path, data, (size_t)len, &own);
	}
	BIO_free(mem);   /* a secmem BIO is cleared when freed */
	return r;
}

/* Append "DOMAIN SELECTOR TYPE FILE" to etc/dkim_keys, refusing a second
 * key of the same domain and selector. */
static int postern_dkim_map_add(const char *tree, const char *domain, const char *selector,
				const char *type, const char *file)
{
	char path[PATH_MAX], prefix[512];
	struct buf text, line;
	struct postern_owner own = { (uid_t)-1, (gid_t)-1, 0644 };
	FILE *f;
	int r = -1;

	if (postern_path(path, sizeof(path), "%s/etc/dkim_keys", tree) < 0 ||
	    postern_path(prefix, sizeof(prefix), "\n%s %s ", domain, selector) < 0)
		return -1;
	buf_init(&text, POSTERN_FILE_MAX);
	buf_init(&line, 4096);
	f = fopen(path, "r");
	if (f != NULL) {
		char chunk[4096];
		size_t n;
		struct stat st;
		if (fstat(fileno(f), &st) == 0)
			own.mode = st.st_mode & 07777;
		if (buf_putc(&text, '\n') < 0)
			goto done;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			if (buf_append(&text, chunk, n) < 0) {
				postern_err("%s: too big", path);
				goto done;
			}
		if (ferror(f)) {
			postern_err("%s: %s", path, strerror(errno));
			goto done;
		}
		if (strstr(buf_cstr(&text), prefix) != NULL) {
			postern_err("%s: %s already has a key for selector %s", path, domain, selector);
			goto done;
		}
		buf_consume(&text, 1);
	} else if (errno != ENOENT) {
		postern_err("%s: %s", path, strerror(errno));
		goto done;
	} else if (buf_append_str(&text, DKIM_MAP_COMMENT) < 0) {
		goto done;
	}
	if (buf_printf(&line, "%s %s %s %s", domain, selector, type, file) < 0 ||
	    postern_text_append(&text, buf_cstr(&line)) < 0)
		goto done;
	r = postern_write_file(path, text.data, text.len, &own);
done:
	if (f != NULL)
		fclose(f);
	buf_free(&text);
	buf_free(&line);
	return r;
}

static int postern_dkim_keygen(const char *tree, char *domain, char *selector, int ed25519, unsigned bits)
{
	char dir[PATH_MAX], file[PATH_MAX], path[PATH_MAX];
	struct postern_owner own;
	struct buf p, out;
	struct stat st;
	EVP_PKEY *key = NULL;
	int r = POSTERN_EXIT_FAIL;

	if (!postern_dkim_name_ok(domain, 253) || !postern_dkim_name_ok(selector, 63)) {
		postern_err("DOMAIN and SELECTOR must be DNS names");
		return POSTERN_EXIT_USAGE;
	}
	postern_dkim_owner(&own, 0700);
	if (postern_lock_etc(tree) < 0 ||
	    postern_path(dir, sizeof(dir), "%s/etc/dkim", tree) < 0 ||
	    postern_path(file, sizeof(file), "%s.%s.%s.pem", domain, selector, ed25519 ? "ed25519" : "rsa") < 0 ||
	    postern_path(path, sizeof(path), "%s/%s", dir, file) < 0)
		return POSTERN_EXIT_FAIL;
	if (lstat(path, &st) == 0) {
		postern_err("%s exists; not overwritten", path);
		return POSTERN_EXIT_FAIL;
	}
	if (postern_mkdir(dir, &own) < 0)
		return POSTERN_EXIT_FAIL;
	if (ed25519)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	if (key == NULL) {
		postern_dkim_ssl_error("key generation");
		return POSTERN_EXIT_FAIL;
	}
	buf_init(&p, 1 << 14);
	buf_init(&out, 1 << 16);
	if (postern_dkim_public(key, ed25519, &p) < 0 ||
	    postern_dkim_record(&out, domain, selector, ed25519, &p) < 0) {
		postern_dkim_ssl_error("public key");
	} else if (postern_dkim_save_key(key, path) < 0) {
		/* nothing written */
	} else if (postern_dkim_map_add(tree, domain, selector, ed25519 ? "ed25519" : "rsa", file) < 0) {
		unlink(path);   /* no key without its line in the map */
	} else {
		if (geteuid() == 0 && own.uid == (uid_t)-1)
			postern_err("warning: no user %s yet: %s stays owned by root", DKIM_USER, path);
		r = postern_print(&out, 0, "the record");
	}
	EVP_PKEY_free(key);
	buf_free(&p);
	buf_free(&out);
	return r;
}

int postern_cmd_dkim(int argc, char **argv)
{
	const char *dir = NULL;
	char *args[2];
	char tree[PATH_MAX];
	int nargs = 0, ed25519 = 0, bits_given = 0;
	unsigned long bits = 2048;

	if (argc < 2 || strcmp(argv[1], "keygen") != 0)
		return postern_dkim_usage();
	for (int i = 2; i < argc; i++) {
		char *end;
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "rsa") == 0)
				ed25519 = 0;
			else if (strcmp(argv[i], "ed25519") == 0)
				ed25519 = 1;
			else
				return postern_dkim_usage();
		} else if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc) {
			errno = 0;
			bits = strtoul(argv[++i], &end, 10);
			/* RFC 8301 3.2: signers use at least 1024 bits, 2048 advised */
			if (errno != 0 || *end != '\0' || bits < 1024 || bits > 4096) {
				postern_err("--bits: 1024 to 4096");
				return POSTERN_EXIT_USAGE;
			}
			bits_given = 1;
		} else if (argv[i][0] == '-' || nargs == 2) {
			return postern_dkim_usage();
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (nargs != 2)
		return postern_dkim_usage();
	if (ed25519 && bits_given) {   /* an Ed25519 key has no size to choose: not silently ignored */
		postern_err("--bits is for RSA keys; an Ed25519 key is always 256 bits");
		return POSTERN_EXIT_USAGE;
	}
	if (postern_tree(dir, tree, sizeof(tree)) < 0 || postern_tree_writable_as_us(tree) < 0)
		return POSTERN_EXIT_FAIL;
	return postern_dkim_keygen(tree, args[0], args[1], ed25519, (unsigned)bits);
}
