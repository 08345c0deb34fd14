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
	return ctx.failed ? -1 : 0;
}

static const char postern_master_header[] =
	"# master.conf: the services the Postern master starts, one per line.\n"
	"# Written by `postern init`; `postern check` validates it and\n"
	"# `postern reload` makes the master read it again.\n"
	"#\n"
	"# Columns, separated by white space; `#` starts a comment line:\n"
	"#   name     the service: its log tag and process title, and for a unix\n"
	"#            service the socket other services reach it by\n"
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
