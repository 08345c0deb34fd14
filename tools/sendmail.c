/* sendmail: the sendmail(1), mailq(1) and newaliases(1) front-ends of Postern.
 *
 * Offers: what mail programs expect of /usr/sbin/sendmail.
 *   sendmail [-t] [-i|-oi] [-f SENDER|-r SENDER] [-F NAME] [-C DIR] [RCPT...]
 *     reads a message from stdin (up to a line "." unless -i/-oi; CRLF
 *     is taken as LF), with -t adds the To, Cc and Bcc addresses of the
 *     header to the recipients and removes the Bcc lines, and hands it
 *     to pickup through DIR/public/pickup.  -N NOTIFY (never, or a comma
 *     list of success, delay, failure), -R RET (full or hdrs) and -V
 *     ENVID are the RFC 3461 parameters of the submission, stored with
 *     the message as SMTP's are.  Other -o options, -v, -B, -X, -odi,
 *     -odb and -bm are accepted and ignored.
 *   sendmail -bp, or the name mailq: list the queue in Postfix's mailq
 *     format.  Root and the queue owner run `postern queue list --mailq`;
 *     anyone else asks pickup (cmd=list), which lists every user's
 *     messages unless mailq_restrict = yes.
 *   sendmail -q: flush the queue: `postern queue flush` for root and the
 *     queue owner; anyone else asks pickup, which refuses (exit 69).
 *     -qRSITE flushes only the mail for SITE (`flush --domain SITE`);
 *     -qINTERVAL (-q30m, -q1h) starts nothing and exits 0 with a note,
 *     as Postfix ignores it: qmgr runs the queue by itself.
 *   sendmail -bi (or -I), or the name newaliases: rebuild the aliases
 *     map, as Postfix's do: runs `postern map -d DIR aliases` as the
 *     caller (so only who may write DIR/etc succeeds), with its output
 *     and exit status.
 *   sendmail -bv ADDRESS...: deliver nothing; say where each address
 *     would go.  Routing as qmgr routes (a local domain, in
 *     etc/domains.cdb or myhostname, or no domain: local; else remote, via relayhost or the domain's MX
 *     hosts); a local address is resolved by the local agent itself
 *     (`local -c DIR/etc verify ADDRESS`, the code that delivers: aliases,
 *     mailboxes, forwards, LMTP).  Exit 0 when every address is
 *     deliverable, 67 when one is not, 75 on a temporary error.
 *   sendmail -bs: an SMTP dialogue on stdin/stdout (RFC 5321 subset:
 *     EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, QUIT); each
 *     message is handed to pickup like the other modes, so the user is
 *     still learnt from SO_PEERCRED and MAIL FROM has the rights of -f.
 *     Lines may end in CRLF or LF (local programs write either): the
 *     dialogue is with the invoking user's own program, not the network,
 *     and pickup receives the message as that user's submission.
 * The tree is -C DIR, else $POSTERN_DIR, else the installed tree
 * /var/lib/postern (common/layout.h).
 *
 * Trusts: nothing it reads; it runs as the invoking user with no
 * privilege (no setuid or setgid bit): pickup learns who it is from
 * SO_PEERCRED.  When the caller may read DIR/queue, -bp and -q run the
 * postern command from the same directory as this program; otherwise
 * pickup answers them (it runs as the queue owner).
 *
 * Fails: exit codes per sysexits(3): 0 queued, 64 usage, 65 bad
 * message or address, 69 refused by pickup, 75 temporary failure (the
 * caller should try again), 74 input error. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "cdbmap.h"
#include "config.h"
#include "layout.h"
#include "local_domain.h"
#include "mailq.h"
#include "queuefile.h"
#include "record.h"
#include "smtp_cmd.h"
#include "sockets.h"
#include "stream.h"

#define SENDMAIL_MSG_MAX (1024ULL * 1024 * 1024)   /* read at most this much; pickup enforces the real limit */
#define SENDMAIL_RCPT_MAX 2000
#define SENDMAIL_TIMEOUT_MS 300000

enum { EX_OK_ = 0, EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_UNAVAILABLE_ = 69, EX_IOERR_ = 74, EX_TEMPFAIL_ = 75 };

struct sendmail {
	const char *dir, *sender, *full_name;
	const char *notify, *ret, *envid;   /* RFC 3461: -N, -R, -V */
	const char *flush_site;             /* -qRSITE */
	int extract, dot_ends, list, flush, smtp, newaliases, verify;
	const char *rcpt[SENDMAIL_RCPT_MAX];
	char *owned[SENDMAIL_RCPT_MAX];
	size_t nrcpt;
};

static _Noreturn void sendmail_die(int code, const char *fmt, const char *arg)
{
	fprintf(stderr, "sendmail: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(code);
}

static void sendmail_add_rcpt(struct sendmail *sm, const char *a, size_t n)
{
	const char *error;
	char *copy;

	if (n == 0)
		return;
	if (sm->nrcpt >= SENDMAIL_RCPT_MAX)
		sendmail_die(EX_DATAERR_, "%s", "too many recipients");
	if (address_validate(a, n, 1, &error) < 0) {
		copy = strndup(a, n);
		sendmail_die(EX_DATAERR_, "bad recipient address: %s", copy != NULL ? copy : "?");
	}
	for (size_t i = 0; i < sm->nrcpt; i++)
		if (strlen(sm->rcpt[i]) == n && memcmp(sm->rcpt[i], a, n) == 0)
			return;
	copy = strndup(a, n);
	if (copy == NULL)
		sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
	sm->owned[sm->nrcpt] = copy;
	sm->rcpt[sm->nrcpt++] = copy;
}

/* ---- -t: addresses of To, Cc, Bcc ---- */

/* One address-list element: "<a@b>" wins, else the text without
 * (comments) and blanks. */
static void sendmail_element(struct sendmail *sm, const char *p, size_t n)
{
	const char *lt = memchr(p, '<', n), *gt;
	char clean[ADDRESS_PATH_MAX + 1];
	size_t k = 0;
	int depth = 0;

	if (lt != NULL && (gt = memchr(lt, '>', (size_t)(p + n - lt))) != NULL) {
		sendmail_add_rcpt(sm, lt + 1, (size_t)(gt - lt - 1));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '(')
			depth++;
		else if (p[i] == ')' && depth > 0)
			depth--;
		else if (depth == 0 && p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
			if (k >= ADDRESS_PATH_MAX)
				sendmail_die(EX_DATAERR_, "%s", "address too long in header");
			clean[k++] = p[i];
		}
	}
	sendmail_add_rcpt(sm, clean, k);
}

/* Split a header value at commas outside quotes, <> and comments. */
static void sendmail_address_list(struct sendmail *sm, const char *v, size_t n)
{
	size_t start = 0;
	int quoted = 0, angle = 0, paren = 0;

	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? v[i] : ',';
		if (c == '"' && paren == 0)
			quoted = !quoted;
		else if (!quoted && c == '(')
			paren++;
		else if (!quoted && c == ')' && paren > 0)
			paren--;
		else if (!quoted && paren == 0 && c == '<')
			angle = 1;
		else if (!quoted && paren == 0 && c == '>')
			angle = 0;
		else if (c == ',' && !quoted && !angle && paren == 0) {
			/* "group: a, b;" forms: drop a group name and the ';' */
			const char *e = v + start;
			size_t len = i - start;
			const char *colon = memchr(e, ':', len);
			if (colon != NULL && memchr(e, '<', len) == NULL && memchr(e, '@', (size_t)(colon - e)) == NULL) {
				len -= (size_t)(colon + 1 - e);
				e = colon + 1;
			}
			while (len > 0 && (e[len - 1] == ';' || e[len - 1] == ' '))
				len--;
			sendmail_element(sm, e, len);
			start = i + 1;
		}
	}
}

/* With -t: take recipients from the header and drop Bcc fields. */
static void sendmail_extract(struct sendmail *sm, struct buf *msg)
{
	struct buf out;
	size_t pos = 0;

	buf_init(&out, msg->max);
	while (pos < msg->len && msg->data[pos] != '\n') {
		/* one field with its continuation lines */
		size_t end = pos;
		do {
			const char *nl = memchr(msg->data + end, '\n', msg->len - end);
			end = nl != NULL ? (size_t)(nl - msg->data) + 1 : msg->len;
		} while (end < msg->len && (msg->data[end] == ' ' || msg->data[end] == '\t'));
		const char *f = msg->data + pos;
		size_t n = end - pos;
		int bcc = n > 4 && strncasecmp(f, "bcc:", 4) == 0;
		if (bcc || (n > 3 && strncasecmp(f, "to:", 3) == 0) || (n > 3 && strncasecmp(f, "cc:", 3) == 0)) {
			size_t skip = bcc ? 4 : 3;
			sendmail_address_list(sm, f + skip, n - skip);
		}
		if (!bcc && buf_append(&out, f, n) < 0)
			sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
		pos = end;
	}
	if (buf_append(&out, msg->data + pos, msg->len - pos) < 0)
		sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
	buf_free(msg);
	*msg = out;
}

/* ---- reading the message ---- */

static void sendmail_read(const struct sendmail *sm, struct buf *msg)
{
	struct stream *in = stream_new(0, -1, 1024 * 1024, 0);
	int first = 1;

	if (in == NULL)
		sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
	for (;;) {
		const char *line;
		size_t len;
		enum stream_status st = stream_read_line(in, &line, &len);
		if (st == STREAM_TOOLONG)
			sendmail_die(EX_DATAERR_, "%s", "input line longer than 1 MiB");
		if (st == STREAM_ERROR || st == STREAM_TIMEOUT)
			sendmail_die(EX_IOERR_, "%s", "cannot read the message");
		if (st == STREAM_EOF && len == 0)
			break;
		/* CRLF -> LF: the queue stores LF line ends. */
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (sm->dot_ends && len == 1 && line[0] == '.')
			break;
		/* An mbox "From " line first is not a header: drop it, as sendmail does. */
		if (first && len >= 5 && memcmp(line, "From ", 5) == 0) {
			first = 0;
			continue;
		}
		first = 0;
		if (buf_append(msg, line, len) < 0 || buf_putc(msg, '\n') < 0)
			sendmail_die(EX_DATAERR_, "%s", "message too big");
		if (st == STREAM_EOF)
			break;
	}
	stream_free(&in);
}

/* Connect to pickup's public socket (DIR/public/pickup; path_r holds it
 * for messages).  The fd, or -1 after saying why on stderr. */
static int sendmail_pickup_connect(const struct sendmail *sm, char *path_r, size_t len)
{
	int fd;

	if (snprintf(path_r, len, "%s/public/pickup", sm->dir) >= (int)len)
		sendmail_die(EX_USAGE_, "%s", "tree path too long");
	fd = unix_connect(path_r, SENDMAIL_TIMEOUT_MS);
	if (fd < 0)
		fprintf(stderr, "sendmail: cannot reach the mail system at %s (is it running?)\n", path_r);
	return fd;
}

/* ---- talking to pickup ---- */

/* Hand msg to pickup.  An EX_ code; on EX_OK_ the queue ID pickup gave
 * is in id_r (empty when it gave none fit to show). */
static int sendmail_submit(const struct sendmail *sm, const struct buf *msg, char *id_r, size_t id_len)
{
	char path[PATH_MAX], reason[RECORD_MAX_VALUE + 1] = "no answer";
	struct record ans = { 0 };
	const char *error, *status, *v;
	struct stream *s;
	struct buf req;
	int fd, code = EX_TEMPFAIL_;

	id_r[0] = '\0';
	fd = sendmail_pickup_connect(sm, path, sizeof path);
	if (fd < 0)
		return EX_TEMPFAIL_;
	s = stream_new(fd, fd, RECORD_MAX_VALUE * 3 + 64, SENDMAIL_TIMEOUT_MS);
	buf_init(&req, RECORD_MAX_FIELDS * (3 * ADDRESS_PATH_MAX + 32));
	if (s == NULL)
		sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
	if (sm->sender != NULL && record_put_str(&req, "sender", sm->sender) < 0)
		sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
	if (sm->full_name != NULL && record_put_str(&req, "full_name", sm->full_name) < 0)
		sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
	if ((sm->notify != NULL && record_put_str(&req, "notify", sm->notify) < 0) ||
	    (sm->ret != NULL && record_put_str(&req, "ret", sm->ret) < 0) ||
	    (sm->envid != NULL && record_put_str(&req, "envid", sm->envid) < 0))
		sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
	for (size_t i = 0; i < sm->nrcpt; i++)
		if (record_put_str(&req, "rcpt", sm->rcpt[i]) < 0)
			sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
	if (record_end(&req) < 0 || stream_write(s, req.data, req.len) < 0 ||
	    (msg->len > 0 && record_write_chunk(s, msg->data, msg->len) < 0) ||
	    record_write_chunk_end(s) < 0 || stream_flush(s) < 0 ||
	    record_read(s, &ans, &error) != STREAM_OK || (status = record_get(&ans, "status")) == NULL) {
		fprintf(stderr, "sendmail: lost the connection to pickup\n");
	} else if (strcmp(status, "ok") == 0) {
		code = EX_OK_;
		v = record_get(&ans, "queue_id");
		if (v == NULL || !queuefile_id_valid(v, strlen(v)) || str_copy(id_r, id_len, v) < 0)
			id_r[0] = '\0';
	} else {
		v = record_get(&ans, "reason");
		snprintf(reason, sizeof reason, "%s", v != NULL ? v : "refused");
		fprintf(stderr, "sendmail: %s: %s\n", strcmp(status, "fail") == 0 ? "refused" :
			"temporary failure", reason);
		code = strcmp(status, "fail") == 0 ? EX_UNAVAILABLE_ : EX_TEMPFAIL_;
	}
	record_clear(&ans);
	buf_free(&req);
	stream_free(&s);
	close(fd);
	return code;
}

/* ---- -bs: SMTP on stdin and stdout ---- */

#define SENDMAIL_BS_LINE_MAX 4096             /* longest command line (RFC 5321 4.5.3.1.4: 512) */
#define SENDMAIL_BS_DATA_LINE_MAX (1024 * 1024) /* longest message line, as without -bs */
#define SENDMAIL_BS_ERRORS_MAX 20             /* bad commands before 421 */

static void sendmail_bs_reply(struct stream *out, const char *text)
{
	if (stream_puts(out, text) < 0 || stream_puts(out, "\r\n") < 0 || stream_flush(out) < 0)
		exit(EX_IOERR_);
}

/* Forget the envelope: MAIL starts a new one (RSET, after DATA). */
static void sendmail_bs_reset(struct sendmail *sm)
{
	for (size_t i = 0; i < sm->nrcpt; i++)
		free(sm->owned[i]);
	sm->nrcpt = 0;
	free((char *)sm->sender);
	sm->sender = NULL;
}

/* MAIL FROM:<path> [params] or RCPT TO:<path> [params] (params are
 * ignored: BODY and SIZE change nothing for pickup).  The mailbox is
 * strdup'ed into *addr_r.  NULL, or the error reply. */
static const char *sendmail_bs_path(const struct smtp_cmd *c, const char *prefix, int allow_empty,
				    char **addr_r)
{
	const char *rest, *error;
	size_t rest_len, used;
	struct buf a;

	if (!smtp_cmd_arg_prefix(c->arg, c->arg_len, prefix, &rest, &rest_len))
		return "501 5.5.4 Syntax: MAIL FROM:<address> or RCPT TO:<address>";
	buf_init(&a, ADDRESS_PATH_MAX + 1);
	if (address_parse_path(rest, rest_len, allow_empty, 1, &a, &used, &error) < 0) {
		buf_free(&a);
		return "501 5.1.3 Bad address syntax";
	}
	*addr_r = strdup(buf_cstr(&a));
	buf_free(&a);
	if (*addr_r == NULL)
		return "451 4.3.0 Out of memory";
	return NULL;
}

/* The message after 354, up to a line ".": CRLF or LF ends a line, one
 * leading dot is removed (RFC 5321 4.5.2).  0, or -1 at end of input. */
static int sendmail_bs_data(struct stream *in, struct buf *msg, int *too_big_r)
{
	*too_big_r = 0;
	stream_set_max_line(in, SENDMAIL_BS_DATA_LINE_MAX);
	for (;;) {
		const char *line;
		size_t len;
		enum stream_status st = stream_read_line(in, &line, &len);
		if (st == STREAM_TOOLONG) {
			*too_big_r = 1;
			continue;
		}
		if (st != STREAM_OK)
			return -1;
		len -= len > 0 && line[len - 1] == '\n';
		len -= len > 0 && line[len - 1] == '\r';
		if (len == 1 && line[0] == '.')
			break;
		if (len > 0 && line[0] == '.')
			line++, len--;
		if (!*too_big_r && (buf_append(msg, line, len) < 0 || buf_putc(msg, '\n') < 0))
			*too_big_r = 1;
	}
	stream_set_max_line(in, SENDMAIL_BS_LINE_MAX);
	return 0;
}

/* DATA: read the message, hand it to pickup, answer for it. */
static void sendmail_bs_transaction(struct sendmail *sm, struct stream *in, struct stream *out)
{
	char id[QUEUEFILE_ID_MAX + 1], reply[64 + QUEUEFILE_ID_MAX];
	struct buf msg;
	int too_big, code;

	sendmail_bs_reply(out, "354 End data with <CR><LF>.<CR><LF>");
	buf_init(&msg, SENDMAIL_MSG_MAX);
	if (sendmail_bs_data(in, &msg, &too_big) < 0)
		exit(EX_IOERR_);
	if (too_big) {
		sendmail_bs_reply(out, "552 5.3.4 Message too big or line too long");
	} else {
		code = sendmail_submit(sm, &msg, id, sizeof(id));
		snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued%s%s", id[0] ? " as " : "", id);
		sendmail_bs_reply(out, code == EX_OK_ ? reply :
				  code == EX_UNAVAILABLE_ ? "554 5.7.1 Refused by the mail system" :
				  "451 4.3.0 Temporary failure, try again later");
	}
	buf_free(&msg);
	sendmail_bs_reset(sm);
}

/* One command.  0 to go on, 1 after QUIT, -1 for a counted error. */
static int sendmail_bs_command(struct sendmail *sm, const struct smtp_cmd *c, struct stream *in,
			       struct stream *out, const char *host)
{
	char text[600];
	const char *err;
	char *addr = NULL;

	switch (c->verb) {
	case SMTP_VERB_EHLO:
	case SMTP_VERB_HELO:
		sendmail_bs_reset(sm);
		snprintf(text, sizeof text, c->verb == SMTP_VERB_EHLO ?
			 "250-%.200s\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES" : "250 %.200s", host);
		sendmail_bs_reply(out, text);
		return 0;
	case SMTP_VERB_MAIL:
		if (sm->sender != NULL) {
			sendmail_bs_reply(out, "503 5.5.1 Nested MAIL command");
			return -1;
		}
		if ((err = sendmail_bs_path(c, "FROM:", 1, &addr)) != NULL) {
			sendmail_bs_reply(out, err);
			return -1;
		}
		sm->sender = addr;
		sendmail_bs_reply(out, "250 2.1.0 Ok");
		return 0;
	case SMTP_VERB_RCPT:
		if (sm->sender == NULL) {
			sendmail_bs_reply(out, "503 5.5.1 Need MAIL before RCPT");
			return -1;
		}
		if ((err = sendmail_bs_path(c, "TO:", 0, &addr)) != NULL) {
			sendmail_bs_reply(out, err);
			return -1;
		}
		if (sm->nrcpt >= SENDMAIL_RCPT_MAX) {
			free(addr);
			sendmail_bs_reply(out, "452 4.5.3 Too many recipients");
			return 0;
		}
		sm->owned[sm->nrcpt] = addr;
		sm->rcpt[sm->nrcpt++] = addr;
		sendmail_bs_reply(out, "250 2.1.5 Ok");
		return 0;
	case SMTP_VERB_DATA:
		if (sm->nrcpt == 0) {
			sendmail_bs_reply(out, "503 5.5.1 Need RCPT before DATA");
			return -1;
		}
		sendmail_bs_transaction(sm, in, out);
		return 0;
	case SMTP_VERB_RSET:
		sendmail_bs_reset(sm);
		/* fall through */
	case SMTP_VERB_NOOP:
		sendmail_bs_reply(out, "250 2.0.0 Ok");
		return 0;
	case SMTP_VERB_VRFY:
		sendmail_bs_reply(out, "252 2.0.0 Send some mail, I'll try my best");
		return 0;
	case SMTP_VERB_QUIT:
		sendmail_bs_reply(out, "221 2.0.0 Bye");
		return 1;
	default:
		sendmail_bs_reply(out, "502 5.5.1 Command not implemented");
		return -1;
	}
}

static int sendmail_bs(struct sendmail *sm)
{
	struct stream *in = stream_new(0, 1, SENDMAIL_BS_LINE_MAX, SENDMAIL_TIMEOUT_MS);
	const char *host;
	char greeting[300];
	unsigned errors = 0;

	if (in == NULL)
		sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
	/* Only the host name is wanted; a tree without postern.conf still talks. */
	{
		char conf[PATH_MAX];
		const char *error;
		if (snprintf(conf, sizeof conf, "%s/etc/postern.conf", sm->dir) < (int)sizeof conf)
			(void)config_load(conf, &error);
	}
	host = config_str("myhostname");
	snprintf(greeting, sizeof greeting, "220 %.200s ESMTP Postern (sendmail -bs)", host);
	sendmail_bs_reply(in, greeting);
	sm->sender = NULL;
	for (;;) {
		const char *line;
		size_t len;
		struct smtp_cmd c;
		enum stream_status st = stream_read_line(in, &line, &len);
		int r;
		if (st == STREAM_TOOLONG) {
			sendmail_bs_reply(in, "500 5.5.2 Line too long");
			r = -1;
		} else if (st != STREAM_OK) {
			break;   /* the client went away: nothing was promised */
		} else if (smtp_cmd_parse(line, len, &c) != SMTP_CMD_OK) {
			sendmail_bs_reply(in, "500 5.5.2 Bad command line");
			r = -1;
		} else {
			r = sendmail_bs_command(sm, &c, in, in, host);
		}
		if (r == 1)
			break;
		if (r < 0 && ++errors >= SENDMAIL_BS_ERRORS_MAX) {
			sendmail_bs_reply(in, "421 4.7.0 Too many errors");
			break;
		}
	}
	sendmail_bs_reset(sm);
	stream_free(&in);
	return EX_OK_;
}

/* ---- -bp and -q ---- */

/* Run `postern CMD -d DIR ARG [ARG2 ARG3]` from the directory of this program. */
static _Noreturn void sendmail_postern(const struct sendmail *sm, const char *cmd, const char *arg,
				       const char *arg2, const char *arg3)
{
	char self[PATH_MAX], prog[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (n <= 0)
		sendmail_die(EX_TEMPFAIL_, "%s", "cannot find the postern program");
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	if (snprintf(prog, sizeof prog, "%s/postern", self) >= (int)sizeof prog)
		sendmail_die(EX_TEMPFAIL_, "%s", "path too long");
	execl(prog, "postern", cmd, "-d", sm->dir, arg, arg2, arg3, (char *)NULL);
	sendmail_die(EX_TEMPFAIL_, "cannot run postern: %s", strerror(errno));
}

/* Whether we may work on DIR/queue ourselves (root, or its owner). */
static int sendmail_queue_owner(const struct sendmail *sm)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof path, "%s/queue/incoming", sm->dir) >= (int)sizeof path)
		return 0;
	return access(path, R_OK | X_OK) == 0;
}

/* Print one listing record (Postfix's format); 0, or -1 when it is not one. */
static int sendmail_list_entry(const struct record *rec, size_t *listed_r, unsigned long long *bytes_r)
{
	struct mailq_entry e;
	const char *error;

	if (mailq_get(rec, &e, &error) < 0) {
		fprintf(stderr, "sendmail: bad answer from pickup: %s\n", error);
		return -1;
	}
	if (mailq_postfix(stdout, &e, *listed_r == 0)) {
		(*listed_r)++;
		*bytes_r += e.size;
	}
	mailq_entry_free(&e);
	return 0;
}

/* -bp or -q through pickup (cmd=list or cmd=flush): for users who may
 * not read the queue themselves.  The exit code. */
static int sendmail_ask_pickup(const struct sendmail *sm, const char *cmd)
{
	char path[PATH_MAX];
	struct record rec = { 0 };
	const char *error, *status = NULL, *v;
	unsigned long long count = 0, bytes = 0;
	size_t listed = 0, records = 0, shown = 0;
	struct stream *s;
	struct buf req;
	int fd, code = EX_TEMPFAIL_;

	fd = sendmail_pickup_connect(sm, path, sizeof path);
	if (fd < 0)
		return EX_TEMPFAIL_;
	s = stream_new(fd, fd, RECORD_MAX_VALUE * 3 + 64, SENDMAIL_TIMEOUT_MS);
	buf_init(&req, 256);
	if (s == NULL || record_put_str(&req, "cmd", cmd) < 0 || record_end(&req) < 0)
		sendmail_die(EX_TEMPFAIL_, "%s", "out of memory");
	if (stream_write(s, req.data, req.len) < 0 || stream_flush(s) < 0) {
		fprintf(stderr, "sendmail: lost the connection to pickup\n");
		goto done;
	}
	/* Message records, then the answer (status=...); at most
	 * MAILQ_LIST_MAX of them, whatever the other side sends. */
	for (;;) {
		if (record_read(s, &rec, &error) != STREAM_OK) {
			fprintf(stderr, "sendmail: lost the connection to pickup\n");
			goto done;
		}
		if ((status = record_get(&rec, "status")) != NULL)
			break;
		if (records >= MAILQ_LIST_MAX || sendmail_list_entry(&rec, &shown, &bytes) < 0)
			goto done;
		records++;
	}
	listed = shown;
	if (strcmp(status, "ok") == 0) {
		(void)record_get_num(&rec, "count", &count);
		if (strcmp(cmd, "list") == 0) {
			mailq_postfix_end(stdout, listed, bytes);
			if (record_get(&rec, "truncated") != NULL)
				fprintf(stderr, "sendmail: the listing stops at %d messages; more are queued\n",
					MAILQ_LIST_MAX);
		}
		else
			printf("%llu deferred message%s due now\n", count, count == 1 ? "" : "s");
		code = EX_OK_;
	} else {
		v = record_get(&rec, "reason");
		fprintf(stderr, "sendmail: %s: %s\n", strcmp(status, "fail") == 0 ? "refused" :
			"temporary failure", v != NULL ? v : "no reason given");
		code = strcmp(status, "fail") == 0 ? EX_UNAVAILABLE_ : EX_TEMPFAIL_;
	}
done:
	fflush(stdout);
	record_clear(&rec);
	buf_free(&req);
	stream_free(&s);
	close(fd);
	return code;
}

/* -bp / mailq and -q: by ourselves when the queue is ours, else through pickup. */
static int sendmail_queue_command(const struct sendmail *sm, const char *what)
{
	if (sendmail_queue_owner(sm)) {
		if (strcmp(what, "list") == 0)
			sendmail_postern(sm, "queue", "list", "--mailq", NULL);
		if (sm->flush_site != NULL)
			sendmail_postern(sm, "queue", "flush", "--domain", sm->flush_site);
		sendmail_postern(sm, "queue", what, NULL, NULL);
	}
	return sendmail_ask_pickup(sm, what);
}

/* -q's argument: "" (flush now), RSITE, or an interval of sendmail's
 * form (digits with s, m, h, d or w, repeated: 30m, 1h30m).  0 flush,
 * 1 interval (nothing to do), -1 not understood. */
static int sendmail_q_arg(struct sendmail *sm, const char *v)
{
	size_t i = 0;

	if (v[0] == '\0')
		return 0;
	if (v[0] == 'R') {
		if (v[1] == '\0' || strlen(v + 1) > 255 || strpbrk(v + 1, "/@ \t") != NULL)
			return -1;
		sm->flush_site = v + 1;
		return 0;
	}
	while (v[i] != '\0') {
		size_t digits = 0;

		while (v[i] >= '0' && v[i] <= '9' && digits < 9)
			i++, digits++;
		if (digits == 0)
			return -1;
		if (v[i] != '\0' && strchr("smhdw", v[i]) != NULL)
			i++;
		else if (v[i] != '\0')
			return -1;
	}
	return 1;
}

/* -N: "never", or a comma list of success, delay, failure (any case). */
static const char *sendmail_notify(const char *v)
{
	unsigned bits;

	if (queuefile_notify_parse(v, strlen(v), &bits) < 0)
		sendmail_die(EX_USAGE_, "bad -N %s: never, or a list of success, delay, failure", v);
	return v;
}

/* ---- -bv ---- */

#define SENDMAIL_EX_NOUSER 67

/* Run `local -c DIR/etc verify ADDR` from the directory of this program;
 * its exit code. */
static int sendmail_verify_local(const struct sendmail *sm, const char *addr)
{
	char self[PATH_MAX], prog[PATH_MAX], etc[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;
	pid_t pid;
	int status;

	if (n <= 0)
		sendmail_die(EX_TEMPFAIL_, "%s", "cannot find the local program");
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	if (snprintf(prog, sizeof prog, "%s/local", self) >= (int)sizeof prog ||
	    snprintf(etc, sizeof etc, "%s/etc", sm->dir) >= (int)sizeof etc)
		sendmail_die(EX_TEMPFAIL_, "%s", "path too long");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		sendmail_die(EX_TEMPFAIL_, "fork: %s", strerror(errno));
	if (pid == 0) {
		execl(prog, "local", "-c", etc, "verify", addr, (char *)NULL);
		fprintf(stderr, "sendmail: cannot run %s: %s\n", prog, strerror(errno));
		_exit(EX_TEMPFAIL_);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EX_TEMPFAIL_;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EX_TEMPFAIL_;
}

/* Whether addr goes to the local transport: qmgr's rule
 * (queue/qmgr_deliver.c, qmgr_transport_of): no domain, or a local
 * domain (common/local_domain.c).  -1 when the map cannot be read. */
static int sendmail_verify_is_local(struct cdbmap *domains, const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at == NULL ? 1 : local_domain_is(domains, at + 1, strlen(at + 1));
}

static int sendmail_verify(struct sendmail *sm, int argc, char **argv, int first)
{
	char path[PATH_MAX];
	struct cdbmap *domains = NULL;
	const char *error, *relay;
	int worst = EX_OK_;

	for (int i = first; i < argc; i++)
		sendmail_address_list(sm, argv[i], strlen(argv[i]));
	if (sm->nrcpt == 0)
		sendmail_die(EX_USAGE_, "%s", "-bv: no addresses given");
	if (snprintf(path, sizeof path, "%s/etc/postern.conf", sm->dir) >= (int)sizeof path ||
	    config_load(path, &error) < 0)
		sendmail_die(EX_TEMPFAIL_, "cannot read postern.conf: %s", error);
	relay = config_str("relayhost");
	if (snprintf(path, sizeof path, "%s/etc/domains.cdb", sm->dir) >= (int)sizeof path ||
	    (cdbmap_open(path, &domains, &error) < 0 && errno != ENOENT))
		sendmail_die(EX_TEMPFAIL_, "etc/domains.cdb: %s", error);
	for (size_t i = 0; i < sm->nrcpt; i++) {
		int local = sendmail_verify_is_local(domains, sm->rcpt[i]), code = EX_OK_;

		if (local < 0) {
			printf("%s: not deliverable now: the domains map cannot be read\n", sm->rcpt[i]);
			code = EX_TEMPFAIL_;
		} else if (local) {
			code = sendmail_verify_local(sm, sm->rcpt[i]);
			/* local verify answers 0, 67 or 75; anything else is
			 * local failing to run (its reason went to stderr, e.g.
			 * a user who may not read the mail root): not a verdict */
			if (code != EX_OK_ && code != SENDMAIL_EX_NOUSER && code != EX_TEMPFAIL_) {
				printf("%s: not checked: local verify failed (exit %d)\n", sm->rcpt[i], code);
				code = EX_TEMPFAIL_;
			}
		} else if (relay[0] != '\0') {
			printf("%s: deliverable\n  remote, via the relayhost %s\n", sm->rcpt[i], relay);
		} else {
			printf("%s: deliverable\n  remote, to the MX hosts of %s\n", sm->rcpt[i],
			       strrchr(sm->rcpt[i], '@') + 1);
		}
		if (code == EX_TEMPFAIL_ || (code == SENDMAIL_EX_NOUSER && worst == EX_OK_))
			worst = code;
	}
	cdbmap_close(&domains);
	return worst;
}

/* ---- options ---- */

static void sendmail_options(struct sendmail *sm, int argc, char **argv, int *first_rcpt)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
#define SENDMAIL_ARG(flag) (a[2] != '\0' ? a + 2 : (i + 1 < argc ? argv[++i] : \
			(sendmail_die(EX_USAGE_, "option %s needs a value", flag), "")))
		if (a[1] == 't' && a[2] == '\0')
			sm->extract = 1;
		else if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0)
			sm->dot_ends = 0;
		else if (a[1] == 'f' || a[1] == 'r') {
			const char *v = SENDMAIL_ARG(a), *error;
			size_t n = strlen(v);
			if (n >= 2 && v[0] == '<' && v[n - 1] == '>')
				v = strndup(v + 1, n - 2);   /* -f '<a@b>' is common */
			if (v == NULL || (v[0] != '\0' && address_validate(v, strlen(v), 1, &error) < 0))
				sendmail_die(EX_DATAERR_, "bad sender address: %s", v != NULL ? v : a);
			sm->sender = v;
		} else if (a[1] == 'F')
			sm->full_name = SENDMAIL_ARG(a);
		else if (a[1] == 'C')
			sm->dir = SENDMAIL_ARG(a);
		else if (strcmp(a, "-bp") == 0)
			sm->list = 1;
		else if (a[1] == 'q') {
			int q;

			if (strcmp(a, "-qR") == 0) {   /* "-qR site": the site as the next argument */
				if (i + 1 >= argc)
					sendmail_die(EX_USAGE_, "option %s needs a value", a);
				sm->flush_site = argv[++i];
				q = strlen(sm->flush_site) > 0 && strlen(sm->flush_site) <= 255 &&
				    strpbrk(sm->flush_site, "/@ \t") == NULL ? 0 : -1;
			} else {
				q = sendmail_q_arg(sm, a + 2);
			}
			if (q < 0)
				sendmail_die(EX_USAGE_, "bad option %s", a);
			if (q == 1) {
				fprintf(stderr, "sendmail: %s: queue runs are periodic already (queue_run_delay); "
					"nothing started\n", a);
				exit(EX_OK_);
			}
			sm->flush = 1;
		}
		else if (strcmp(a, "-bm") == 0 || strcmp(a, "-v") == 0 || a[1] == 'o')
			continue;   /* -bm is the default; -oXXX sendmail.cf options do not apply */
		else if (a[1] == 'N')
			sm->notify = sendmail_notify(SENDMAIL_ARG(a));
		else if (a[1] == 'R') {
			sm->ret = SENDMAIL_ARG(a);
			if (strcasecmp(sm->ret, "full") != 0 && strcasecmp(sm->ret, "hdrs") != 0)
				sendmail_die(EX_USAGE_, "bad -R %s: full or hdrs", sm->ret);
		} else if (a[1] == 'V') {
			sm->envid = SENDMAIL_ARG(a);
			if (!queuefile_envid_valid(sm->envid, strlen(sm->envid)))
				sendmail_die(EX_USAGE_, "bad -V %s: 1 to 100 printable ASCII characters", sm->envid);
		} else if (a[1] == 'B' || a[1] == 'X')
			(void)SENDMAIL_ARG(a);
		else if (strcmp(a, "-bs") == 0)
			sm->smtp = 1;
		else if (strcmp(a, "-bv") == 0)
			sm->verify = 1;
		else if (strcmp(a, "-bi") == 0 || strcmp(a, "-I") == 0)
			sm->newaliases = 1;
		else
			sendmail_die(EX_USAGE_, "unknown option %s", a);
	}
	*first_rcpt = i;
}

int main(int argc, char **argv)
{
	struct sendmail sm = { .dot_ends = 1 };
	const char *base = strrchr(argv[0], '/');
	char installed[PATH_MAX], id[QUEUEFILE_ID_MAX + 1];
	struct buf msg;
	int first, code;

	signal(SIGPIPE, SIG_IGN);
	sm.dir = getenv("POSTERN_DIR");
	if (sm.dir == NULL || sm.dir[0] == '\0') {
		if (layout_path(LAYOUT_TREE, installed, sizeof installed) < 0)
			sendmail_die(EX_USAGE_, "%s", "tree path too long");
		sm.dir = installed;
	}
	sendmail_options(&sm, argc, argv, &first);
	base = base != NULL ? base + 1 : argv[0];
	if (strcmp(base, "mailq") == 0 || sm.list)
		return sendmail_queue_command(&sm, "list");
	if (strcmp(base, "newaliases") == 0 || sm.newaliases)
		sendmail_postern(&sm, "map", "aliases", NULL, NULL);
	if (sm.flush)
		return sendmail_queue_command(&sm, "flush");
	if (sm.smtp)
		return sendmail_bs(&sm);
	if (sm.verify)
		return sendmail_verify(&sm, argc, argv, first);
	for (int i = first; i < argc; i++)
		sendmail_address_list(&sm, argv[i], strlen(argv[i]));
	buf_init(&msg, SENDMAIL_MSG_MAX);
	sendmail_read(&sm, &msg);
	if (sm.extract)
		sendmail_extract(&sm, &msg);
	if (sm.nrcpt == 0)
		sendmail_die(EX_USAGE_, "%s", "no recipients given");
	code = sendmail_submit(&sm, &msg, id, sizeof(id));
	buf_free(&msg);
	for (size_t i = 0; i < sm.nrcpt; i++)
		free(sm.owned[i]);
	return code;
}
