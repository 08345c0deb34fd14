/* local_verify: `local [-c DIR/etc] verify ADDRESS...`, the local half
 * of sendmail -bv (docs/operator.md "Where would it go").
 *
 * Offers: local_verify(), which tells for each address where local
 * delivery would put it, by the very code that delivers
 * (local_resolve_explain: aliases, mailboxes, +tags, catch-alls,
 * forwards, commands; the transport map for LMTP domains), without
 * delivering, forwarding or running anything.
 *
 * Runs as the local agent does (postern-vmail, in the mail root) after
 * opening the same maps.  Trusts the maps as delivery does; the
 * addresses are checked (address_normalize) before use.
 *
 * Fails: per address, in its output line; the exit code is the worst. */
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "local.h"
#include "record.h"

#define LOCAL_VERIFY_EX_NOUSER 67
#define LOCAL_VERIFY_EX_TEMPFAIL 75

int local_verify(const struct local_ctx *ctx, int argc, char **argv)
{
	int worst = 0;

	for (int i = 0; i < argc; i++) {
		struct local_result r = { .status = "delivered" };
		struct buf addr, dest;
		int t, v = 0;

		buf_init(&addr, ADDRESS_PATH_MAX + 1);
		buf_init(&dest, RECORD_MAX_VALUE);
		if (address_normalize(argv[i], strlen(argv[i]), &addr) < 0) {
			printf("%s: undeliverable: 5.1.3 bad address syntax\n", argv[i]);
			v = 1;
		} else if ((t = local_transport(ctx, addr.data, addr.len, &dest, &r)) > 0) {
			printf("%s: deliverable\n  over LMTP to %s (that server decides about the mailbox)\n",
			       addr.data, dest.data);
		} else if (t < 0) {
			printf("%s: not deliverable now: %s %s\n", addr.data, r.dsn, r.reason);
			v = 2;
		} else {
			v = local_resolve_explain(ctx, addr.data, stdout);
		}
		if (v == 2 || (v == 1 && worst == 0))
			worst = v;
		buf_free(&addr);
		buf_free(&dest);
	}
	fflush(stdout);
	return worst == 0 ? 0 : worst == 1 ? LOCAL_VERIFY_EX_NOUSER : LOCAL_VERIFY_EX_TEMPFAIL;
}
