/* imap_utf7: modified UTF-7 mailbox names (RFC 3501 section 5.1.3).
 *
 * Offers: imap_utf7_to_utf8 and imap_utf8_to_utf7.  The encoding: the
 * printable US-ASCII characters 0x20..0x7e other than "&" stand for
 * themselves; "&" is "&-"; every other character is written as "&",
 * the base64 of its UTF-16BE form with "," instead of "/" and no "="
 * padding, then "-".
 *
 * Trusts: nothing about the input.  Decoding refuses everything a
 * conforming encoder never writes: bytes outside 0x20..0x7e, a shifted
 * run that is not ended by "-", that holds a printable ASCII character,
 * that follows another run directly, that has leftover or non-zero
 * padding bits, or a broken surrogate pair; and U+0000.  It checks this
 * by encoding its result again and comparing, so the rule is the
 * encoder, written once.
 *
 * Fails: -1 with a static reason; the output buffer is left as it was
 * (growth past its cap is a failure too). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "imap_utf7.h"
#include "utf8.h"

static const char utf7_b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int utf7_b64_value(unsigned char c)
{
	const char *p = c != '\0' ? memchr(utf7_b64, c, 64) : NULL;

	return p != NULL ? (int)(p - utf7_b64) : -1;
}

/* Shifted-run state of the encoder. */
struct utf7_enc {
	struct buf *out;
	bool open;
	uint32_t bits;
	unsigned int nbits;
};

static int utf7_put_unit(struct utf7_enc *e, uint32_t unit)
{
	e->bits = (e->bits << 16) | unit;
	e->nbits += 16;
	while (e->nbits >= 6) {
		e->nbits -= 6;
		if (buf_putc(e->out, utf7_b64[(e->bits >> e->nbits) & 0x3f]) < 0)
			return -1;
	}
	e->bits &= (1u << e->nbits) - 1;
	return 0;
}

static int utf7_close(struct utf7_enc *e)
{
	if (!e->open)
		return 0;
	if (e->nbits > 0 && buf_putc(e->out, utf7_b64[(e->bits << (6 - e->nbits)) & 0x3f]) < 0)
		return -1;
	e->open = false;
	e->bits = 0;
	e->nbits = 0;
	return buf_putc(e->out, '-');
}

static int utf7_encode_char(struct utf7_enc *e, uint32_t cp)
{
	if (cp >= 0x20 && cp <= 0x7e) {
		if (utf7_close(e) < 0)
			return -1;
		return cp == '&' ? buf_append(e->out, "&-", 2) : buf_putc(e->out, (char)cp);
	}
	if (!e->open) {
		if (buf_putc(e->out, '&') < 0)
			return -1;
		e->open = true;
	}
	if (cp >= 0x10000) {
		cp -= 0x10000;
		if (utf7_put_unit(e, 0xd800 | (cp >> 10)) < 0)
			return -1;
		return utf7_put_unit(e, 0xdc00 | (cp & 0x3ff));
	}
	return utf7_put_unit(e, cp);
}

int imap_utf8_to_utf7(const char *in, size_t len, struct buf *out, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)in;
	struct utf7_enc e = { .out = out };
	size_t old = out->len, i = 0;
	uint32_t cp;

	while (i < len) {
		size_t k = utf8_decode(s + i, len - i, &cp);

		if (k == 0 || cp == 0) {
			*error_r = k == 0 ? "Mailbox name is not UTF-8" : "NUL in mailbox name";
			goto fail;
		}
		if (utf7_encode_char(&e, cp) < 0)
			goto toolong;
		i += k;
	}
	if (utf7_close(&e) == 0)
		return 0;
toolong:
	*error_r = "Mailbox name too long";
fail:
	out->len = old;
	if (out->data != NULL)
		out->data[old] = '\0';
	return -1;
}

/* Decode one shifted run s[*ip..] up to and including its "-". */
static int utf7_decode_run(const unsigned char *s, size_t len, size_t *ip, struct buf *out,
			   const char **error_r)
{
	uint32_t bits = 0, high = 0;
	unsigned int nbits = 0, units = 0;
	size_t i = *ip;

	for (; i < len && s[i] != '-'; i++) {
		int v = utf7_b64_value(s[i]);
		uint32_t unit;

		if (v < 0) {
			*error_r = "Invalid modified base64 in mailbox name";
			return -1;
		}
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		if (unit >= 0xd800 && unit <= 0xdbff) {
			if (high != 0)
				goto surrogate;
			high = unit;
			continue;
		}
		if (unit >= 0xdc00 && unit <= 0xdfff) {
			if (high == 0)
				goto surrogate;
			unit = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
			high = 0;
		} else if (high != 0) {
			goto surrogate;
		}
		if (unit == 0) {
			*error_r = "NUL in mailbox name";
			return -1;
		}
		if (utf8_encode(unit, out) < 0) {
			*error_r = "Mailbox name too long";
			return -1;
		}
	}
	if (i == len) {
		*error_r = "Unterminated modified base64 in mailbox name";
		return -1;
	}
	if (high != 0)
		goto surrogate;
	if (units == 0 || nbits >= 6 || bits != 0) {
		*error_r = "Invalid modified base64 in mailbox name";
		return -1;
	}
	*ip = i + 1;
	return 0;
surrogate:
	*error_r = "Invalid UTF-16 surrogate in mailbox name";
	return -1;
}

static int utf7_decode(const unsigned char *s, size_t len, struct buf *out, const char **error_r)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];

		if (c < 0x20 || c > 0x7e) {
			*error_r = "Mailbox name is not modified UTF-7";
			return -1;
		}
		if (c != '&') {
			size_t j = i + 1;

			while (j < len && s[j] >= 0x20 && s[j] <= 0x7e && s[j] != '&')
				j++;
			if (buf_append(out, s + i, j - i) < 0)
				goto toolong;
			i = j;
			continue;
		}
		if (i + 1 < len && s[i + 1] == '-') {
			if (buf_putc(out, '&') < 0)
				goto toolong;
			i += 2;
			continue;
		}
		i++;
		if (utf7_decode_run(s, len, &i, out, error_r) < 0)
			return -1;
	}
	return 0;
toolong:
	*error_r = "Mailbox name too long";
	return -1;
}

int imap_utf7_to_utf8(const char *in, size_t len, struct buf *out, const char **error_r)
{
	size_t old = out->len;
	struct buf again;
	int r = -1;

	if (len == 0)
		return 0;
	buf_init(&again, len);
	if (utf7_decode((const unsigned char *)in, len, out, error_r) < 0)
		goto done;
	/* Canonical form only: the encoder must give back exactly the input. */
	if (imap_utf8_to_utf7(out->data + old, out->len - old, &again, error_r) < 0 ||
	    again.len != len || memcmp(again.data, in, len) != 0) {
		*error_r = "Mailbox name is not in canonical modified UTF-7";
		goto done;
	}
	r = 0;
done:
	if (r < 0) {
		out->len = old;
		if (out->data != NULL)
			out->data[old] = '\0';
	}
	buf_free(&again);
	return r;
}
