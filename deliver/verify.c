/* verify: recipient verification for the domains delivered over LMTP.
 *
 * Offers: the verify service (docs/protocols.md, "verify"): for each
 * record `addr=ADDRESS` it says whether the LMTP server that
 * etc/transport names for the address's domain would take the
 * recipient, asking it with a probe (common/lmtp_client: LHLO, MAIL
 * FROM:<>, RCPT TO, QUIT; no mail is sent) unless the cache shared by
 * every verify process (common/verify_cache, DIR/run/verify.cache) has
 * a fresh answer.  The answer is `status=ok|fail|tempfail`, `dsn`,
 * `reason` and `cached=yes|no`; smtpd turns it into 250, 550 or 4xx at
 * RCPT time (smtpd/smtpd_verify.c), so that mail to a user the LMTP
 * server does not know is refused instead of accepted and bounced to a
 * sender that may be forged (backscatter), as Postfix's
 * reject_unverified_recipient does.
 *
 * Why a service of its own: smtpd parses network input from anyone and
 * runs chrooted in the empty run/jail, talking to enqueue and authd only
 * (DESIGN.md); it can reach no `unix:` LMTP socket (those live under
 * mail/) and should open no connection to the operator's mailbox
 * servers.  Here smtpd only names an address: the destination comes
 * from verify's own copy of the transport map, so a subverted smtpd
 * cannot aim probes anywhere else.  local is not asked either: it
 * accepts queue files and writes Maildirs, more than smtpd may touch.
 *
 * Runs as: postern-vmail, chrooted into DIR/mail like local, so that a
 * `unix:` destination names the same socket for both; it opens no
 * Maildir.  Reads etc/transport.cdb and opens DIR/run/verify.cache
 * before the privilege drop.
 *
 * Trusts: its callers (postern-smtpd, checked by daemon_serve) only as
 * far as the protocol: the address is checked (no control bytes, at
 * most ADDRESS_PATH_MAX octets, local@domain) and normalised again.
 * Nothing the LMTP server says (lmtp_client bounds every reply).
 *
 * Fails: per request: an unreachable or slow server (lmtp_verify_timeout
 * for the whole probe), a 4xx, a map read error or a bad map entry is
 * `status=tempfail`, never a refusal the LMTP server did not give, and
 * is not cached.  A request that cannot be read ends its connection.
 * A cache that cannot be opened is logged and done without. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "agent.h"
#include "cdbmap.h"
#include "config.h"
#include "daemon.h"
#include "lmtp_client.h"
#include "log.h"
#include "recipient.h"
#include "record.h"
#include "verify_cache.h"

#define VERIFY_ANSWER_MAX 2048        /* status, dsn, a bounded reason */
#define VERIFY_KEY_MAX (RECIPIENT_TRANSPORT_MAX + ADDRESS_PATH_MAX + 2)

struct verify_ctx {
	struct cdbmap *transport;         /* etc/transport.cdb, or NULL */
	struct verify_cache *cache;       /* or NULL: every request probes */
	const char *helo;                 /* myhostname */
	int probe_ms;                     /* lmtp_verify_timeout */
	int ipc_ms;                       /* ipc_timeout, for our callers */
	unsigned long long ok_ttl, fail_ttl;
};

/* What one request comes to. */
struct verify_result {
	const char *status;               /* ok | fail | tempfail */
	char dsn[VERIFY_CACHE_DSN_MAX];
	char reason[LMTP_REASON_MAX];
	int cached;
};

static int verify_ms(unsigned long long seconds)
{
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)(seconds * 1000);
}

static void verify_set(struct verify_result *r, const char *status, const char *dsn, const char *reason)
{
	r->status = status;
	snprintf(r->dsn, sizeof r->dsn, "%s", dsn);         /* codes fit */
	snprintf(r->reason, sizeof r->reason, "%s", reason); /* a diagnostic: a cut only shortens it */
}

/* Ask the server, or the cache, about addr at dest (the text after
 * "lmtp:"). */
static void verify_lmtp(const struct verify_ctx *ctx, const char *dest, const char *addr,
			struct verify_result *r)
{
	char key[VERIFY_KEY_MAX];
	struct lmtp_dest d;
	struct lmtp_answer a;
	const char *error;
	enum verify_cache_result hit = VERIFY_CACHE_MISS;
	int klen;

	if (lmtp_dest_parse(dest, strlen(dest), &d, &error) < 0) {
		log_warn("transport map: lmtp:%s: %s", dest, error);
		verify_set(r, "tempfail", "4.3.5", "transport map entry invalid");
		return;
	}
	/* The destination is part of the key: a domain moved to another
	 * server is asked again. */
	klen = snprintf(key, sizeof key, "%s\n%s", dest, addr);
	if (klen < 0 || (size_t)klen >= sizeof key)
		klen = -1;   /* cannot happen (both bounded); then no cache */
	if (ctx->cache != NULL && klen > 0)
		hit = verify_cache_get(ctx->cache, key, (size_t)klen, time(NULL), ctx->ok_ttl,
				       ctx->fail_ttl, r->dsn);
	if (hit != VERIFY_CACHE_MISS) {
		r->status = hit == VERIFY_CACHE_OK ? "ok" : "fail";
		r->cached = 1;
		snprintf(r->reason, sizeof r->reason, "cached answer of lmtp %s", dest);
		return;
	}
	lmtp_probe(&d, ctx->helo, addr, ctx->probe_ms, &a);
	verify_set(r, a.status == LMTP_DELIVERED ? "ok" : a.status == LMTP_FAILED ? "fail" : "tempfail",
		   a.dsn, a.reason);
	if (a.status == LMTP_DEFERRED || ctx->cache == NULL || klen <= 0 ||
	    (a.status == LMTP_DELIVERED ? ctx->ok_ttl : ctx->fail_ttl) == 0)
		return;
	if (verify_cache_put(ctx->cache, key, (size_t)klen,
			     a.status == LMTP_DELIVERED ? VERIFY_CACHE_OK : VERIFY_CACHE_FAIL, a.dsn,
			     time(NULL)) < 0)
		log_warn("<%s>: cannot remember the answer: %s", addr, strerror(errno));
}

/* One request: addr, checked, normalised, routed, answered. */
static void verify_addr(const struct verify_ctx *ctx, const char *addr, struct verify_result *r)
{
	struct recipient_maps maps = { .transport = ctx->transport };
	struct buf norm, dest;
	const char *error;
	long at;
	int t;

	buf_init(&norm, ADDRESS_PATH_MAX + 1);
	buf_init(&dest, RECIPIENT_TRANSPORT_MAX);
	if (address_normalize(addr, strlen(addr), &norm) < 0 ||
	    (at = address_at(norm.data, norm.len)) <= 0 || (size_t)at + 1 >= norm.len) {
		verify_set(r, "fail", "5.1.3", "bad recipient address syntax");
		goto out;
	}
	t = recipient_transport(&maps, norm.data + at + 1, norm.len - (size_t)at - 1, &dest, &error);
	if (t < 0) {
		log_warn("%s for domain %s", error, norm.data + at + 1);
		verify_set(r, "tempfail", errno == EIO ? "4.3.0" : "4.3.5", error);
	} else if (t == 0) {
		/* Not ours to verify: local delivery decides, as before. */
		verify_set(r, "ok", "2.0.0", "not an LMTP domain");
	} else {
		verify_lmtp(ctx, buf_cstr(&dest), buf_cstr(&norm), r);
	}
out:
	buf_free(&norm);
	buf_free(&dest);
}

/* Answer one request record into out (daemon_answer_fn). 0, or -1 to
 * end the connection (after answering a malformed request). */
static int verify_request(void *arg, struct record *rec, struct buf *out)
{
	const struct verify_ctx *ctx = arg;
	const char *addr = record_get(rec, "addr");
	struct verify_result r = { .cached = 0 };
	int bad = addr == NULL || *addr == '\0' || !agent_text_ok(addr, strlen(addr), ADDRESS_PATH_MAX);

	if (bad) {
		log_warn("bad request: missing or bad addr");
		verify_set(&r, "tempfail", "4.3.0", "malformed request");
	} else {
		verify_addr(ctx, addr, &r);
		log_info("<%s>: status=%s dsn=%s%s (%s)", addr, r.status, r.dsn,
			 r.cached ? " cached" : "", r.reason);
	}
	if (record_put_str(out, "status", r.status) < 0 || record_put_str(out, "dsn", r.dsn) < 0 ||
	    record_put_str(out, "reason", r.reason) < 0 ||
	    record_put_str(out, "cached", r.cached ? "yes" : "no") < 0 || record_end(out) < 0)
		return -1;
	return bad ? -1 : 0;
}

static void verify_serve(int in_fd, int out_fd, void *arg)
{
	const struct verify_ctx *ctx = arg;

	daemon_serve_records(in_fd, out_fd, ctx->ipc_ms, VERIFY_ANSWER_MAX, verify_request, arg);
}

/* DIR/run/verify.cache, opened before the drop (as root it stays
 * root's, mode 0600: the descriptor is all we need). */
static void verify_cache_init(struct verify_ctx *ctx, const struct daemon *d)
{
	char path[sizeof d->base_dir + 32];
	const char *error;
	int n = snprintf(path, sizeof path, "%s/run/verify.cache", d->base_dir);

	if (n < 0 || (size_t)n >= sizeof path)
		log_fatal("%s/run: path too long", d->base_dir);
	ctx->cache = verify_cache_open(path, &error);
	if (ctx->cache == NULL)
		log_warn("%s: %s; every verification asks the LMTP server", path, error);
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct verify_ctx ctx = { 0 };

	daemon_init(&d, "verify", argc, argv);
	if (d.argc != 0)
		log_fatal("unexpected argument: %s", d.argv[0]);
	ctx.transport = daemon_open_map(&d, "transport.cdb", 1);
	ctx.helo = config_str("myhostname");
	ctx.probe_ms = verify_ms(config_time("lmtp_verify_timeout"));
	ctx.ipc_ms = verify_ms(config_time("ipc_timeout"));
	ctx.ok_ttl = config_time("lmtp_verify_positive_ttl");
	ctx.fail_ttl = config_time("lmtp_verify_negative_ttl");
	verify_cache_init(&ctx, &d);
	daemon_drop(&d);
	daemon_serve(&d, verify_serve, &ctx);
	verify_cache_close(&ctx.cache);
	cdbmap_close(&ctx.transport);
	return 0;
}
