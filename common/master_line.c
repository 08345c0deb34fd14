/* master_line: one line of master.conf.
 *
 * Offers: splitting a line into fields and the syntax rules of an entry
 * (name type listen user root maxproc command [args]).  Names end up in
 * argv[0], paths and log lines, and the user decides which account a
 * network-facing process runs as, so every field is a plain word.
 *
 * Trusts: nothing; the line is the caller's NUL-terminated copy (at most
 * MASTER_LINE_MAX bytes, checked by the caller), split in place.
 *
 * Fails: master_line_check returns a static message naming the rule. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "master_line.h"

size_t master_line_split(char *line, char **f, size_t max)
{
	char *save = NULL, *tok;
	size_t nf = 0;

	for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (nf == max)
			return max + 1;
		f[nf++] = tok;
	}
	return nf;
}

int master_line_is_comment(char *const *f, size_t nf)
{
	return nf == 0 || f[0][0] == '#';
}

static int master_line_word(const char *s, const char *extra, size_t max)
{
	return config_word_ok(s, extra) && strlen(s) <= max;
}

const char *master_line_check(char *const *f, size_t nf)
{
	char *end;
	unsigned long maxproc;

	if (nf < 7)
		return "expected: name type listen user root maxproc command [args]";
	if (nf > MASTER_LINE_FIELDS)
		return "too many command arguments";
	if (!master_line_word(f[0], "", MASTER_LINE_NAME_MAX))
		return "bad service name (a-z 0-9 - _, at most 32)";
	if (strcmp(f[1], "inet") != 0 && strcmp(f[1], "unix") != 0)
		return "type must be inet or unix";
	if (strcmp(f[1], "unix") == 0 && !master_line_word(f[2], ".", 255))
		return "unix listen must be a socket name (a-z 0-9 - _ .)";
	if (strlen(f[2]) > 255)
		return "listen address too long";
	if (!master_line_word(f[3], "", MASTER_LINE_NAME_MAX))
		return "bad user name";
	if (strcmp(f[4], "-") != 0 &&
	    (f[4][0] == '/' || strstr(f[4], "..") != NULL || !master_line_word(f[4], "/.", 255)))
		return "root must be - or a directory relative to the tree";
	errno = 0;
	maxproc = strtoul(f[5], &end, 10);
	if (errno != 0 || end == f[5] || *end != '\0' || f[5][0] == '-' || maxproc < 1 || maxproc > 10000)
		return "maxproc must be 1..10000";
	if (!master_line_word(f[6], "", 64))
		return "bad command name (a program in program_directory)";
	return NULL;
}

int master_line_inet_ok(const char *listen)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *colon = strrchr(listen, ':'), *h = listen;
	size_t hlen;
	char *end;
	unsigned long port;

	if (colon == NULL)
		return 0;
	hlen = (size_t)(colon - listen);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	} else if (memchr(h, ':', hlen) != NULL)
		return 0;   /* IPv6 needs its brackets */
	if (hlen == 0 || hlen >= sizeof(host))
		return 0;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || colon[1] == '-' || port < 1 || port > 65535)
		return 0;
	if (strcmp(host, "*") == 0)
		return 1;
	return inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1;
}
