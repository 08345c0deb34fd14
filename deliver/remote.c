/* remote: the SMTP delivery agent (docs/protocols.md, "local" and
 * "remote"; docs/operator.md, "Remote delivery").
 *
 * Offers: the server side of the delivery agent protocol for mail to
 * other hosts.  qmgr sends requests (queue_id, sender, offset, size, rcpt
 * fields, optional DSN and body fields) with the open queue file passed
 * as a descriptor (common/agent); remote groups the recipients by next
 * hop (relayhost, or each recipient's domain), delivers each group over
 * SMTP (remote_route.c, remote_smtp.c) and answers one record per
 * recipient, in request order, as soon as the answers up to it are known.
 * Idle sessions are kept a few seconds for the next request to the same
 * destination (remote_cache.c).
 *
 * Runs as postern-smtp, chrooted into the empty DIR/run/jail.  Reads
 * postern.conf, the system resolv.conf (dns_servers empty), the TLS
 * policy and relay password maps and the CA store, all before the
 * chroot; afterwards only the queue file descriptors it is handed, with
 * pread.  Writes nothing but answers and network traffic.  Standalone
 * (`remote -c DIR/etc -i`) it reads one request from stdin, where
 * queue_file=PATH may name the file, and prints the answers on stdout.
 *
 * Trusts: qmgr as far as the protocol (common/agent checks every
 * field); remote servers not at all (common/smtp_reply parses replies,
 * every read has a timeout); DNS answers only as routing data.
 *
 * Fails: every recipient gets exactly one answer: delivered, failed (a
 * permanent fact: 5xx, NXDOMAIN, null MX, a message too big for the
 * server) or deferred (everything else, with the last server's reason).
 * Set-up errors (bad relayhost, unreadable maps, c-ares) are fatal. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "log_delivery.h"
#include "map_setting.h"
#include "queuefile.h"
#include "remote.h"
#include "smtp_client_data.h"
#include "tls.h"


/* Seconds from postern.conf to a poll timeout; 0 means none (-1). */
static int remote_ms(const char *key)
{
	unsigned long long s = config_time(key);

	if (s == 0)
		return -1;
	return s > INT_MAX / 1000 ? INT_MAX : (int)s * 1000;
}

static unsigned remote_uint(const char *key)
{
	unsigned long long v = config_size(key);

	return v > UINT_MAX ? UINT_MAX : (unsigned)v;
}

static int remote_tls_level(const char *text, enum remote_tls_policy *p)
{
	static const char *const names[] = { "none", "may", "encrypt", "verify" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(text, names[i]) == 0) {
			*p = (enum remote_tls_policy)i;
			return 0;
		}
	return -1;
}

/* An optional cdb map named by a key, relative to DIR/etc; absent file = none. */
static struct cdbmap *remote_open_map(const struct daemon *d, const char *key)
{
	const char *name = config_str(key), *error;
	char path[sizeof d->etc_dir + MAP_SETTING_NAME_MAX + 1], file[MAP_SETTING_NAME_MAX];
	struct cdbmap *map = NULL;
	int n;

	if (*name == '\0')
		return NULL;
	if (map_setting_cdb(name, file, sizeof file) < 0)
		log_fatal("%s: path too long", key);
	n = snprintf(path, sizeof path, "%s%s%s", name[0] == '/' ? "" : d->etc_dir,
		     name[0] == '/' ? "" : "/", file);
	if (n < 0 || (size_t)n >= sizeof path)
		log_fatal("%s: path too long", key);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return NULL;
	if (cdbmap_open(path, &map, &error) < 0)
		log_fatal("%s: %s", path, error);
	return map;
}

/* The client TLS contexts, made before the chroot hides the CA store.
 * The CA file is read once: the verifying context shares its store. */
static void remote_tls_load(struct remote_ctx *ctx)
{
	const char *ca = *config_str("remote_tls_ca_file") ? config_str("remote_tls_ca_file") : NULL;
	const char *error;

	ctx->tls_ctx_verify = tls_client_ctx(1, ca, &error);
	if (ctx->tls_ctx_verify != NULL) {
		ctx->tls_ctx_any = tls_client_ctx_like(0, ctx->tls_ctx_verify, &error);
		if (ctx->tls_ctx_any == NULL)
			log_fatal("TLS client context: %s", error);
		return;
	}
	log_warn("TLS client context for policy verify: %s; such deliveries are deferred", error);
	/* Opportunistic TLS needs no CA store; the system's, if it loads,
	 * still lets the log say whether a peer would have passed. */
	ctx->tls_ctx_any = tls_client_ctx(0, NULL, &error);
	if (ctx->tls_ctx_any == NULL)
		log_fatal("TLS client context: %s", error);
}

static void remote_conf_load(struct remote_ctx *ctx, const struct daemon *d)
{
	struct remote_conf *c = &ctx->conf;
	const char *fam = config_str("remote_address_family"), *error;
	const char *relay = config_str("relayhost");

	c->helo_name = *config_str("remote_helo_name") ? config_str("remote_helo_name")
						       : config_str("myhostname");
	c->port = remote_uint("remote_smtp_port");
	if (c->port == 0 || c->port > 65535)
		log_fatal("remote_smtp_port: not a port number");
	c->connect_ms = remote_ms("remote_connect_timeout");
	c->greeting_ms = remote_ms("remote_greeting_timeout");
	c->helo_ms = remote_ms("remote_helo_timeout");
	c->mail_ms = remote_ms("remote_mail_timeout");
	c->rcpt_ms = remote_ms("remote_rcpt_timeout");
	c->data_init_ms = remote_ms("remote_data_init_timeout");
	c->data_block_ms = remote_ms("remote_data_block_timeout");
	c->data_done_ms = remote_ms("remote_data_done_timeout");
	c->rset_ms = remote_ms("remote_rset_timeout");
	c->quit_ms = remote_ms("remote_quit_timeout");
	c->starttls_ms = remote_ms("remote_starttls_timeout");
	c->tls_handshake_ms = tls_handshake_ms();
	c->auth_plaintext = config_bool("remote_auth_plaintext");
	c->reuse_ms = config_time("remote_connection_reuse_time") == 0 ? 0
		      : remote_ms("remote_connection_reuse_time");
	c->reuse_limit = remote_uint("remote_connection_reuse_limit");
	c->cache_limit = remote_uint("remote_connection_cache_limit");
	c->dest_limit = remote_uint("remote_destination_concurrency_limit");
	c->message_size_limit = config_size("message_size_limit");
	if (strcmp(fam, "any") == 0)
		c->family = AF_UNSPEC;
	else if (strcmp(fam, "ipv4") == 0)
		c->family = AF_INET;
	else if (strcmp(fam, "ipv6") == 0)
		c->family = AF_INET6;
	else
		log_fatal("remote_address_family: %s: not any, ipv4 or ipv6", fam);
	if (remote_tls_level(config_str("remote_tls_security_level"), &c->tls_default) < 0)
		log_fatal("remote_tls_security_level: not none, may, encrypt or verify");
	if (*relay != '\0') {
		struct remote_dest rd;
		if (remote_parse_nexthop(relay, c->port, &rd) < 0 || strlen(relay) >= sizeof ctx->relayhost)
			log_fatal("relayhost: %s: not host, host:port, [host] or [host]:port", relay);
		memcpy(ctx->relayhost, relay, strlen(relay) + 1);
	}
	if (dns_open(config_str("dns_servers"), remote_ms("dns_timeout"), (int)remote_uint("dns_tries"),
		     &ctx->dns, &error) < 0)
		log_fatal("dns: %s", error);
	remote_tls_load(ctx);
	ctx->tls_map = remote_open_map(d, "remote_tls_policy_map");
	ctx->auth_map = remote_open_map(d, "remote_auth_map");
	if (strlen(d->base_dir) >= sizeof ctx->base_dir)
		log_fatal("tree path too long");
	memcpy(ctx->base_dir, d->base_dir, strlen(d->base_dir) + 1);
}

/* ---- recipients and destinations ---- */

/* rcpt fields into rc[], with the notify/orcpt that follow each. */
static size_t remote_rcpts(const struct agent_request *q, struct remote_rcpt *rc)
{
	size_t n = 0;

	for (size_t i = 0; i < q->rec.n; i++) {
		const struct record_field *f = &q->rec.fields[i];
		if (strcmp(f->key, "rcpt") == 0) {
			memset(&rc[n], 0, sizeof rc[n]);
			rc[n].addr = f->value;
			rc[n].len = f->value_len;
			n++;
		} else if (n > 0 && strcmp(f->key, "notify") == 0) {
			rc[n - 1].notify = f->value;
		} else if (n > 0 && strcmp(f->key, "orcpt") == 0) {
			rc[n - 1].orcpt = f->value;
		}
	}
	return n;
}

/* The TLS policy of next hop d: the map's entry for it, else the
 * default.  A relayhost is looked up as written first
 * ([relay.example]:587, as Postfix's smtp_tls_policy_maps key it, the
 * key remote_auth_map takes too), then by its host name. */
static enum remote_tls_policy remote_tls_for(struct remote_ctx *ctx, const struct remote_dest *d)
{
	enum remote_tls_policy p = ctx->conf.tls_default;
	const char *name = d->name;
	struct buf v;
	int found = 0;

	if (ctx->tls_map == NULL)
		return p;
	buf_init(&v, 64);
	if (d->relay && (found = cdbmap_lookup(ctx->tls_map, ctx->relayhost, strlen(ctx->relayhost), &v)) == 1)
		name = ctx->relayhost;
	if (found == 0)
		found = cdbmap_lookup(ctx->tls_map, d->name, strlen(d->name), &v);
	if (found < 0) {
		log_warn("tls policy map: cannot read it for %s; using verify", d->name);
		p = REMOTE_TLS_VERIFY;   /* as for a typo: a read error must not weaken security */
	} else if (found == 1 && remote_tls_level(buf_cstr(&v), &p) < 0) {
		log_warn("tls policy map: %s: unknown level %s, using verify", name, buf_cstr(&v));
		p = REMOTE_TLS_VERIFY;   /* a typo must not weaken security */
	}
	buf_free(&v);
	return p;
}

/* The next hop of recipient rc: relayhost, or its domain.  0, or -1 with
 * the recipient failed (bad address). */
static int remote_dest_of(struct remote_ctx *ctx, struct remote_rcpt *rc, struct remote_dest *d)
{
	const char *error;
	long at;
	size_t dl;

	if (rc->len == 0 || !agent_text_ok(rc->addr, rc->len, ADDRESS_PATH_MAX) ||
	    address_validate(rc->addr, rc->len, 1, &error) < 0 ||   /* 8-bit: SMTPUTF8 (smtp_txn) */
	    (at = address_at(rc->addr, rc->len)) < 0) {
		remote_rcpt_set(rc, "failed", "5.1.3", "bad recipient address syntax");
		return -1;
	}
	if (ctx->relayhost[0] != '\0') {
		remote_parse_nexthop(ctx->relayhost, ctx->conf.port, d);
		d->relay = 1;
	} else {
		char dom[DNS_NAME_MAX + 1];
		dl = rc->len - (size_t)at - 1;
		if (dl == 0 || dl >= sizeof dom) {
			remote_rcpt_set(rc, "failed", "5.1.2", "bad destination domain");
			return -1;
		}
		for (size_t i = 0; i < dl; i++) {
			char c = rc->addr[at + 1 + (long)i];
			dom[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		dom[dl] = '\0';
		/* An address literal [1.2.3.4] / [IPv6:...] is a host, no MX (RFC 5321 4.1.3). */
		if (remote_parse_nexthop(dom, ctx->conf.port, d) < 0) {
			remote_rcpt_set(rc, "failed", "5.1.2", "bad destination domain");
			return -1;
		}
		d->port = ctx->conf.port;
	}
	d->tls = remote_tls_for(ctx, d);
	snprintf(d->key, sizeof d->key, "%s%s%s:%u/%d", d->no_mx ? "[" : "", d->name,
		 d->no_mx ? "]" : "", d->port, (int)d->tls);
	return 0;
}

/* ---- answering ---- */

static void remote_log(const struct agent_request *q, const struct remote_rcpt *rc)
{
	struct log_delivery_times t = q->times;

	t.setup_ms = rc->setup_ms;
	t.xfer_ms = rc->xfer_ms;
	log_delivery(q->queue_id, agent_text_ok(rc->addr, rc->len, ADDRESS_PATH_MAX) ? rc->addr : "(invalid)",
		     rc->relay, &t, rc->dsn, rc->status, rc->reason);
}

/* Answer rc[*next..] while they are final. -1 when the client is gone. */
static int remote_flush_answers(struct agent_conn *c, const struct agent_request *q,
				struct remote_rcpt *rc, size_t n, size_t *next)
{
	for (; *next < n && rc[*next].done; (*next)++) {
		remote_log(q, &rc[*next]);
		if (agent_answer(c, rc[*next].addr, rc[*next].len, rc[*next].status, rc[*next].dsn,
				 rc[*next].reason, rc[*next].action) < 0)
			return -1;
	}
	return 0;
}

/* ---- one request ---- */

/* Deliver every group of recipients sharing a next hop, in order of
 * first appearance, answering as results become final. */
static int remote_run_groups(struct remote_ctx *ctx, struct agent_conn *c, const struct remote_msg *m,
			     struct remote_rcpt *rc, size_t n)
{
	struct remote_dest *dest = calloc(n, sizeof *dest);
	struct remote_rcpt **grp = calloc(n, sizeof *grp);
	size_t next = 0;
	int ret = 0;

	if (dest == NULL || grp == NULL) {
		for (size_t i = 0; i < n; i++)
			remote_rcpt_set(&rc[i], "deferred", "4.3.0", "out of memory");
		ret = remote_flush_answers(c, m->q, rc, n, &next);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!rc[i].done)
			(void)remote_dest_of(ctx, &rc[i], &dest[i]);
	for (size_t i = 0; i < n && ret == 0; i++) {
		size_t k = 0;
		struct remote_rcpt *group;
		if (rc[i].done)
			continue;
		/* Collect this destination's recipients into a contiguous copy. */
		for (size_t j = i; j < n; j++)
			if (!rc[j].done && strcmp(dest[j].key, dest[i].key) == 0)
				grp[k++] = &rc[j];
		group = calloc(k, sizeof *group);
		if (group == NULL) {
			for (size_t j = 0; j < k; j++)
				remote_rcpt_set(grp[j], "deferred", "4.3.0", "out of memory");
		} else {
			for (size_t j = 0; j < k; j++)
				group[j] = *grp[j];
			remote_route_deliver(ctx, m, &dest[i], group, k);
			for (size_t j = 0; j < k; j++)
				*grp[j] = group[j];
			free(group);
		}
		ret = remote_flush_answers(c, m->q, rc, n, &next);
	}
	if (ret == 0)
		ret = remote_flush_answers(c, m->q, rc, n, &next);
out:
	free(dest);
	free(grp);
	return ret;
}

/* Serve one request.  1 to go on, 0 to end the connection. */
static int remote_request(struct remote_ctx *ctx, struct agent_conn *c, struct agent_request *q)
{
	struct remote_msg m = { .q = q };
	struct remote_rcpt *rc = calloc(q->nrcpt, sizeof *rc);
	size_t n, next = 0;
	const char *bad = q->bad;
	int ret;

	if (rc == NULL)
		return 0;   /* the client defers what it got no answer for */
	n = remote_rcpts(q, rc);
	if (bad == NULL)
		bad = smtp_txn_msg_of_request(q, 1, &m.txn);
	if (bad != NULL) {
		if (q->bad == NULL)   /* common/agent logged its own findings */
			log_warn("%s: bad request: %s", q->queue_id, bad);
		for (size_t i = 0; i < n; i++)
			remote_rcpt_set(&rc[i], "deferred", "4.3.0", "bad request: %s", bad);
		ret = remote_flush_answers(c, q, rc, n, &next);
	} else {
		ret = remote_run_groups(ctx, c, &m, rc, n);
	}
	free(rc);
	return ret == 0;
}

static void remote_serve(int in_fd, int out_fd, void *arg)
{
	struct remote_ctx *ctx = arg;
	struct agent_request q = AGENT_REQUEST_INIT;
	int standalone = ctx->standalone;
	unsigned long long idle = config_time("daemon_idle_timeout");
	int idle_ms = idle == 0 ? -1 : idle > INT_MAX / 1000 ? INT_MAX : (int)idle * 1000;
	struct agent_conn *c = agent_conn_new(in_fd, out_fd, standalone, remote_ms("ipc_timeout"), idle_ms);

	if (c == NULL) {
		log_warn("cannot set up the connection: %s", strerror(errno));
		return;
	}
	for (;;) {
		/* While sessions are cached, wake up to close them in time. */
		int ms = remote_cache_expire(ctx);
		if (ms >= 0 && agent_wait_input(c, ms) == 0)
			continue;
		if (agent_read(c, &q) <= 0 || !remote_request(ctx, c, &q) || standalone || daemon_stopping())
			break;
	}
	agent_request_clear(&q);
	agent_conn_free(&c);
	if (standalone || daemon_stopping())
		remote_cache_flush(ctx);
}

int main(int argc, char **argv)
{
	static struct remote_ctx ctx;
	struct daemon d;

	daemon_init(&d, "remote", argc, argv);
	if (d.argc != 0)
		log_fatal("unexpected argument: %s", d.argv[0]);
	ctx.standalone = d.inetd;
	remote_conf_load(&ctx, &d);
	daemon_drop(&d);
	daemon_serve(&d, remote_serve, &ctx);
	remote_cache_flush(&ctx);
	dns_close(&ctx.dns);
	cdbmap_close(&ctx.tls_map);
	cdbmap_close(&ctx.auth_map);
	tls_ctx_free(&ctx.tls_ctx_any);
	tls_ctx_free(&ctx.tls_ctx_verify);
	return 0;
}
