/* postern_tls: the self-signed certificate `postern init` writes.
 *
 * Offers: an EC P-256 key and an X.509 v3 certificate, SHA-256 signed,
 * valid 10 years, subject CN=HOST, subjectAltName DNS:HOST and
 * DNS:localhost, for serverAuth; written as PEM to etc/tls/cert.pem and
 * etc/tls/key.pem (the key 0600).  Made with OpenSSL 3 APIs, not by
 * running openssl(1), so init needs no shell and no extra program.
 *
 * Trusts: host as a name checked by the caller; it is put into the
 * certificate as a value (GENERAL_NAME), never parsed as an OpenSSL
 * config string, so it cannot add other names or extensions.
 *
 * Fails: -1 with the OpenSSL error printed; no file is left half
 * written (each is written to a temp file and renamed). */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "postern.h"

#define POSTERN_TLS_DAYS (10L * 365 + 3)   /* ten years, leap days included */
#define POSTERN_TLS_PEM_MAX (64 * 1024)

static void postern_tls_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char msg[256];

	if (e == 0) {
		postern_err("tls: %s failed", what);
		return;
	}
	ERR_error_string_n(e, msg, sizeof(msg));
	postern_err("tls: %s: %s", what, msg);
	ERR_clear_error();
}

static int postern_tls_add_dns(GENERAL_NAMES *names, const char *dns)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

	if (gn == NULL || ia5 == NULL || !ASN1_STRING_set(ia5, dns, (int)strlen(dns))) {
		GENERAL_NAME_free(gn);
		ASN1_IA5STRING_free(ia5);
		return -1;
	}
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	if (!sk_GENERAL_NAME_push(names, gn)) {
		GENERAL_NAME_free(gn);
		return -1;
	}
	return 0;
}

static int postern_tls_san(X509 *x, const char *host)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	int r = -1;

	if (names != NULL && postern_tls_add_dns(names, host) == 0 &&
	    (strcmp(host, "localhost") == 0 || postern_tls_add_dns(names, "localhost") == 0) &&
	    X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1)
		r = 0;
	GENERAL_NAMES_free(names);
	return r;
}

/* Add one extension given as a fixed OpenSSL config string of ours. */
static int postern_tls_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int postern_tls_serial(X509 *x)
{
	unsigned char raw[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	raw[0] &= 0x7f;   /* RFC 5280 4.1.2.2: a positive serial */
	raw[0] |= 0x40;   /* and never a short one */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (bn == NULL)
		return -1;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

static int postern_tls_name(X509 *x, const char *host)
{
	X509_NAME *name = X509_get_subject_name(x);
	/* RFC 5280 ub-common-name is 64; a longer host name still is in
	 * the subjectAltName, which is what clients check. */
	const char *cn = strlen(host) <= 64 ? host : "localhost";

	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0))
		return -1;
	return X509_set_issuer_name(x, name) ? 0 : -1;
}

static X509 *postern_tls_cert(EVP_PKEY *key, const char *host)
{
	X509 *x = X509_new();

	if (x == NULL)
		return NULL;
	if (!X509_set_version(x, X509_VERSION_3) || postern_tls_serial(x) < 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), POSTERN_TLS_DAYS, 0, NULL) == NULL ||
	    !X509_set_pubkey(x, key) || postern_tls_name(x, host) < 0 ||
	    postern_tls_san(x, host) < 0 ||
	    postern_tls_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    postern_tls_ext(x, NID_key_usage, "critical,digitalSignature,keyAgreement") < 0 ||
	    postern_tls_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    postern_tls_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    X509_sign(x, key, EVP_sha256()) == 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* PEM into memory, then the atomic writer: the file appears complete
 * with its final owner and mode, or not at all. */
static int postern_tls_write(const char *path, BIO *mem, const struct postern_owner *own)
{
	char *data;
	long len = BIO_get_mem_data(mem, &data);

	if (len <= 0 || len > POSTERN_TLS_PEM_MAX) {
		postern_err("tls: bad PEM size for %s", path);
		return -1;
	}
	return postern_write_file(path, data, (size_t)len, own);
}

static int postern_tls_save(EVP_PKEY *key, X509 *x, const char *cert_path, const char *key_path,
			    const struct postern_owner *cert_own, const struct postern_owner *key_own)
{
	BIO *kmem = BIO_new(BIO_s_secmem());
	BIO *cmem = BIO_new(BIO_s_mem());
	int r = -1;

	if (kmem == NULL || cmem == NULL ||
	    !PEM_write_bio_PrivateKey(kmem, key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cmem, x))
		postern_tls_error("PEM encoding");
	else if (postern_tls_write(key_path, kmem, key_own) == 0 &&
		 postern_tls_write(cert_path, cmem, cert_own) == 0)
		r = 0;
	BIO_free(kmem);   /* a secmem BIO is cleared when freed */
	BIO_free(cmem);
	return r;
}

int postern_tls_selfsigned(const char *host, const char *cert_path, const char *key_path,
			   const struct postern_owner *cert_own, const struct postern_owner *key_own)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x;
	int r;

	if (key == NULL) {
		postern_tls_error("key generation");
		return -1;
	}
	x = postern_tls_cert(key, host);
	if (x == NULL) {
		postern_tls_error("certificate");
		EVP_PKEY_free(key);
		return -1;
	}
	r = postern_tls_save(key, x, cert_path, key_path, cert_own, key_own);
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}
