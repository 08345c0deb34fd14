/* libFuzzer target for common/dmarc_record.c: any bytes give a status
 * and a record whose fields stay in their ranges: an OK record has a
 * policy, pct is 0..100, adkim and aspf are 'r' or 's'. */
#include <stdint.h>
#include <stdlib.h>

#include "dmarc_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record rec;
	enum dmarc_record_status st = dmarc_record_parse((const char *)data, size, &rec);

	if (st != DMARC_RECORD_OK && st != DMARC_RECORD_NOT_DMARC && st != DMARC_RECORD_NO_POLICY)
		abort();
	if (st == DMARC_RECORD_OK && (rec.p < DMARC_POLICY_NONE || rec.p > DMARC_POLICY_REJECT))
		abort();
	if (rec.sp > DMARC_POLICY_REJECT || rec.np > DMARC_POLICY_REJECT || rec.pct > 100)
		abort();
	if ((rec.adkim != 'r' && rec.adkim != 's') || (rec.aspf != 'r' && rec.aspf != 's'))
		abort();
	if (dmarc_policy_str(rec.p) == NULL)
		abort();
	return 0;
}
