/* access_map: Postfix access(5)-style tables in cdb maps.  One item (a
 * client address, a host name, an e-mail address) is looked up under a
 * series of keys, most specific first, and the first key present
 * decides:
 *   address  1.2.3.4, 1.2.3, 1.2, 1; for IPv6 the address as written,
 *            then its eight hextets (no leading zeros) and every shorter
 *            prefix of them (2001:db8:0:0:0:0:0:1 ... 2001:db8, 2001);
 *   domain   mail.example.com, example.com, com (an address literal
 *            "[...]" only as it is);
 *   email    user@example.com, then the domain keys of example.com, then
 *            user@; the null sender is the key "<>".
 * A value is an access(5) action (common/policy_reply.c parses it): OK,
 * DUNNO, REJECT [text], DEFER [text], 4NN/5NN [D.D.D] text, HOLD [text],
 * DISCARD [text]; anything else is refused.  Keys are folded to lower
 * case by cdbmap.  The fuzz target is tests/fuzz/fuzz_access_map.c. */
#ifndef POSTERN_ACCESS_MAP_H
#define POSTERN_ACCESS_MAP_H

#include <stddef.h>

#include "cdbmap.h"
#include "policy_reply.h"

#define ACCESS_ITEM_MAX 1024    /* longest item looked up; longer ones match nothing */

enum access_kind {
	ACCESS_ADDRESS,   /* a client IP address, numeric text */
	ACCESS_DOMAIN,    /* a host name (client name, HELO) */
	ACCESS_EMAIL,     /* an envelope address, "" for <> */
};

/* Called with each key in turn (NUL-terminated); nonzero stops the walk
 * and is returned by access_keys. */
typedef int access_key_fn(void *arg, const char *key, size_t len);
/* Walk the lookup keys of item (kind says which series): the first
 * nonzero of fn, or 0 when every key was offered. */
int access_keys(enum access_kind kind, const char *item, size_t len, access_key_fn *fn, void *arg);
/* Parse a map value as an access action (the verdicts above only):
 * 0, or -1 when it is not one. */
int access_action_parse(const char *value, size_t len, struct policy_action *a_r);
/* Why a value is no access action, or NULL (cdbmap_value_check). */
const char *access_value_check(const char *value, size_t len);
/* Look item up in map: 1 with the action of the first key found and the
 * key copied to key_r (cap bytes, may be truncated), 0 when no key is
 * present, -1 on a read error or a bad value (*error_r, static). */
int access_map_find(struct cdbmap *map, enum access_kind kind, const char *item,
		    struct policy_action *a_r, char *key_r, size_t cap, const char **error_r);

#endif
