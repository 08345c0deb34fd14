/* local_forward: forwarding to addresses outside the local domains.
 *
 * Offers: local_forward(), which submits the message once more through
 * the enqueue service (private/enqueue inside the mail root, linked there
 * by the master) for all forwarded targets of one recipient, with the
 * envelope sender kept (as Postfix does for aliases) and
 * `Delivered-To: RCPT` prepended, so that the copy is recognised as a
 * loop if it ever comes back to RCPT (local_header.c).
 *
 * Trusts: enqueue's answer (common/enqueue_client checks its form).
 *
 * Fails: enqueue tempfail or an unreachable enqueue -> deferred 4.3.0;
 * a refusal (e.g. too big) -> failed 5.3.0; a short queue file ->
 * deferred 4.3.0.  Nothing is acknowledged before enqueue answered ok. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "address.h"
#include "enqueue_client.h"
#include "local.h"
#include "log.h"
#include "queuefile.h"

#define LOCAL_FORWARD_BLOCK 65536

static int local_forward_copy(struct enqueue *e, const struct local_msg *m, const char *via)
{
	static char block[LOCAL_FORWARD_BLOCK];
	struct buf head;
	off_t done = 0;
	int r;

	buf_init(&head, ADDRESS_PATH_MAX + 32);
	r = buf_printf(&head, "Delivered-To: %s\n", via) < 0 ? -1 : enqueue_write(e, head.data, head.len);
	buf_free(&head);
	/* the prepended fields travel on (a DKIM signature stays valid) */
	if (r == 0 && m->prepend_len > 0)
		r = enqueue_write(e, m->prepend, m->prepend_len);
	while (r == 0 && done < m->size) {
		size_t want = m->size - done < (off_t)sizeof block ? (size_t)(m->size - done) : sizeof block;
		ssize_t n = pread(m->fd, block, want, m->offset + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		r = enqueue_write(e, block, (size_t)n);
		done += n;
	}
	return r;
}

/* The ORCPT a forward to one address carries: the original's, else the
 * address the sender wrote (RFC 3461 4.2), when it is plain ASCII. */
static const char *local_forward_orcpt(const struct local_msg *m, const char *via, char *out, size_t len)
{
	if (m->orcpt != NULL)
		return m->orcpt;
	for (const unsigned char *p = (const unsigned char *)via; *p != '\0'; p++)
		if (*p > 0x7e || *p < 0x21)
			return NULL;
	return snprintf(out, len, "rfc822;%s", via) < (int)len ? out : NULL;
}

/* Connect to enqueue with the envelope of the copy. */
static int local_forward_begin(const struct local_msg *m, const char *via, const char *const *rcpts,
			       size_t n, int inherit, struct enqueue **e_r, const char **error_r)
{
	char orcpt[ADDRESS_PATH_MAX + 16];
	struct enqueue_rcpt one;
	struct enqueue_envelope env = { .sender = m->sender, .rcpts = &one, .nrcpt = 1, .proto = "local" };

	unsigned bits;

	if (!inherit || n != 1)
		return enqueue_begin_proto(e_r, m->sender, rcpts, n, NULL, NULL, "local", error_r);
	/* As enqueue checks them: a value it would refuse (a damaged queue
	 * file) is left out rather than turning the forward into a bounce. */
	one.addr = rcpts[0];
	one.notify = m->notify != NULL && queuefile_notify_parse(m->notify, strlen(m->notify), &bits) == 0
		     ? m->notify : NULL;
	one.orcpt = local_forward_orcpt(m, via, orcpt, sizeof orcpt);
	if (one.orcpt != NULL && !queuefile_orcpt_valid(one.orcpt, strlen(one.orcpt)))
		one.orcpt = NULL;
	env.ret = m->ret != NULL && (strcasecmp(m->ret, "FULL") == 0 || strcasecmp(m->ret, "HDRS") == 0)
		  ? m->ret : NULL;
	env.envid = m->envid != NULL && queuefile_envid_valid(m->envid, strlen(m->envid)) ? m->envid : NULL;
	return enqueue_begin_env(e_r, &env, error_r);
}

void local_forward(const struct local_msg *m, const char *via, const char *const *rcpts,
		   size_t n, int inherit, struct local_result *r)
{
	char id[ENQUEUE_QUEUE_ID_MAX + 1];
	struct enqueue *e = NULL;
	const char *error;
	int permanent = 0;

	if (local_forward_begin(m, via, rcpts, n, inherit, &e, &error) < 0) {
		log_warn("%s: forward for %s: %s", m->queue_id, via, error);
		local_result_set(r, "deferred", "4.3.0", "cannot forward: %s", error);
		return;
	}
	if (local_forward_copy(e, m, via) < 0) {
		enqueue_abort(&e);
		local_result_set(r, "deferred", "4.3.0", "cannot forward: message copy failed");
		return;
	}
	if (enqueue_finish(e, id, sizeof id, &permanent, &error) < 0) {
		log_warn("%s: forward for %s: %s", m->queue_id, via, error);
		local_result_set(r, permanent ? "failed" : "deferred", permanent ? "5.3.0" : "4.3.0",
				 "forwarding refused: %s", error);
		enqueue_abort(&e);
		return;
	}
	enqueue_abort(&e);
	log_info("%s: forwarded for <%s> to %zu address%s as %s", m->queue_id, via, n,
		 n == 1 ? "" : "es", id);
	local_result_set(r, "delivered", "2.0.0", "forwarded as %s", id);
}
