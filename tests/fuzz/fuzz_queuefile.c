/* libFuzzer target for the queue file header parser (common/queuefile.c):
 * any input must give a clean success or error, never a crash, a leak or
 * a read past the input; on success the offsets it reports must lie
 * inside the header (status bytes, attempts, the version 2 delay flag)
 * and every optional string must be filled in; prepended fields (version
 * 3 only) are header text within their limit.  The corpus holds a file
 * of each version. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queuefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queuefile qf;
	const char *err = NULL;

	if (queuefile_parse((const char *)data, size, &qf, &err) == 0) {
		if (qf.nrcpt == 0 || (size_t)qf.data_offset > size || qf.attempts_off <= 0 ||
		    (size_t)qf.attempts_off >= (size_t)qf.data_offset)
			abort();
		/* Version 2: the delay flag is one digit inside the header. */
		if (qf.version >= 2 && ((size_t)qf.warned_off >= (size_t)qf.data_offset ||
					data[qf.warned_off] != (uint8_t)('0' + qf.warned)))
			abort();
		if (qf.envid == NULL || qf.prepend == NULL || strlen(qf.prepend) != qf.prepend_len ||
		    qf.prepend_len > QUEUEFILE_PREPEND_MAX || (qf.version < 3 && qf.prepend_len != 0) ||
		    !queuefile_prepend_valid(qf.prepend, qf.prepend_len))
			abort();
		for (size_t i = 0; i < qf.nrcpt; i++)
			if (qf.rcpt[i].orcpt == NULL)
				abort();
		for (size_t i = 0; i < qf.nrcpt; i++)
			if ((size_t)qf.rcpt[i].status_off >= (size_t)qf.data_offset ||
			    data[qf.rcpt[i].status_off] != (uint8_t)qf.rcpt[i].status)
				abort();
		queuefile_free(&qf);
	} else if (err == NULL) {
		abort();
	}
	return 0;
}
