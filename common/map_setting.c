/* map_setting: what a postern.conf setting that names a map names.
 *
 * Offers: one rule for every map setting (smtpd_sender_login_maps, the
 * smtpd_*_access maps, remote_tls_policy_map, remote_auth_map): the value
 * is the text map NAME, which `postern map` compiles into NAME.cdb, or
 * that NAME.cdb itself; either way the daemons open NAME.cdb and
 * `postern check` checks NAME.  Before this rule smtpd wanted the .cdb
 * and remote the bare name, so a policy map named the other way was
 * either fatal (smtpd) or silently not there (remote).
 *
 * Trusts: its caller for where the path is taken from.
 *
 * Fails: -1 when the result does not fit; never clipped. */
#include <string.h>

#include "buf.h"
#include "map_setting.h"

static int map_setting_has_cdb(const char *value, size_t n)
{
	return n > 4 && strcmp(value + n - 4, ".cdb") == 0;
}

int map_setting_cdb(const char *value, char *out, size_t len)
{
	size_t n = strlen(value);

	if (map_setting_has_cdb(value, n))
		return str_copy(out, len, value);
	if (n + 5 > len)
		return -1;
	memcpy(out, value, n);
	memcpy(out + n, ".cdb", 5);
	return 0;
}

int map_setting_source(const char *value, char *out, size_t len)
{
	size_t n = strlen(value);

	if (map_setting_has_cdb(value, n))
		n -= 4;
	if (n + 1 > len)
		return -1;
	memcpy(out, value, n);
	out[n] = '\0';
	return 0;
}
