/* fuzz_pop3_cmd: libFuzzer target for the POP3 command parser.  Every
 * input must parse without reading past its length (ASan checks), and a
 * parsed command must be self-consistent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_cmd cmd;
	const char *error;
	/* A private copy of exactly size bytes, so any overread is caught. */
	char *line = malloc(size > 0 ? size : 1);

	if (line == NULL)
		return 0;
	if (size > 0)
		memcpy(line, data, size);
	if (pop3_cmd_parse(line, size, &cmd, &error) == POP3_CMD_OK) {
		if (cmd.nnum > 2)
			abort();
		for (unsigned int i = 0; i < cmd.nnum; i++)
			if (cmd.num[i] > POP3_CMD_NUM_MAX)
				abort();
		if (cmd.arg != NULL &&
		    (cmd.arg < line || cmd.arg + cmd.arg_len > line + size))
			abort();
		(void)pop3_cmd_name(cmd.id);
	} else if (error == NULL) {
		abort();
	}
	free(line);
	return 0;
}
