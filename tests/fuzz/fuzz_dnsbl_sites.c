/* libFuzzer target for common/dnsbl_sites.c: any bytes as a
 * smtpd_dnsbl_sites value.  Never a read past the input; a parsed list
 * has at most DNSBL_SITES_MAX sites, each with a NUL-terminated zone
 * under its cap, a weight within its bounds and a filter whose ranges
 * are ordered; every query name built from a zone fits its buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dnsbl_sites.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsbl_site s[DNSBL_SITES_MAX];
	char name[DNS_NAME_MAX + 1];
	const char *err = NULL;
	size_t n = 0;

	if (dnsbl_sites_parse((const char *)data, size, s, &n, &err) < 0) {
		if (err == NULL)
			abort();
		return 0;
	}
	if (n > DNSBL_SITES_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		size_t zl = strnlen(s[i].zone, sizeof(s[i].zone));

		if (zl == 0 || zl > DNSBL_ZONE_MAX || s[i].weight > DNSBL_WEIGHT_MAX ||
		    s[i].weight < -DNSBL_WEIGHT_MAX)
			abort();
		for (int k = 0; k < 4; k++)
			if (s[i].filtered && s[i].lo[k] > s[i].hi[k])
				abort();
		if (dnsbl_query_name("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", s[i].zone, name, sizeof(name)) < 0 ||
		    dnsbl_query_name("255.255.255.255", s[i].zone, name, sizeof(name)) < 0)
			abort();
	}
	return 0;
}
