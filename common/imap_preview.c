/* imap_preview: the PREVIEW of a message (RFC 8970): a short plain-text
 * rendering of what it says, for a client's message list.
 *
 * Offers: imap_preview_make.  The text is that of the first text/plain
 * part that is not an attachment (or, when there is none, the first
 * text/html one with its markup removed), outside any attached message:
 * quoted lines ("> ...") and everything from a signature separator
 * ("-- " alone on a line) on are left out, every run of white space and
 * control characters becomes one space, and the result is cut to
 * IMAP_PREVIEW_CHARS characters, never inside one.  Bytes that are not
 * UTF-8 become U+FFFD.  The algorithm is the server's to choose (RFC
 * 8970 3); this one is what a user expects to read first.
 *
 * Trusts: nothing in the message; the parts' offsets come from
 * mime_parse.  Reads at most IMAP_PREVIEW_INPUT_MAX bytes of the part.
 * Fails: -1 when memory runs out. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap_preview.h"
#include "utf8.h"

#define IMAP_PREVIEW_INPUT_MAX 65536   /* bytes of the part's body looked at */

/* The part to show: first text/plain leaf that is not an attachment,
 * else the first such text/html; not inside a message/rfc822 part. */
static const struct mime_part *preview_part(const struct mime_part *root, int *html_r)
{
	const struct mime_part *html = NULL;

	for (const struct mime_part *p = root; p != NULL;) {
		bool leaf = p->children == NULL && (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) == 0;
		bool attachment = p->disposition.p != NULL && p->disposition.len == 10 &&
				  strncasecmp(p->disposition.p, "attachment", 10) == 0;
		if (leaf && !attachment && mime_part_is(p, "text", "plain")) {
			*html_r = 0;
			return p;
		}
		if (leaf && !attachment && html == NULL && mime_part_is(p, "text", "html"))
			html = p;
		/* Depth first, but not into an attached message. */
		if (p->children != NULL && (p->flags & MIME_PART_MESSAGE) == 0) {
			p = p->children;
			continue;
		}
		while (p != NULL && p->next == NULL)
			p = p->parent;
		p = p != NULL ? p->next : NULL;
	}
	*html_r = html != NULL;
	return html;
}

struct preview_out {
	struct buf *out;
	size_t chars;
	bool space;            /* a space is owed before the next character */
};

/* Add code point cp; 1 once the preview is full. */
static int preview_put(struct preview_out *o, uint32_t cp)
{
	if (cp <= 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0x2028 || cp == 0x2029) {
		o->space = o->chars > 0;
		return 0;
	}
	if (o->space) {
		if (o->chars + 1 >= IMAP_PREVIEW_CHARS)
			return 1;
		if (buf_putc(o->out, ' ') < 0)
			return -1;
		o->chars++;
		o->space = false;
	}
	if (utf8_encode(cp, o->out) < 0)
		return -1;
	return ++o->chars >= IMAP_PREVIEW_CHARS;
}

/* The HTML entity at p (after '&', n bytes there): its code point and
 * length through ';', or 0. */
static size_t preview_entity(const char *p, size_t n, uint32_t *cp_r)
{
	static const struct { const char *name; uint32_t cp; } named[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
		{ "nbsp;", ' ' },
	};

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t l = strlen(named[i].name);
		if (n >= l && strncasecmp(p, named[i].name, l) == 0) {
			*cp_r = named[i].cp;
			return l;
		}
	}
	if (n >= 3 && p[0] == '#') {
		uint32_t v = 0;
		size_t i = 1;
		bool hex = p[1] == 'x' || p[1] == 'X';
		for (i += hex; i < n && i < 10; i++) {
			char c = p[i];
			int d = c >= '0' && c <= '9' ? c - '0' : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
				: hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (d < 0)
				break;
			v = v * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (i < n && p[i] == ';' && i > 1u + hex && v > 0 && v <= 0x10ffff && (v < 0xd800 || v > 0xdfff)) {
			*cp_r = v;
			return i + 1;
		}
	}
	return 0;
}

/* Whether the tag at p ("<name", n bytes there) opens an element whose
 * content is not text: head, style, script, title. */
static const char *preview_skipped_element(const char *p, size_t n)
{
	static const char *const names[] = { "head", "style", "script", "title" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t l = strlen(names[i]);
		if (n > l + 1 && strncasecmp(p + 1, names[i], l) == 0 &&
		    (p[l + 1] == '>' || p[l + 1] == ' ' || p[l + 1] == '\t' || p[l + 1] == '\r' || p[l + 1] == '\n'))
			return names[i];
	}
	return NULL;
}

static const char *preview_find_ci(const char *p, size_t n, const char *needle)
{
	size_t l = strlen(needle);

	for (size_t i = 0; i + l <= n; i++)
		if (strncasecmp(p + i, needle, l) == 0)
			return p + i;
	return NULL;
}

/* Feed text (UTF-8, perhaps malformed) through the rules. */
static int preview_feed(struct preview_out *o, const char *p, size_t n, int html)
{
	bool line_start = true, skip_line = false;

	for (size_t i = 0; i < n;) {
		if (!html && line_start) {
			/* Quoted text, and the signature and all after it. */
			size_t rest = n - i;
			if ((rest >= 4 && memcmp(p + i, "-- \n", 4) == 0) || (rest >= 5 && memcmp(p + i, "-- \r\n", 5) == 0) ||
			    (rest == 3 && memcmp(p + i, "-- ", 3) == 0))
				return 0;
			skip_line = p[i] == '>';
		}
		if (p[i] == '\n') {
			line_start = true;
			skip_line = false;
			if (preview_put(o, ' ') < 0)
				return -1;
			i++;
			continue;
		}
		line_start = false;
		if (skip_line) {
			i++;
			continue;
		}
		if (html && p[i] == '<') {
			const char *skipped = preview_skipped_element(p + i, n - i), *end;
			if (skipped != NULL) {
				char close[16];
				snprintf(close, sizeof(close), "</%s", skipped);
				end = preview_find_ci(p + i, n - i, close);
				if (end == NULL)
					return 0;
				i = (size_t)(end - p);
			}
			end = memchr(p + i, '>', n - i);
			if (end == NULL)
				return 0;
			i = (size_t)(end - p) + 1;
			if (preview_put(o, ' ') < 0)   /* <br>, <p>, </td>: words apart */
				return -1;
			continue;
		}
		uint32_t cp;
		size_t l;
		if (html && p[i] == '&' && (l = preview_entity(p + i + 1, n - i - 1, &cp)) > 0) {
			l++;
		} else if ((l = utf8_decode((const unsigned char *)p + i, n - i, &cp)) == 0) {
			cp = 0xfffd;
			l = 1;
		}
		int r = preview_put(o, cp);
		if (r != 0)
			return r < 0 ? -1 : 0;
		i += l;
	}
	return 0;
}

int imap_preview_make(const char *msg, size_t len, const struct mime_message *mime, struct buf *out)
{
	struct buf text, tmp;
	int html, r = 0;
	const struct mime_part *part = mime != NULL ? preview_part(mime->root, &html) : NULL;

	buf_reset(out);
	if (part == NULL)
		return 0;   /* nothing to show: the empty preview */
	buf_init(&text, 8 * IMAP_PREVIEW_INPUT_MAX);
	buf_init(&tmp, 2 * IMAP_PREVIEW_INPUT_MAX);
	struct preview_out o = { .out = out };
	if (mime_part_text(msg, len, part, IMAP_PREVIEW_INPUT_MAX, &tmp, &text) < 0 ||
	    preview_feed(&o, text.data != NULL ? text.data : "", text.len, html) < 0)
		r = -1;
	buf_free(&text);
	buf_free(&tmp);
	return r;
}
