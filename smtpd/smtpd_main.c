/* smtpd: the SMTP receiver (RFC 5321, with PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES, STARTTLS, AUTH, SMTPUTF8, CHUNKING and DSN).
 *
 * Offers: `smtpd -c DIR/etc [-i] [-v] [smtp|submission|smtps]`.  The
 * mode word selects the service: smtp (port 25, the default: an MX,
 * STARTTLS offered, no AUTH, mail only for local domains unless the
 * client is in mynetworks), submission (587, RFC 6409: AUTH offered only
 * after STARTTLS and required for MAIL) or smtps (465, RFC 8314: TLS from
 * the first byte, AUTH required).  Under the master it accepts clients
 * on the listener (fd 3) one at a time; with -i it serves one session on
 * stdin/stdout.  Each accepted message is streamed to the enqueue service
 * (with milters: held until they have seen it, smtpd_milter.c and common/milter_message.c) and
 * acknowledged only once enqueue has it on stable storage.
 *
 * Runs as: postern-smtpd, chrooted into the empty run/jail (docs/tree.md).
 * Reads: etc/postern.conf, etc/domains, etc/domains.cdb,
 * etc/mailboxes.cdb, the smtpd_sender_login_maps map, the TLS
 * certificate and key, and for SPF (port 25) the resolver configuration
 * (dns_servers or resolv.conf), all opened before privileges are
 * dropped; it also
 * opens DIR/run/smtpd.sessions for the per-client session slots (locks
 * only, never written), the access maps of smtpd_*_access, and
 * DIR/run/smtpd.rates (the shared rate counters, smtpd_access.c), and
 * DIR/queue/tmp for its free space (smtpd_space.c).
 * Writes: its client connection, the enqueue, authd and verify sockets
 * (private/ inside its root), the counters of smtpd.rates, and the
 * policy servers and milters it is configured to ask.
 *
 * Trusts: the configuration and maps (root's); nothing a client sends.
 *
 * Fails: a missing map or bad setting is fatal at start (exit 1, the
 * master restarts us and logs why); per-session problems end only that
 * session. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "cdbmap.h"
#include "config.h"
#include "daemon.h"
#include "enqueue_client.h"
#include "log.h"
#include "map_setting.h"
#include "record.h"
#include "session_slots.h"
#include "smtpd.h"
#include "tls.h"

/* Seconds from the config as milliseconds for poll(), saturated. */
static int smtpd_ms(unsigned long long seconds)
{
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)seconds * 1000;
}

/* The first domain named in etc/domains, for the bare <postmaster> of
 * RFC 5321 4.5.1 (cdb files have no order).  Missing file or no domain:
 * "" and <postmaster> is refused. */
static void smtpd_first_domain(const struct daemon *d, char *out, size_t outlen)
{
	char path[sizeof(d->etc_dir) + 32], line[512];
	FILE *fp;
	int n = snprintf(path, sizeof(path), "%s/domains", d->etc_dir);

	out[0] = '\0';
	if (n < 0 || (size_t)n >= sizeof(path) || (fp = fopen(path, "re")) == NULL)
		return;
	while (out[0] == '\0' && fgets(line, sizeof(line), fp) != NULL) {
		size_t i = 0, len;

		if (strchr(line, '\n') == NULL && !feof(fp)) {
			/* Longer than any domain line: skip it whole. */
			int c;
			while ((c = getc(fp)) != EOF && c != '\n')
				;
			continue;
		}
		while (line[i] == ' ' || line[i] == '\t')
			i++;
		len = strcspn(line + i, " \t\r\n#");
		if (len == 0 || len >= outlen)
			continue;   /* empty, comment, or longer than a domain */
		for (size_t k = 0; k < len; k++)
			out[k] = (char)tolower((unsigned char)line[i + k]);
		out[len] = '\0';
	}
	fclose(fp);
}

/* The optional mode word of the command line (master.conf args). */
static enum smtpd_mode smtpd_mode_arg(const struct daemon *d)
{
	if (d->argc == 0 || strcmp(d->argv[0], "smtp") == 0)
		return SMTPD_MODE_SMTP;
	if (d->argc == 1 && strcmp(d->argv[0], "submission") == 0)
		return SMTPD_MODE_SUBMISSION;
	if (d->argc == 1 && strcmp(d->argv[0], "smtps") == 0)
		return SMTPD_MODE_SMTPS;
	log_fatal("usage: smtpd -c DIR/etc [-i] [-v] [smtp|submission|smtps]");
}

/* The TLS context.  Submission and SMTPS cannot work without it; the MX
 * can, it then offers no STARTTLS (and says so once). */
static void smtpd_tls_init(struct smtpd_ctx *ctx, const struct daemon *d)
{
	const char *err;

	ctx->tls_handshake_ms = tls_handshake_ms();
	ctx->tls = tls_server_ctx_config(d->etc_dir, &err);
	if (ctx->tls != NULL)
		return;
	if (ctx->mode != SMTPD_MODE_SMTP)
		log_fatal("%s", err);
	log_warn("STARTTLS disabled: %s", err);
}

/* The lock file of the per-client session slots (smtpd_policy.c). */
static void smtpd_limit_init(struct smtpd_ctx *ctx, const struct daemon *d)
{
	char path[sizeof(d->base_dir) + 32];
	int n = snprintf(path, sizeof(path), "%s/run/smtpd.sessions", d->base_dir);

	ctx->conn_fd = -1;
	if (ctx->conn_limit == 0)
		return;
	if (ctx->conn_limit > 4096)
		log_fatal("smtpd_client_connection_limit must be at most 4096");
	if (n < 0 || (size_t)n >= sizeof(path))
		log_fatal("%s/run: path too long", d->base_dir);
	ctx->conn_fd = session_slots_open(path, "smtpd_client_connection_limit");
}

struct cdbmap *smtpd_open_map_key(const struct daemon *d, const char *key)
{
	const char *name = config_str(key);
	char file[MAP_SETTING_NAME_MAX];

	if (name[0] == '\0')
		return NULL;
	if (name[0] == '/' || strstr(name, "..") != NULL)
		log_fatal("%s: must be a map relative to %s", key, d->etc_dir);
	if (map_setting_cdb(name, file, sizeof(file)) < 0)
		log_fatal("%s: map name too long", key);
	return daemon_open_map(d, file, 0);
}

static void smtpd_maps_init(struct smtpd_ctx *ctx, const struct daemon *d)
{

	ctx->domains = daemon_open_map(d, "domains.cdb", 0);
	ctx->mailboxes = daemon_open_map(d, "mailboxes.cdb", 0);
	ctx->aliases = daemon_open_map(d, "aliases.cdb", 1);
	ctx->transport = daemon_open_map(d, "transport.cdb", 1);
	ctx->recipients = (struct recipient_maps){
		.mailboxes = ctx->mailboxes, .aliases = ctx->aliases, .transport = ctx->transport,
		.delimiters = config_str("recipient_delimiter"),
	};
	smtpd_first_domain(d, ctx->first_domain, sizeof(ctx->first_domain));
	ctx->sender_logins = smtpd_open_map_key(d, "smtpd_sender_login_maps");
}

/* The limits of item 5 of the issue, each a postern.conf key. */
static void smtpd_limits_init(struct smtpd_ctx *ctx)
{
	unsigned long long delay = config_time("smtpd_auth_failure_delay"), wait;

	ctx->header_limit = config_size("smtpd_header_size_limit");
	if (ctx->header_limit < 1024 || ctx->header_limit > 64ULL * 1024 * 1024)
		log_fatal("smtpd_header_size_limit must be between 1k and 64m");
	ctx->session_limit = config_time("smtpd_session_time_limit");
	ctx->conn_limit = config_size("smtpd_client_connection_limit");
	ctx->auth_fail_limit = config_size("smtpd_auth_failure_limit");
	if (delay > 60)
		log_fatal("smtpd_auth_failure_delay must be at most 60s");
	ctx->auth_fail_delay = (unsigned)delay;
	ctx->forbid_bare_newline = config_bool("smtpd_forbid_bare_newline");
	ctx->received_tls = config_bool("smtpd_received_tls");
	ctx->received_auth = config_bool("smtpd_received_auth");
	ctx->lmtp_verify = config_bool("lmtp_verify_recipients");
	/* verify answers within its probe's bound; ipc_timeout on top. */
	if (__builtin_add_overflow(config_time("lmtp_verify_timeout"), config_time("ipc_timeout"), &wait))
		wait = ULLONG_MAX;
	ctx->verify_ms = smtpd_ms(wait);
}

static void smtpd_ctx_init(struct smtpd_ctx *ctx, const struct daemon *d)
{
	unsigned long long line = config_size("smtpd_line_limit");

	memset(ctx, 0, sizeof(*ctx));
	ctx->mode = smtpd_mode_arg(d);
	ctx->hostname = config_str("myhostname");
	/* It goes into every reply; a reply line must stay bounded. */
	if (strlen(ctx->hostname) > 255 || strpbrk(ctx->hostname, " \t\r\n") != NULL)
		log_fatal("myhostname must be one word of at most 255 bytes");
	ctx->size_limit = config_size("message_size_limit");
	/* Every limit is explicit: 0 is no "unlimited" (config.c refuses it
	 * at load; this keeps SIZE 0 from ever being advertised). */
	if (ctx->size_limit == 0)
		log_fatal("message_size_limit must be at least 1");
	ctx->rcpt_limit = config_size("smtpd_recipient_limit");
	/* Every recipient is one field of the enqueue record. */
	if (ctx->rcpt_limit > RECORD_MAX_FIELDS - 8)
		log_fatal("smtpd_recipient_limit must be at most %d", RECORD_MAX_FIELDS - 8);
	ctx->error_limit = config_size("smtpd_hard_error_limit");
	/* RFC 5321 4.5.3.1.4-6: 512 for commands, 1000 for text; less
	 * would refuse compliant clients. */
	if (line < 1000 || line > 1024 * 1024)
		log_fatal("smtpd_line_limit must be between 1000 and 1048576");
	ctx->line_limit = (size_t)line;
	ctx->timeout_ms = smtpd_ms(config_time("smtpd_timeout"));
	enqueue_set_timeout(smtpd_ms(config_time("ipc_timeout")));
	smtpd_limits_init(ctx);
	smtpd_maps_init(ctx, d);
	smtpd_policy_init(ctx);
	smtpd_delegate_init();
	smtpd_spf_init(ctx);
	smtpd_dkim_init(ctx);
	smtpd_dmarc_init(ctx);   /* after DKIM: it evaluates only verified mail */
	smtpd_milter_init();
	smtpd_tls_init(ctx, d);
	smtpd_limit_init(ctx, d);
	smtpd_access_init(ctx, d);
	smtpd_space_init(ctx, d);
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct smtpd_ctx ctx;

	daemon_init(&d, "smtpd", argc, argv);
	smtpd_ctx_init(&ctx, &d);
	daemon_drop(&d);
	daemon_serve(&d, smtpd_serve, &ctx);
	cdbmap_close(&ctx.domains);
	cdbmap_close(&ctx.mailboxes);
	cdbmap_close(&ctx.aliases);
	cdbmap_close(&ctx.transport);
	cdbmap_close(&ctx.sender_logins);
	smtpd_access_free(&ctx);
	tls_ctx_free(&ctx.tls);
	smtpd_spf_free(&ctx);
	smtpd_dmarc_free(&ctx);
	smtpd_dkim_free(&ctx);
	free(ctx.mynetworks);
	free(ctx.limit_exceptions);
	if (ctx.conn_fd >= 0)
		close(ctx.conn_fd);
	if (ctx.queue_fd >= 0)
		close(ctx.queue_fd);
	return 0;
}
