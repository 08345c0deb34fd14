/* libFuzzer target for common/deferfile.c: deferfile_parse on any bytes
 * (what mailq and `postern queue` read from queue/defer/ID); an accepted
 * file must hold only bounded fields and find its own recipients. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deferfile.h"
#include "queuefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct deferfile df;
	const char *error;

	if (deferfile_parse((const char *)data, size, &df, &error) == 0) {
		if (df.n > DEFERFILE_RCPT_MAX)
			abort();
		for (size_t i = 0; i < df.n; i++) {
			if (strlen(df.e[i].rcpt) > QUEUEFILE_ADDR_MAX || strlen(df.e[i].dsn) > DEFERFILE_DSN_MAX ||
			    strlen(df.e[i].reason) > DEFERFILE_REASON_MAX || deferfile_find(&df, df.e[i].rcpt) == NULL)
				abort();
		}
		deferfile_free(&df);
	}
	return 0;
}
