/* pickup_milter: mail submitted with sendmail(1) through the milters of
 * non_smtpd_milters, as Postfix's cleanup applies them to pickup mail
 * (docs/operator.md, "Milters").
 *
 * Offers: pickup_milter_run().  It drives the common milter client
 * (common/milter_client.c, milter_message.c) as for a local client:
 * connect from localhost [127.0.0.1] (family '4', port 0), no HELO,
 * MAIL and one RCPT per recipient from the pickup record, DATA, then
 * the header and body pickup built (its Received, Date, Message-ID and
 * From included) and the end of message.  The milters' changes (header
 * fields, body, sender, recipients) are applied to what is queued;
 * quarantine and discard are flags for the caller.  A reject or tempfail
 * at any stage refuses the whole submission: status=fail (5xx) or
 * status=tempfail (4xx) with the milter's reply as the reason.
 *
 * Runs inside pickup (postern-queue, chrooted in DIR/queue): a unix:
 * milter PATH is opened in that root, so DIR/queue/PATH on the host.
 *
 * Trusts: no milter (the common client checks everything they send).
 *
 * Fails: milter trouble is milter_default_action (tempfail, reject or
 * accept), also when all of them together take longer than 180 s (the
 * sender waits at most 300 s for pickup's answer); a message the changes made larger than pickup's buffer
 * (message_size_limit + 66 KiB): status=fail 552 5.3.4; a memfd that
 * cannot be made or read: -1, pickup answers tempfail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fsutil.h"
#include "log.h"
#include "milter_client.h"
#include "pickup_milter.h"

#define PICKUP_MILTER_HDR_EXTRA 65536   /* header bytes filters may add to what pickup built */
#define PICKUP_MILTER_IO 65536

static struct milter_conf pickup_milter_conf;

void pickup_milter_init(void)
{
	milter_conf_load(&pickup_milter_conf, "non_smtpd_milters");
}

int pickup_milter_active(void)
{
	return pickup_milter_conf.n > 0;
}

/* ---- what the milter session asks of pickup ---- */

static const char *pickup_milter_macro(void *arg, const char *name, const char *rcpt, char *tmp,
				       size_t len)
{
	struct pickup_milter_msg *pm = arg;
	const char *sender = buf_cstr(pm->sender);

	(void)rcpt;
	(void)tmp;
	(void)len;
	if (strcmp(name, "j") == 0 || strcmp(name, "{if_name}") == 0)
		return config_str("myhostname");
	if (strcmp(name, "{daemon_name}") == 0)
		return pickup_milter_conf.daemon_name[0] != '\0' ? pickup_milter_conf.daemon_name : "pickup";
	if (strcmp(name, "_") == 0)
		return "localhost [127.0.0.1]";
	if (strcmp(name, "{client_addr}") == 0)
		return "127.0.0.1";
	if (strcmp(name, "{client_name}") == 0 || strcmp(name, "{client_ptr}") == 0)
		return "localhost";
	if (strcmp(name, "{mail_addr}") == 0)
		return sender;
	if (strcmp(name, "{mail_host}") == 0) {
		const char *at = strrchr(sender, '@');
		return at != NULL ? at + 1 : NULL;
	}
	if (strcmp(name, "{mail_mailer}") == 0 || strcmp(name, "{rcpt_mailer}") == 0)
		return "local";
	return NULL;
}

/* The milter's answer becomes the submission's: its lines joined. */
static void pickup_milter_reply(void *arg, int last, const char *line)
{
	struct pickup_milter_msg *pm = arg;
	size_t o = strlen(pm->reason);

	if (o == 0)
		pm->status = line[0] == '5' ? "fail" : "tempfail";
	if (o > 0 && o + 1 < sizeof(pm->reason))
		pm->reason[o++] = ' ';
	for (size_t i = 0; line[i] != '\0' && o + 1 < sizeof(pm->reason); i++)
		pm->reason[o++] = line[i];
	pm->reason[o] = '\0';
	(void)last;
}

static int pickup_milter_rcpt_add(void *arg, const char *addr, size_t len)
{
	struct pickup_milter_msg *pm = arg;
	char *a;

	if (pm->nrcpt >= pm->max_rcpt || (a = strndup(addr, len)) == NULL)
		return -1;
	pm->rcpts[pm->nrcpt++] = a;
	return 0;
}

static void pickup_milter_rcpt_del(void *arg, const char *addr)
{
	struct pickup_milter_msg *pm = arg;

	for (size_t i = 0; i < pm->nrcpt; i++)
		if (strcasecmp(pm->rcpts[i], addr) == 0) {
			free(pm->rcpts[i]);
			memmove(pm->rcpts + i, pm->rcpts + i + 1, (pm->nrcpt - i - 1) * sizeof(*pm->rcpts));
			pm->nrcpt--;
			return;
		}
}

static int pickup_milter_rcpt_has(void *arg, const char *addr)
{
	struct pickup_milter_msg *pm = arg;

	for (size_t i = 0; i < pm->nrcpt; i++)
		if (strcasecmp(pm->rcpts[i], addr) == 0)
			return 1;
	return 0;
}

static size_t pickup_milter_rcpt_count(void *arg)
{
	return ((struct pickup_milter_msg *)arg)->nrcpt;
}

static const struct milter_host_ops pickup_milter_ops = {
	.macro = pickup_milter_macro,
	.reply = pickup_milter_reply,
	.rcpt_add = pickup_milter_rcpt_add,
	.rcpt_del = pickup_milter_rcpt_del,
	.rcpt_has = pickup_milter_rcpt_has,
	.rcpt_count = pickup_milter_rcpt_count,
};

/* ---- one submission ---- */

/* The final message from fd into out. */
static int pickup_milter_read_back(int fd, struct buf *out)
{
	off_t off = 0;

	buf_reset(out);
	for (;;) {
		char *room = buf_room(out, PICKUP_MILTER_IO);
		ssize_t n;

		if (room == NULL) {
			errno = EFBIG;
			return -1;
		}
		if ((n = pread(fd, room, PICKUP_MILTER_IO, off)) < 0)
			return -1;
		if (n == 0)
			return 0;
		buf_extend(out, (size_t)n);
		off += n;
	}
}

/* The envelope and message rounds; 1, 0 or -1 as pickup_milter_run. */
static int pickup_milter_rounds(struct milter_session *ms, struct pickup_milter_msg *pm, int fd,
				struct buf *out)
{
	int final = -1, r;

	milter_session_open(ms, "localhost", '4', 0, "127.0.0.1");
	if (!milter_session_mail(ms, buf_cstr(pm->sender)))
		return 0;
	for (size_t i = 0; i < pm->nrcpt; i++)
		if (!milter_session_rcpt(ms, pm->rcpts[i]))
			return 0;   /* one refused recipient refuses the submission */
	if (!milter_session_data(ms))
		return 0;
	if ((r = milter_session_message(ms, fd, &final)) != 1)
		return r;
	pm->hold = ms->hold;
	pm->discard = ms->discard;
	r = pm->discard ? 1 : pickup_milter_read_back(final, out) < 0 ? -1 : 1;
	if (r < 0 && errno == EFBIG) {   /* the changes made it bigger than pickup takes */
		pm->status = "fail";
		snprintf(pm->reason, sizeof(pm->reason), "552 5.3.4 Message too big after the milters' changes");
		r = 0;
	}
	if (final != fd)
		close(final);
	return r;
}

int pickup_milter_run(struct pickup_milter_msg *pm, const struct buf *head, const struct buf *msg,
		      struct buf *out)
{
	struct milter_session ms = {
		.conf = &pickup_milter_conf, .ops = &pickup_milter_ops, .arg = pm,
		.client_log = "localhost[127.0.0.1] (pickup)", .hostname = config_str("myhostname"),
		.sender = pm->sender, .smtputf8 = 1, .size_limit = pm->size_limit,
		.header_max = head->len + msg->len + PICKUP_MILTER_HDR_EXTRA,
		.budget_ms = PICKUP_MILTER_BUDGET_MS,
	};
	int fd = memfd_create("postern-pickup-milter", MFD_CLOEXEC), r = -1;

	pm->status = NULL;
	pm->reason[0] = '\0';
	pm->hold = pm->discard = 0;
	if (fd < 0 || fd_write_all(fd, head->data, head->len) < 0 || fd_write_all(fd, msg->data, msg->len) < 0) {
		log_warn("cannot hold a submission for the milters: %s", strerror(errno));
	} else {
		r = pickup_milter_rounds(&ms, pm, fd, out);
		if (r < 0)
			log_warn("cannot take a submission back from the milters: %s", strerror(errno));
		if (r == 0 && pm->status == NULL) {   /* answered without a line: cannot be, but be safe */
			pm->status = "tempfail";
			snprintf(pm->reason, sizeof(pm->reason), "451 4.7.1 Service unavailable - try again later");
		}
		if (r != 1)
			milter_session_abort(&ms);
		milter_session_close(&ms);
	}
	if (fd >= 0)
		close(fd);
	return r;
}
