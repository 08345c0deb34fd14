/* smtp_cmd: the SMTP command line parser.
 *
 * Offers: smtp_cmd_parse() splits one client line into a known verb and
 * its argument; smtp_cmd_arg_prefix() finds the path after "FROM:" or
 * "TO:"; smtp_cmd_params() parses the ESMTP parameter list that follows a
 * path (RFC 5321 4.1.2) into at most a caller-given number of key/value
 * ranges, each keyword at most once (any case); smtp_param_size() reads a SIZE value (RFC 1870) without
 * overflow.  The value codecs of the extensions: xtext for DSN
 * (RFC 3461 4), NOTIFY lists, and the BDAT argument (RFC 3030).  (AUTH's
 * base64 and PLAIN message are common/sasl.c's, shared with POP3 and
 * IMAP.)
 *
 * Trusts: nothing.  The input is raw network bytes; every function takes
 * (pointer, length), walks forward only, never reads past the length and
 * never writes through the input.  Results point into the caller's line.
 *
 * Fails: with a status or -1 and a static message; the caller turns that
 * into the protocol's reply.  Nothing here allocates, logs or aborts, so
 * it can be fuzzed on its own (tests/fuzz/fuzz_smtp_cmd.c). */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "smtp_cmd.h"

struct smtp_verb_entry {
	const char *name;
	enum smtp_verb verb;
};

static const struct smtp_verb_entry smtp_verbs[] = {
	{ "HELO", SMTP_VERB_HELO }, { "EHLO", SMTP_VERB_EHLO },
	{ "MAIL", SMTP_VERB_MAIL }, { "RCPT", SMTP_VERB_RCPT },
	{ "DATA", SMTP_VERB_DATA }, { "RSET", SMTP_VERB_RSET },
	{ "NOOP", SMTP_VERB_NOOP }, { "VRFY", SMTP_VERB_VRFY },
	{ "EXPN", SMTP_VERB_EXPN }, { "HELP", SMTP_VERB_HELP },
	{ "QUIT", SMTP_VERB_QUIT }, { "STARTTLS", SMTP_VERB_STARTTLS },
	{ "AUTH", SMTP_VERB_AUTH }, { "BDAT", SMTP_VERB_BDAT },
};

#define SMTP_NVERBS (sizeof(smtp_verbs) / sizeof(smtp_verbs[0]))

static int smtp_is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int smtp_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Length of the line without its terminator: one LF, and one CR before
 * it.  A CR without LF stays in and is refused as a control byte. */
static size_t smtp_cmd_strip_eol(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n') {
		len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
	}
	return len;
}

/* RFC 5321 2.3.8 and 4.1.1: a command is printable text; NUL, bare CR,
 * bare LF and other control bytes have no business in it (and a bare CR
 * or LF in a command is how response smuggling starts). */
static int smtp_cmd_has_control(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

static enum smtp_verb smtp_cmd_lookup(const char *p, size_t len)
{
	for (size_t i = 0; i < SMTP_NVERBS; i++) {
		if (strlen(smtp_verbs[i].name) == len &&
		    strncasecmp(smtp_verbs[i].name, p, len) == 0)
			return smtp_verbs[i].verb;
	}
	return SMTP_VERB_UNKNOWN;
}

enum smtp_cmd_status smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd_r)
{
	size_t end = smtp_cmd_strip_eol(line, len);
	size_t i = 0, v;

	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->arg = line;
	if (smtp_cmd_has_control(line, end))
		return SMTP_CMD_BADCHAR;
	/* Leading and trailing spaces are tolerated, as most servers do;
	 * they carry no meaning in RFC 5321's grammar. */
	while (i < end && line[i] == ' ')
		i++;
	while (end > i && line[end - 1] == ' ')
		end--;
	if (i == end)
		return SMTP_CMD_EMPTY;
	v = i;
	while (i < end && line[i] != ' ')
		i++;
	cmd_r->verb_text = line + v;
	cmd_r->verb_len = i - v;
	cmd_r->verb = smtp_cmd_lookup(line + v, i - v);
	while (i < end && line[i] == ' ')
		i++;
	cmd_r->arg = line + i;
	cmd_r->arg_len = end - i;
	return SMTP_CMD_OK;
}

const char *smtp_cmd_verb_name(enum smtp_verb verb)
{
	for (size_t i = 0; i < SMTP_NVERBS; i++) {
		if (smtp_verbs[i].verb == verb)
			return smtp_verbs[i].name;
	}
	return "unknown";
}

int smtp_cmd_arg_prefix(const char *arg, size_t len, const char *prefix,
			const char **rest_r, size_t *rest_len_r)
{
	size_t plen = strlen(prefix);

	if (len < plen || strncasecmp(arg, prefix, plen) != 0)
		return 0;
	*rest_r = arg + plen;
	*rest_len_r = len - plen;
	return 1;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static size_t smtp_param_keyword(const char *p, size_t len)
{
	size_t i = 0;

	if (len == 0 || !(smtp_is_alpha((unsigned char)p[0]) || smtp_is_digit((unsigned char)p[0])))
		return 0;
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!(smtp_is_alpha(c) || smtp_is_digit(c) || c == '-'))
			break;
	}
	return i;
}

/* esmtp-value = 1*(%d33-60 / %d62-126): printable ASCII but '='. */
static size_t smtp_param_value(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 33 || c > 126 || c == '=')
			break;
	}
	return i;
}

/* Parse one "KEY[=VALUE]" at p; returns the bytes used or 0 on error. */
static size_t smtp_param_one(const char *p, size_t len, struct smtp_param *param,
			     const char **error_r)
{
	size_t k = smtp_param_keyword(p, len), v;

	if (k == 0 || k > SMTP_CMD_MAX_KEYWORD) {
		*error_r = "bad parameter keyword";
		return 0;
	}
	param->key = p;
	param->key_len = k;
	param->value = NULL;
	param->value_len = 0;
	if (k == len || p[k] == ' ')
		return k;
	if (p[k] != '=') {
		*error_r = "bad parameter keyword";
		return 0;
	}
	v = smtp_param_value(p + k + 1, len - k - 1);
	if (v == 0 || (k + 1 + v < len && p[k + 1 + v] != ' ')) {
		*error_r = "bad parameter value";
		return 0;
	}
	param->value = p + k + 1;
	param->value_len = v;
	return k + 1 + v;
}

int smtp_cmd_params(const char *p, size_t len, struct smtp_param *params, size_t max,
		    size_t *n_r, const char **error_r)
{
	size_t i = 0, n = 0;

	*n_r = 0;
	while (i < len) {
		size_t used;

		/* RFC 5321 4.1.2: parameters are separated from the path
		 * and from each other by SP. */
		if (p[i] != ' ') {
			*error_r = "garbage after the address";
			return -1;
		}
		while (i < len && p[i] == ' ')
			i++;
		if (i == len)
			break;
		if (n == max) {
			*error_r = "too many parameters";
			return -1;
		}
		used = smtp_param_one(p + i, len - i, &params[n], error_r);
		if (used == 0)
			return -1;
		/* A keyword given twice has no defined meaning in any
		 * extension (RFC 1870, 3461, 6152, 6531): refused, never
		 * "the first" or "the last" wins. */
		for (size_t k = 0; k < n; k++)
			if (params[k].key_len == params[n].key_len &&
			    strncasecmp(params[k].key, params[n].key, params[n].key_len) == 0) {
				*error_r = "duplicate parameter";
				return -1;
			}
		n++;
		i += used;
	}
	*n_r = n;
	return 0;
}

int smtp_param_is(const struct smtp_param *param, const char *name)
{
	return strlen(name) == param->key_len &&
	       strncasecmp(param->key, name, param->key_len) == 0;
}

int smtp_param_size(const struct smtp_param *param, unsigned long long limit,
		    unsigned long long *value_r)
{
	unsigned long long v = 0;
	int over = 0;

	if (param->value == NULL || param->value_len == 0)
		return -1;
	for (size_t i = 0; i < param->value_len; i++) {
		unsigned char c = (unsigned char)param->value[i];
		if (!smtp_is_digit(c))
			return -1;
		/* Saturate rather than overflow: anything past the limit
		 * is answered the same way. */
		if (!over && (__builtin_mul_overflow(v, 10ULL, &v) ||
			      __builtin_add_overflow(v, (unsigned long long)(c - '0'), &v)))
			over = 1;
	}
	if (over || v > limit)
		v = limit == ~0ULL ? limit : limit + 1;
	*value_r = v;
	return 0;
}

/* ---- xtext (RFC 3461 4) ---- */

static int smtp_hex_upper(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int smtp_xtext_decode(const char *p, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '+') {
			int hi, lo;

			if (len - i < 3 || (hi = smtp_hex_upper((unsigned char)p[i + 1])) < 0 ||
			    (lo = smtp_hex_upper((unsigned char)p[i + 2])) < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			/* Decoded values go into records and DSNs: printable only. */
			if (c < 0x20 || c > 0x7e)
				return -1;
		} else if (c < 33 || c > 126 || c == '=') {
			return -1;
		}
		if (buf_putc(out, (char)c) < 0)
			return -1;
	}
	return 0;
}

/* ---- NOTIFY (RFC 3461 4.1) ---- */

int smtp_notify_parse(const char *p, size_t len, char *out, size_t outlen)
{
	static const char *const names[] = { "SUCCESS", "FAILURE", "DELAY" };
	int seen[3] = { 0, 0, 0 }, never = 0;
	size_t i = 0, o = 0;

	while (i <= len) {
		size_t w = i, k;

		while (i < len && p[i] != ',')
			i++;
		if (i - w == 5 && strncasecmp(p + w, "NEVER", 5) == 0)
			never++;
		else {
			for (k = 0; k < 3; k++)
				if (strlen(names[k]) == i - w && strncasecmp(p + w, names[k], i - w) == 0)
					break;
			if (k == 3 || seen[k]++)
				return -1;   /* unknown word, empty item, or repeated */
		}
		i++;   /* past the comma (or the end) */
	}
	if (never && (never > 1 || seen[0] || seen[1] || seen[2]))
		return -1;   /* NEVER stands alone */
	if (never) {
		if (outlen < 6)
			return -1;
		memcpy(out, "NEVER", 6);
		return 0;
	}
	for (size_t k = 0; k < 3; k++) {
		size_t n = strlen(names[k]);

		if (!seen[k])
			continue;
		if (o + n + 2 > outlen)
			return -1;
		if (o > 0)
			out[o++] = ',';
		memcpy(out + o, names[k], n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

/* ---- BDAT (RFC 3030 2) ---- */

int smtp_bdat_parse(const char *arg, size_t len, unsigned long long *size_r, int *last_r)
{
	unsigned long long v = 0;
	size_t i = 0;

	while (i < len && smtp_is_digit((unsigned char)arg[i])) {
		if (i == 18)
			return -1;   /* 10^18 bytes is no chunk; no overflow either */
		v = v * 10 + (unsigned long long)(arg[i] - '0');
		i++;
	}
	if (i == 0)
		return -1;
	*size_r = v;
	*last_r = 0;
	if (i == len)
		return 0;
	if (arg[i] != ' ')
		return -1;
	while (i < len && arg[i] == ' ')
		i++;
	if (len - i != 4 || strncasecmp(arg + i, "LAST", 4) != 0)
		return -1;
	*last_r = 1;
	return 0;
}
