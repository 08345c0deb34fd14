/* libFuzzer target for common/passwd_file.c: passwd_file_parse on
 * arbitrary text.  Any input must give a clean success or "line N: ..."
 * error, never a crash, a leak or a read past the input.  On success the
 * table must agree with an independent reading of the same lines: one
 * user per `address:hash` line, found by its address in any case, with
 * its hash and its lower-case address as canonical name.
 *
 * passwd_file_verify is not called: the hash comes from the input, and a
 * crypt setting such as `$2b$31$` would make a single run take hours. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passwd_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Check one user line p[0, len) (no LF, trailing CR removed) against the
 * table; returns 1 if it is a user line, 0 if blank or a comment. */
static int check_line(const struct passwd_file *pf, const char *p, size_t len)
{
	char upper[PASSWD_LINE_MAX];
	const char *hash, *canon = NULL, *colon, *hend;
	size_t i = 0, alen, hlen;

	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == len || p[i] == '#')
		return 0;
	colon = memchr(p, ':', len);
	if (i != 0 || colon == NULL)
		abort();   /* the parser accepted a line it documents as an error */
	alen = (size_t)(colon - p);
	hend = memchr(colon + 1, ':', len - alen - 1);
	hlen = (hend != NULL ? (size_t)(hend - colon) : len - alen) - 1;
	if (alen == 0 || hlen == 0 || alen >= sizeof(upper))
		abort();
	hash = passwd_file_lookup(pf, p, alen, &canon);
	if (hash == NULL || canon == NULL || strlen(hash) != hlen ||
	    memcmp(hash, colon + 1, hlen) != 0 || strlen(canon) != alen)
		abort();
	for (size_t k = 0; k < alen; k++) {
		if (canon[k] != fuzz_lower(p[k]))
			abort();
		upper[k] = p[k] >= 'a' && p[k] <= 'z' ? (char)(p[k] - 'a' + 'A') : p[k];
	}
	/* Case-insensitive: the upper-case spelling finds the same entry. */
	if (passwd_file_lookup(pf, upper, alen, NULL) != hash)
		abort();
	return 1;
}

static void check_table(const struct passwd_file *pf, const char *s, size_t size)
{
	size_t pos = 0, users = 0;

	while (pos < size) {
		const char *lf = memchr(s + pos, '\n', size - pos);
		size_t end = lf != NULL ? (size_t)(lf - s) : size;
		size_t len = end - pos;

		if (len > 0 && s[pos + len - 1] == '\r')
			len--;
		users += (size_t)check_line(pf, s + pos, len);
		pos = end + 1;
	}
	if (passwd_file_count(pf) != users)
		abort();
	/* Empty and NUL-bearing names are never users. */
	if (passwd_file_lookup(pf, "", 0, NULL) != NULL ||
	    passwd_file_lookup(pf, "a\0b", 3, NULL) != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan catches any read past the input. */
	char *s = malloc(size ? size : 1);
	struct passwd_file *pf = NULL;
	const char *error = NULL;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	if (passwd_file_parse(s, size, &pf, &error) == 0) {
		if (pf == NULL)
			abort();
		check_table(pf, s, size);
		passwd_file_free(&pf);
		if (pf != NULL)
			abort();
	} else if (pf != NULL || error == NULL) {
		abort();
	}
	free(s);
	return 0;
}
