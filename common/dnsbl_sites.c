/* dnsbl_sites: the DNSBL list syntax and query names (see the header).
 *
 * Trusts: nothing in the list (it is the operator's, but parsed
 * strictly: a typo must fail at start, not silently list nobody); the
 * client address comes from getpeername.
 *
 * Fails: -1 with a static message; nothing is allocated. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dnsbl_sites.h"

/* A decimal number of at most 4 digits at p[*i]: 0 with *v, or -1. */
static int dnsbl_number(const char *p, size_t len, size_t *i, unsigned *v)
{
	size_t d = 0;

	*v = 0;
	while (*i < len && d < 5 && isdigit((unsigned char)p[*i])) {
		*v = *v * 10 + (unsigned)(p[*i] - '0');
		(*i)++;
		d++;
	}
	return d == 0 || d > 4 ? -1 : 0;
}

/* One octet of a filter: N or [LO..HI]. */
static int dnsbl_octet(const char *p, size_t len, size_t *i, unsigned char *lo, unsigned char *hi)
{
	unsigned a, b;

	if (*i < len && p[*i] == '[') {
		(*i)++;
		if (dnsbl_number(p, len, i, &a) < 0 || *i + 2 > len || p[*i] != '.' || p[*i + 1] != '.')
			return -1;
		*i += 2;
		if (dnsbl_number(p, len, i, &b) < 0 || *i >= len || p[*i] != ']')
			return -1;
		(*i)++;
	} else if (dnsbl_number(p, len, i, &a) < 0) {
		return -1;
	} else {
		b = a;
	}
	if (a > 255 || b > 255 || a > b)
		return -1;
	*lo = (unsigned char)a;
	*hi = (unsigned char)b;
	return 0;
}

static int dnsbl_filter(const char *p, size_t len, struct dnsbl_site *s)
{
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		if (k > 0 && (i >= len || p[i++] != '.'))
			return -1;
		if (dnsbl_octet(p, len, &i, &s->lo[k], &s->hi[k]) < 0)
			return -1;
	}
	s->filtered = 1;
	return i == len ? 0 : -1;
}

static int dnsbl_weight(const char *p, size_t len, int *w)
{
	size_t i = 0;
	unsigned v;
	int neg = len > 0 && p[0] == '-';

	i = (size_t)neg;
	if (dnsbl_number(p, len, &i, &v) < 0 || i != len || v > DNSBL_WEIGHT_MAX)
		return -1;
	*w = neg ? -(int)v : (int)v;
	return 0;
}

/* A zone: letters, digits, '-', '_' and dots, no empty label. */
static int dnsbl_zone_ok(const char *p, size_t len)
{
	if (len == 0 || len > DNSBL_ZONE_MAX || p[0] == '.' || p[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!(isalnum(c) || c == '-' || c == '_' || c == '.') || (c == '.' && p[i + 1] == '.'))
			return 0;
	}
	return 1;
}

static int dnsbl_entry(const char *p, size_t len, struct dnsbl_site *s, const char **error_r)
{
	size_t zl = 0, fe;

	memset(s, 0, sizeof(*s));
	s->weight = 1;
	while (zl < len && p[zl] != '=' && p[zl] != '*')
		zl++;
	if (!dnsbl_zone_ok(p, zl)) {
		*error_r = "bad zone (a DNS name of at most 180 bytes)";
		return -1;
	}
	memcpy(s->zone, p, zl);
	s->zone[zl] = '\0';
	fe = zl;
	if (fe < len && p[fe] == '=') {
		fe++;
		while (fe < len && p[fe] != '*')
			fe++;
		if (dnsbl_filter(p + zl + 1, fe - zl - 1, s) < 0) {
			*error_r = "bad filter (=N.N.N.N, an octet may be [LO..HI])";
			return -1;
		}
	}
	if (fe < len && (p[fe] != '*' || dnsbl_weight(p + fe + 1, len - fe - 1, &s->weight) < 0)) {
		*error_r = "bad weight (*N, N from -1000 to 1000)";
		return -1;
	}
	return 0;
}

int dnsbl_sites_parse(const char *v, size_t len, struct dnsbl_site *sites, size_t *n_r,
		      const char **error_r)
{
	size_t i = 0, n = 0;

	while (i < len) {
		size_t start;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && v[i] != ' ' && v[i] != '\t' && v[i] != ',')
			i++;
		if (n == DNSBL_SITES_MAX) {
			*error_r = "more than 16 sites";
			return -1;
		}
		if (dnsbl_entry(v + start, i - start, &sites[n], error_r) < 0)
			return -1;
		n++;
	}
	*n_r = n;
	return 0;
}

int dnsbl_query_name(const char *client, const char *zone, char *out, size_t cap)
{
	unsigned char a[16];
	size_t n = 0;
	int w;

	if (inet_pton(AF_INET, client, a) == 1) {
		w = snprintf(out, cap, "%u.%u.%u.%u.%s", a[3], a[2], a[1], a[0], zone);
		return w < 0 || (size_t)w >= cap ? -1 : 0;
	}
	if (inet_pton(AF_INET6, client, a) != 1)
		return -1;
	/* RFC 5782 2.4: nibbles, least significant first. */
	for (int i = 15; i >= 0; i--) {
		w = snprintf(out + n, cap - n, "%x.%x.", a[i] & 15, a[i] >> 4);
		if (w < 0 || (size_t)w >= cap - n)
			return -1;
		n += (size_t)w;
	}
	w = snprintf(out + n, cap - n, "%s", zone);
	return w < 0 || (size_t)w >= cap - n ? -1 : 0;
}

int dnsbl_site_match(const struct dnsbl_site *s, const unsigned char a[4])
{
	if (!s->filtered)
		return 1;
	for (int k = 0; k < 4; k++)
		if (a[k] < s->lo[k] || a[k] > s->hi[k])
			return 0;
	return 1;
}
