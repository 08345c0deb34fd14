/* tls: OpenSSL contexts for Postern's servers and clients.
 *
 * Offers: tls_server_ctx() and tls_server_ctx_config() make a server
 * context from a PEM certificate chain and key; tls_client_ctx() a
 * client context that either verifies the peer (chain + host name) or
 * takes any certificate (opportunistic TLS, RFC 7435).  Connections are
 * run by common/stream.c (stream_start_tls), each handshake within
 * tls_handshake_ms() as a whole (tls_handshake_timeout: a peer that
 * stalls mid-handshake must not hold a process for a session timeout).  Every context has the same
 * policy, Mozilla's "intermediate" profile (version 5.7): TLS 1.2 and 1.3
 * only (RFC 8996 retired the older ones), ECDHE/DHE key exchange with
 * AEAD ciphers, groups X25519, P-256, P-384 (servers keep their own
 * suite order, ChaCha20 first for clients that prefer it); no compression (CRIME), no
 * renegotiation, no session resumption: no server-side session cache
 * (each process would hold its own, so it would only cost memory) and
 * no session tickets, TLS 1.2 or 1.3 (a ticket key per process, or one
 * shared and rotated, is not worth it for mail clients' long sessions).
 *
 * Trusts: the certificate and key files named by the operator; nothing
 * a peer sends (that is OpenSSL's job and the stream's limits').
 *
 * Fails: constructors return NULL with a static error text that includes
 * OpenSSL's reason; nothing here exits or logs, the caller decides. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "tls.h"

/* Mozilla intermediate, TLS 1.2 part; TLS 1.3 suites are OpenSSL's
 * defaults, which are exactly the intermediate list. */
#define TLS_CIPHERS_12 \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:" \
	"DHE-RSA-CHACHA20-POLY1305"
#define TLS_CIPHERS_13 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"

static char tls_error_buf[512];

const char *tls_last_error(const char *fallback)
{
	unsigned long e = ERR_get_error();
	char reason[256];
	int n;

	ERR_clear_error();
	if (e == 0)
		return fallback;
	ERR_error_string_n(e, reason, sizeof(reason));
	n = snprintf(tls_error_buf, sizeof(tls_error_buf), "%s: %s", fallback, reason);
	/* A clipped error text is still a useful error text. */
	return n < 0 ? fallback : tls_error_buf;
}

/* Remember an error text with a file name for the caller. */
static const char *tls_file_error(const char *what, const char *file)
{
	char what_file[TLS_PATH_MAX + 64];
	const char *e;
	int n = snprintf(what_file, sizeof(what_file), "%s %s", what, file);

	if (n < 0 || (size_t)n >= sizeof(what_file))
		return what;
	e = tls_last_error(what_file);
	if (e == what_file) {
		/* No OpenSSL reason queued: copy our own text. */
		n = snprintf(tls_error_buf, sizeof(tls_error_buf), "%s", what_file);
		return n < 0 ? what : tls_error_buf;
	}
	return e;
}

/* The policy shared by server and client contexts. */
static SSL_CTX *tls_ctx_new(const SSL_METHOD *method, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (ctx == NULL) {
		*error_r = tls_last_error("cannot create a TLS context");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS_CIPHERS_13) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
		*error_r = tls_last_error("cannot set the TLS policy");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* A peer closing without close_notify is an ordinary EOF for us:
	 * every Postern protocol has its own end marker (RFC 5321 QUIT and
	 * <CRLF>.<CRLF>), so truncation cannot pass for a complete unit. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
	return ctx;
}

SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, const char **error_r)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = tls_ctx_new(TLS_server_method(), error_r);
	if (ctx == NULL)
		return NULL;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		*error_r = tls_file_error("cannot load the certificate", cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_file_error("cannot load the private key", key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_file_error("the private key does not match the certificate", key_file);
		goto fail;
	}
	/* DHE suites need parameters; OpenSSL picks them by key size. */
	SSL_CTX_set_dh_auto(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* No resumption at all, so no TLS 1.3 tickets either: with
	 * SSL_OP_NO_TICKET alone OpenSSL still sends stateful ones (a
	 * session ID in the cache we keep off), which no client can
	 * redeem and which testssl.sh cannot test ("connect problem"). */
	SSL_CTX_set_num_tickets(ctx, 0);
	/* Our order of the (all AEAD) suites, not the client's: testssl.sh
	 * counts a server without one as a finding; ChaCha20 still wins
	 * for a client that lists it first (phones without AES hardware). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int tls_conf_path(const char *etc_dir, const char *name, char *out, size_t outlen)
{
	int n;

	if (name[0] == '/')
		n = snprintf(out, outlen, "%s", name);
	else
		n = snprintf(out, outlen, "%s/%s", etc_dir, name);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

SSL_CTX *tls_server_ctx_config(const char *etc_dir, const char **error_r)
{
	char cert[TLS_PATH_MAX], key[TLS_PATH_MAX];

	if (tls_conf_path(etc_dir, config_str("tls_cert_file"), cert, sizeof(cert)) < 0 ||
	    tls_conf_path(etc_dir, config_str("tls_key_file"), key, sizeof(key)) < 0) {
		*error_r = "tls_cert_file or tls_key_file: path too long";
		return NULL;
	}
	return tls_server_ctx(cert, key, error_r);
}

SSL_CTX *tls_client_ctx(int verify, const char *ca_file, const char **error_r)
{
	SSL_CTX *ctx;
	int r;

	ERR_clear_error();
	ctx = tls_ctx_new(TLS_client_method(), error_r);
	if (ctx == NULL)
		return NULL;
	/* The store is loaded even without verification, so that
	 * stream_tls_peer_verified can still say whether the peer would
	 * have passed (for the log). */
	if (ca_file != NULL)
		r = SSL_CTX_load_verify_locations(ctx, ca_file, NULL);
	else
		r = SSL_CTX_set_default_verify_paths(ctx);
	if (r != 1) {
		*error_r = tls_file_error("cannot load the CA certificates", ca_file ? ca_file : "(system)");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ctx;
}

SSL_CTX *tls_client_ctx_like(int verify, SSL_CTX *from, const char **error_r)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = tls_ctx_new(TLS_client_method(), error_r);
	if (ctx == NULL)
		return NULL;
	/* set1: the store is reference-counted, both contexts hold it. */
	SSL_CTX_set1_cert_store(ctx, SSL_CTX_get_cert_store(from));
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ctx;
}

int tls_handshake_ms(void)
{
	unsigned long long t = config_time("tls_handshake_timeout");

	if (t == 0)
		return 0;
	return t > INT_MAX / 1000 ? INT_MAX : (int)(t * 1000);
}

void tls_ctx_free(SSL_CTX **ctx)
{
	if (*ctx == NULL)
		return;
	SSL_CTX_free(*ctx);
	*ctx = NULL;
}
