/* local_lmtp: the transport map of the local agent and its LMTP hand-off.
 *
 * Offers: local_transport(), which looks a recipient's domain up in
 * etc/transport (common/recipient: `DOMAIN lmtp:DEST` or `DOMAIN local`),
 * and local_lmtp_deliver(), which sends one message to the recipients of
 * one destination in a single LMTP transaction (common/lmtp_client, RFC
 * 2033) and turns each server answer into a local result.  Unix socket
 * destinations are relative to local's root, DIR/mail (chrooted or not:
 * daemon_drop leaves local in DIR/mail either way).
 *
 * Trusts: the map is the operator's, still parsed with bounds; nothing
 * the LMTP server says (lmtp_client bounds every reply).
 *
 * Fails: per recipient, as lmtp_client answers; a map read error or an
 * entry that cannot be parsed defers (4.3.5 / 4.3.0, logged) instead of
 * delivering into a Maildir the operator did not mean. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "config.h"
#include "lmtp_client.h"
#include "local.h"
#include "log.h"
#include "recipient.h"

int local_transport(const struct local_ctx *ctx, const char *addr, size_t len, struct buf *dest,
		    struct local_result *r)
{
	struct recipient_maps maps = { .transport = ctx->transport };
	struct buf norm;
	const char *error;
	long at;
	int t;

	if (ctx->transport == NULL)
		return 0;
	buf_init(&norm, ADDRESS_PATH_MAX + 1);
	if (address_normalize(addr, len, &norm) < 0 || (at = address_at(norm.data, norm.len)) < 0) {
		buf_free(&norm);
		return 0;   /* the local path answers bad syntax */
	}
	t = recipient_transport(&maps, norm.data + at + 1, norm.len - (size_t)at - 1, dest, &error);
	if (t < 0) {
		log_warn("%s for domain %s", error, norm.data + at + 1);
		local_result_set(r, "deferred", errno == EIO ? "4.3.0" : "4.3.5", "%s", error);
	}
	buf_free(&norm);
	return t;
}

static void local_lmtp_result(const struct lmtp_answer *a, struct local_result *r)
{
	static const char *const names[] = { [LMTP_DELIVERED] = "delivered", [LMTP_DEFERRED] = "deferred",
					     [LMTP_FAILED] = "failed" };

	local_result_set(r, names[a->status], a->dsn, "%s", a->reason);
}

void local_lmtp_deliver(const struct local_msg *m, const struct smtp_txn_msg *tm, const char *dest,
			const char *const *rcpts, size_t n, struct local_result *results)
{
	struct lmtp_dest d;
	struct lmtp_msg lm = { .txn = *tm, .helo = config_str("myhostname") };
	struct lmtp_answer *answers;
	const char *error;

	if (lmtp_dest_parse(dest, strlen(dest), &d, &error) < 0) {
		log_warn("%s: transport map: lmtp:%s: %s", m->queue_id, dest, error);
		for (size_t i = 0; i < n; i++)
			local_result_set(&results[i], "deferred", "4.3.5", "transport map entry invalid: %s", error);
		return;
	}
	answers = calloc(n, sizeof *answers);
	if (answers == NULL) {
		for (size_t i = 0; i < n; i++)
			local_result_set(&results[i], "deferred", "4.3.0", "out of memory");
		return;
	}
	lm.timeout_ms = local_ms(config_time("lmtp_timeout"));
	lmtp_deliver(&d, &lm, rcpts, n, answers);
	for (size_t i = 0; i < n; i++)
		local_lmtp_result(&answers[i], &results[i]);
	free(answers);
}
