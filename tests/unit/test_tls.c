/* Unit tests for common/tls.c and the TLS side of common/stream.c: server
 * and client contexts, a real handshake over a socketpair (the server in
 * a child process), certificate and host name checks, the version floor,
 * the discarding of plaintext buffered before STARTTLS, and the
 * handshake timeout.  A throw-away certificate is made per run. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "stream.h"
#include "tls.h"

static char test_dir[64];
static char cert_path[128], key_path[128], other_key_path[128];

static void write_key(EVP_PKEY *key, const char *path)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
}

/* A self-signed certificate for "mail.example.test" (CA:TRUE, so that it
 * can be its own trust anchor in the client tests). */
static void make_cert(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	FILE *fp;

	assert_non_null(key);
	assert_non_null(other);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mail.example.test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:mail.example.test");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	fp = fopen(cert_path, "w");
	assert_non_null(fp);
	PEM_write_X509(fp, x);
	fclose(fp);
	write_key(key, key_path);
	write_key(other, other_key_path);
	X509_free(x);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static int setup(void **state)
{
	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/test_tls.XXXXXX");
	if (mkdtemp(test_dir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", test_dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", test_dir);
	snprintf(other_key_path, sizeof(other_key_path), "%s/other.pem", test_dir);
	make_cert();
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(cert_path);
	unlink(key_path);
	unlink(other_key_path);
	rmdir(test_dir);
	return 0;
}

/* ---- contexts ---- */

static void test_tls_server_ctx_loads_matching_cert_and_key(void **state)
{
	const char *err = NULL;
	SSL_CTX *ctx = tls_server_ctx(cert_path, key_path, &err);

	(void)state;
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	/* The server's suite order (testssl.sh), ChaCha20 for who asks first. */
	assert_true((SSL_CTX_get_options(ctx) & SSL_OP_CIPHER_SERVER_PREFERENCE) != 0);
	assert_true((SSL_CTX_get_options(ctx) & SSL_OP_PRIORITIZE_CHACHA) != 0);
	tls_ctx_free(&ctx);
	assert_null(ctx);
	tls_ctx_free(&ctx);   /* NULL is fine */
}

static void test_tls_server_ctx_missing_file_names_it(void **state)
{
	const char *err = NULL;
	SSL_CTX *ctx = tls_server_ctx("/nonexistent/cert.pem", key_path, &err);

	(void)state;
	assert_null(ctx);
	assert_non_null(err);
	assert_non_null(strstr(err, "/nonexistent/cert.pem"));
}

static void test_tls_server_ctx_mismatched_key_fails(void **state)
{
	const char *err = NULL;
	SSL_CTX *ctx = tls_server_ctx(cert_path, other_key_path, &err);

	(void)state;
	assert_null(ctx);
	assert_non_null(strstr(err, other_key_path));
}

static void test_tls_conf_path_relative_and_absolute(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(tls_conf_path("/d/etc", "tls/cert.pem", out, sizeof(out)), 0);
	assert_string_equal(out, "/d/etc/tls/cert.pem");
	assert_int_equal(tls_conf_path("/d/etc", "/x/k.pem", out, sizeof(out)), 0);
	assert_string_equal(out, "/x/k.pem");
	assert_int_equal(tls_conf_path("/d/etc", "a-name-that-is-far-too-long-for-the-small-buffer-given", out, 16), -1);
}

/* ---- handshakes over a socketpair ---- */

/* Child: serve TLS on fd.  Reads plaintext lines first until "STARTTLS",
 * answers "220", starts TLS, reports how much it discarded, then echoes
 * one line with "echo: " in front. */
static _Noreturn void run_server(int fd, int timeout_ms, int handshake_ms)
{
	const char *err, *line;
	size_t len;
	SSL_CTX *ctx = tls_server_ctx(cert_path, key_path, &err);
	struct stream *s = stream_new(fd, fd, 1000, timeout_ms);

	if (ctx == NULL || s == NULL)
		_exit(10);
	if (stream_read_line(s, &line, &len) != STREAM_OK || len < 8 || memcmp(line, "STARTTLS", 8) != 0)
		_exit(11);
	stream_puts(s, "220 go\r\n");
	if (stream_start_tls(s, ctx, 1, NULL, handshake_ms, &err) < 0) {
		if (getenv("TEST_TLS_DEBUG") != NULL)
			fprintf(stderr, "server: %s\n", err);
		_exit(12);
	}
	stream_printf(s, "discarded %zu\r\n", stream_tls_discarded(s));
	if (stream_flush(s) < 0 || stream_read_line(s, &line, &len) != STREAM_OK)
		_exit(13);
	stream_puts(s, "echo: ");
	stream_write(s, line, len);
	if (stream_flush(s) < 0)
		_exit(14);
	stream_free(&s);
	tls_ctx_free(&ctx);
	_exit(0);
}

struct tls_pair {
	pid_t pid;
	int fd;
	struct stream *s;
};

static void pair_start_bounded(struct tls_pair *p, int server_timeout_ms, int handshake_ms)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		close(sv[0]);
		run_server(sv[1], server_timeout_ms, handshake_ms);
	}
	close(sv[1]);
	p->fd = sv[0];
	p->s = stream_new(p->fd, p->fd, 1000, 5000);
	assert_non_null(p->s);
}

static void pair_start(struct tls_pair *p, int server_timeout_ms)
{
	pair_start_bounded(p, server_timeout_ms, 0);
}

static int pair_end(struct tls_pair *p)
{
	int status;

	stream_free(&p->s);
	close(p->fd);
	assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void expect(struct stream *s, const char *text)
{
	const char *line;
	size_t len;

	assert_int_equal(stream_read_line(s, &line, &len), STREAM_OK);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(line, text, len);
}

/* Client side of the STARTTLS exchange; extra is sent in plaintext
 * right after the STARTTLS command (a pipelining injection attempt). */
static int client_starttls(struct tls_pair *p, SSL_CTX *ctx, const char *name,
			   const char *extra, const char **err)
{
	stream_puts(p->s, "STARTTLS\r\n");
	stream_puts(p->s, extra);
	assert_int_equal(stream_flush(p->s), 0);
	expect(p->s, "220 go\r\n");
	return stream_start_tls(p->s, ctx, 0, name, 0, err);
}

static void test_tls_handshake_verified_echo(void **state)
{
	struct tls_pair p;
	const char *err = NULL, *proto, *cipher;
	int bits;
	SSL_CTX *ctx = tls_client_ctx(1, cert_path, &err);

	(void)state;
	assert_non_null(ctx);
	pair_start(&p, 5000);
	assert_int_equal(stream_tls_active(p.s), 0);
	assert_int_equal(client_starttls(&p, ctx, "mail.example.test", "", &err), 0);
	assert_true(stream_tls_active(p.s));
	assert_true(stream_tls_peer_verified(p.s));
	assert_int_equal(stream_tls_info(p.s, &proto, &cipher, &bits), 0);
	assert_true(strcmp(proto, "TLSv1.3") == 0 || strcmp(proto, "TLSv1.2") == 0);
	assert_true(bits >= 128);
	expect(p.s, "discarded 0\r\n");
	stream_puts(p.s, "hello through TLS\r\n");
	assert_int_equal(stream_flush(p.s), 0);
	expect(p.s, "echo: hello through TLS\r\n");
	assert_int_equal(pair_end(&p), 0);
	tls_ctx_free(&ctx);
}

static void test_tls_plaintext_after_starttls_is_discarded(void **state)
{
	static const char inject[] = "MAIL FROM:<evil@example.org>\r\n";
	struct tls_pair p;
	const char *err = NULL;
	char want[64];
	SSL_CTX *ctx = tls_client_ctx(0, NULL, &err);

	(void)state;
	assert_non_null(ctx);
	pair_start(&p, 5000);
	/* The server has read the injected line along with STARTTLS
	 * (one write, one read): it must not survive into the TLS session. */
	assert_int_equal(client_starttls(&p, ctx, NULL, inject, &err), 0);
	snprintf(want, sizeof(want), "discarded %zu\r\n", sizeof(inject) - 1);
	expect(p.s, want);
	stream_puts(p.s, "real\r\n");
	assert_int_equal(stream_flush(p.s), 0);
	expect(p.s, "echo: real\r\n");
	assert_int_equal(pair_end(&p), 0);
	tls_ctx_free(&ctx);
}

static void test_tls_wrong_host_name_fails_verification(void **state)
{
	struct tls_pair p;
	const char *err = NULL;
	SSL_CTX *ctx = tls_client_ctx(1, cert_path, &err);

	(void)state;
	pair_start(&p, 5000);
	assert_int_equal(client_starttls(&p, ctx, "other.example.test", "", &err), -1);
	assert_non_null(err);
	pair_end(&p);   /* the server's handshake fails too */
	tls_ctx_free(&ctx);
}

/* A STARTTLS session to mail.example.test with ctx that must succeed,
 * the peer verified or not as said, and carry one line each way. */
static void session_through(SSL_CTX *ctx, int verified)
{
	struct tls_pair p;
	const char *err = NULL;

	pair_start(&p, 5000);
	assert_int_equal(client_starttls(&p, ctx, "mail.example.test", "", &err), 0);
	assert_int_equal(stream_tls_peer_verified(p.s) ? 1 : 0, verified);
	expect(p.s, "discarded 0\r\n");
	stream_puts(p.s, "x\r\n");
	assert_int_equal(stream_flush(p.s), 0);
	expect(p.s, "echo: x\r\n");
	assert_int_equal(pair_end(&p), 0);
}

static void test_tls_unverified_peer_taken_without_verify(void **state)
{
	const char *err = NULL;
	SSL_CTX *ctx = tls_client_ctx(0, NULL, &err);   /* system CAs: ours is unknown */

	(void)state;
	assert_non_null(ctx);
	session_through(ctx, 0);
	tls_ctx_free(&ctx);
}

/* A context made like a verifying one shares its store: with verify = 0
 * it takes the peer and still knows the peer would have passed, and the
 * verifying original keeps working after the copy is freed. */
static void test_tls_context_like_shares_the_ca_store(void **state)
{
	const char *err = NULL;
	SSL_CTX *verify = tls_client_ctx(1, cert_path, &err), *any;

	(void)state;
	assert_non_null(verify);
	any = tls_client_ctx_like(0, verify, &err);
	assert_non_null(any);
	assert_ptr_equal(SSL_CTX_get_cert_store(any), SSL_CTX_get_cert_store(verify));
	assert_int_equal(SSL_CTX_get_verify_mode(any), SSL_VERIFY_NONE);
	session_through(any, 1);
	tls_ctx_free(&any);
	session_through(verify, 1);
	tls_ctx_free(&verify);
}

static void test_tls_old_protocol_refused(void **state)
{
	struct tls_pair p;
	const char *err = NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	(void)state;
	assert_non_null(ctx);
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	pair_start(&p, 5000);
	assert_int_equal(client_starttls(&p, ctx, NULL, "", &err), -1);
	assert_int_equal(pair_end(&p), 12);   /* the server refused the handshake */
	SSL_CTX_free(ctx);
}

static void test_tls_handshake_times_out_on_silent_peer(void **state)
{
	struct tls_pair p;

	(void)state;
	pair_start(&p, 300);
	stream_puts(p.s, "STARTTLS\r\n");
	assert_int_equal(stream_flush(p.s), 0);
	expect(p.s, "220 go\r\n");
	/* Say nothing, keep the connection open: the server's handshake must
	 * end by its own timeout (the alarm guards against a hang). */
	int status;

	alarm(10);
	assert_int_equal(waitpid(p.pid, &status, 0), p.pid);
	alarm(0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 12);
	stream_free(&p.s);
	close(p.fd);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Issue 9 item 10: the start of a ClientHello, then a byte now and then,
 * each well within the per-read timeout: only the bound on the whole
 * handshake ends it. */
static void test_tls_handshake_bound_holds_against_a_trickling_peer(void **state)
{
	/* A TLS record header (handshake, 512 bytes follow) and the
	 * ClientHello type: a real start that never completes. */
	static const unsigned char hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };
	struct tls_pair p;
	long long start, waited = -1;
	int status = 0;

	(void)state;
	pair_start_bounded(&p, 5000, 400);
	stream_puts(p.s, "STARTTLS\r\n");
	assert_int_equal(stream_flush(p.s), 0);
	expect(p.s, "220 go\r\n");
	start = now_ms();
	assert_int_equal(write(p.fd, hello, sizeof(hello)), (ssize_t)sizeof(hello));
	for (int i = 0; i < 40; i++) {
		/* One byte every 100 ms, until the server has given up. */
		if (waitpid(p.pid, &status, WNOHANG) == p.pid) {
			waited = now_ms() - start;
			break;
		}
		(void)send(p.fd, "\0", 1, MSG_NOSIGNAL);
		usleep(100 * 1000);
	}
	if (waited < 0) {
		alarm(10);
		assert_int_equal(waitpid(p.pid, &status, 0), p.pid);
		alarm(0);
		waited = now_ms() - start;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 12);
	/* 400 ms bound; the per-read timeout (5 s) never came near. */
	assert_true(waited >= 350);
	assert_true(waited < 3000);
	stream_free(&p.s);
	close(p.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_server_ctx_loads_matching_cert_and_key),
		cmocka_unit_test(test_tls_server_ctx_missing_file_names_it),
		cmocka_unit_test(test_tls_server_ctx_mismatched_key_fails),
		cmocka_unit_test(test_tls_conf_path_relative_and_absolute),
		cmocka_unit_test(test_tls_handshake_verified_echo),
		cmocka_unit_test(test_tls_plaintext_after_starttls_is_discarded),
		cmocka_unit_test(test_tls_wrong_host_name_fails_verification),
		cmocka_unit_test(test_tls_unverified_peer_taken_without_verify),
		cmocka_unit_test(test_tls_context_like_shares_the_ca_store),
		cmocka_unit_test(test_tls_old_protocol_refused),
		cmocka_unit_test(test_tls_handshake_times_out_on_silent_peer),
		cmocka_unit_test(test_tls_handshake_bound_holds_against_a_trickling_peer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
