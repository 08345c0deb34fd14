/* local_header: mail-loop protection for the local agent.
 *
 * Offers: local_header_scan() reads the message header (up to its empty
 * line, at most LOCAL_HEADER_SCAN_MAX bytes, with pread from the queue
 * file; the body is not read) once per
 * request and keeps the values of every Delivered-To field (lower case)
 * and the number of Received fields; local_header_loop() then says, per
 * recipient, whether the message has been here before.  Like Postfix's
 * local(8) and qmail, a Delivered-To naming this very address means the
 * message came back to a mailbox or alias it already passed (RFC 5321
 * 6.3: loop detection), and more than hopcount_limit Received fields
 * means it has travelled too far (RFC 5321 6.3 suggests 100; we take the
 * configured value).  Either answer is a final failure, 5.4.6.
 *
 * Trusts: nothing in the header: lines are parsed with lengths, folded
 * continuation lines are skipped, values are bounded (LOCAL_DELIVERED_TO_MAX
 * in total, ADDRESS_PATH_MAX each; longer ones cannot equal an address).
 *
 * Fails: a header that cannot be read leaves header_ok = 0 and checks
 * nothing (logged): a read error here must not bounce mail; the delivery
 * itself will meet the same error and defer. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "local.h"
#include "log.h"

static int local_header_name(const char *line, size_t n, const char *name, size_t *value_r)
{
	size_t k = strlen(name);

	if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
		return 0;
	*value_r = k + 1;
	return 1;
}

/* Keep one Delivered-To value, trimmed and lower-cased. */
static void local_header_keep(struct local_msg *m, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
		n--;
	if (n == 0 || n > ADDRESS_PATH_MAX)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] - 'A' + 'a') : v[i];
		if (buf_putc(&m->delivered_to, c) < 0)
			return;
	}
	(void)buf_putc(&m->delivered_to, '\0');
}

/* One header line (without LF). 0 go on, 1 the header ended. */
static int local_header_line(struct local_msg *m, const char *line, size_t n)
{
	size_t v;

	if (n == 0 || (n == 1 && line[0] == '\r'))
		return 1;
	if (line[0] == ' ' || line[0] == '\t')
		return 0;   /* continuation: Delivered-To is written on one line */
	if (local_header_name(line, n, "received", &v))
		m->received++;
	else if (local_header_name(line, n, "delivered-to", &v))
		local_header_keep(m, line + v, n - v);
	return 0;
}

/* Whether head[0, len) holds the header's end (an empty line, LF or
 * CRLF), looking only at lines that end at or after byte from. */
static int local_header_complete(const char *head, size_t len, size_t from)
{
	const char *p, *end;

	if (len == 0)
		return 0;
	p = head + (from > 2 ? from - 2 : 0);
	end = head + len;
	if ((len >= 1 && head[0] == '\n') || (len >= 2 && head[0] == '\r' && head[1] == '\n'))
		return 1;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p++;
		if ((p < end && *p == '\n') || (end - p >= 2 && p[0] == '\r' && p[1] == '\n'))
			return 1;
	}
	return 0;
}

void local_header_scan(struct local_msg *m)
{
	struct buf head;
	size_t want = m->size < LOCAL_HEADER_SCAN_MAX ? (size_t)m->size : LOCAL_HEADER_SCAN_MAX;
	size_t pos = 0, scanned = 0;

	m->received = 0;
	m->header_ok = 0;
	buf_reset(&m->delivered_to);
	buf_init(&head, LOCAL_HEADER_SCAN_MAX);
	while (head.len < want && !local_header_complete(head.data, head.len, scanned)) {
		char block[8192];
		size_t n = want - head.len < sizeof block ? want - head.len : sizeof block;
		ssize_t r;

		scanned = head.len;
		r = pread(m->fd, block, n, m->offset + (off_t)head.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || buf_append(&head, block, (size_t)r) < 0) {
			log_warn("%s: cannot read the message header: %s", m->queue_id,
				 r == 0 ? "short file" : strerror(errno));
			buf_free(&head);
			return;
		}
	}
	while (pos < head.len) {
		const char *lf = memchr(head.data + pos, '\n', head.len - pos);
		size_t end = lf != NULL ? (size_t)(lf - head.data) : head.len;
		if (lf == NULL && head.len == LOCAL_HEADER_SCAN_MAX)
			break;   /* a line cut by the scan limit: not judged */
		if (local_header_line(m, head.data + pos, end - pos))
			break;
		pos = end + 1;
	}
	m->header_ok = 1;
	buf_free(&head);
}

int local_header_loop(const struct local_msg *m, const char *addr, size_t len,
		      struct local_result *r)
{
	unsigned long long limit = config_size("hopcount_limit");
	size_t pos = 0;

	if (!m->header_ok)
		return 0;
	if (limit > 0 && m->received > limit) {
		local_result_set(r, "failed", "5.4.6", "mail loop: %lu Received headers (limit %llu)",
				 m->received, limit);
		return 1;
	}
	while (pos < m->delivered_to.len) {
		const char *v = m->delivered_to.data + pos;
		size_t n = strlen(v);
		if (n == len && strncasecmp(v, addr, len) == 0) {
			local_result_set(r, "failed", "5.4.6", "mail forwarding loop for %s", v);
			return 1;
		}
		pos += n + 1;
	}
	return 0;
}
