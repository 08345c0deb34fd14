/* sasl: PLAIN and LOGIN, decoded and checked once for every protocol.
 *
 * Offers: sasl_mech_parse(), sasl_response_decode() and
 * sasl_initial_decode() for the client's base64 lines, sasl_plain_parse()
 * for the RFC 4616 message and sasl_login_check() for LOGIN's two values.
 * smtpd (AUTH), popd (AUTH PLAIN) and the IMAP login use these and map the
 * result to their replies; the credentials go to authd, which alone
 * judges them.
 *
 * Trusts: nothing.  Input is (pointer, length) from the network, walked
 * forward only; base64 is strict (base64.c), so one value has one
 * spelling.  A name or password reaches authd's C strings only without a
 * NUL and within its limit.
 *
 * Fails: with a status; nothing here logs (a response may hold a
 * password) or allocates beyond the caller's capped buffers.  The caller
 * wipes those (buf_free does).  Fuzzed by tests/fuzz/fuzz_sasl.c. */
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "sasl.h"

enum sasl_mech sasl_mech_parse(const char *name, size_t len)
{
	if (len == 5 && strncasecmp(name, "PLAIN", 5) == 0)
		return SASL_MECH_PLAIN;
	if (len == 5 && strncasecmp(name, "LOGIN", 5) == 0)
		return SASL_MECH_LOGIN;
	return SASL_MECH_NONE;
}

enum sasl_status sasl_response_decode(const char *line, size_t len, struct buf *out)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* RFC 4954 4, RFC 5034 4, RFC 9051 6.2.2: "*" cancels the exchange. */
	if (len == 1 && line[0] == '*')
		return SASL_CANCEL;
	return base64_decode_strict(line, len, out) == 0 ? SASL_OK : SASL_BAD;
}

enum sasl_status sasl_initial_decode(const char *p, size_t len, struct buf *out)
{
	/* RFC 4954 4, RFC 5034 4, RFC 4959 3: "=" is an empty response. */
	if (len == 1 && p[0] == '=')
		return SASL_OK;
	return base64_decode_strict(p, len, out) == 0 ? SASL_OK : SASL_BAD;
}

/* A name or password authd can take: no NUL, at most max bytes. */
static int sasl_value_ok(const char *p, size_t len, size_t max)
{
	return len <= max && memchr(p, '\0', len) == NULL;
}

enum sasl_status sasl_plain_parse(const char *msg, size_t len, struct buf *user, struct buf *pass)
{
	const char *nul1, *nul2, *u, *pw;
	size_t zl, ul, pwl;

	buf_reset(user);
	buf_reset(pass);
	if (msg == NULL || (nul1 = memchr(msg, '\0', len)) == NULL)
		return SASL_BAD;
	u = nul1 + 1;
	nul2 = memchr(u, '\0', len - (size_t)(u - msg));
	if (nul2 == NULL)
		return SASL_BAD;
	pw = nul2 + 1;
	zl = (size_t)(nul1 - msg);
	ul = (size_t)(nul2 - u);
	pwl = len - (size_t)(pw - msg);
	/* RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd,
	 * with neither of the last two empty and no NUL inside them. */
	if (ul == 0 || pwl == 0 || memchr(pw, '\0', pwl) != NULL)
		return SASL_BAD;
	/* No proxy logins: an authorization identity must be the user. */
	if ((zl > 0 && (zl != ul || strncasecmp(msg, u, ul) != 0)) ||
	    !sasl_value_ok(u, ul, SASL_USER_MAX) || !sasl_value_ok(pw, pwl, SASL_PASSWORD_MAX))
		return SASL_REFUSED;
	if (buf_set(user, u, ul) < 0 || buf_set(pass, pw, pwl) < 0) {
		buf_reset(user);
		buf_reset(pass);
		return SASL_REFUSED;   /* the caller's cap is below ours */
	}
	return SASL_OK;
}

enum sasl_status sasl_login_check(const struct buf *user, const struct buf *pass)
{
	if (user->len == 0 || pass->len == 0)
		return SASL_BAD;
	if (!sasl_value_ok(user->data, user->len, SASL_USER_MAX) ||
	    !sasl_value_ok(pass->data, pass->len, SASL_PASSWORD_MAX))
		return SASL_REFUSED;
	return SASL_OK;
}
