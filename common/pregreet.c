/* pregreet: the pregreet test's setting, answer and log line (pregreet.h).
 *
 * Trusts: nothing in the client's bytes: they are shown escaped, printable
 * ASCII as is and everything else (and the backslash) as \xNN. */
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "pregreet.h"

int pregreet_wait_ms(void)
{
	unsigned long long wait = config_time("smtpd_pregreet_wait");

	if (wait > PREGREET_MAX_S)
		log_fatal("smtpd_pregreet_wait must be at most %ds", PREGREET_MAX_S);
	return (int)wait * 1000;
}

void pregreet_log(const char *client_log, const char *got, size_t n, long long ms)
{
	char shown[PREGREET_SHOW * 4 + 1];
	size_t k = 0;

	shown[0] = '\0';
	for (size_t i = 0; i < n && i < PREGREET_SHOW; i++) {
		unsigned char c = (unsigned char)got[i];
		k += (size_t)snprintf(shown + k, sizeof(shown) - k, c >= 0x20 && c < 0x7f && c != '\\' ? "%c" : "\\x%02x",
				      c);
	}
	log_info("PREGREET %zu after %lld ms from %s: %s", n, ms, client_log, shown);
}
