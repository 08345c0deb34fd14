/* passwd_file: the users file of authd, and password verification.
 *
 * Offers: passwd_file_parse/passwd_file_load read `ADDRESS:HASH[:...]`
 * lines into a sorted table (addresses folded to lower case, so lookups
 * are case-insensitive as everywhere in Postern); passwd_file_verify
 * checks a password with crypt_rn(3) and a constant-time comparison.
 *
 * Trusts: the file only as far as its syntax: it is bounded
 * (PASSWD_FILE_MAX bytes, PASSWD_LINE_MAX per line), parsed with
 * (pointer, length), and a line that is not `address:hash` is an error
 * (not skipped), because silently ignoring a user line would lock that
 * user out without a trace.  Duplicate addresses are errors too: which of
 * two passwords applies must never depend on file order.  The password
 * and user name are untrusted client input.
 *
 * Fails: a parse or read error returns -1 with "line N: message" or
 * "path: reason" in a static buffer, and no table.  Verification never
 * tells apart "unknown user" and "wrong password" (both 0), and takes the
 * same time for both: an unknown user costs one crypt against a dummy
 * hash of the same kind as the file's first entry.  Every intermediate
 * copy of the password or its hash is wiped with explicit_bzero. */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "passwd_file.h"

/* Used when the file has no usable hash to mimic: a fixed yescrypt
 * setting (crypt(3) accepts a bare setting as a hash). */
#define PASSWD_DUMMY_FALLBACK "$y$j9T$PosternDummySaltXyz."

struct passwd_entry {
	const char *address;   /* lower case, NUL-terminated, in text */
	const char *hash;      /* NUL-terminated, in text */
	size_t line;
};

struct passwd_file {
	char *text;                 /* private copy, fields cut with NULs */
	size_t text_len;
	struct passwd_entry *entries;
	size_t n;
	const char *dummy;          /* hash used for unknown users */
};

static char passwd_error[256];

static int passwd_fail(const char **error_r, size_t line, const char *msg)
{
	if (line > 0)
		snprintf(passwd_error, sizeof(passwd_error), "line %zu: %s", line, msg);
	else
		snprintf(passwd_error, sizeof(passwd_error), "%s", msg);
	*error_r = passwd_error;
	return -1;
}

static char passwd_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* An address or hash: printable, no space, no ':' (the separator). */
static int passwd_field_ok(const char *p, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c == 0x7f || c == ':')
			return 0;
	}
	return 1;
}

static int passwd_entry_cmp(const void *a, const void *b)
{
	const struct passwd_entry *x = a, *y = b;
	return strcmp(x->address, y->address);
}

/* Parse one line (without its LF) in place; adds an entry unless the
 * line is blank or a comment.  0 or -1. */
static int passwd_parse_line(struct passwd_file *pf, char *p, size_t len,
			     size_t line, const char **error_r)
{
	size_t i = 0, alen, hstart, hend;

	if (len > 0 && p[len - 1] == '\r')
		len--;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == len || p[i] == '#')
		return 0;
	if (i != 0)
		return passwd_fail(error_r, line, "leading white space");
	alen = 0;
	while (alen < len && p[alen] != ':')
		alen++;
	if (alen == len)
		return passwd_fail(error_r, line, "expected address:hash");
	hstart = alen + 1;
	hend = hstart;
	while (hend < len && p[hend] != ':')
		hend++;
	if (!passwd_field_ok(p, alen))
		return passwd_fail(error_r, line, "bad address");
	if (!passwd_field_ok(p + hstart, hend - hstart))
		return passwd_fail(error_r, line, "bad or empty password hash");
	for (size_t k = 0; k < alen; k++)
		p[k] = passwd_lower(p[k]);
	p[alen] = '\0';
	p[hend] = '\0';
	pf->entries[pf->n].address = p;
	pf->entries[pf->n].hash = p + hstart;
	pf->entries[pf->n].line = line;
	pf->n++;
	return 0;
}

/* Count the lines of text, for sizing the entry table; -1 on an overlong
 * line, with its number in *line_r. */
static long passwd_count_lines(const char *text, size_t len, size_t *line_r)
{
	size_t lines = 0, pos = 0;

	while (pos < len) {
		const char *lf = memchr(text + pos, '\n', len - pos);
		size_t end = lf != NULL ? (size_t)(lf - text) + 1 : len;
		lines++;
		if (end - pos > PASSWD_LINE_MAX) {
			*line_r = lines;
			return -1;
		}
		pos = end;
	}
	return (long)lines;
}

static int passwd_check_sorted(struct passwd_file *pf, const char **error_r)
{
	qsort(pf->entries, pf->n, sizeof(pf->entries[0]), passwd_entry_cmp);
	for (size_t i = 1; i < pf->n; i++)
		if (strcmp(pf->entries[i - 1].address, pf->entries[i].address) == 0) {
			size_t a = pf->entries[i - 1].line, b = pf->entries[i].line;
			return passwd_fail(error_r, a > b ? a : b, "duplicate address");
		}
	return 0;
}

/* The dummy hash: the first entry that looks like a modern crypt hash,
 * so that an unknown user costs what a real one does. */
static void passwd_pick_dummy(struct passwd_file *pf)
{
	pf->dummy = PASSWD_DUMMY_FALLBACK;
	for (size_t i = 0; i < pf->n; i++)
		if (pf->entries[i].hash[0] == '$') {
			pf->dummy = pf->entries[i].hash;
			return;
		}
}

static int passwd_parse_all(struct passwd_file *pf, size_t len, const char **error_r)
{
	size_t pos = 0, line = 0;

	while (pos < len) {
		char *lf = memchr(pf->text + pos, '\n', len - pos);
		size_t end = lf != NULL ? (size_t)(lf - pf->text) : len;
		line++;
		if (memchr(pf->text + pos, '\0', end - pos) != NULL)
			return passwd_fail(error_r, line, "NUL byte in line");
		if (passwd_parse_line(pf, pf->text + pos, end - pos, line, error_r) < 0)
			return -1;
		pos = end + 1;
	}
	return passwd_check_sorted(pf, error_r);
}

int passwd_file_parse(const char *text, size_t len, struct passwd_file **pf_r,
		      const char **error_r)
{
	struct passwd_file *pf;
	size_t bad_line = 0;
	long lines;

	*pf_r = NULL;
	if (len > PASSWD_FILE_MAX)
		return passwd_fail(error_r, 0, "file too large");
	lines = passwd_count_lines(text, len, &bad_line);
	if (lines < 0)
		return passwd_fail(error_r, bad_line, "line too long");
	pf = calloc(1, sizeof(*pf));
	if (pf == NULL)
		return passwd_fail(error_r, 0, "out of memory");
	pf->text = malloc(len + 1);
	pf->entries = calloc(lines > 0 ? (size_t)lines : 1, sizeof(pf->entries[0]));
	if (pf->text == NULL || pf->entries == NULL) {
		passwd_file_free(&pf);
		return passwd_fail(error_r, 0, "out of memory");
	}
	memcpy(pf->text, text, len);
	pf->text[len] = '\0';
	pf->text_len = len;
	if (passwd_parse_all(pf, len, error_r) < 0) {
		passwd_file_free(&pf);
		return -1;
	}
	passwd_pick_dummy(pf);
	*pf_r = pf;
	return 0;
}

int passwd_file_load(const char *path, struct passwd_file **pf_r,
		     struct stat *st_r, const char **error_r)
{
	struct stat st;
	struct buf b;
	int fd, ret;

	*pf_r = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(passwd_error, sizeof(passwd_error), "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		*error_r = passwd_error;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > PASSWD_FILE_MAX) {
		close(fd);
		snprintf(passwd_error, sizeof(passwd_error), "%s: %s", path,
			 S_ISREG(st.st_mode) ? "file too large" : "not a regular file");
		*error_r = passwd_error;
		return -1;
	}
	buf_init(&b, PASSWD_FILE_MAX);
	if (fd_read_all(fd, &b, PASSWD_FILE_MAX) < 0) {
		snprintf(passwd_error, sizeof(passwd_error), "%s: %s", path,
			 errno == EFBIG || errno == EMSGSIZE ? "file too large" : strerror(errno));
		close(fd);
		buf_free(&b);
		*error_r = passwd_error;
		return -1;
	}
	close(fd);
	ret = passwd_file_parse(b.data != NULL ? b.data : "", b.len, pf_r, error_r);
	buf_free(&b);   /* wipes: the file holds hashes */
	if (ret == 0 && st_r != NULL)
		*st_r = st;
	return ret;
}

size_t passwd_file_count(const struct passwd_file *pf)
{
	return pf->n;
}

const char *passwd_file_lookup(const struct passwd_file *pf, const char *user,
			       size_t user_len, const char **canon_r)
{
	char key[PASSWD_LINE_MAX];
	struct passwd_entry probe, *e;

	if (user_len == 0 || user_len >= sizeof(key) || memchr(user, '\0', user_len) != NULL)
		return NULL;
	for (size_t i = 0; i < user_len; i++)
		key[i] = passwd_lower(user[i]);
	key[user_len] = '\0';
	probe.address = key;
	e = bsearch(&probe, pf->entries, pf->n, sizeof(pf->entries[0]), passwd_entry_cmp);
	if (e == NULL)
		return NULL;
	if (canon_r != NULL)
		*canon_r = e->address;
	return e->hash;
}

/* Equal strings?  Runs over the whole output size whatever the contents,
 * so the time does not depend on where the first difference lies. */
static int passwd_equal_ct(const char *a, const char *b)
{
	size_t la = strnlen(a, CRYPT_OUTPUT_SIZE), lb = strnlen(b, CRYPT_OUTPUT_SIZE);
	volatile unsigned char diff = (unsigned char)(la != lb);

	for (size_t i = 0; i < CRYPT_OUTPUT_SIZE; i++) {
		unsigned char x = i < la ? (unsigned char)a[i] : 0;
		unsigned char y = i < lb ? (unsigned char)b[i] : 0;
		diff |= (unsigned char)(x ^ y);
	}
	return diff == 0;
}

int passwd_hash_verify(const char *hash, const char *password, size_t password_len)
{
	struct crypt_data *cd;
	const char *out;
	int ok;

	/* crypt(3) takes C strings: a NUL inside the secret or an overlong
	 * secret can never match.  The hash is still computed (on an empty
	 * phrase) so that the answer takes the usual time. */
	int usable = password_len <= PASSWD_SECRET_MAX &&
		     memchr(password, '\0', password_len) == NULL;
	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return -1;
	out = crypt_rn(usable ? password : "", hash, cd, (int)sizeof(*cd));
	/* A failed crypt (locked "!" or "*" entry, unknown method) is a
	 * mismatch, never an error: the account is simply closed. */
	ok = usable && out != NULL && out[0] != '*' && passwd_equal_ct(out, hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int passwd_file_verify(const struct passwd_file *pf, const char *user, size_t user_len,
		       const char *password, size_t password_len, const char **canon_r)
{
	const char *canon = NULL;
	const char *hash = passwd_file_lookup(pf, user, user_len, &canon);
	int ret;

	if (hash == NULL) {
		/* Same work as for a real user; the answer is no regardless. */
		if (passwd_hash_verify(pf->dummy, password, password_len) < 0)
			return -1;
		return 0;
	}
	ret = passwd_hash_verify(hash, password, password_len);
	if (ret == 1 && canon_r != NULL)
		*canon_r = canon;
	return ret;
}

void passwd_file_free(struct passwd_file **pfp)
{
	struct passwd_file *pf = *pfp;

	if (pf == NULL)
		return;
	if (pf->text != NULL) {
		explicit_bzero(pf->text, pf->text_len);
		free(pf->text);
	}
	free(pf->entries);
	free(pf);
	*pfp = NULL;
}
