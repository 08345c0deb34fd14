/* milter_client: the MTA side of the Sendmail milter protocol (version 2
 * to 6), configured as Postfix configures it (smtpd_milters,
 * non_smtpd_milters, milter_default_action, milter_*_timeout,
 * milter_protocol, milter_*_macros; docs/operator.md, "Milters").
 *
 * Offers: one client's conversation with a list of filters, for smtpd
 * (smtpd/smtpd_milter.c) and pickup (queue/pickup_milter.c) alike.  The
 * caller supplies macro values, a way to answer its client and its
 * envelope (struct milter_host_ops).  milter_session_open opens one
 * connection per filter, negotiates, and sends the client; HELO, MAIL,
 * each RCPT and DATA go to every filter in turn with the macros of
 * their stage, and the first that rejects answers the client (a RCPT
 * reject refuses that recipient only).  The message itself (headers,
 * end of header, body, end of message and the modifications) is
 * milter_message.c.  An early end of a transaction sends an abort; the
 * end of the session sends QUIT.
 *
 * A filter that accepts is not asked again for the message (at connect
 * or HELO: for the session); discard accepts the message and drops it.
 * A reply code ('y') is given to the client as the filter wrote it,
 * lines and enhanced code included ('%%' undoubled); 421 ends the
 * session (ms->done), as does a connection failure ('f').
 *
 * A unix: path is opened in the caller's root: smtpd's run/jail,
 * pickup's DIR/queue when chrooted.
 *
 * Trusts: the configuration; a filter only as far as common/
 * milter_proto.c checks its packets and these checks go: reply text is
 * printable ASCII of bounded length, or it is not used.
 *
 * Fails: a filter that cannot be reached, times out (each step's
 * milter_*_timeout, and the caller's whole budget when it has one) or
 * breaks the protocol is closed for the session and milter_default_action applies:
 * tempfail (451 4.7.1) or reject (550 5.7.1) to that command and every
 * later MAIL, RCPT, DATA and end of message of the session, or accept
 * (go on without it).  A warning names the filter and the reason. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "log.h"
#include "milter_client.h"
#include "sockets.h"

#define MILTER_MACRO_PACKET_MAX 8192 /* one macro packet */
#define MILTER_OFFER_ACTIONS MILTER_ACT_ALL
/* Everything we honour: the skips, the no-reply steps, SKIP and leading
 * spaces; not RCPT_REJ (we send no refused recipients). */
#define MILTER_OFFER_STEPS (0x1fffffu & ~(uint32_t)MILTER_P_RCPT_REJ)

static const char *const milter_macro_keys[MILTER_STAGES] = {
	"milter_connect_macros", "milter_helo_macros", "milter_mail_macros", "milter_rcpt_macros",
	"milter_data_macros", "milter_end_of_data_macros", "milter_end_of_header_macros",
};

static int milter_ms(const char *key)
{
	unsigned long long t = config_time(key);

	if (t == 0 || t > 3600)
		log_fatal("%s must be between 1s and 1h", key);
	return (int)t * 1000;
}

void milter_conf_load(struct milter_conf *c, const char *list_key)
{
	const char *d = config_str("milter_default_action"), *err;
	unsigned long long v = config_size("milter_protocol");

	if (policy_services_parse(config_str(list_key), c->specs, &c->n, &err) < 0)
		log_fatal("%s: %s", list_key, err);
	if (strcmp(d, "tempfail") == 0)
		c->def = MILTER_DEF_TEMPFAIL;
	else if (strcmp(d, "reject") == 0)
		c->def = MILTER_DEF_REJECT;
	else if (strcmp(d, "accept") == 0)
		c->def = MILTER_DEF_ACCEPT;
	else
		log_fatal("milter_default_action must be tempfail, reject or accept");
	if (v < 2 || v > MILTER_VERSION)
		log_fatal("milter_protocol must be between 2 and %d", MILTER_VERSION);
	c->version = (uint32_t)v;
	c->connect_ms = milter_ms("milter_connect_timeout");
	c->command_ms = milter_ms("milter_command_timeout");
	c->content_ms = milter_ms("milter_content_timeout");
	for (int i = 0; i < MILTER_STAGES; i++)
		if (str_copy(c->macros[i], sizeof(c->macros[i]), config_str(milter_macro_keys[i])) < 0)
			log_fatal("%s: longer than %d bytes", milter_macro_keys[i], MILTER_MACRO_LIST_MAX - 1);
	c->daemon_name = config_str("milter_macro_daemon_name");
}

/* ---- I/O with deadlines ---- */

static long long milter_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Now + tmo, or the end of the session's budget when that comes first. */
static long long milter_deadline(const struct milter_session *ms, int tmo)
{
	long long d = milter_now_ms() + tmo;

	return ms->end_ms > 0 && ms->end_ms < d ? ms->end_ms : d;
}

static int milter_wait(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left = deadline - milter_now_ms();
	int r;

	if (left <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	do
		r = poll(&pfd, 1, left > 86400000 ? 86400000 : (int)left);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r == 1 ? 0 : -1;
}

static int milter_write(int fd, const char *p, size_t n, long long deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			return -1;
		} else if (milter_wait(fd, POLLOUT, deadline) < 0) {
			return -1;
		}
	}
	return 0;
}

static int milter_read_exact(int fd, char *p, size_t n, long long deadline)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);

		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r == 0) {
			errno = ECONNRESET;
			return -1;
		} else if (errno != EAGAIN && errno != EINTR) {
			return -1;
		} else if (milter_wait(fd, POLLIN, deadline) < 0) {
			return -1;
		}
	}
	return 0;
}

static void milter_close(struct milter *mi)
{
	if (mi->fd >= 0)
		close(mi->fd);
	mi->fd = -1;
}

/* One packet from the filter into in (reset first), decoded into r. */
static int milter_read_packet(struct milter *mi, struct buf *in, struct milter_reply *r,
			      long long deadline, const char **why_r)
{
	char len[4];
	const char *pkt;
	size_t pkt_len, used;
	char *room;

	buf_reset(in);
	if (milter_read_exact(mi->fd, len, sizeof(len), deadline) < 0) {
		*why_r = errno == ETIMEDOUT ? "no answer within the timeout" : "connection closed or lost";
		return -1;
	}
	if (buf_append(in, len, sizeof(len)) < 0 ||
	    milter_packet_split(in->data, in->len, MILTER_PACKET_MAX, &pkt, &pkt_len, &used) < 0) {
		*why_r = "packet length 0 or too long";
		return -1;
	}
	pkt_len = (size_t)((unsigned char)len[0]) << 24 | (size_t)((unsigned char)len[1]) << 16 |
		  (size_t)((unsigned char)len[2]) << 8 | (unsigned char)len[3];
	if ((room = buf_room(in, pkt_len)) == NULL) {
		*why_r = "out of memory";
		return -1;
	}
	if (milter_read_exact(mi->fd, room, pkt_len, deadline) < 0) {
		*why_r = errno == ETIMEDOUT ? "packet not complete within the timeout" : "connection closed or lost";
		return -1;
	}
	buf_extend(in, pkt_len);
	if (milter_packet_split(in->data, in->len, MILTER_PACKET_MAX, &pkt, &pkt_len, &used) != 1 ||
	    milter_reply_parse(pkt, pkt_len, r, why_r) < 0)
		return -1;
	return 0;
}

int milter_read(struct milter_session *ms, struct milter *mi, struct buf *in, struct milter_reply *r, int tmo)
{
	const char *why = "";

	for (;;) {
		if (milter_read_packet(mi, in, r, milter_deadline(ms, tmo), &why) < 0) {
			log_warn("milter %s: %s (client %s)", mi->spec, why, ms->client_log);
			milter_close(mi);
			return -1;
		}
		if (r->code != MILTER_R_PROGRESS)
			return 0;   /* progress: the filter is alive, the timer starts over */
	}
}

/* ---- macros ---- */

/* The value of one macro now: the caller's, then those of every caller. */
static const char *milter_macro(const struct milter_session *ms, const char *name, const char *rcpt,
				char *tmp, size_t tmplen)
{
	const char *v = ms->ops->macro(ms->arg, name, rcpt, tmp, tmplen);

	if (v != NULL)
		return v;
	if (strcmp(name, "v") == 0)
		return "Postern";
	if (rcpt != NULL && strcmp(name, "{rcpt_addr}") == 0)
		return rcpt;
	if (rcpt != NULL && strcmp(name, "{rcpt_host}") == 0) {
		const char *at = strrchr(rcpt, '@');
		return at != NULL ? at + 1 : NULL;
	}
	return NULL;   /* i (no queue ID before the message is queued) and the rest */
}

/* The macro packet of a stage for mi into out (nothing when no macro
 * has a value).  0, or -1 when it would be too long. */
static int milter_macros(const struct milter_session *ms, const struct milter *mi, int stage,
			 struct buf *out)
{
	static const char codes[MILTER_STAGES] = { MILTER_CMD_CONNECT, MILTER_CMD_HELO, MILTER_CMD_MAIL,
		MILTER_CMD_RCPT, MILTER_CMD_DATA, MILTER_CMD_BODYEOB, MILTER_CMD_EOH };
	const char *rcpt = ms->rcpt;
	const char *list = mi->macros[stage] != NULL ? mi->macros[stage] : ms->conf->macros[stage];
	size_t pos = 0, len = strlen(list), wl, mark, start;
	const char *w;
	char code = codes[stage];

	if (milter_begin(out, MILTER_CMD_MACRO, &mark) < 0 || milter_add_bytes(out, &code, 1) < 0)
		return -1;
	start = out->len;
	while (config_list_next(list, len, &pos, &w, &wl)) {
		char name[64], tmp[128];
		const char *v;

		if (wl >= sizeof(name))
			continue;
		memcpy(name, w, wl);
		name[wl] = '\0';
		/* Single-letter names may come as {j}, long ones always braced. */
		if (wl == 3 && name[0] == '{' && name[2] == '}') {
			name[0] = name[1];
			name[1] = '\0';
		}
		if ((v = milter_macro(ms, name, rcpt, tmp, sizeof(tmp))) == NULL)
			continue;
		if (milter_add_str(out, name) < 0 || milter_add_str(out, v) < 0)
			return -1;
	}
	if (out->len == start) {
		buf_truncate(out, mark);
		return 0;
	}
	return milter_end(out, mark);
}

/* ---- one command ---- */

int milter_ask(struct milter_session *ms, struct milter *mi, int stage, char cmd, const void *data,
	       size_t len, int want_reply, int tmo, struct buf *in, struct milter_reply *r)
{
	struct buf out;
	int rc = 0;

	buf_init(&out, MILTER_MACRO_PACKET_MAX + MILTER_CHUNK_MAX + 64);
	if ((stage >= 0 && milter_macros(ms, mi, stage, &out) < 0) ||
	    milter_packet(&out, cmd, data, len) < 0) {
		log_warn("milter %s: command too long (client %s)", mi->spec, ms->client_log);
		milter_close(mi);
		rc = -1;
	} else if (milter_write(mi->fd, out.data, out.len, milter_deadline(ms, tmo)) < 0) {
		log_warn("milter %s: cannot send: %s (client %s)", mi->spec, strerror(errno), ms->client_log);
		milter_close(mi);
		rc = -1;
	}
	buf_free(&out);
	if (rc < 0 || !want_reply)
		return rc;
	return milter_read(ms, mi, in, r, tmo);
}

/* ---- verdicts ---- */

/* The filter's own reply text as the client's answer: lines of "NNN-"
 * and a last "NNN ", '%%' undoubled, printable ASCII; 0 when it is
 * not fit to be sent (the caller then uses a standard text). */
static int milter_reply_text(struct milter_session *ms, const char *text, int code)
{
	char lines[8][MILTER_ANSWER_MAX];
	size_t n = 0, o = 0;

	for (const char *p = text; ; p++) {
		if (*p == '\r' && p[1] == '\n')
			p++;
		if (*p == '\n' || *p == '\0') {
			lines[n][o] = '\0';
			if (o < 4 || atoi(lines[n]) != code || (lines[n][3] != (*p == '\0' ? ' ' : '-')))
				return 0;
			n++;
			o = 0;
			if (*p == '\0')
				break;
			if (n == 8)
				return 0;
			continue;
		}
		if (*p == '%' && p[1] == '%')
			p++;
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || o + 1 >= MILTER_ANSWER_MAX - 2)
			return 0;
		lines[n][o++] = *p;
	}
	for (size_t i = 0; i < n; i++)
		ms->ops->reply(ms->arg, i + 1 == n, lines[i]);
	return 1;
}

/* Answer the current command for a filter's reject, tempfail or reply
 * code; at connect the answer waits for the first transaction command. */
static void milter_answer(struct milter_session *ms, int stage, const struct milter_reply *r)
{
	const char *std = r->code == MILTER_R_TEMPFAIL || (r->code == MILTER_R_REPLYCODE && r->smtp_code < 500) ?
		"451 4.7.1 Service unavailable - try again later" : "550 5.7.1 Command rejected";

	if (stage == MILTER_STAGE_CONNECT) {
		/* Nothing to answer yet: the session's MAIL, RCPT and DATA get it. */
		if (r->code == MILTER_R_REPLYCODE && r->text[3] == ' ' && strchr(r->text, '\n') == NULL &&
		    strlen(r->text) < sizeof(ms->sticky) && strchr(r->text, '%') == NULL)
			memcpy(ms->sticky, r->text, strlen(r->text) + 1);
		else
			memcpy(ms->sticky, std, strlen(std) + 1);
		for (size_t i = 0; i < sizeof(ms->sticky) && ms->sticky[i] != '\0'; i++)
			if ((unsigned char)ms->sticky[i] < 0x20 || (unsigned char)ms->sticky[i] > 0x7e)
				ms->sticky[i] = '?';
		return;
	}
	if (r->code != MILTER_R_REPLYCODE || !milter_reply_text(ms, r->text, r->smtp_code)) {
		if (r->code == MILTER_R_REPLYCODE)
			log_warn("milter reply code with unusable text; sent %.3s with a standard text", std);
		ms->ops->reply(ms->arg, 1, std);
	}
	if (r->code == MILTER_R_REPLYCODE && r->smtp_code == 421)
		ms->done = 1;
}

int milter_failed(struct milter_session *ms, struct milter *mi, const char *why, int answer)
{
	const char *line = ms->conf->def == MILTER_DEF_REJECT ? "550 5.7.1 Command rejected" :
		"451 4.7.1 Service unavailable - try again later";

	if (why != NULL)
		log_warn("milter %s: %s (client %s)", mi->spec, why, ms->client_log);
	milter_close(mi);
	if (ms->conf->def == MILTER_DEF_ACCEPT)
		return 1;
	memcpy(ms->sticky, line, strlen(line) + 1);
	if (answer)
		ms->ops->reply(ms->arg, 1, line);
	return 0;
}

int milter_usable(const struct milter *mi)
{
	return mi->fd >= 0 && !mi->skip_session && !mi->skip_msg;
}

/* Act on one answer at stage; 1 go on, 0 answered. */
static int milter_act(struct milter_session *ms, struct milter *mi, int stage,
		      const struct milter_reply *r)
{
	char line[MILTER_ANSWER_MAX];

	switch (r->code) {
	case MILTER_R_CONTINUE:
		return 1;
	case MILTER_R_ACCEPT:
		if (stage == MILTER_STAGE_CONNECT || stage == MILTER_STAGE_HELO)
			mi->skip_session = 1;
		else
			mi->skip_msg = 1;
		return 1;
	case MILTER_R_DISCARD:
		if (stage == MILTER_STAGE_CONNECT || stage == MILTER_STAGE_HELO)
			break;   /* no message to drop yet */
		ms->discard = 1;
		for (size_t i = 0; i < ms->n; i++)
			ms->m[i].skip_msg = 1;
		return 1;
	case MILTER_R_REJECT:
	case MILTER_R_TEMPFAIL:
	case MILTER_R_REPLYCODE:
		milter_answer(ms, stage, r);
		return 0;
	case MILTER_R_CONN_FAIL:
	case MILTER_R_SHUTDOWN:
		milter_close(mi);
		if (stage == MILTER_STAGE_CONNECT) {
			str_copy(ms->sticky, sizeof(ms->sticky), "421 4.7.0 Service unavailable - closing connection");
			return 0;
		}
		snprintf(line, sizeof(line), "421 4.7.0 %s Service unavailable - closing connection", ms->hostname);
		ms->ops->reply(ms->arg, 1, line);
		ms->done = 1;
		return 0;
	default:
		break;
	}
	return milter_failed(ms, mi, "unexpected reply", stage != MILTER_STAGE_CONNECT);
}

int milter_verdict(struct milter_session *ms, struct milter *mi, const struct milter_reply *r)
{
	return milter_act(ms, mi, MILTER_STAGE_EOM, r);
}

/* Send cmd to every filter that takes part; the first that answers ends
 * the round.  skip/noreply: the SMFIP_ bits of the step. */
static int milter_round(struct milter_session *ms, int stage, char cmd, const void *data, size_t len,
			uint32_t skip, uint32_t noreply)
{
	struct milter_reply r;
	struct buf in;
	int go = 1;

	buf_init(&in, MILTER_PACKET_MAX + 4);
	for (size_t i = 0; i < ms->n && go && !ms->done; i++) {
		struct milter *mi = &ms->m[i];
		int nr;

		if (!milter_usable(mi) || (mi->protocol & skip) ||
		    (cmd == MILTER_CMD_DATA && mi->version < 4))
			continue;
		if (stage == MILTER_STAGE_MAIL)
			mi->in_msg = 1;
		nr = (mi->protocol & noreply) != 0;
		if (milter_ask(ms, mi, stage, cmd, data, len, !nr, ms->conf->command_ms, &in, &r) < 0) {
			go = milter_failed(ms, mi, NULL, stage != MILTER_STAGE_CONNECT);
			continue;
		}
		if (!nr)
			go = milter_act(ms, mi, stage, &r);
	}
	buf_free(&in);
	return go;
}

/* ---- the session ---- */

/* Open and negotiate with one filter; -1 when it failed (logged). */
static int milter_open(struct milter_session *ms, struct milter *mi)
{
	struct buf out, in;
	struct milter_reply r;
	const char *why = NULL;
	long long deadline = milter_deadline(ms, ms->conf->connect_ms);
	long long left = deadline - milter_now_ms();
	int connect_ms = left < 1 ? 1 : (int)left;
	uint32_t acts = ms->conf->version >= 6 ? MILTER_OFFER_ACTIONS : 0x3f;
	uint32_t steps = ms->conf->version >= 6 ? MILTER_OFFER_STEPS : 0x7f;
	size_t mark;

	if (strncmp(mi->spec, "unix:", 5) == 0) {
		mi->fd = unix_connect(mi->spec + 5, connect_ms);
		if (mi->fd >= 0 && fd_set_nonblock(mi->fd, 1) < 0)
			milter_close(mi);
	} else {
		mi->fd = inet_connect(mi->spec + 5, connect_ms);
	}
	if (mi->fd < 0) {
		log_warn("milter %s: cannot connect: %s (client %s)", mi->spec, strerror(errno), ms->client_log);
		return -1;
	}
	buf_init(&out, 64);
	buf_init(&in, MILTER_PACKET_MAX + 4);
	if (milter_begin(&out, MILTER_CMD_OPTNEG, &mark) < 0 || milter_add_u32(&out, ms->conf->version) < 0 ||
	    milter_add_u32(&out, acts) < 0 || milter_add_u32(&out, steps) < 0 || milter_end(&out, mark) < 0 ||
	    milter_write(mi->fd, out.data, out.len, deadline) < 0)
		why = "cannot send the negotiation";
	else if (milter_read_packet(mi, &in, &r, deadline, &why) < 0)
		;
	else if (r.code != MILTER_R_OPTNEG || r.version < 2 || r.version > ms->conf->version)
		why = "bad negotiation reply";
	if (why == NULL) {
		/* Only what we offered; a filter asking for more gets our part. */
		mi->version = r.version;
		mi->actions = r.actions & acts;
		mi->protocol = r.protocol & steps;
		for (int s = 0; s < MILTER_STAGES; s++)
			if (r.macros[s] != NULL && strlen(r.macros[s]) < MILTER_MACRO_LIST_MAX &&
			    (mi->macros[s] = strdup(r.macros[s])) == NULL)
				why = "out of memory";
	}
	buf_free(&out);
	buf_free(&in);
	if (why != NULL) {
		log_warn("milter %s: %s (client %s)", mi->spec, why, ms->client_log);
		milter_close(mi);
		return -1;
	}
	return 0;
}


void milter_session_open(struct milter_session *ms, const char *name, char family, uint16_t port,
			 const char *addr)
{
	struct buf pkt;

	ms->end_ms = ms->budget_ms > 0 ? milter_now_ms() + ms->budget_ms : 0;
	ms->n = ms->conf->n;
	for (size_t i = 0; i < ms->n; i++) {
		ms->m[i].spec = ms->conf->specs[i];
		ms->m[i].fd = -1;
	}
	for (size_t i = 0; i < ms->n; i++)
		if (milter_open(ms, &ms->m[i]) < 0 && !milter_failed(ms, &ms->m[i], NULL, 0))
			return;   /* sticky answer set: no use asking the others */
	buf_init(&pkt, 512);
	if (milter_add_str(&pkt, name) < 0 || milter_add_bytes(&pkt, &family, 1) < 0 ||
	    (family != 'U' && (milter_add_u16(&pkt, port) < 0 || milter_add_str(&pkt, addr) < 0)))
		log_panic("milter connect packet over its size");
	(void)milter_round(ms, MILTER_STAGE_CONNECT, MILTER_CMD_CONNECT, pkt.data, pkt.len,
			   MILTER_P_NOCONNECT, MILTER_P_NR_CONN);
	buf_free(&pkt);
}

int milter_session_helo(struct milter_session *ms, const char *helo)
{
	if (ms->sticky[0] != '\0')
		return 1;   /* a sticky answer waits for MAIL */
	return milter_round(ms, MILTER_STAGE_HELO, MILTER_CMD_HELO, helo, strlen(helo) + 1,
			    MILTER_P_NOHELO, MILTER_P_NR_HELO);
}

/* A command that carries an address: "<addr>" then NUL. */
static int milter_path_round(struct milter_session *ms, int stage, char cmd, const char *addr,
			     uint32_t skip, uint32_t noreply)
{
	struct buf pkt;
	int r;

	if (ms->sticky[0] != '\0') {
		ms->ops->reply(ms->arg, 1, ms->sticky);
		return 0;
	}
	buf_init(&pkt, ADDRESS_PATH_MAX + 8);
	if (buf_printf(&pkt, "<%s>", addr) < 0 || buf_putc(&pkt, '\0') < 0)
		log_panic("milter address over its size");
	r = milter_round(ms, stage, cmd, pkt.data, pkt.len, skip, noreply);
	buf_free(&pkt);
	return r;
}

int milter_session_mail(struct milter_session *ms, const char *sender)
{
	return milter_path_round(ms, MILTER_STAGE_MAIL, MILTER_CMD_MAIL, sender, MILTER_P_NOMAIL,
				 MILTER_P_NR_MAIL);
}

int milter_session_rcpt(struct milter_session *ms, const char *rcpt)
{
	int r;

	ms->rcpt = rcpt;   /* for {rcpt_addr} and {rcpt_host} */
	r = milter_path_round(ms, MILTER_STAGE_RCPT, MILTER_CMD_RCPT, rcpt, MILTER_P_NORCPT,
			      MILTER_P_NR_RCPT);
	ms->rcpt = NULL;
	return r;
}

int milter_session_data(struct milter_session *ms)
{
	if (ms->sticky[0] != '\0') {
		ms->ops->reply(ms->arg, 1, ms->sticky);
		return 0;
	}
	return milter_round(ms, MILTER_STAGE_DATA, MILTER_CMD_DATA, NULL, 0, MILTER_P_NODATA,
			    MILTER_P_NR_DATA);
}

void milter_session_abort(struct milter_session *ms)
{
	for (size_t i = 0; i < ms->n; i++) {
		struct milter *mi = &ms->m[i];

		if (mi->fd >= 0 && mi->in_msg)
			(void)milter_ask(ms, mi, -1, MILTER_CMD_ABORT, NULL, 0, 0, ms->conf->command_ms, NULL, NULL);
		mi->in_msg = 0;
		mi->skip_msg = 0;
	}
	ms->hold = ms->discard = 0;
}

void milter_session_close(struct milter_session *ms)
{
	for (size_t i = 0; i < ms->n; i++) {
		struct milter *mi = &ms->m[i];

		if (mi->fd >= 0)
			(void)milter_ask(ms, mi, -1, MILTER_CMD_QUIT, NULL, 0, 0, ms->conf->command_ms, NULL, NULL);
		milter_close(mi);
		for (int s = 0; s < MILTER_STAGES; s++) {
			free(mi->macros[s]);
			mi->macros[s] = NULL;
		}
	}
	ms->n = 0;
}
