/* pop3_cmd: the POP3 command-line parser.
 *
 * Offers: pop3_cmd_parse() turns one client line into a command id and
 * its arguments: keyword (RFC 1939 section 3: case-insensitive), message
 * numbers and line counts as bounded decimal numbers, the USER name as one
 * token, AUTH's mechanism and optional initial response (RFC 5034) as
 * two tokens, and the PASS secret as the rest of the line (RFC 1939 section 7:
 * "a server may treat spaces in the argument as part of the password").
 *
 * Trusts: nothing.  The line comes straight from the network; it is read
 * with (pointer, length) only, never past its end, never backwards beyond
 * the line terminator it strips.  Control characters (NUL included) are
 * refused anywhere in the line.  Numbers are bounded by POP3_CMD_NUM_MAX
 * and by digit count, so no overflow is possible.
 *
 * Fails: never crashes on any input; returns POP3_CMD_UNKNOWN for a
 * keyword it does not implement and POP3_CMD_SYNTAX with a static
 * message for a known keyword with bad arguments.  It keeps no state. */
#include <stddef.h>
#include <string.h>

#include "pop3_cmd.h"

#define POP3_KEYWORD_MAX 4      /* RFC 1939 section 3: 3 or 4 characters */
#define POP3_NUM_DIGITS_MAX 10  /* enough for POP3_CMD_NUM_MAX */
#define POP3_MAX_TOKENS 2       /* TOP n m is the longest argument list */

/* What arguments a keyword takes. */
enum pop3_args {
	POP3_ARGS_NONE,        /* STAT, NOOP, RSET, QUIT, CAPA */
	POP3_ARGS_OPT_NUM,     /* LIST [n], UIDL [n] */
	POP3_ARGS_NUM,         /* RETR n, DELE n */
	POP3_ARGS_TWO_NUMS,    /* TOP n m */
	POP3_ARGS_TOKEN,       /* USER name */
	POP3_ARGS_REST,        /* PASS secret with spaces */
	POP3_ARGS_TOKENS,      /* AUTH mechanism [initial-response] */
};

static const struct pop3_keyword {
	const char *name;
	enum pop3_cmd_id id;
	enum pop3_args args;
} pop3_keywords[] = {
	{ "USER", POP3_CMD_USER, POP3_ARGS_TOKEN },
	{ "PASS", POP3_CMD_PASS, POP3_ARGS_REST },
	{ "QUIT", POP3_CMD_QUIT, POP3_ARGS_NONE },
	{ "STAT", POP3_CMD_STAT, POP3_ARGS_NONE },
	{ "LIST", POP3_CMD_LIST, POP3_ARGS_OPT_NUM },
	{ "RETR", POP3_CMD_RETR, POP3_ARGS_NUM },
	{ "DELE", POP3_CMD_DELE, POP3_ARGS_NUM },
	{ "NOOP", POP3_CMD_NOOP, POP3_ARGS_NONE },
	{ "RSET", POP3_CMD_RSET, POP3_ARGS_NONE },
	{ "TOP", POP3_CMD_TOP, POP3_ARGS_TWO_NUMS },
	{ "UIDL", POP3_CMD_UIDL, POP3_ARGS_OPT_NUM },
	{ "CAPA", POP3_CMD_CAPA, POP3_ARGS_NONE },
	{ "AUTH", POP3_CMD_AUTH, POP3_ARGS_TOKENS },
	{ "STLS", POP3_CMD_STLS, POP3_ARGS_NONE },
};

#define POP3_NKEYWORDS (sizeof(pop3_keywords) / sizeof(pop3_keywords[0]))

const char *pop3_cmd_name(enum pop3_cmd_id id)
{
	for (size_t i = 0; i < POP3_NKEYWORDS; i++)
		if (pop3_keywords[i].id == id)
			return pop3_keywords[i].name;
	return "?";
}

/* Length of the line without its LF and an optional CR before it. */
static size_t pop3_strip_eol(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len;
}

static int pop3_has_control(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

static char pop3_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static const struct pop3_keyword *pop3_keyword_find(const char *p, size_t len)
{
	char up[POP3_KEYWORD_MAX];

	if (len < 3 || len > POP3_KEYWORD_MAX)
		return NULL;
	for (size_t i = 0; i < len; i++)
		up[i] = pop3_upper(p[i]);
	for (size_t i = 0; i < POP3_NKEYWORDS; i++)
		if (strlen(pop3_keywords[i].name) == len &&
		    memcmp(pop3_keywords[i].name, up, len) == 0)
			return &pop3_keywords[i];
	return NULL;
}

/* A decimal number of 1..POP3_NUM_DIGITS_MAX digits, at most
 * POP3_CMD_NUM_MAX.  0 or -1. */
static int pop3_parse_num(const char *p, size_t len, unsigned long *num_r)
{
	unsigned long long v = 0;
	size_t i = 0;

	/* Leading zeros carry no value; skipping them keeps the digit bound
	 * about magnitude, not spelling. */
	while (len - i > 1 && p[i] == '0')
		i++;
	if (len == 0 || len - i > POP3_NUM_DIGITS_MAX)
		return -1;
	for (; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned long long)(p[i] - '0');
	}
	if (v > POP3_CMD_NUM_MAX)
		return -1;
	*num_r = (unsigned long)v;
	return 0;
}

/* Split p into space-separated tokens (runs of spaces count as one; a
 * trailing space is tolerated).  Returns the token count, or
 * POP3_MAX_TOKENS + 1 when there are more than fit. */
static size_t pop3_tokens(const char *p, size_t len, const char **tok, size_t *tlen)
{
	size_t n = 0, i = 0;

	while (i < len) {
		size_t start;
		while (i < len && p[i] == ' ')
			i++;
		if (i == len)
			break;
		if (n == POP3_MAX_TOKENS)
			return POP3_MAX_TOKENS + 1;
		start = i;
		while (i < len && p[i] != ' ')
			i++;
		tok[n] = p + start;
		tlen[n] = i - start;
		n++;
	}
	return n;
}

static enum pop3_cmd_result pop3_syntax(const char **error_r, const char *msg)
{
	*error_r = msg;
	return POP3_CMD_SYNTAX;
}

/* Arguments for everything but PASS. */
static enum pop3_cmd_result pop3_parse_args(const struct pop3_keyword *kw,
					    const char *p, size_t len,
					    struct pop3_cmd *cmd, const char **error_r)
{
	const char *tok[POP3_MAX_TOKENS];
	size_t tlen[POP3_MAX_TOKENS];
	size_t n = pop3_tokens(p, len, tok, tlen);
	size_t want_min, want_max;

	switch (kw->args) {
	case POP3_ARGS_NONE: want_min = 0; want_max = 0; break;
	case POP3_ARGS_OPT_NUM: want_min = 0; want_max = 1; break;
	case POP3_ARGS_NUM: want_min = 1; want_max = 1; break;
	case POP3_ARGS_TWO_NUMS: want_min = 2; want_max = 2; break;
	case POP3_ARGS_TOKEN: want_min = 1; want_max = 1; break;
	case POP3_ARGS_TOKENS: want_min = 1; want_max = 2; break;
	default: return pop3_syntax(error_r, "Internal error");
	}
	if (n < want_min)
		return pop3_syntax(error_r, "Missing argument");
	if (n > want_max)
		return pop3_syntax(error_r, "Too many arguments");
	if (kw->args == POP3_ARGS_TOKEN || kw->args == POP3_ARGS_TOKENS) {
		cmd->arg = tok[0];
		cmd->arg_len = tlen[0];
		if (n == 2) {
			cmd->arg2 = tok[1];
			cmd->arg2_len = tlen[1];
		}
		return POP3_CMD_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (pop3_parse_num(tok[i], tlen[i], &cmd->num[i]) < 0)
			return pop3_syntax(error_r, "Invalid number");
	cmd->nnum = (unsigned int)n;
	return POP3_CMD_OK;
}

enum pop3_cmd_result pop3_cmd_parse(const char *line, size_t len,
				    struct pop3_cmd *cmd_r, const char **error_r)
{
	const struct pop3_keyword *kw;
	size_t klen = 0;

	len = pop3_strip_eol(line, len);
	memset(cmd_r, 0, sizeof(*cmd_r));
	*error_r = "";
	while (klen < len && line[klen] != ' ')
		klen++;
	kw = pop3_keyword_find(line, klen);
	if (kw == NULL) {
		*error_r = "Unknown command";
		return POP3_CMD_UNKNOWN;
	}
	cmd_r->id = kw->id;
	if (pop3_has_control(line, len))
		return pop3_syntax(error_r, "Invalid character in command");
	if (kw->args == POP3_ARGS_REST) {
		/* RFC 1939 section 7: exactly one space, then the secret,
		 * spaces and all. */
		if (klen + 1 >= len)
			return pop3_syntax(error_r, "Missing argument");
		cmd_r->arg = line + klen + 1;
		cmd_r->arg_len = len - klen - 1;
		return POP3_CMD_OK;
	}
	return pop3_parse_args(kw, line + klen, len - klen, cmd_r, error_r);
}
