/* libFuzzer target for common/psl.c: the input is a list (up to the
 * first NUL byte) and, after it, names to look up, one a line.  A list
 * parses or fails cleanly; every Organizational Domain is a suffix of
 * its name that starts at a label. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "psl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lookup(const struct psl *psl, const char *name)
{
	const char *org = psl_org_domain(psl, name);
	size_t n = strlen(name);

	if (org < name || org > name + n || (org != name && org[-1] != '.'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *nul = memchr(s, '\0', size);
	size_t list = nul != NULL ? (size_t)(nul - s) : size;
	struct psl *psl = NULL;
	const char *err;
	char name[300];

	if (psl_parse(s, list, &psl, &err) < 0) {
		if (psl != NULL)
			abort();
		return 0;
	}
	lookup(psl, "a.b.example.com");
	for (size_t pos = list + 1; pos < size;) {
		const char *nl = memchr(s + pos, '\n', size - pos);
		size_t end = nl != NULL ? (size_t)(nl - s) : size, n = end - pos;

		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, s + pos, n);
		name[n] = '\0';
		lookup(psl, name);
		lookup(NULL, name);
		pos = end + 1;
	}
	psl_free(&psl);
	return 0;
}
