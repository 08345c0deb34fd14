/* smtpd_milter: smtpd's side of the milters of smtpd_milters (the
 * protocol, the stages and the changes are common/milter_client.c and
 * common/milter_message.c; docs/operator.md, "Milters").
 *
 * Offers: the stage hooks of smtpd.h, thin callers of the milter
 * session: smtpd gives it the SMTP client's macros (service, TLS, AUTH,
 * sender), answers on the SMTP stream, and its transaction as the
 * envelope a filter may change.  With milters, smtpd_data.c holds the
 * message in a memfd until its end (smtpd_milter_eom), then the final
 * envelope and content go to enqueue.
 *
 * smtpd runs chrooted in an empty run/jail: an inet: filter is reached
 * as from anywhere; a unix: path is opened inside the jail.
 *
 * Fails: as common/milter_client.c says; memfd or enqueue trouble at
 * the end of the message: 451 4.3.0, nothing queued. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "enqueue_client.h"
#include "log.h"
#include "milter_client.h"
#include "record.h"
#include "smtpd.h"

#define MILTER_HDR_EXTRA 65536   /* header bytes filters may add beyond smtpd_header_size_limit */
#define MILTER_IO 65536

struct smtpd_milters {
	struct milter_session s;
	char client_port[8];
	char if_addr[64];
};

static struct milter_conf smtpd_milter_conf;

void smtpd_milter_init(void)
{
	milter_conf_load(&smtpd_milter_conf, "smtpd_milters");
}

/* ---- what the milter session asks of smtpd ---- */

static const char *smtpd_milter_macro(void *arg, const char *name, const char *rcpt, char *tmp, size_t tmplen)
{
	struct smtpd_session *ss = arg;
	const struct smtpd_milters *ms = ss->milters;
	const char *proto, *cipher;
	int bits;

	(void)rcpt;
	if (strcmp(name, "j") == 0 || strcmp(name, "{if_name}") == 0)
		return ss->ctx->hostname;
	if (strcmp(name, "{daemon_name}") == 0)
		return smtpd_milter_conf.daemon_name[0] != '\0' ? smtpd_milter_conf.daemon_name :
		       ss->ctx->mode == SMTPD_MODE_SUBMISSION ? "submission" :
		       ss->ctx->mode == SMTPD_MODE_SMTPS ? "smtps" : "smtp";
	if (strcmp(name, "{daemon_addr}") == 0 || strcmp(name, "{if_addr}") == 0)
		return ms->if_addr[0] != '\0' ? ms->if_addr : NULL;
	if (strcmp(name, "_") == 0)
		return snprintf(tmp, tmplen, "unknown [%s]", ss->client) < (int)tmplen ? tmp : NULL;
	if (strcmp(name, "{client_addr}") == 0)
		return ss->client;
	if (strcmp(name, "{client_port}") == 0)
		return ms->client_port[0] != '\0' ? ms->client_port : NULL;
	if (strcmp(name, "{client_name}") == 0 || strcmp(name, "{client_ptr}") == 0)
		return "unknown";   /* smtpd looks up no names */
	if (ss->tls && stream_tls_info(ss->s, &proto, &cipher, &bits) == 0) {
		if (strcmp(name, "{tls_version}") == 0)
			return proto;
		if (strcmp(name, "{cipher}") == 0)
			return cipher;
		if (strcmp(name, "{cipher_bits}") == 0)
			return snprintf(tmp, tmplen, "%d", bits) < (int)tmplen ? tmp : NULL;
	}
	if (ss->auth_user.len > 0 && strcmp(name, "{auth_authen}") == 0)
		return buf_cstr(&ss->auth_user);
	if (ss->auth_mech != NULL && strcmp(name, "{auth_type}") == 0)
		return ss->auth_mech;
	if (ss->in_mail && strcmp(name, "{mail_addr}") == 0)
		return buf_cstr(&ss->sender);
	if (ss->in_mail && strcmp(name, "{mail_host}") == 0) {
		const char *at = strrchr(buf_cstr(&ss->sender), '@');
		return at != NULL ? at + 1 : NULL;
	}
	if (ss->in_mail && (strcmp(name, "{mail_mailer}") == 0 || strcmp(name, "{rcpt_mailer}") == 0))
		return "smtp";
	return NULL;
}

static void smtpd_milter_reply(void *arg, int last, const char *line)
{
	struct smtpd_session *ss = arg;

	if (last) {
		smtpd_reply(ss, "%s", line);
	} else {
		(void)stream_write(ss->s, line, strlen(line));
		(void)stream_write(ss->s, "\r\n", 2);
	}
}

static int smtpd_milter_rcpt_add(void *arg, const char *addr, size_t len)
{
	struct smtpd_session *ss = arg;

	return ss->rcpt_fields + 3 + 9 > RECORD_MAX_FIELDS ? -1 : smtpd_rcpt_add(ss, addr, len, NULL, NULL);
}

static void smtpd_milter_rcpt_del(void *arg, const char *addr)
{
	struct smtpd_session *ss = arg;

	for (size_t i = 0; i < ss->nrcpt; i++) {
		if (strcasecmp(ss->rcpts[i].addr, addr) != 0)
			continue;
		ss->rcpt_fields -= 1 + (ss->rcpts[i].notify != NULL) + (ss->rcpts[i].orcpt != NULL);
		free(ss->rcpts[i].addr);
		free(ss->rcpts[i].notify);
		free(ss->rcpts[i].orcpt);
		memmove(ss->rcpts + i, ss->rcpts + i + 1, (ss->nrcpt - i - 1) * sizeof(*ss->rcpts));
		ss->nrcpt--;
		return;
	}
}

static int smtpd_milter_rcpt_has(void *arg, const char *addr)
{
	struct smtpd_session *ss = arg;

	for (size_t i = 0; i < ss->nrcpt; i++)
		if (strcasecmp(ss->rcpts[i].addr, addr) == 0)
			return 1;
	return 0;
}

static size_t smtpd_milter_rcpt_count(void *arg)
{
	return ((struct smtpd_session *)arg)->nrcpt;
}

static const struct milter_host_ops smtpd_milter_ops = {
	.macro = smtpd_milter_macro,
	.reply = smtpd_milter_reply,
	.rcpt_add = smtpd_milter_rcpt_add,
	.rcpt_del = smtpd_milter_rcpt_del,
	.rcpt_has = smtpd_milter_rcpt_has,
	.rcpt_count = smtpd_milter_rcpt_count,
};

/* ---- the session ---- */

/* Client port and our own address, for SMFIC_CONNECT and the macros. */
static char smtpd_milter_family(struct smtpd_milters *ms, int fd, uint16_t *port_r)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char family = 'U';

	*port_r = 0;
	if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0) {
		if (sa.ss_family == AF_INET) {
			family = '4';
			*port_r = ntohs(((struct sockaddr_in *)&sa)->sin_port);
		} else if (sa.ss_family == AF_INET6) {
			family = '6';
			*port_r = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
		}
	}
	if (family != 'U')
		snprintf(ms->client_port, sizeof(ms->client_port), "%u", (unsigned)*port_r);
	len = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0 &&
	    (sa.ss_family == AF_INET || sa.ss_family == AF_INET6) &&
	    inet_ntop(sa.ss_family, sa.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&sa)->sin_addr :
		      (void *)&((struct sockaddr_in6 *)&sa)->sin6_addr, ms->if_addr, sizeof(ms->if_addr)) == NULL)
		ms->if_addr[0] = '\0';
	return family;
}

void smtpd_milter_connect(struct smtpd_session *ss, int client_fd)
{
	struct smtpd_milters *ms;
	uint16_t port;
	char family;

	if (smtpd_milter_conf.n == 0)
		return;
	if ((ms = calloc(1, sizeof(*ms))) == NULL) {
		log_warn("out of memory for the milters of %s", ss->client_log);
		return;   /* no milters: nothing was promised yet */
	}
	ss->milters = ms;
	ms->s = (struct milter_session){ .conf = &smtpd_milter_conf, .ops = &smtpd_milter_ops, .arg = ss,
					 .client_log = ss->client_log, .hostname = ss->ctx->hostname,
					 .sender = &ss->sender, .smtputf8 = 0,
					 .size_limit = ss->ctx->size_limit,
					 .header_max = (size_t)ss->ctx->header_limit + SMTPD_PREPEND_MAX +
						       MILTER_HDR_EXTRA };
	family = smtpd_milter_family(ms, client_fd, &port);
	milter_session_open(&ms->s, "unknown", family, port, ss->client);   /* smtpd looks up no names */
	ss->done |= ms->s.done;
}

/* After a round: a 421 ends the session. */
static int smtpd_milter_after(struct smtpd_session *ss, int r)
{
	if (ss->milters->s.done)
		ss->done = 1;
	return r;
}

int smtpd_milter_helo(struct smtpd_session *ss)
{
	if (ss->milters == NULL)
		return 1;
	return smtpd_milter_after(ss, milter_session_helo(&ss->milters->s, buf_cstr(&ss->helo)));
}

int smtpd_milter_mail(struct smtpd_session *ss)
{
	int r;

	if (ss->milters == NULL)
		return 1;
	ss->in_mail = 1;   /* for the {mail_*} macros; the caller decides */
	ss->milters->s.smtputf8 = ss->smtputf8;
	r = milter_session_mail(&ss->milters->s, buf_cstr(&ss->sender));
	ss->in_mail = 0;
	return smtpd_milter_after(ss, r);
}

int smtpd_milter_rcpt(struct smtpd_session *ss, const char *rcpt)
{
	if (ss->milters == NULL)
		return 1;
	return smtpd_milter_after(ss, milter_session_rcpt(&ss->milters->s, rcpt));
}

int smtpd_milter_data(struct smtpd_session *ss)
{
	if (ss->milters == NULL)
		return 1;
	return smtpd_milter_after(ss, milter_session_data(&ss->milters->s));
}

int smtpd_milter_active(const struct smtpd_session *ss)
{
	return ss->milters != NULL;
}

int smtpd_milter_hold(const struct smtpd_session *ss)
{
	return ss->milters != NULL && ss->milters->s.hold;
}

void smtpd_milter_abort(struct smtpd_session *ss)
{
	if (ss->milters != NULL)
		milter_session_abort(&ss->milters->s);
}

void smtpd_milter_end(struct smtpd_session *ss)
{
	if (ss->milters == NULL)
		return;
	milter_session_close(&ss->milters->s);
	free(ss->milters);
	ss->milters = NULL;
}

/* ---- the end of the message ---- */

/* Stream the final message to a new enqueue connection. */
static int smtpd_milter_enqueue(struct smtpd_session *ss, int fd, struct enqueue **e_r,
				unsigned long long *size_r)
{
	char io[MILTER_IO];
	off_t off = 0;

	if (smtpd_msg_enqueue(ss, e_r) < 0)
		return -1;
	for (;;) {
		ssize_t n = pread(fd, io, sizeof(io), off);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (enqueue_write(*e_r, io, (size_t)n) < 0)
			break;   /* enqueue_finish says why */
		off += n;
	}
	*size_r = (unsigned long long)off;
	return 0;
}

int smtpd_milter_eom(struct smtpd_session *ss, int fd, struct enqueue **e_r, unsigned long long *size_r)
{
	struct milter_session *ms = &ss->milters->s;
	int out = -1;
	int r = smtpd_milter_after(ss, milter_session_message(ms, fd, &out));

	if (r == 1 && ms->discard) {
		log_info("discarded message from %s: from=<%s> (milter discard)", ss->client_log,
			 buf_cstr(&ss->sender));
		ss->messages++;
		smtpd_reply(ss, "250 2.0.0 Ok: discarded");
		r = 0;
	} else if (r == 1 && smtpd_milter_enqueue(ss, out, e_r, size_r) < 0) {
		r = -1;
	}
	if (r < 0) {
		log_warn("cannot pass the filtered message from %s to enqueue: %s", ss->client_log, strerror(errno));
		smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
		r = 0;
	}
	if (out >= 0 && out != fd)
		close(out);
	return r;
}
