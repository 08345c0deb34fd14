/* libFuzzer target for common/smtp_cmd.c: any bytes as one command line,
 * then, for MAIL/RCPT, the parameter parser on the argument.  Checks
 * that every result stays inside the input and that an accepted list
 * has no keyword twice. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "smtp_cmd.h"

static void fuzz_check_in(const char *p, size_t n, const char *base, size_t len)
{
	if (n > 0 && (p < base || p + n > base + len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct smtp_param params[SMTP_CMD_MAX_PARAMS];
	struct smtp_cmd cmd;
	const char *rest, *err;
	size_t rest_len, n;
	unsigned long long v;

	if (smtp_cmd_parse(line, size, &cmd) != SMTP_CMD_OK)
		return 0;
	fuzz_check_in(cmd.verb_text, cmd.verb_len, line, size);
	fuzz_check_in(cmd.arg, cmd.arg_len, line, size);
	if (!smtp_cmd_arg_prefix(cmd.arg, cmd.arg_len, cmd.verb == SMTP_VERB_RCPT ? "TO:" : "FROM:",
				 &rest, &rest_len))
		rest = cmd.arg, rest_len = cmd.arg_len;
	if (smtp_cmd_params(rest, rest_len, params, SMTP_CMD_MAX_PARAMS, &n, &err) < 0)
		return 0;
	if (n > SMTP_CMD_MAX_PARAMS)
		abort();
	for (size_t i = 0; i < n; i++) {
		fuzz_check_in(params[i].key, params[i].key_len, line, size);
		/* Accepted lists never name a keyword twice (any case). */
		for (size_t k = 0; k < i; k++)
			if (params[k].key_len == params[i].key_len &&
			    strncasecmp(params[k].key, params[i].key, params[i].key_len) == 0)
				abort();
		if (params[i].value != NULL)
			fuzz_check_in(params[i].value, params[i].value_len, line, size);
		if (smtp_param_size(&params[i], 1000000, &v) == 0 && v > 1000001)
			abort();
	}
	return 0;
}
