/* policy_reply: parse a policy server's answer and its action.
 *
 * Offers: policy_reply_parse() finds one answer (name=value lines, LF or
 * CRLF, ended by an empty line) in what was read so far and hands back
 * its action= value; policy_action_parse() turns that value into a
 * verdict, a reply code and text.
 *
 * Trusts: nothing; the server is a separate program on the network.
 * Every line is at most POLICY_REPLY_MAX bytes, at most
 * POLICY_REPLY_ATTRS_MAX attributes, only printable ASCII in the action
 * (it becomes an SMTP reply or a header field).
 *
 * Fails: -1 for anything malformed; the caller answers with its
 * configured default action. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "policy_reply.h"

/* Printable ASCII and tabs: what may reach an SMTP reply or a header. */
static int policy_printable(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)p[i] < 0x20 && p[i] != '\t') || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

int policy_reply_parse(const char *p, size_t len, char *action_r, size_t cap, size_t *used_r)
{
	size_t i = 0, nattr = 0;
	int have = 0;

	if (len > POLICY_REPLY_MAX)
		len = POLICY_REPLY_MAX + 1;   /* an answer cannot be longer: look no further */
	while (i < len) {
		const char *lf = memchr(p + i, '\n', len - i);
		size_t n;

		if (lf == NULL)
			return len > POLICY_REPLY_MAX ? -1 : 0;
		n = (size_t)(lf - (p + i));
		if (n > 0 && p[i + n - 1] == '\r')
			n--;
		if (n == 0) {   /* the empty line ends the answer */
			if (!have)
				return -1;
			*used_r = (size_t)(lf - p) + 1;
			return 1;
		}
		if (++nattr > POLICY_REPLY_ATTRS_MAX)
			return -1;
		if (n > 7 && strncasecmp(p + i, "action=", 7) == 0) {
			if (have || n - 7 >= cap || !policy_printable(p + i + 7, n - 7))
				return -1;
			memcpy(action_r, p + i + 7, n - 7);
			action_r[n - 7] = '\0';
			have = 1;
		} else if (memchr(p + i, '=', n) == NULL) {
			return -1;   /* not name=value */
		}
		i = (size_t)(lf - p) + 1;
	}
	return len > POLICY_REPLY_MAX ? -1 : 0;
}

/* Whether (p, n) is the word w followed by its end or white space. */
static int policy_word(const char *p, size_t n, const char *w, size_t *after_r)
{
	size_t wl = strlen(w);

	if (n < wl || strncasecmp(p, w, wl) != 0 || (n > wl && p[wl] != ' ' && p[wl] != '\t'))
		return 0;
	while (wl < n && (p[wl] == ' ' || p[wl] == '\t'))
		wl++;
	*after_r = wl;
	return 1;
}

/* Copy the text (p, n) into a; -1 when it is too long. */
static int policy_text(struct policy_action *a, const char *p, size_t n)
{
	if (n >= sizeof(a->text))
		return -1;
	memcpy(a->text, p, n);
	a->text[n] = '\0';
	return 0;
}

/* "D.DDD.DDD" (RFC 3463) of class c at p: its length, or 0. */
static size_t policy_dsn(const char *p, size_t n, char c)
{
	size_t i = 0, parts = 0;

	if (n < 5 || p[0] != c || p[1] != '.')
		return 0;
	i = 2;
	for (parts = 0; parts < 2; parts++) {
		size_t d = 0;

		while (i < n && d < 3 && isdigit((unsigned char)p[i])) {
			i++;
			d++;
		}
		if (d == 0)
			return 0;
		if (parts == 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && p[i] != ' ' && p[i] != '\t')
		return 0;
	return i;
}

/* "4NN [D.D.D] text" or "5NN ...". */
static int policy_numeric(const char *p, size_t n, struct policy_action *a)
{
	size_t i = 3, dl;

	if (n < 3 || (p[0] != '4' && p[0] != '5') || !isdigit((unsigned char)p[1]) ||
	    !isdigit((unsigned char)p[2]) || (n > 3 && p[3] != ' ' && p[3] != '\t'))
		return -1;
	a->code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	a->verdict = p[0] == '4' ? POLICY_DEFER : POLICY_REJECT;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	dl = policy_dsn(p + i, n - i, p[0]);
	if (dl > 0) {
		memcpy(a->dsn, p + i, dl);
		a->dsn[dl] = '\0';
		i += dl;
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
	}
	return policy_text(a, p + i, n - i);
}

/* "Name: value" with a field name of RFC 5322 2.2 printable characters. */
static int policy_header_ok(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] > 0x20 && p[i] < 0x7f && p[i] != ':')
		i++;
	return i > 0 && i < n && p[i] == ':';
}

/* A text that opens with a DSN of the action's class (postgrey:
 * "DEFER_IF_PERMIT 4.2.0 Greylisted") gives the DSN of the reply. */
static void policy_text_dsn(struct policy_action *a)
{
	char c = a->verdict == POLICY_REJECT ? '5' :
		a->verdict == POLICY_DEFER || a->verdict == POLICY_DEFER_IF_PERMIT ||
		a->verdict == POLICY_DEFER_IF_REJECT ? '4' : 0;
	size_t n = strlen(a->text), dl, skip;

	if (c == 0 || (dl = policy_dsn(a->text, n, c)) == 0)
		return;
	memcpy(a->dsn, a->text, dl);
	a->dsn[dl] = '\0';
	skip = dl;
	while (skip < n && (a->text[skip] == ' ' || a->text[skip] == '\t'))
		skip++;
	memmove(a->text, a->text + skip, n - skip + 1);
}

int policy_action_parse(const char *p, size_t len, struct policy_action *a)
{
	static const struct {
		const char *word;
		enum policy_verdict v;
	} words[] = {
		{ "DEFER_IF_PERMIT", POLICY_DEFER_IF_PERMIT },
		{ "DEFER_IF_REJECT", POLICY_DEFER_IF_REJECT },
		{ "DUNNO", POLICY_DUNNO }, { "OK", POLICY_OK },
		{ "REJECT", POLICY_REJECT }, { "DEFER", POLICY_DEFER },
		{ "HOLD", POLICY_HOLD }, { "DISCARD", POLICY_DISCARD },
		{ "PREPEND", POLICY_PREPEND }, { "WARN", POLICY_WARN }, { "INFO", POLICY_INFO },
	};
	size_t after;

	memset(a, 0, sizeof(*a));
	a->verdict = POLICY_UNSUPPORTED;
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (!policy_printable(p, len))
		return -1;
	if (len > 0 && isdigit((unsigned char)p[0])) {
		if (policy_numeric(p, len, a) < 0) {
			memset(a, 0, sizeof(*a));
			a->verdict = POLICY_UNSUPPORTED;
			return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!policy_word(p, len, words[i].word, &after))
			continue;
		if (policy_text(a, p + after, len - after) < 0)
			return -1;
		/* OK and DUNNO take no text; PREPEND needs a header field. */
		if (((words[i].v == POLICY_OK || words[i].v == POLICY_DUNNO) && a->text[0] != '\0') ||
		    (words[i].v == POLICY_PREPEND && !policy_header_ok(a->text, len - after))) {
			a->text[0] = '\0';
			return -1;
		}
		a->verdict = words[i].v;
		policy_text_dsn(a);
		if (a->verdict == POLICY_REJECT)
			a->code = 554;   /* Postfix's access_map_reject_code */
		else if (a->verdict == POLICY_DEFER)
			a->code = 450;   /* Postfix's access_map_defer_code */
		return 0;
	}
	return -1;
}

int policy_services_parse(const char *v, char specs[POLICY_SERVICES_MAX][POLICY_SPEC_MAX],
			  size_t *n_r, const char **error_r)
{
	size_t pos = 0, n = 0, len = strlen(v), wl;
	const char *w;

	while (config_list_next(v, len, &pos, &w, &wl)) {
		if (n == POLICY_SERVICES_MAX) {
			*error_r = "more than 8 services";
			return -1;
		}
		if (wl >= POLICY_SPEC_MAX) {
			*error_r = "service name too long";
			return -1;
		}
		memcpy(specs[n], w, wl);
		specs[n][wl] = '\0';
		if ((strncmp(specs[n], "inet:", 5) != 0 || strrchr(specs[n] + 5, ':') == NULL ||
		     strrchr(specs[n] + 5, ':') == specs[n] + 5 || strrchr(specs[n], ':')[1] == '\0') &&
		    (strncmp(specs[n], "unix:", 5) != 0 || specs[n][5] == '\0')) {
			*error_r = "bad service (expected inet:HOST:PORT or unix:PATH)";
			return -1;
		}
		n++;
	}
	*n_r = n;
	return 0;
}

int policy_default_action_ok(const char *v)
{
	struct policy_action a;

	/* PREPEND and HOLD need a server's message context; a failure has none. */
	return policy_action_parse(v, strlen(v), &a) == 0 && a.verdict != POLICY_PREPEND &&
		a.verdict != POLICY_HOLD;
}
