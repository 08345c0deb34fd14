/* libFuzzer target for maildir_name_sizes() (common/maildir.c): Maildir
 * file names come from the file system, so any bytes may appear.  The
 * input (up to its first NUL) is the name.  Never a crash or a read past
 * the name; on success S= and W= must each be the value of some
 * `,S=<digits>` / `,W=<digits>` field before any ':', and a name made
 * from the two values must parse back to them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maildir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether name[0, end) has a field `,<key>=<digits>` (up to ',' or end)
 * whose value is v (leading zeros allowed, no overflow). */
static int has_field(const char *name, size_t end, char key, unsigned long long v)
{
	for (size_t i = 0; i + 3 < end; i++) {
		unsigned long long x = 0;
		size_t j = i + 3;
		int ok = 1;

		if (name[i] != ',' || name[i + 1] != key || name[i + 2] != '=')
			continue;
		if (j == end || name[j] < '0' || name[j] > '9')
			continue;
		for (; j < end && name[j] != ','; j++)
			if (name[j] < '0' || name[j] > '9' ||
			    __builtin_mul_overflow(x, 10ULL, &x) ||
			    __builtin_add_overflow(x, (unsigned long long)(name[j] - '0'), &x)) {
				ok = 0;
				break;
			}
		if (ok && x == v)
			return 1;
	}
	return 0;
}

static void roundtrip(unsigned long long s, unsigned long long w)
{
	char name[MAILDIR_NAME_MAX];
	unsigned long long s2 = 0, w2 = 0;
	int n = snprintf(name, sizeof(name), "1.M2P3Q4.host,S=%llu,W=%llu:2,S", s, w);

	if (n < 0 || (size_t)n >= sizeof(name))
		abort();
	if (maildir_name_sizes(name, &s2, &w2) != 0 || s2 != s || w2 != w)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly the name and its NUL: ASan catches any read past it. */
	char *name = malloc(size + 1);
	unsigned long long s = 0, w = 0;

	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (maildir_name_sizes(name, &s, &w) == 0) {
		const char *colon = strchr(name, ':');
		size_t end = colon != NULL ? (size_t)(colon - name) : strlen(name);

		if (!has_field(name, end, 'S', s) || !has_field(name, end, 'W', w))
			abort();
		roundtrip(s, w);
	}
	free(name);
	return 0;
}
