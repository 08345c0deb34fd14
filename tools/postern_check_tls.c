/* postern_check_tls: the TLS part of `postern check`.
 *
 * Offers: postern_check_tls reads tls_cert_file and tls_key_file as the
 * TLS servers do (PEM; a relative name is taken from DIR/etc) and
 * reports, one line each: a file that cannot be read, a certificate or
 * key that does not parse, a key that is not the certificate's
 * (X509_check_private_key), a certificate not yet valid or expired, and
 * a chain (the rest of the certificate file) that does not verify
 * against remote_tls_ca_file or, when that is empty, the system store.
 * Warnings: a certificate that expires within POSTERN_CHECK_TLS_SOON
 * days, and a self-signed one (what `postern init` makes: encryption
 * works, but clients that verify cannot trust it).
 *
 * Trusts: nothing in the files; OpenSSL parses them, bounded by
 * POSTERN_CHECK_TLS_CHAIN_MAX certificates.
 *
 * Fails: never; every problem is a line (postern_check_fail). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "config.h"
#include "postern.h"
#include "tls.h"

#define POSTERN_CHECK_TLS_SOON 30        /* days: an expiry this close is a warning */
#define POSTERN_CHECK_TLS_CHAIN_MAX 16   /* certificates read from the file */

/* The OpenSSL reason of the last error, or "no PEM data". */
static const char *postern_check_tls_reason(void)
{
	static char msg[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		return "no PEM data";
	ERR_error_string_n(e, msg, sizeof(msg));
	ERR_clear_error();
	return msg;
}

/* Read the certificate and the chain after it; the leaf, or NULL (printed). */
static X509 *postern_check_tls_certs(struct postern_check *ck, const char *path, STACK_OF(X509) *chain)
{
	X509 *leaf = NULL, *x;
	FILE *fp = fopen(path, "re");

	if (fp == NULL) {
		postern_check_fail(ck, "tls_cert_file %s: %s", path, strerror(errno));
		return NULL;
	}
	ERR_clear_error();
	leaf = PEM_read_X509(fp, NULL, NULL, NULL);
	if (leaf == NULL) {
		postern_check_fail(ck, "tls_cert_file %s: no certificate: %s", path, postern_check_tls_reason());
		fclose(fp);
		return NULL;
	}
	while (sk_X509_num(chain) < POSTERN_CHECK_TLS_CHAIN_MAX &&
	       (x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL)
		if (sk_X509_push(chain, x) == 0)
			X509_free(x);
	ERR_clear_error();   /* the end of the file */
	fclose(fp);
	return leaf;
}

static EVP_PKEY *postern_check_tls_key(struct postern_check *ck, const char *path)
{
	EVP_PKEY *key;
	FILE *fp = fopen(path, "re");

	if (fp == NULL) {
		postern_check_fail(ck, "tls_key_file %s: %s", path, strerror(errno));
		return NULL;
	}
	ERR_clear_error();
	key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (key == NULL)
		postern_check_fail(ck, "tls_key_file %s: no private key: %s", path, postern_check_tls_reason());
	return key;
}

/* Not yet valid, expired (problems), expiring soon (warning). */
static void postern_check_tls_dates(struct postern_check *ck, const char *path, X509 *leaf)
{
	int days = 0, secs = 0;

	if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
		postern_check_fail(ck, "tls_cert_file %s: the certificate is not valid yet", path);
		return;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
		postern_check_fail(ck, "tls_cert_file %s: the certificate has expired", path);
		return;
	}
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf)) == 1 &&
	    days < POSTERN_CHECK_TLS_SOON)
		postern_check_warn(ck, "tls_cert_file %s: the certificate expires in %d days", path, days);
}

/* The chain against remote_tls_ca_file or the system store. */
static void postern_check_tls_chain(struct postern_check *ck, const char *path, X509 *leaf,
				    STACK_OF(X509) *chain)
{
	const char *ca = config_str("remote_tls_ca_file");
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	int ok, err, depth;

	if (store == NULL || vctx == NULL) {
		postern_check_fail(ck, "tls_cert_file %s: out of memory", path);
		goto done;
	}
	if ((ca[0] != '\0' ? X509_STORE_load_file(store, ca) : X509_STORE_set_default_paths(store)) != 1) {
		postern_check_fail(ck, "remote_tls_ca_file %s: cannot load the CA certificates: %s",
				   ca[0] != '\0' ? ca : "(system)", postern_check_tls_reason());
		goto done;
	}
	if (X509_STORE_CTX_init(vctx, store, leaf, chain) != 1) {
		postern_check_fail(ck, "tls_cert_file %s: cannot verify: %s", path, postern_check_tls_reason());
		goto done;
	}
	ok = X509_verify_cert(vctx);
	err = X509_STORE_CTX_get_error(vctx);
	depth = X509_STORE_CTX_get_error_depth(vctx);
	ERR_clear_error();
	if (ok == 1)
		goto done;
	if (err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)
		postern_check_warn(ck, "tls_cert_file %s: the certificate is self-signed: clients that verify "
				   "cannot trust it (replace it with one from a CA)", path);
	else if (depth > 0 || (err != X509_V_ERR_CERT_HAS_EXPIRED && err != X509_V_ERR_CERT_NOT_YET_VALID))
		/* The leaf's own dates were reported already. */
		postern_check_fail(ck, "tls_cert_file %s: the chain does not verify (%s, certificate %d)",
				   path, X509_verify_cert_error_string(err), depth);
done:
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
}

void postern_check_tls(struct postern_check *ck)
{
	char etc[PATH_MAX], cert[PATH_MAX], keyp[PATH_MAX];
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *leaf = NULL;
	EVP_PKEY *key = NULL;

	if (chain == NULL || postern_path(etc, sizeof(etc), "%s/etc", ck->tree) < 0)
		goto done;
	if (tls_conf_path(etc, config_str("tls_cert_file"), cert, sizeof(cert)) < 0 ||
	    tls_conf_path(etc, config_str("tls_key_file"), keyp, sizeof(keyp)) < 0) {
		postern_check_fail(ck, "tls_cert_file or tls_key_file: path too long");
		goto done;
	}
	leaf = postern_check_tls_certs(ck, cert, chain);
	key = postern_check_tls_key(ck, keyp);
	if (leaf != NULL && key != NULL && X509_check_private_key(leaf, key) != 1)
		postern_check_fail(ck, "tls_key_file %s is not the key of tls_cert_file %s", keyp, cert);
	ERR_clear_error();
	if (leaf != NULL) {
		postern_check_tls_dates(ck, cert, leaf);
		postern_check_tls_chain(ck, cert, leaf, chain);
	}
done:
	EVP_PKEY_free(key);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
}
