/* dovecot_keywords: Dovecot's Maildir `dovecot-keywords`.
 *
 * Offers: a parser of the file held in memory, look-ups name -> letter
 * and letter -> name, adding a keyword, and the writer of the file.
 *
 * The format, as Dovecot documents it (doc.dovecot.org, "Maildir Mailbox
 * Format", IMAP Keywords) and as Dovecot 2.3.19 was seen to write it
 * (tests/integration/test_dovecot_formats.py):
 *
 *   0 $Forwarded
 *   1 Junk
 *   4 unknown-4
 *
 * one line per named letter, "<index> <name>\n", index 0 = Maildir info
 * letter 'a' ... 25 = 'z', written in index order.  A keyword gets the
 * first free index when it is first stored in the folder, and keeps it
 * (names no message uses any more stay).  A letter found in a file name
 * without a line here is named "unknown-<index>" by Dovecot, which then
 * writes that name.  Keywords beyond 26 Dovecot keeps in its own index
 * files only.  The file is replaced by rename(), under the dovecot-uidlist
 * lock, never edited in place; readers take no lock.  Dovecot looks names
 * up ASCII case-insensitively and refuses to STORE a keyword that is not
 * an atom or is longer than mail_max_keyword_length (50).
 *
 * Stricter than Dovecot's reader, which skips bad lines one by one: a
 * line that is not "<0..25 without leading zero> <atom>\n", a repeated
 * index or a repeated name (case-insensitively) is an error, as is a last
 * line without its LF (the file is replaced whole, so it is never seen
 * half written).
 *
 * Trusts: nothing in the text.  No allocation: the table is a fixed array.
 *
 * Fails: -1 with a static *error_r. */
#include <string.h>

#include "dovecot_keywords.h"
#include "imap_string.h"
#include "imap_types.h"

static int keywords_fail(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

void dovecot_keywords_init(struct dovecot_keywords *kw)
{
	memset(kw->len, 0, sizeof(kw->len));
	for (size_t i = 0; i < DOVECOT_KEYWORDS_MAX; i++)
		kw->name[i][0] = '\0';
}

int dovecot_keyword_ok(const char *name, size_t len)
{
	if (len == 0 || len > DOVECOT_KEYWORD_LEN_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!imap_is_atom_char((unsigned char)name[i]))
			return 0;
	return 1;
}

int dovecot_keywords_letter(const struct dovecot_keywords *kw, const char *name, size_t len)
{
	for (size_t i = 0; i < DOVECOT_KEYWORDS_MAX; i++)
		if (kw->len[i] > 0 && imap_word_eq(kw->name[i], kw->len[i], name, len))
			return 'a' + (int)i;
	return -1;
}

const char *dovecot_keywords_name(const struct dovecot_keywords *kw, char letter, size_t *len_r)
{
	size_t i;

	if (letter < 'a' || letter > 'z')
		return NULL;
	i = (size_t)(letter - 'a');
	if (kw->len[i] == 0)
		return NULL;
	if (len_r != NULL)
		*len_r = kw->len[i];
	return kw->name[i];
}

static void keywords_set(struct dovecot_keywords *kw, size_t i, const char *name, size_t len)
{
	memcpy(kw->name[i], name, len);
	kw->name[i][len] = '\0';
	kw->len[i] = len;
}

/* One line (its LF cut off) into kw. */
static int keywords_line(struct dovecot_keywords *kw, const char *line, size_t len, const char **error_r)
{
	const char *sp = memchr(line, ' ', len);
	const char *name;
	size_t nlen;
	uint64_t idx;

	if (sp == NULL || imap_number_parse(line, (size_t)(sp - line), DOVECOT_KEYWORDS_MAX - 1, false, &idx) < 0 ||
	    (sp - line > 1 && line[0] == '0'))
		return keywords_fail(error_r, "bad keyword index (not 0..25)");
	name = sp + 1;
	nlen = len - (size_t)(name - line);
	if (!dovecot_keyword_ok(name, nlen))
		return keywords_fail(error_r, "bad keyword name (not an IMAP atom, or too long)");
	if (kw->len[idx] > 0)
		return keywords_fail(error_r, "keyword index repeated");
	if (dovecot_keywords_letter(kw, name, nlen) >= 0)
		return keywords_fail(error_r, "keyword name repeated");
	keywords_set(kw, (size_t)idx, name, nlen);
	return 0;
}

int dovecot_keywords_parse(const char *p, size_t len, struct dovecot_keywords *kw, const char **error_r)
{
	size_t off = 0;

	dovecot_keywords_init(kw);
	if (len > DOVECOT_KEYWORDS_FILE_MAX)
		return keywords_fail(error_r, "keywords file too large");
	while (off < len) {
		const char *nl = memchr(p + off, '\n', len - off);

		if (nl == NULL || keywords_line(kw, p + off, (size_t)(nl - (p + off)), error_r) < 0) {
			dovecot_keywords_init(kw);
			return nl == NULL ? keywords_fail(error_r, "last keyword line without LF") : -1;
		}
		off = (size_t)(nl - p) + 1;
	}
	return 0;
}

int dovecot_keywords_add(struct dovecot_keywords *kw, const char *name, size_t len, char *letter_r,
			 const char **error_r)
{
	int letter;

	if (!dovecot_keyword_ok(name, len))
		return keywords_fail(error_r, "not a keyword (an IMAP atom of at most 255 bytes)");
	letter = dovecot_keywords_letter(kw, name, len);
	if (letter >= 0) {
		*letter_r = (char)letter;
		return 0;
	}
	for (size_t i = 0; i < DOVECOT_KEYWORDS_MAX; i++)
		if (kw->len[i] == 0) {
			keywords_set(kw, i, name, len);
			*letter_r = (char)('a' + i);
			return 1;
		}
	return keywords_fail(error_r, "all 26 keyword letters taken");
}

int dovecot_keywords_write(const struct dovecot_keywords *kw, struct buf *b)
{
	size_t old = b->len;

	for (size_t i = 0; i < DOVECOT_KEYWORDS_MAX; i++) {
		if (kw->len[i] == 0)
			continue;
		if (buf_printf(b, "%zu ", i) < 0 || buf_append(b, kw->name[i], kw->len[i]) < 0 ||
		    buf_putc(b, '\n') < 0) {
			buf_truncate(b, old);
			return -1;
		}
	}
	return 0;
}
