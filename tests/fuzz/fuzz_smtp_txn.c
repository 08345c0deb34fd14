/* libFuzzer target for common/smtp_txn.c, the one transaction engine of
 * remote delivery and LMTP: any bytes as everything a server says after
 * EHLO or LHLO (through a socketpair whose peer then stops sending), in
 * SMTP or LMTP mode, with the extensions, the message's needs, the
 * skipped recipients and the probe's envelope-only mode taken from the
 * first input bytes.
 *
 * Checks: no recipient is answered twice and a skipped one never; at
 * SMTP_TXN_DONE every other recipient was answered, at SMTP_TXN_BROKEN
 * the status is a 4.x.x with a reason; each answer's status has its
 * class (delivered 2, deferred 4, failed 5) and a NUL-ended reason;
 * what the client sent holds no more RCPTs than recipients to send, no
 * DATA in envelope-only mode, and nothing at all for a message that
 * needs SMTPUTF8 where it is not offered.
 *
 * Input: byte 0 bit 0 LMTP, 1 envelope only, 2 PIPELINING, 3 SIZE (its
 * limit from byte 1), 4 SMTPUTF8 offered, 5 the message needs it, 6 DSN,
 * 7 8BITMIME and 8-bit data; byte 1 the SIZE limit in 100s of bytes;
 * byte 2 bits 0-2 recipients - 1, bits 3-7 which of the first five are
 * skipped; then the server's bytes. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp_client.h"
#include "smtp_txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RCPT 8

struct answers {
	int count[MAX_RCPT];
};

static void on_answer(void *arg, size_t i, enum smtp_txn_status st, const char *dsn, const char *reason)
{
	struct answers *a = arg;
	char want = st == SMTP_TXN_DELIVERED ? '2' : st == SMTP_TXN_DEFERRED ? '4' : '5';

	if (i >= MAX_RCPT || dsn == NULL || dsn[0] != want || reason == NULL || reason[0] == '\0' ||
	    strlen(reason) > 4096)
		abort();
	a->count[i]++;
}

/* What the client wrote: at most max bytes into out, NUL-ended. */
static size_t drain(int fd, char *out, size_t max)
{
	size_t got = 0;
	ssize_t r;

	while (got < max - 1 && (r = read(fd, out + got, max - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	return got;
}

static size_t count_of(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const addrs[MAX_RCPT] = { "a@x", "b@x", "c@x", "d@x", "e@x", "f@x", "g@x", "h@x" };
	static const char head[] = "Subject: fuzz\n\n.dot\nbody\n";
	static char wire[65536];
	struct smtp_txn_rcpt rcpt[MAX_RCPT];
	struct smtp_ext ext;
	struct smtp_txn_msg msg;
	struct smtp_reply reply;
	struct answers ans;
	struct stream *s;
	char reason[1024];
	const char *dsn = NULL;
	size_t n, to_send = 0;
	int sv[2];

	/* Within one socket buffer, so that the write cannot block. */
	if (size < 3 || size > 60000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	if (write(sv[1], data + 3, size - 3) != (ssize_t)(size - 3) || shutdown(sv[1], SHUT_WR) < 0 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	memset(&ext, 0, sizeof ext);
	ext.esmtp = 1;
	ext.pipelining = (data[0] & 0x04) != 0;
	ext.size = (data[0] & 0x08) != 0;
	ext.size_max = (unsigned long long)data[1] * 100;
	ext.smtputf8 = (data[0] & 0x10) != 0;
	ext.dsn = (data[0] & 0x40) != 0;
	ext.eightbitmime = (data[0] & 0x80) != 0;
	memset(&msg, 0, sizeof msg);
	msg.sender = "s@x";
	msg.smtputf8 = (data[0] & 0x20) != 0;
	msg.eightbit = (data[0] & 0x80) != 0;
	msg.smtp_size = sizeof head - 1 + 4 + 3;
	msg.ret = "FULL";
	msg.envid = "id+1";
	msg.body = (struct smtp_client_body){ .prepend = head, .prepend_len = sizeof head - 1, .fd = -1 };
	n = (size_t)(data[2] & 7) + 1;
	memset(rcpt, 0, sizeof rcpt);
	for (size_t i = 0; i < n; i++) {
		rcpt[i] = (struct smtp_txn_rcpt){ .addr = addrs[i], .len = 3, .notify = i & 1 ? "SUCCESS,FAILURE" : NULL,
						  .orcpt = i & 2 ? "rfc822;o+2B@x" : NULL,
						  .skip = i < 5 && (data[2] >> (3 + i) & 1) };
		to_send += !rcpt[i].skip;
	}
	memset(&ans, 0, sizeof ans);
	smtp_reply_init(&reply);
	s = stream_new(sv[0], sv[0], SMTP_CLIENT_LINE_MAX, 1000);
	if (s != NULL) {
		struct smtp_txn t = {
			.s = s, .reply = &reply, .ext = &ext, .peer = "h[192.0.2.1]:25", .who = "host h[192.0.2.1]:25",
			.lmtp = data[0] & 0x01, .envelope_only = (data[0] & 0x02) != 0, .mail_ms = 1000,
			.rcpt_ms = 1000, .data_init_ms = 1000, .data_block_ms = 1000, .data_done_ms = 1000,
			.msg = &msg, .rcpt = rcpt, .n = n, .answer = on_answer, .arg = &ans,
		};
		enum smtp_txn_result r = smtp_txn_run(&t, reason, sizeof reason, &dsn);

		for (size_t i = 0; i < n; i++) {
			if (ans.count[i] > 1 || (rcpt[i].skip && ans.count[i] != 0) ||
			    rcpt[i].answered != (ans.count[i] == 1) ||
			    (r == SMTP_TXN_DONE && !rcpt[i].skip && ans.count[i] != 1))
				abort();
		}
		if (r == SMTP_TXN_BROKEN && (dsn == NULL || dsn[0] != '4' || reason[0] == '\0'))
			abort();
		stream_free(&s);
		drain(sv[1], wire, sizeof wire);
		if (count_of(wire, "RCPT TO:") > to_send || (t.envelope_only && strstr(wire, "\r\nDATA\r\n") != NULL))
			abort();
		if (msg.smtputf8 && !ext.smtputf8 && (wire[0] != '\0' || r != SMTP_TXN_DONE))
			abort();
	}
	smtp_reply_free(&reply);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
