/* tls: the OpenSSL contexts of Postern, for servers (smtpd STARTTLS and
 * SMTPS, POP3 STLS and POP3S) and clients (the remote SMTP client).
 * TLS 1.2 and 1.3 only, Mozilla "intermediate" cipher suites and groups,
 * no compression, no renegotiation.  A connection is started on a
 * struct stream with stream_start_tls() (stream.h); this module only makes
 * and describes contexts.  Load the server context before privileges are
 * dropped: the key file is readable by root only. */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

#define TLS_PATH_MAX 4096

/* A server context with the PEM certificate chain and private key at
 * the given paths (checked to match).  NULL with *error_r (static text,
 * OpenSSL's reason included) when either cannot be loaded. */
SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, const char **error_r);
/* The server context configured in postern.conf: tls_cert_file and
 * tls_key_file, relative paths taken from etc_dir (DIR/etc). */
SSL_CTX *tls_server_ctx_config(const char *etc_dir, const char **error_r);
/* A client context.  verify = 1: the peer's chain must verify against
 * ca_file (PEM bundle) or, when ca_file is NULL, the system's default CA
 * store, and its name must match the name given to stream_start_tls
 * (SSL_set1_host); verify = 0: opportunistic TLS, any certificate is
 * taken (RFC 7435) and the result can be read with tls_peer_verified. */
SSL_CTX *tls_client_ctx(int verify, const char *ca_file, const char **error_r);
/* Another client context with the CA store of from (shared, not loaded
 * again: parsing the system bundle is most of a context's cost). */
SSL_CTX *tls_client_ctx_like(int verify, SSL_CTX *from, const char **error_r);
/* tls_handshake_timeout in milliseconds, the bound every caller gives
 * stream_start_tls for a whole handshake (0: none configured). */
int tls_handshake_ms(void);
/* Free a context; *ctx = NULL; NULL is fine. */
void tls_ctx_free(SSL_CTX **ctx);
/* Resolve a configured file name: absolute as is, else etc_dir/name.
 * 0, or -1 when it would not fit in outlen. */
int tls_conf_path(const char *etc_dir, const char *name, char *out, size_t outlen);
/* The oldest queued OpenSSL error as text in a static buffer (and the
 * queue cleared), or fallback when the queue is empty. */
const char *tls_last_error(const char *fallback);

#endif
