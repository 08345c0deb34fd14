/* auth_results: write, parse and strip Authentication-Results (RFC 8601).
 *
 * Offers: a list of method results (auth_results_add, auth_result_prop)
 * that auth_results_write turns into one header field, "none" when the
 * list is empty (2.2); auth_results_parse reads a field's value by the
 * grammar of 2.2 (authserv-id, version, "none" or resinfo with method
 * version, reason and properties; comments and folding anywhere CFWS
 * may be); auth_results_strip removes the fields that carry our
 * authserv-id, which an MTA must do for mail from outside its ADMD (5),
 * so that nobody downstream takes a forged one for ours.
 *
 * Trusts: nothing in a parsed field.  (pointer, length) throughout;
 * comment nesting is bounded (AUTH_RESULTS_COMMENT_DEPTH), so are the
 * counts (AUTH_RESULTS_MAX results, AUTH_RESULTS_PROPS_MAX properties)
 * and every copied word; what does not fit is a parse error.
 *
 * Fails: parse errors are -1 with a reason; the authserv-id, once read,
 * stays in the output so that a field malformed after it is still
 * recognised (and stripped) as claiming to be ours.  The writer never
 * clips: a value that does not fit is -1. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_results.h"

/* ---- characters ---- */

static int ar_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 2045 token characters: printable ASCII but tspecials and space. */
static int ar_tokenc(char c)
{
	return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* RFC 5322 atext. */
static int ar_atext(char c)
{
	return ar_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int ar_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Keyword (RFC 8601 2.2: ldh-str): letters, digits, '-' (and '_', which
 * real signers use in property names). */
static int ar_keyword_ok(const char *s)
{
	if (*s == '\0' || *s == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!ar_alnum(*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

static int ar_copy(char *out, size_t outlen, const char *s, size_t n)
{
	if (n >= outlen)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* ---- the writer ---- */

struct auth_result *auth_results_add(struct auth_results *ar, const char *method, const char *result,
				     const char *reason)
{
	struct auth_result *r;

	if (ar->n >= AUTH_RESULTS_MAX || !ar_keyword_ok(method) || !ar_keyword_ok(result))
		return NULL;
	r = &ar->r[ar->n];
	memset(r, 0, sizeof(*r));
	if (ar_copy(r->method, sizeof(r->method), method, strlen(method)) < 0 ||
	    ar_copy(r->result, sizeof(r->result), result, strlen(result)) < 0 ||
	    (reason != NULL && ar_copy(r->reason, sizeof(r->reason), reason, strlen(reason)) < 0))
		return NULL;
	ar->n++;
	return r;
}

int auth_result_comment(struct auth_result *r, const char *text)
{
	for (const char *t = text; *t != '\0'; t++)
		if ((unsigned char)*t < 0x20 || (unsigned char)*t >= 0x7f || *t == '(' || *t == ')' || *t == '\\')
			return -1;
	return ar_copy(r->comment, sizeof(r->comment), text, strlen(text));
}

int auth_result_prop(struct auth_result *r, const char *ptype, const char *property, const char *value)
{
	struct auth_result_prop *p;

	if (r->nprop >= AUTH_RESULTS_PROPS_MAX || !ar_keyword_ok(ptype) || !ar_keyword_ok(property))
		return -1;
	for (const char *v = value; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return -1;
	p = &r->prop[r->nprop];
	if (ar_copy(p->ptype, sizeof(p->ptype), ptype, strlen(ptype)) < 0 ||
	    ar_copy(p->property, sizeof(p->property), property, strlen(property)) < 0 ||
	    ar_copy(p->value, sizeof(p->value), value, strlen(value)) < 0)
		return -1;
	r->nprop++;
	return 0;
}

/* Whether s is local@domain with a dot-atom local-part (or @domain, or
 * a bare domain): written without quotes (pvalue, 2.2). */
static int ar_plain_address(const char *s)
{
	const char *at = strrchr(s, '@'), *d = at != NULL ? at + 1 : s;
	int prev_dot = 1;

	if (*d == '\0')
		return 0;
	for (const char *p = s; at != NULL && p < at; p++) {
		if (*p == '.') {
			if (prev_dot)
				return 0;
			prev_dot = 1;
		} else if (ar_atext(*p)) {
			prev_dot = 0;
		} else {
			return 0;
		}
	}
	if (at != NULL && at > s && prev_dot)
		return 0;
	for (; *d != '\0'; d++)
		if (!ar_alnum(*d) && *d != '.' && *d != '-' && *d != '_')
			return 0;
	return 1;
}

/* A value: a token as it is, anything else as a quoted-string. */
static int ar_put_value(struct buf *out, const char *v, int address)
{
	int plain = *v != '\0';

	for (const char *p = v; *p != '\0' && plain; p++)
		plain = ar_tokenc(*p);
	if (plain || (address && ar_plain_address(v)))
		return buf_append_str(out, v);
	if (buf_putc(out, '"') < 0)
		return -1;
	for (const char *p = v; *p != '\0'; p++)
		if (((*p == '"' || *p == '\\') && buf_putc(out, '\\') < 0) || buf_putc(out, *p) < 0)
			return -1;
	return buf_putc(out, '"');
}

int auth_results_write(const char *authserv_id, const struct auth_results *ar, struct buf *out)
{
	size_t start = out->len;

	if (*authserv_id == '\0' || strlen(authserv_id) > AUTH_RESULTS_ID_MAX)
		return -1;
	for (const char *p = authserv_id; *p != '\0'; p++)
		if (!ar_tokenc(*p))
			return -1;
	if (buf_printf(out, "Authentication-Results: %s;", authserv_id) < 0)
		goto fail;
	if (ar->n == 0 && buf_append_str(out, " none") < 0)
		goto fail;
	for (size_t i = 0; i < ar->n; i++) {
		const struct auth_result *r = &ar->r[i];

		if (buf_printf(out, "%s\n\t%s=%s", i > 0 ? ";" : "", r->method, r->result) < 0)
			goto fail;
		if (r->comment[0] != '\0' && buf_printf(out, " (%s)", r->comment) < 0)
			goto fail;
		if (r->reason[0] != '\0' &&
		    (buf_append_str(out, " reason=") < 0 || ar_put_value(out, r->reason, 0) < 0))
			goto fail;
		for (size_t k = 0; k < r->nprop; k++)
			if (buf_printf(out, " %s.%s=", r->prop[k].ptype, r->prop[k].property) < 0 ||
			    ar_put_value(out, r->prop[k].value, 1) < 0)
				goto fail;
	}
	if (buf_putc(out, '\n') < 0)
		goto fail;
	return 0;
fail:
	buf_truncate(out, start);
	return -1;
}

/* ---- the parser ---- */

struct ar_lex {
	const char *p;
	size_t len, i;
	const char *err;
};

/* Skip CFWS: white space (folding included) and nested comments. */
static int ar_cfws(struct ar_lex *x)
{
	for (;;) {
		while (x->i < x->len && ar_wsp(x->p[x->i]))
			x->i++;
		if (x->i >= x->len || x->p[x->i] != '(')
			return 0;
		unsigned depth = 0;
		do {
			char c = x->p[x->i++];
			if (c == '\\' && x->i < x->len)
				x->i++;
			else if (c == '(' && ++depth > AUTH_RESULTS_COMMENT_DEPTH) {
				x->err = "comments nested too deep";
				return -1;
			} else if (c == ')')
				depth--;
		} while (depth > 0 && x->i < x->len);
		if (depth > 0) {
			x->err = "unterminated comment";
			return -1;
		}
	}
}

/* A run of characters accepted by ok() into out. */
static int ar_run(struct ar_lex *x, int (*ok)(char), char *out, size_t outlen)
{
	size_t s = x->i;

	while (x->i < x->len && ok(x->p[x->i]))
		x->i++;
	if (x->i == s || ar_copy(out, outlen, x->p + s, x->i - s) < 0) {
		x->err = x->i == s ? "word expected" : "word too long";
		return -1;
	}
	return 0;
}

static int ar_keyc(char c)
{
	return ar_alnum(c) || c == '-' || c == '_';
}

/* A quoted-string (at '"'), unescaped into out. */
static int ar_quoted(struct ar_lex *x, char *out, size_t outlen)
{
	size_t o = 0;

	x->i++;
	while (x->i < x->len && x->p[x->i] != '"') {
		char c = x->p[x->i++];
		if (c == '\\') {
			if (x->i >= x->len)
				break;
			c = x->p[x->i++];
		}
		if (o + 1 >= outlen) {
			x->err = "quoted string too long";
			return -1;
		}
		out[o++] = c;
	}
	if (x->i >= x->len) {
		x->err = "unterminated quoted string";
		return -1;
	}
	x->i++;
	out[o] = '\0';
	return 0;
}

/* value = token / quoted-string */
static int ar_value(struct ar_lex *x, char *out, size_t outlen)
{
	if (x->i < x->len && x->p[x->i] == '"')
		return ar_quoted(x, out, outlen);
	return ar_run(x, ar_tokenc, out, outlen);
}

static int ar_pvaluec(char c)
{
	return ar_tokenc(c) || c == '@' || c == '/' || c == ':' || c == '=' || c == '[' || c == ']' || c == '?' ||
	       (unsigned char)c >= 0x80;
}

/* pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS] */
static int ar_pvalue(struct ar_lex *x, char *out, size_t outlen)
{
	size_t o;

	if (ar_cfws(x) < 0)
		return -1;
	if (x->i < x->len && x->p[x->i] == '"') {
		if (ar_quoted(x, out, outlen) < 0)
			return -1;
		o = strlen(out);
		if (x->i < x->len && x->p[x->i] == '@') {
			/* a quoted local-part: keep the domain after it */
			if (ar_run(x, ar_pvaluec, out + o, outlen - o) < 0)
				return -1;
		}
		return 0;
	}
	return ar_run(x, ar_pvaluec, out, outlen);
}

/* Expect one character (after CFWS). */
static int ar_expect(struct ar_lex *x, char c)
{
	if (ar_cfws(x) < 0)
		return -1;
	if (x->i >= x->len || x->p[x->i] != c) {
		x->err = "unexpected character";
		return -1;
	}
	x->i++;
	return ar_cfws(x);
}

/* resinfo after its ';': methodspec [reasonspec] *propspec */
static int ar_resinfo(struct ar_lex *x, struct auth_results *out)
{
	struct auth_result *r;
	char word[64];

	if (out->n >= AUTH_RESULTS_MAX) {
		x->err = "too many results";
		return -1;
	}
	r = &out->r[out->n];
	memset(r, 0, sizeof(*r));
	if (ar_run(x, ar_keyc, r->method, sizeof(r->method)) < 0 || ar_cfws(x) < 0)
		return -1;
	if (x->i < x->len && x->p[x->i] == '/') {
		if (ar_expect(x, '/') < 0 || ar_run(x, ar_keyc, word, sizeof(word)) < 0 || ar_cfws(x) < 0)
			return -1;
		r->version = (unsigned)strtoul(word, NULL, 10);
	}
	if (ar_expect(x, '=') < 0 || ar_run(x, ar_keyc, r->result, sizeof(r->result)) < 0)
		return -1;
	out->n++;
	for (;;) {
		size_t save;

		if (ar_cfws(x) < 0)
			return -1;
		if (x->i >= x->len || x->p[x->i] == ';')
			return 0;
		save = x->i;
		if (ar_run(x, ar_keyc, word, sizeof(word)) < 0 || ar_cfws(x) < 0)
			return -1;
		if (x->i < x->len && x->p[x->i] == '=' && strcasecmp(word, "reason") == 0 &&
		    r->reason[0] == '\0' && r->nprop == 0) {
			if (ar_expect(x, '=') < 0 || ar_value(x, r->reason, sizeof(r->reason)) < 0)
				return -1;
			continue;
		}
		if (r->nprop >= AUTH_RESULTS_PROPS_MAX) {
			x->err = "too many properties";
			return -1;
		}
		struct auth_result_prop *p = &r->prop[r->nprop];
		x->i = save;
		if (ar_run(x, ar_keyc, p->ptype, sizeof(p->ptype)) < 0 || ar_expect(x, '.') < 0 ||
		    ar_run(x, ar_keyc, p->property, sizeof(p->property)) < 0 || ar_expect(x, '=') < 0 ||
		    ar_pvalue(x, p->value, sizeof(p->value)) < 0)
			return -1;
		r->nprop++;
	}
}

int auth_results_parse(const char *value, size_t len, struct auth_results *out, const char **error_r)
{
	struct ar_lex x = { .p = value, .len = len };
	char word[32];

	memset(out, 0, sizeof(*out));
	if (ar_cfws(&x) < 0 || ar_value(&x, out->authserv_id, sizeof(out->authserv_id)) < 0 || ar_cfws(&x) < 0)
		goto fail;
	/* "" is a quoted-string, but names no server: nothing to trust or strip */
	if (out->authserv_id[0] == '\0') {
		x.err = "empty authserv-id";
		goto fail;
	}
	if (x.i < x.len && x.p[x.i] >= '0' && x.p[x.i] <= '9') {
		if (ar_run(&x, ar_keyc, word, sizeof(word)) < 0 || ar_cfws(&x) < 0)
			goto fail;
		out->version = (unsigned)strtoul(word, NULL, 10);
	}
	if (x.i >= x.len || x.p[x.i] != ';') {
		x.err = "';' expected after the authserv-id";
		goto fail;
	}
	x.i++;
	if (ar_cfws(&x) < 0)
		goto fail;
	/* no-result = [CFWS] ";" [CFWS] "none" */
	size_t save = x.i;
	if (ar_run(&x, ar_keyc, word, sizeof(word)) == 0 && strcasecmp(word, "none") == 0) {
		if (ar_cfws(&x) < 0)
			goto fail;
		if (x.i == x.len)
			return 0;
	}
	x.i = save;
	for (;;) {
		if (ar_resinfo(&x, out) < 0)
			goto fail;
		if (x.i >= x.len)
			return 0;
		x.i++;   /* ';' */
		if (ar_cfws(&x) < 0)
			goto fail;
	}
fail:
	*error_r = x.err != NULL ? x.err : "malformed";
	return -1;
}

/* ---- stripping ours ---- */

/* The end of the field starting at s: past its last continuation line. */
static size_t ar_field_end(const char *hdr, size_t len, size_t s)
{
	size_t e = s;

	for (;;) {
		const char *lf = memchr(hdr + e, '\n', len - e);
		e = lf != NULL ? (size_t)(lf - hdr) + 1 : len;
		if (e >= len || (hdr[e] != ' ' && hdr[e] != '\t'))
			return e;
	}
}

/* Whether authserv-ids a and b name the same host: in any case, and a
 * final dot (the root of a fully qualified name) or none alike, so that
 * "mx.example.org." cannot pass for ours unremoved. */
static int ar_id_same(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	na -= na > 1 && a[na - 1] == '.';
	nb -= nb > 1 && b[nb - 1] == '.';
	return na == nb && strncasecmp(a, b, na) == 0;
}

/* Whether the field hdr[s..e) is an Authentication-Results with id. */
static int ar_field_ours(const char *f, size_t n, const char *id, struct auth_results *tmp)
{
	static const char name[] = "Authentication-Results";
	size_t nl = sizeof(name) - 1, i = nl;
	const char *err;

	if (n <= nl || strncasecmp(f, name, nl) != 0)
		return 0;
	while (i < n && (f[i] == ' ' || f[i] == '\t'))
		i++;   /* RFC 5322 4.5.3 obsolete: WSP before the colon */
	if (i >= n || f[i] != ':')
		return 0;
	(void)auth_results_parse(f + i + 1, n - i - 1, tmp, &err);
	return tmp->authserv_id[0] != '\0' && ar_id_same(tmp->authserv_id, id);
}

size_t auth_results_strip(char *hdr, size_t len, const char *authserv_id, size_t *removed_r)
{
	struct auth_results *tmp = malloc(sizeof(*tmp));
	size_t in = 0, out = 0;

	*removed_r = 0;
	if (tmp == NULL)
		return len;   /* the caller's check: removed_r 0 means nothing done */
	while (in < len) {
		size_t e = ar_field_end(hdr, len, in);

		if (ar_field_ours(hdr + in, e - in, authserv_id, tmp)) {
			(*removed_r)++;
		} else {
			memmove(hdr + out, hdr + in, e - in);
			out += e - in;
		}
		in = e;
	}
	free(tmp);
	return out;
}
