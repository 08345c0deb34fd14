/* record: the framing of every request and answer between Postern
 * processes (docs/protocols.md).
 *
 * Offers: writers that escape values (bytes 0x00-0x1f, 0x7f and '%' as
 * %XX, upper-case hex) so that no value can end a line or a record, a
 * stream reader and an in-memory parser for `key=value` records ended by
 * an empty line, and the chunked framing of bulk data (`N\n` + N bytes,
 * `0\n` at the end).  record_call() is the client side of a one-request
 * service (authd, verify): connect, send, read one answer record.
 *
 * Trusts: nothing it reads.  Keys must match [a-z0-9_]{1,64}; a value
 * holding a raw control byte (a CR included: writers escape it) or a bad
 * %XX escape is refused; at most RECORD_MAX_FIELDS fields and
 * RECORD_MAX_VALUE decoded bytes per value; a chunk length is plain
 * decimal (no sign, no leading zero) of at most RECORD_CHUNK_MAX bytes.
 *
 * Fails: writers return -1 (errno EINVAL for a bad key, EMSGSIZE for a
 * value that is too long or an output buffer that is full) and leave the
 * output buffer as it was; readers return an error status with a static
 * message in *error_r. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "record.h"
#include "sockets.h"

#define RECORD_KEY_MAX 64
#define RECORD_CHUNK_MAX (1024 * 1024)
/* Longest encoded line: key, '=', every value byte escaped, LF. */
#define RECORD_LINE_MAX (RECORD_KEY_MAX + 1 + 3 * RECORD_MAX_VALUE + 1)
#define RECORD_CHUNK_LINE_MAX 16

static int record_key_ok(const char *k, size_t len)
{
	if (len == 0 || len > RECORD_KEY_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* Whether byte c must be written as %XX. */
static int record_must_escape(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '%';
}

/* ---- writers ---- */

static int record_put_escaped(struct buf *out, const char *value, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0;

	while (i < len) {
		size_t run = i;

		/* Copy runs of plain bytes in one append. */
		while (run < len && !record_must_escape((unsigned char)value[run]))
			run++;
		if (run > i && buf_append(out, value + i, run - i) < 0)
			return -1;
		i = run;
		if (i < len) {
			unsigned char c = (unsigned char)value[i++];
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
			if (buf_append(out, esc, 3) < 0)
				return -1;
		}
	}
	return 0;
}

int record_put(struct buf *out, const char *key, const char *value, size_t value_len)
{
	size_t saved = out->len;

	if (!record_key_ok(key, strlen(key))) {
		errno = EINVAL;
		return -1;
	}
	if (value_len > RECORD_MAX_VALUE) {
		errno = EMSGSIZE;
		return -1;
	}
	if (buf_append_str(out, key) < 0 || buf_putc(out, '=') < 0 ||
	    record_put_escaped(out, value, value_len) < 0 || buf_putc(out, '\n') < 0) {
		/* Never leave half a field behind. */
		int e = errno;
		out->len = saved;
		if (out->data != NULL)
			out->data[saved] = '\0';
		errno = e;
		return -1;
	}
	return 0;
}

int record_put_str(struct buf *out, const char *key, const char *value)
{
	return record_put(out, key, value, strlen(value));
}

int record_put_num(struct buf *out, const char *key, unsigned long long value)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", value);

	return record_put(out, key, num, (size_t)n);
}

int record_end(struct buf *out)
{
	return buf_putc(out, '\n');
}

/* ---- the record ---- */

void record_clear(struct record *rec)
{
	/* Values may be secrets (authd's password field): wipe, then free. */
	for (size_t i = 0; i < rec->n; i++) {
		free(rec->fields[i].key);
		explicit_bzero(rec->fields[i].value, rec->fields[i].value_len);
		free(rec->fields[i].value);
	}
	free(rec->fields);
	rec->fields = NULL;
	rec->n = 0;
	rec->alloc = 0;
}

const char *record_get(const struct record *rec, const char *key)
{
	for (size_t i = 0; i < rec->n; i++)
		if (strcmp(rec->fields[i].key, key) == 0)
			return rec->fields[i].value;
	return NULL;
}

/* Strict unsigned decimal: digits only, no leading zero but "0". */
static int record_parse_uint(const char *s, size_t len, unsigned long long *v_r)
{
	unsigned long long v = 0;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (__builtin_mul_overflow(v, 10ULL, &v) ||
		    __builtin_add_overflow(v, (unsigned long long)(s[i] - '0'), &v))
			return -1;
	}
	*v_r = v;
	return 0;
}

int record_get_num(const struct record *rec, const char *key, unsigned long long *value_r)
{
	const char *v = record_get(rec, key);

	if (v == NULL || record_parse_uint(v, strlen(v), value_r) < 0)
		return -1;
	return 0;
}

static int record_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode an escaped value of len bytes into out (RECORD_MAX_VALUE + 1). */
static int record_decode(const char *s, size_t len, char *out, size_t *out_len, const char **error_r)
{
	size_t o = 0;

	for (size_t i = 0; i < len; ) {
		unsigned char c = (unsigned char)s[i];

		if (o >= RECORD_MAX_VALUE) {
			*error_r = "record value too long";
			return -1;
		}
		if (c == '%') {
			int hi = i + 2 < len ? record_hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? record_hexval(s[i + 2]) : -1;
			if (lo < 0) {
				*error_r = "bad %XX escape in record value";
				return -1;
			}
			out[o++] = (char)(hi << 4 | lo);
			i += 3;
		} else if (record_must_escape(c)) {
			*error_r = "unescaped control byte in record value";
			return -1;
		} else {
			out[o++] = (char)c;
			i++;
		}
	}
	out[o] = '\0';
	*out_len = o;
	return 0;
}

static int record_add(struct record *rec, const char *key, size_t klen,
		      const char *value, size_t vlen, const char **error_r)
{
	struct record_field *f;

	if (rec->n >= RECORD_MAX_FIELDS) {
		*error_r = "too many fields in record";
		return -1;
	}
	if (rec->n == rec->alloc) {
		size_t na = rec->alloc ? rec->alloc * 2 : 16;
		if (na > RECORD_MAX_FIELDS)
			na = RECORD_MAX_FIELDS;
		f = reallocarray(rec->fields, na, sizeof(*f));
		if (f == NULL) {
			*error_r = "out of memory";
			return -1;
		}
		rec->fields = f;
		rec->alloc = na;
	}
	f = &rec->fields[rec->n];
	f->key = strndup(key, klen);
	f->value = malloc(vlen + 1);
	if (f->key == NULL || f->value == NULL) {
		free(f->key);
		free(f->value);
		*error_r = "out of memory";
		return -1;
	}
	memcpy(f->value, value, vlen);
	f->value[vlen] = '\0';
	f->value_len = vlen;
	rec->n++;
	return 0;
}

/* One `key=value` line, without its LF. */
static int record_parse_line(struct record *rec, const char *line, size_t len, const char **error_r)
{
	const char *eq = memchr(line, '=', len);
	char value[RECORD_MAX_VALUE + 1];
	size_t klen, vlen;

	if (eq == NULL) {
		*error_r = "record line without '='";
		return -1;
	}
	klen = (size_t)(eq - line);
	if (!record_key_ok(line, klen)) {
		*error_r = "bad key in record";
		return -1;
	}
	if (record_decode(eq + 1, len - klen - 1, value, &vlen, error_r) < 0)
		return -1;
	return record_add(rec, line, klen, value, vlen, error_r);
}

int record_parse(const char *p, size_t n, struct record *rec, size_t *consumed_r, const char **error_r)
{
	size_t pos = 0;

	record_clear(rec);
	while (pos < n) {
		const char *nl = memchr(p + pos, '\n', n - pos);
		size_t len;

		if (nl == NULL)
			break;
		len = (size_t)(nl - (p + pos));
		if (len == 0) {
			*consumed_r = pos + 1;
			return 0;
		}
		if (record_parse_line(rec, p + pos, len, error_r) < 0) {
			record_clear(rec);
			return -1;
		}
		pos += len + 1;
	}
	record_clear(rec);
	*error_r = "incomplete record";
	return -1;
}

/* ---- stream reading ---- */

static enum stream_status record_read_fields(struct stream *in, struct record *rec, const char **error_r)
{
	for (;;) {
		const char *line;
		size_t len;
		enum stream_status st = stream_read_line(in, &line, &len);

		if (st == STREAM_EOF && len == 0 && rec->n == 0)
			return STREAM_EOF;
		if (st == STREAM_EOF) {
			*error_r = "unexpected end of input inside a record";
			errno = EPROTO;
			return STREAM_ERROR;
		}
		if (st == STREAM_TOOLONG)
			*error_r = "record line too long";
		else if (st == STREAM_TIMEOUT)
			*error_r = "timeout reading a record";
		else if (st != STREAM_OK)
			*error_r = "error reading a record";
		if (st != STREAM_OK)
			return st;
		if (len == 1)
			return STREAM_OK;
		if (record_parse_line(rec, line, len - 1, error_r) < 0) {
			errno = EPROTO;
			return STREAM_ERROR;
		}
	}
}

enum stream_status record_read(struct stream *in, struct record *rec, const char **error_r)
{
	size_t saved = stream_get_max_line(in);
	enum stream_status st;

	record_clear(rec);
	stream_set_max_line(in, RECORD_LINE_MAX);
	st = record_read_fields(in, rec, error_r);
	stream_set_max_line(in, saved);
	if (st != STREAM_OK)
		record_clear(rec);
	return st;
}

/* ---- chunks ---- */

int record_write_chunk(struct stream *out, const void *p, size_t n)
{
	const char *c = p;

	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	/* Readers refuse chunks over RECORD_CHUNK_MAX: split big data. */
	while (n > 0) {
		size_t k = n > RECORD_CHUNK_MAX ? RECORD_CHUNK_MAX : n;

		if (stream_printf(out, "%zu\n", k) < 0 || stream_write(out, c, k) < 0)
			return -1;
		c += k;
		n -= k;
	}
	return 0;
}

int record_write_chunk_end(struct stream *out)
{
	return stream_write(out, "0\n", 2);
}

static enum stream_status record_read_chunk_len(struct stream *in, size_t *n_r)
{
	size_t saved = stream_get_max_line(in);
	unsigned long long v;
	const char *line;
	size_t len;
	enum stream_status st;

	stream_set_max_line(in, RECORD_CHUNK_LINE_MAX);
	st = stream_read_line(in, &line, &len);
	stream_set_max_line(in, saved);
	if (st == STREAM_EOF && len > 0)
		st = STREAM_ERROR;   /* a partial length line */
	if (st == STREAM_TOOLONG)
		st = STREAM_ERROR;   /* TOOLONG is reserved for the data cap */
	if (st != STREAM_OK) {
		if (st == STREAM_ERROR)
			errno = EPROTO;
		return st;
	}
	if (record_parse_uint(line, len - 1, &v) < 0 || v > RECORD_CHUNK_MAX) {
		errno = EPROTO;
		return STREAM_ERROR;
	}
	*n_r = (size_t)v;
	return STREAM_OK;
}

enum stream_status record_read_chunk(struct stream *in, struct buf *data, size_t *n_r)
{
	size_t n = 0;
	enum stream_status st = record_read_chunk_len(in, &n);

	*n_r = 0;
	if (st != STREAM_OK)
		return st;
	*n_r = n;
	if (n == 0)
		return STREAM_OK;
	return stream_read_exact(in, n, data);
}

/* ---- one request, one answer ---- */

/* Write all of p with send(2), each wait bounded by timeout_ms. 0 or -1. */
static int record_send_all(int fd, const char *p, size_t n, int timeout_ms)
{
	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

enum record_call_status record_call(const char *path, const struct buf *req, int timeout_ms,
				    struct record *rec)
{
	struct stream *s;
	const char *err;
	int fd = unix_connect(path, timeout_ms), saved;
	enum record_call_status r;

	if (fd < 0)
		return RECORD_CALL_CONNECT;
	if (record_send_all(fd, req->data, req->len, timeout_ms) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return RECORD_CALL_SEND;
	}
	s = stream_new(fd, fd, 1024, timeout_ms);
	if (s == NULL) {
		close(fd);
		errno = ENOMEM;
		return RECORD_CALL_ANSWER;
	}
	r = record_read(s, rec, &err) == STREAM_OK ? RECORD_CALL_OK : RECORD_CALL_ANSWER;
	stream_free(&s);
	close(fd);
	return r;
}
