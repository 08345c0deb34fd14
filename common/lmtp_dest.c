/* lmtp_dest: the destinations of LMTP delivery (lmtp_dest.h).
 *
 * Trusts: the operator's transport map, still parsed with (pointer,
 * length) and bounded fields; host names are refused (no DNS in the
 * chroot), only numeric addresses pass.
 *
 * Fails: -1 with a static *error_r naming what is wrong. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "lmtp_dest.h"

static int lmtp_parse_port(const char *s, size_t len, unsigned *port_r)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}

static int lmtp_parse_unix(const char *s, size_t len, struct lmtp_dest *d, const char **error_r)
{
	if (len == 0 || len >= sizeof d->path) {
		*error_r = len == 0 ? "empty socket path" : "socket path too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f) {
			*error_r = "control byte or space in socket path";
			return -1;
		}
	memcpy(d->path, s, len);
	d->path[len] = '\0';
	d->is_unix = 1;
	return 0;
}

/* HOST[:PORT] or [V6][:PORT], numeric only. */
static int lmtp_parse_inet(const char *s, size_t len, struct lmtp_dest *d, const char **error_r)
{
	const char *host = s, *colon;
	size_t hlen;
	unsigned char tmp[16];

	d->port = LMTP_DEFAULT_PORT;
	if (len > 0 && s[0] == '[') {
		const char *end = memchr(s, ']', len);
		if (end == NULL) {
			*error_r = "missing ] after an IPv6 address";
			return -1;
		}
		host = s + 1;
		hlen = (size_t)(end - host);
		colon = end + 1 < s + len ? end + 1 : NULL;
		if (colon != NULL && *colon != ':') {
			*error_r = "text after ]";
			return -1;
		}
	} else {
		colon = memchr(s, ':', len);
		hlen = colon != NULL ? (size_t)(colon - s) : len;
	}
	if (colon != NULL && lmtp_parse_port(colon + 1, (size_t)(s + len - colon - 1), &d->port) < 0) {
		*error_r = "bad port";
		return -1;
	}
	if (hlen == 0 || hlen >= sizeof d->host) {
		*error_r = "bad host";
		return -1;
	}
	memcpy(d->host, host, hlen);
	d->host[hlen] = '\0';
	if (inet_pton(host == s ? AF_INET : AF_INET6, d->host, tmp) != 1) {
		*error_r = host == s ? "host is not a numeric IPv4 address ([...] for IPv6)"
				     : "bad IPv6 address";
		return -1;
	}
	d->is_unix = 0;
	return 0;
}

int lmtp_dest_parse(const char *s, size_t len, struct lmtp_dest *d, const char **error_r)
{
	memset(d, 0, sizeof *d);
	if (len >= 5 && memcmp(s, "unix:", 5) == 0)
		return lmtp_parse_unix(s + 5, len - 5, d, error_r);
	return lmtp_parse_inet(s, len, d, error_r);
}

void lmtp_dest_text(const struct lmtp_dest *d, char *out, size_t outlen)
{
	/* A diagnostic: the fields are bounded, a cut would only shorten it. */
	if (d->is_unix)
		snprintf(out, outlen, "unix:%s", d->path);
	else if (strchr(d->host, ':') != NULL)
		snprintf(out, outlen, "[%s]:%u", d->host, d->port);
	else
		snprintf(out, outlen, "%s:%u", d->host, d->port);
}

socklen_t lmtp_dest_sockaddr(const struct lmtp_dest *d, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (d->is_unix) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		/* The path is relative to the caller's root (docs/operator.md):
		 * a leading '/' names the same place as without it. */
		const char *p = d->path;
		while (*p == '/')
			p++;
		if (*p == '\0' || strlen(p) >= sizeof un->sun_path) {
			errno = ENAMETOOLONG;
			return 0;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, p, strlen(p) + 1);
		return sizeof *un;
	}
	if (strchr(d->host, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)d->port);
		if (inet_pton(AF_INET6, d->host, &in6->sin6_addr) != 1) {
			errno = EINVAL;
			return 0;
		}
		return sizeof *in6;
	}
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	in4->sin_family = AF_INET;
	in4->sin_port = htons((unsigned short)d->port);
	if (inet_pton(AF_INET, d->host, &in4->sin_addr) != 1) {
		errno = EINVAL;
		return 0;
	}
	return sizeof *in4;
}
