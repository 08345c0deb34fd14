/* log_parse: the parts of a log-file line (see log_parse.h).
 *
 * Trusts: nothing of the line: a log file holds client text (sanitized
 * by the writer, but a file can be edited or damaged), so every scan is
 * bounded by the length and every field by a limit.  Fails: a line that
 * is not ours is 0, never an error. */
#include "log_parse.h"

#include <string.h>

#define LOG_PARSE_PID_DIGITS 10

static int log_parse_id_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

/* Where the tag starts: after the stamp and the host, i.e. after the
 * fifth space-separated field of `Mmm dd hh:mm:ss host` (dd may be
 * padded with a space) or the second of `YYYY-MM-DDTHH:MM:SS... host`. */
static const char *log_parse_tag(const char *p, const char *end)
{
	int fields = (end - p >= 4 && p[0] >= '0' && p[0] <= '9') ? 2 : 4;

	for (int f = 0; f < fields; f++) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			return NULL;
		while (p < end && *p != ' ')
			p++;
	}
	while (p < end && *p == ' ')
		p++;
	return p < end ? p : NULL;
}

int log_parse_line(const char *line, size_t len, const char *syslog_name, struct log_parse_line *out)
{
	const char *end = line + len, *tag = log_parse_tag(line, end), *p, *br;
	size_t nl = strlen(syslog_name);
	long pid = 0;
	int digits = 0;

	if (tag == NULL || (size_t)(end - tag) <= nl + 1 || memcmp(tag, syslog_name, nl) != 0 ||
	    tag[nl] != '/')
		return 0;
	p = tag + nl + 1;
	br = memchr(p, '[', (size_t)(end - p));
	if (br == NULL || br == p || memchr(p, ' ', (size_t)(br - p)) != NULL)
		return 0;
	for (p = br + 1; p < end && *p >= '0' && *p <= '9' && digits < LOG_PARSE_PID_DIGITS; p++, digits++)
		pid = pid * 10 + (*p - '0');
	if (digits == 0 || end - p < 3 || memcmp(p, "]: ", 3) != 0)
		return 0;
	out->service = tag + nl + 1;
	out->service_len = (size_t)(br - out->service);
	out->pid = pid;
	out->text = p + 3;
	out->text_len = (size_t)(end - out->text);
	return 1;
}

size_t log_parse_queue_id(const char *text, size_t len)
{
	size_t n = 0;

	while (n < len && n <= LOG_PARSE_ID_MAX && log_parse_id_char(text[n]))
		n++;
	if (n < 5 || n > LOG_PARSE_ID_MAX || len - n < 2 || text[n] != ':' || text[n + 1] != ' ')
		return 0;
	return n;
}

int log_parse_next_id(const char *text, size_t len, char *id_r)
{
	static const char *const marks[] = { " notification: ", " as " };

	for (size_t k = 0; k < sizeof(marks) / sizeof(marks[0]); k++) {
		size_t ml = strlen(marks[k]), n = 0;
		const char *hit = NULL;

		/* The last occurrence: the ID ends the line. */
		for (const char *q = text; (size_t)(text + len - q) >= ml; q++)
			if (memcmp(q, marks[k], ml) == 0)
				hit = q;
		if (hit == NULL)
			continue;
		hit += ml;
		while (hit + n < text + len && n <= LOG_PARSE_ID_MAX && log_parse_id_char(hit[n]))
			n++;
		if (n < 5 || n > LOG_PARSE_ID_MAX || hit + n != text + len)
			continue;
		memcpy(id_r, hit, n);
		id_r[n] = '\0';
		return 1;
	}
	return 0;
}
