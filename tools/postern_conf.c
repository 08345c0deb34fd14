/* postern_conf: the documented configuration files `postern init` writes.
 *
 * Offers: the text of postern.conf, generated from the key table of
 * common/config.c (every key: its doc as a comment, its default as a
 * commented-out line), and the text of master.conf for a listen address
 * and port base, with every column explained, one line per row of the
 * service table (common/service_table.c).  The same generators
 * produce etc/postern.conf and etc/master.conf of the source tree, and
 * the list of keys of the man page postern.conf(5) (`postern
 * config-defaults --man`, which the Makefile puts into
 * docs/man/postern.conf.5.in), so the shipped documentation cannot drift
 * from the code.
 *
 * Trusts: the key table (ours); the host name, program directory and
 * listen address are checked by the caller.
 *
 * Fails: -1 when the output buffer cannot grow (no memory). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "postern.h"
#include "service_table.h"

#define POSTERN_CONF_WIDTH 76   /* wrap doc comments at this column */

static const char postern_conf_header[] =
	"# postern.conf: settings of the Postern mail system.\n"
	"#\n"
	"# Syntax: `key = value`.  A line whose first non-blank character is `#`\n"
	"# is a comment; a line that begins with white space continues the value\n"
	"# of the line before.  Sizes take k/m/g suffixes (1024-based), times\n"
	"# s/m/h/d/w (none: seconds), booleans yes/no.  An unknown key, a bad value\n"
	"# or a key given twice is an error.\n"
	"#\n"
	"# Every key is listed below with its documentation and, commented out,\n"
	"# its default.  `postern check` validates this file; `postern reload`\n"
	"# makes the running services read it again.\n";

struct postern_conf_ctx {
	struct buf *out;
	const char *host;      /* active myhostname, or NULL */
	const char *progdir;   /* active program_directory, or NULL */
	int failed;
};

/* Append doc as "# " comment lines wrapped at POSTERN_CONF_WIDTH; a word
 * longer than the width gets a line of its own rather than being cut. */
static int postern_conf_doc(struct buf *out, const char *doc)
{
	const char *p = doc;
	size_t col = 0;

	while (*p != '\0') {
		size_t word;

		while (*p == ' ')
			p++;
		word = strcspn(p, " ");
		if (word == 0)
			break;
		if (col > 0 && col + 1 + word > POSTERN_CONF_WIDTH) {
			if (buf_putc(out, '\n') < 0)
				return -1;
			col = 0;
		}
		if (col == 0) {
			if (buf_append_str(out, "#") < 0)
				return -1;
			col = 1;
		}
		if (buf_putc(out, ' ') < 0 || buf_append(out, p, word) < 0)
			return -1;
		col += 1 + word;
		p += word;
	}
	return col > 0 ? buf_putc(out, '\n') : 0;
}

/* After the keys: the limits that are not settings, so that every limit
 * is written down in etc/ (DESIGN.md: every limit is explicit). */
static const char postern_conf_footer[] =
	"\n"
	"# Fixed limits (compiled in, not settings).  No key changes these; input\n"
	"# past one is refused or ignored as said here.\n"
	"#\n"
	"# SMTP server (smtpd):\n"
	"#   HELO/EHLO name: 255 bytes of printable ASCII; else 501 5.5.4.\n"
	"#   Address: local part 64 bytes, domain 255, path 256 with its <>;\n"
	"#     longer: 501 5.1.3 Bad sender (or recipient) address syntax.\n"
	"#   ESMTP parameters: 16 per MAIL or RCPT, keywords of 32 bytes; more:\n"
	"#     501 5.5.4 Syntax error in parameters.\n"
	"#   ENVID 100 bytes and ORCPT 500 bytes once decoded (ORCPT type 32);\n"
	"#     longer: 501 5.5.4 Bad ENVID (Bad ORCPT) parameter.\n"
	"#   AUTH: a response decodes to 2048 bytes at most (more: 501 5.5.2);\n"
	"#     a user name over 255 bytes or a password over 1024 is a failed\n"
	"#     login (535 5.7.8, counted in smtpd_auth_failure_limit).\n"
	"#   BDAT chunk size: at most 18 digits; more: 501 5.5.4, then the\n"
	"#     connection is closed.\n"
	"#   Policy server answer: 4096 bytes and 32 attribute lines; more is\n"
	"#     malformed (smtpd_policy_service_default_action, logged).  PREPEND\n"
	"#     text: 8192 bytes per message; more is dropped (logged).\n"
	"#   Milter reply packet: 1 MiB; more is a protocol error\n"
	"#     (milter_default_action).\n"
	"#\n"
	"# SMTP and LMTP client (remote, LMTP delivery):\n"
	"#   Server reply: lines of 4096 bytes with CRLF, 100 lines, 16 KiB of\n"
	"#     text; more ends the session as a lost connection (remote tries the\n"
	"#     next host; LMTP defers).\n"
	"#\n"
	"# POP3 (popd):\n"
	"#   Command line: 255 bytes with CRLF (AUTH with its initial response\n"
	"#     too): -ERR Line too long.  SASL response: 2048 bytes: -ERR\n"
	"#     Response too long.  Both count toward pop3_hard_error_limit.\n"
	"#   Message numbers: at most 4294967295: -ERR Invalid number.\n"
	"#   Messages per session: 1,000,000; the rest wait (logged).\n"
	"#\n"
	"# IMAP (imapd):\n"
	"#   Tag: 256 bytes (* BAD Tag too long); command name: 32 bytes.\n"
	"#   Arguments of one command, list items included: 8192; list nesting:\n"
	"#     32; parsed command: 8 MiB; more: BAD.\n"
	"#   Literals of a command other than APPEND: 64 KiB in all, NO [TOOBIG].\n"
	"#   imap_line_limit is taken as at least 8192 and at most 16 MiB.\n"
	"#   Section path: 64 parts; sequence set: 32768 ranges; flag list: 256\n"
	"#     keywords; search program: 64 levels; SORT: 32 criteria; ID: 30\n"
	"#     pairs, names of 30 bytes, values of 1024; more: BAD.\n"
	"#   Keywords per mailbox: 26 (dovecot-keywords): NO [LIMIT].\n"
	"#   Mailbox name: 512 bytes: NO [CANNOT] Invalid mailbox name.\n"
	"#   LIST: 64 patterns (NO [LIMIT]); 10000 mailboxes and 10000\n"
	"#     subscriptions read (* NO [LIMIT], the rest not listed).\n"
	"#   MULTIAPPEND: 64 messages (NO [LIMIT]).  SORT and THREAD: 256 MiB of\n"
	"#     keys (NO [LIMIT]), the last 100 References of a message.\n"
	"#   LOGIN: user name 255 bytes, password 1024, else NO\n"
	"#     [AUTHENTICATIONFAILED]; AUTHENTICATE response: 2048 bytes decoded,\n"
	"#     else BAD.\n"
	"#   POP3 and IMAP: 16384 bytes sent past the login command; more: the\n"
	"#     login fails with the protocol's temporary error (logged).\n"
	"#\n"
	"# MIME parser (IMAP BODYSTRUCTURE, search, preview; never an error, the\n"
	"# message is always served whole):\n"
	"#   100 levels (a deeper part is one opaque part), 10000 parts (the rest\n"
	"#   is body of the last open multipart), 10000 lines of one header, 100\n"
	"#   parameters of a field, Content-* fields of 64 KiB (longer: ignored),\n"
	"#   boundaries of 1000 bytes (longer: not a boundary), 10000 addresses\n"
	"#   of one field, encoded words of 256 bytes (longer: left as they are).\n"
	"#\n"
	"# DKIM (docs/dkim.md): 1000 header fields, tag lists of 64 tags and\n"
	"#   8 KiB, 256 names in h=, key records of 4096 bytes, RSA keys up to\n"
	"#   8192 bits; more: dkim=permerror.  16 signatures kept per message.\n"
	"# SPF: records of 8192 bytes and 128 terms (more: permerror); 10 DNS\n"
	"#   terms, 2 void lookups, 10 MX names per mx (more: permerror); 10 PTR\n"
	"#   names looked at; an exp= text over 256 bytes is not used.\n"
	"# DMARC: a record over 4096 bytes is not used (dmarc=none); tags after\n"
	"#   the 64th are not read.\n"
	"# DNS answers: 32 MX hosts per domain (the least preferred dropped), 16\n"
	"#   addresses per host, 64 TXT records per name.\n"
	"#\n"
	"# Metrics HTTP server: request head 8192 bytes, 64 header fields, target\n"
	"#   255 bytes; more: 400.\n"
	"#\n"
	"# Files:\n"
	"#   postern.conf: 1 MiB, keys of 64 bytes, values of 4096 bytes with\n"
	"#     their continuation lines; more is an error, as a bad value is.\n"
	"#     Address lists (mynetworks and the lists built on it): 256 blocks.\n"
	"#   master.conf: lines of 1024 bytes, 64 services, 16 arguments after\n"
	"#     the command, names and users of 32 bytes, maxproc 1 to 10000.\n"
	"#   Text maps (postern map): lines of 4096 bytes, keys of 1024; more\n"
	"#     is a compile error.  A transport value over 512 bytes is a lookup\n"
	"#     failure (451 4.3.0); a quota value over 64 bytes is ignored\n"
	"#     (mailbox_quota applies, logged).\n"
	"#   aliases: lines of 4096 bytes, entries of 64 KiB and 1000 targets,\n"
	"#     the file 64 MiB, an :include: file 1 MiB.\n"
	"#   users: 64 MiB, lines of 4096 bytes, else every login fails\n"
	"#     temporarily (logged); a password over 512 bytes never matches.\n"
	"#   dovecot-uidlist: lines of 4096 bytes, 1,000,000 records, 320000000\n"
	"#     bytes; more: the folder gets a new UIDVALIDITY (logged).\n"
	"#   dovecot-keywords: 26 names of 255 bytes; a larger file is not used\n"
	"#     (letters keep no names, logged).\n"
	"#   maildirsize: over 5120 bytes it is rebuilt; a rebuild counts 10000\n"
	"#     folders at most.\n"
	"#   Queue files (docs/queue.md): header 1 MiB, 10000 recipients,\n"
	"#     addresses of 256 bytes.\n"
	"#   sendmail -F full name: 256 bytes, else the message is refused.\n";

static void postern_conf_key(const char *key, const char *value, const char *doc, void *arg)
{
	struct postern_conf_ctx *ctx = arg;
	const char *active = NULL;

	if (ctx->failed)
		return;
	if (strcmp(key, "myhostname") == 0)
		active = ctx->host;
	else if (strcmp(key, "program_directory") == 0)
		active = ctx->progdir;
	if (buf_putc(ctx->out, '\n') < 0 || postern_conf_doc(ctx->out, doc) < 0 ||
	    buf_printf(ctx->out, "#%s =%s%s\n", key, value[0] != '\0' ? " " : "", value) < 0 ||
	    (active != NULL && buf_printf(ctx->out, "%s = %s\n", key, active) < 0))
		ctx->failed = 1;
}

int postern_conf_text(struct buf *out, const char *host, const char *progdir)
{
	struct postern_conf_ctx ctx = { out, host, progdir, 0 };

	if (buf_append_str(out, postern_conf_header) < 0)
		return -1;
	config_each_default(postern_conf_key, &ctx);
	if (!ctx.failed && buf_append_str(out, postern_conf_footer) < 0)
		return -1;
	return ctx.failed ? -1 : 0;
}

static const char postern_master_header[] =
	"# master.conf: the services the Postern master starts, one per line.\n"
	"# Written by `postern init`; `postern check` validates it and\n"
	"# `postern reload` makes the master read it again.\n"
	"#\n"
	"# Columns, separated by white space; `#` starts a comment line:\n"
	"#   name     the service: its process title (postern/NAME) and log tag\n"
	"#            (NAME; smtpd's and remote's as Postfix's: smtpd, NAME/smtpd,\n"
	"#            smtp, NAME/smtp), and for a unix service the socket other\n"
	"#            services reach it by\n"
	"#   type     inet (a TCP listener) or unix (a Unix socket)\n"
	"#   listen   inet: HOST:PORT, or [IPV6]:PORT; unix: the socket's name,\n"
	"#            bound at DIR/private/NAME and linked into the private/\n"
	"#            directory of each root whose processes connect to it\n"
	"#   user     system user the service runs as when the master is started\n"
	"#            by root (otherwise everything runs as the invoking user)\n"
	"#   root     directory, relative to DIR, that the service is chrooted\n"
	"#            into (only entered when not root); - means DIR itself\n"
	"#   maxproc  most processes of the service; the master starts the first\n"
	"#            when a client comes, then keeps one idle process ready, up\n"
	"#            to maxproc, until one leaves idle (qmgr and metrics: one\n"
	"#            process at all times)\n"
	"#   command  program in program_directory (postern.conf), run as\n"
	"#            `command -c DIR/etc [args]` with the listener as fd 3\n"
	"#\n";

/* One line of master.conf for a row of the service table. */
static int postern_master_line(struct buf *out, const struct service_entry *s,
			       const char *addr, unsigned port_base)
{
	char listen[128], command[128];
	int n, m;

	/* a port that would not exist (a high base) is the standard one */
	if (s->kind == SERVICE_KIND_INET && port_base + s->port > 65535)
		port_base = 0;
	if (s->kind == SERVICE_KIND_UNIX)
		n = snprintf(listen, sizeof(listen), "%s", s->name);
	else if (strchr(addr, ':') != NULL)
		n = snprintf(listen, sizeof(listen), "[%s]:%u", addr, port_base + s->port);
	else
		n = snprintf(listen, sizeof(listen), "%s:%u", addr, port_base + s->port);
	m = snprintf(command, sizeof(command), "%s%s%s", s->command, s->args != NULL ? " " : "",
		     s->args != NULL ? s->args : "");
	if (n < 0 || (size_t)n >= sizeof(listen) || m < 0 || (size_t)m >= sizeof(command))
		return -1;
	/* a service that is off is there to be enabled by removing the # */
	if (s->off && buf_append_str(out, "# off by default: remove the # to enable (docs/metrics.md)\n#") < 0)
		return -1;
	return buf_printf(out, "%-10s %-5s %-17s %-14s %-9s %-8u %s\n", s->name,
			  s->kind == SERVICE_KIND_INET ? "inet" : "unix", listen, s->user, s->root,
			  s->maxproc, command);
}

int postern_master_text(struct buf *out, const char *addr, unsigned port_base)
{
	if (buf_append_str(out, postern_master_header) < 0 ||
	    buf_append_str(out, "# name     type  listen            user           "
			   "root      maxproc  command [args]\n") < 0)
		return -1;
	for (size_t i = 0; service_table_get(i) != NULL; i++)
		if (postern_master_line(out, service_table_get(i), addr, port_base) < 0)
			return -1;
	return 0;
}

/* text as roff input: a backslash is \e, a line never starts with a
 * control character (. or '), and in a literal value (code) a hyphen
 * is \- so that it stays a minus sign when copied from the page. */
static int postern_conf_roff(struct buf *out, const char *text, int literal)
{
	if ((text[0] == '.' || text[0] == '\'') && buf_append_str(out, "\\&") < 0)
		return -1;
	for (const char *p = text; *p != '\0'; p++) {
		int r = *p == '\\' ? buf_append_str(out, "\\e") :
			*p == '-' && literal ? buf_append_str(out, "\\-") : buf_putc(out, *p);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* "\fIvalue\fR", or "(empty)". */
static int postern_conf_man_value(struct buf *out, const char *value)
{
	if (value[0] == '\0')
		return buf_append_str(out, "(empty)");
	if (buf_append_str(out, "\\fI") < 0 || postern_conf_roff(out, value, 1) < 0)
		return -1;
	return buf_append_str(out, "\\fR");
}

static void postern_conf_man_key(const char *key, const char *value, const char *doc, void *arg)
{
	struct postern_conf_ctx *ctx = arg;
	struct buf *out = ctx->out;

	if (ctx->failed)
		return;
	if (buf_append_str(out, ".TP\n\\fB") < 0 || postern_conf_roff(out, key, 1) < 0 ||
	    buf_append_str(out, "\\fR = ") < 0 || postern_conf_man_value(out, value) < 0 ||
	    buf_putc(out, '\n') < 0 || postern_conf_roff(out, doc, 0) < 0 || buf_putc(out, '\n') < 0)
		ctx->failed = 1;
}

int postern_conf_man(struct buf *out)
{
	struct postern_conf_ctx ctx = { out, NULL, NULL, 0 };

	config_each_default(postern_conf_man_key, &ctx);
	return ctx.failed ? -1 : 0;
}

int postern_cmd_config_defaults(int argc, char **argv)
{
	struct buf out;

	if (argc == 2 && strcmp(argv[1], "--man") == 0) {
		buf_init(&out, 1024 * 1024);
		return postern_print(&out, postern_conf_man(&out), "the keys of postern.conf(5)");
	}
	if (argc != 1)
		return postern_usage();
	buf_init(&out, 1024 * 1024);
	return postern_print(&out, postern_conf_text(&out, NULL, NULL), "the default postern.conf");
}

int postern_cmd_master_defaults(int argc, char **argv)
{
	struct buf out;

	(void)argv;
	if (argc != 1)
		return postern_usage();
	buf_init(&out, 64 * 1024);
	return postern_print(&out, postern_master_text(&out, "127.0.0.1", 10000), "the default master.conf");
}
