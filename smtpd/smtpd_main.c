/* smtpd: the SMTP receiver (RFC 5321, with PIPELINING, SIZE, 8BITMIME
 * and ENHANCEDSTATUSCODES).
 *
 * Offers: `smtpd -c DIR/etc [-i] [-v]`.  Under the master it accepts
 * clients on the listener (fd 3) one at a time; with -i it serves one
 * session on stdin/stdout.  Each accepted message is streamed to the
 * enqueue service and acknowledged only once enqueue has it on stable
 * storage.
 *
 * Runs as: postern-smtpd, chrooted into the empty run/jail (docs/tree.md).
 * Reads: etc/postern.conf, etc/domains, etc/domains.cdb and
 * etc/mailboxes.cdb, all opened before privileges are dropped.  Writes:
 * nothing but its client connection and the enqueue socket
 * (private/enqueue inside its root).
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

#include "cdbmap.h"
#include "config.h"
#include "daemon.h"
#include "enqueue_client.h"
#include "log.h"
#include "record.h"
#include "smtpd.h"

/* Seconds from the config as milliseconds for poll(), saturated. */
static int smtpd_ms(unsigned long long seconds)
{
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)seconds * 1000;
}

static struct cdbmap *smtpd_open_map(const struct daemon *d, const char *name)
{
	char path[sizeof(d->etc_dir) + 32];
	struct cdbmap *map;
	const char *err;
	int n = snprintf(path, sizeof(path), "%s/%s", d->etc_dir, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		log_fatal("%s/%s: path too long", d->etc_dir, name);
	if (cdbmap_open(path, &map, &err) < 0)
		log_fatal("%s: %s", path, err);
	return map;
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

static void smtpd_ctx_init(struct smtpd_ctx *ctx, const struct daemon *d)
{
	unsigned long long line = config_size("smtpd_line_limit");

	memset(ctx, 0, sizeof(*ctx));
	ctx->hostname = config_str("myhostname");
	/* It goes into every reply; a reply line must stay bounded. */
	if (strlen(ctx->hostname) > 255 || strpbrk(ctx->hostname, " \t\r\n") != NULL)
		log_fatal("myhostname must be one word of at most 255 bytes");
	ctx->size_limit = config_size("message_size_limit");
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
	ctx->domains = smtpd_open_map(d, "domains.cdb");
	ctx->mailboxes = smtpd_open_map(d, "mailboxes.cdb");
	smtpd_first_domain(d, ctx->first_domain, sizeof(ctx->first_domain));
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
	return 0;
}
