/* alias_file: read etc/aliases, the file behind aliases.cdb.
 *
 * Offers: alias_file_parse(), which reads an aliases file line by line:
 *   - a line whose first non-blank byte is `#` is a comment; comments
 *     and blank lines are skipped and do not end an entry;
 *   - a line that starts with a space or a tab continues the entry above
 *     it (aliases(5)); with no entry above it is an error;
 *   - any other line starts an entry: KEY, then `:` (aliases(5); white
 *     space around it optional) or white space (Postern's older form),
 *     then targets separated by commas, on this line and its
 *     continuation lines (a comma must end the line above or start the
 *     continuation line: `alice` + `  bob` lacks one and is an error);
 *   - KEY is local@domain, a bare local part or @domain, each validated
 *     as common/address does and stored in address_normalize's canonical
 *     form (`"bob"@d` is `bob@d`), the form recipients are looked up in;
 *     anything else (`<bob>`, `a b`, `:x`) is an error, never a key;
 *   - a target is what common/alias reads (an address, a local part,
 *     `|command` or `"|command"`), or `:include:PATH`, replaced by the
 *     targets listed in PATH (one or more per line, commas between them,
 *     `#` comments); an included file may list addresses only, neither
 *     commands nor another :include:.
 * Each entry is handed on in the form alias_parse() reads at delivery
 * ("target, target", includes expanded), and is checked with
 * alias_parse() first, so local reads exactly what was checked here.
 * alias_file_compile() reads a file and its includes (through the
 * include hook) and writes the cdb with common/cdbmap.
 *
 * Why includes are expanded here: local runs chrooted in the mail root
 * and could not open /etc/... at delivery; expanding when the map is
 * compiled also means a list file is checked like the rest.  The price:
 * after editing an included file, run `postern map` again (`postern
 * check` warns when an included file is newer than aliases.cdb).
 *
 * Trusts: nothing.  The file is the operator's, but a bad line must
 * become an error with its line number, never a silent key.  Text is
 * read with (pointer, length); lines are at most ALIAS_FILE_LINE_MAX
 * bytes, a value at most ALIAS_VALUE_MAX bytes and ALIAS_TARGETS_MAX
 * targets, an included file ALIAS_INCLUDE_MAX bytes.  An included file
 * writable by others is refused (anyone could join the list).
 *
 * Fails: -1 with the line and the reason in an alias_file_error (parse)
 * or "src:line: reason" in a static buffer (compile); the first problem
 * stops the parse, and compile then leaves the old cdb in place. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "alias.h"
#include "alias_file.h"
#include "cdbmap.h"
#include "fsutil.h"

#define ALIAS_INCLUDE_PREFIX ":include:"
#define ALIAS_INCLUDE_PREFIX_LEN (sizeof ALIAS_INCLUDE_PREFIX - 1)

struct alias_file_parser {
	const struct alias_file_hooks *h;
	struct alias_file_error *err;
	size_t line;              /* current line of the aliases file */
	const char *inc_path;     /* inside an :include: file: its path, else NULL */
	size_t inc_line;          /* ... and the line there */
	struct buf key;           /* the open entry's key */
	struct buf value;         /* ... its value so far */
	size_t entry_line;        /* ... its first line; 0: no entry open */
	size_t ntargets;
	int comma_open;           /* the last piece ended with a comma, or no target yet */
};

static int alias_file_fail(struct alias_file_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int alias_file_fail(struct alias_file_parser *p, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	p->err->line = p->line;
	if (p->inc_path != NULL)   /* the path is at most ALIAS_INCLUDE_PATH_MAX: it fits */
		snprintf(p->err->msg, sizeof p->err->msg, ":include:%s:%zu: %s", p->inc_path,
			 p->inc_line, reason);
	else
		snprintf(p->err->msg, sizeof p->err->msg, "%s", reason);
	return -1;
}

static int alias_file_space(char c)
{
	return c == ' ' || c == '\t';
}

static void alias_file_trim(const char **s, size_t *n)
{
	while (*n > 0 && alias_file_space((*s)[0]))
		(*s)++, (*n)--;
	while (*n > 0 && alias_file_space((*s)[*n - 1]))
		(*n)--;
}

/* ---- keys ---- */

/* Length of the key at the start of s: up to a ':' or white space
 * outside double quotes and [address literals]; -1 for an open quote. */
static long alias_file_key_span(const char *s, size_t n)
{
	int quoted = 0, bracket = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (quoted && s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] == '"' && !bracket)
			quoted = !quoted;
		else if (!quoted && s[i] == '[')
			bracket = 1;
		else if (!quoted && s[i] == ']')
			bracket = 0;
		else if (!quoted && !bracket && (s[i] == ':' || alias_file_space(s[i])))
			break;
	}
	return quoted ? -1 : (long)(i > n ? n : i);
}

/* local@domain, a bare local part, or @domain; NULL, or why not. */
static const char *alias_file_key_check(const char *k, size_t n)
{
	char tmp[ADDRESS_PATH_MAX + 32];
	const char *why = NULL;

	if (n > ADDRESS_PATH_MAX)
		return "key longer than an address may be";
	if (k[0] == '@') {
		if (n == 1)
			return "key @ names no domain";
		tmp[0] = 'x';
		memcpy(tmp + 1, k, n);
		if (address_validate(tmp, n + 1, 1, &why) < 0)
			return "key @DOMAIN has a bad domain";
		return NULL;
	}
	if (address_at(k, n) >= 0)
		return address_validate(k, n, 1, &why) < 0 ? "key is not a valid address" : NULL;
	memcpy(tmp, k, n);
	memcpy(tmp + n, "@localhost", sizeof "@localhost");
	if (address_validate(tmp, n + sizeof "@localhost" - 1, 1, &why) < 0)
		return "key is not an address, a local part or @domain";
	return NULL;
}

/* The key in the canonical form lookups use (common/address
 * address_normalize: "bob"@d is bob@d), so that a quoted key is found. */
static int alias_file_key_canonical(const char *k, size_t n, struct buf *out)
{
	char tmp[ADDRESS_PATH_MAX + 32];
	size_t suffix = sizeof "@localhost" - 1;

	if (k[0] == '@')
		return buf_set(out, k, n);
	if (address_at(k, n) >= 0)
		return address_normalize(k, n, out);
	memcpy(tmp, k, n);   /* a bare local part: n <= ADDRESS_PATH_MAX */
	memcpy(tmp + n, "@localhost", suffix);
	if (address_normalize(tmp, n + suffix, out) < 0 || out->len < suffix)
		return -1;
	out->len -= suffix;
	out->data[out->len] = '\0';
	return 0;
}

/* ---- targets ---- */

static int alias_file_piece(struct alias_file_parser *p, const char *s, size_t n, int continuation);

/* Append one checked target, as written, to the open entry's value. */
static int alias_file_append(struct alias_file_parser *p, const char *t, size_t n)
{
	if (p->ntargets >= ALIAS_TARGETS_MAX)
		return alias_file_fail(p, "more than %d targets in one entry", ALIAS_TARGETS_MAX);
	if ((p->ntargets > 0 && buf_append(&p->value, ", ", 2) < 0) || buf_append(&p->value, t, n) < 0)
		return alias_file_fail(p, errno == EMSGSIZE ? "entry longer than %d bytes" :
				       "out of memory (entry of %d bytes at most)", ALIAS_VALUE_MAX);
	p->ntargets++;
	return 0;
}

/* The line at *pos of text (len bytes), without its LF and a CR before
 * it, in *s_r / *n_r; *pos moves past it.  -1 (reported at the line
 * being counted) for a line over the limit or one holding a NUL. */
static int alias_file_next_line(struct alias_file_parser *p, const char *text, size_t len, size_t *pos,
				const char **s_r, size_t *n_r)
{
	const char *s = text + *pos, *nl = memchr(s, '\n', len - *pos);
	size_t n = nl != NULL ? (size_t)(nl - s) : len - *pos;

	*pos += n + (nl != NULL);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	*s_r = s;
	*n_r = n;
	if (n > ALIAS_FILE_LINE_MAX)
		return alias_file_fail(p, "line longer than %d bytes", ALIAS_FILE_LINE_MAX);
	if (memchr(s, '\0', n) != NULL)
		return alias_file_fail(p, "NUL byte in line");
	return 0;
}

/* The lines of an included file, each a list of targets. */
static int alias_file_include_text(struct alias_file_parser *p, const struct buf *text)
{
	size_t pos = 0;

	p->inc_line = 0;
	while (pos < text->len) {
		const char *s;
		size_t n;

		p->inc_line++;
		if (alias_file_next_line(p, text->data, text->len, &pos, &s, &n) < 0)
			return -1;
		alias_file_trim(&s, &n);
		if (n == 0 || s[0] == '#')
			continue;
		p->comma_open = 1;   /* a line break separates targets here */
		if (alias_file_piece(p, s, n, 0) < 0)
			return -1;
	}
	return 0;
}

/* :include:PATH (prefix already seen): the targets of that file. */
static int alias_file_include(struct alias_file_parser *p, const char *s, size_t n)
{
	char path[ALIAS_INCLUDE_PATH_MAX + 1];
	const char *why = "";
	size_t before = p->ntargets;
	struct buf text;
	int r;

	if (p->inc_path != NULL)
		return alias_file_fail(p, ":include: inside an included file is not supported");
	s += ALIAS_INCLUDE_PREFIX_LEN;
	n -= ALIAS_INCLUDE_PREFIX_LEN;
	alias_file_trim(&s, &n);
	if (n == 0)
		return alias_file_fail(p, ":include: names no file");
	if (n > ALIAS_INCLUDE_PATH_MAX)
		return alias_file_fail(p, ":include: path longer than %d bytes", ALIAS_INCLUDE_PATH_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"')
			return alias_file_fail(p, ":include: path with a control byte or a quote");
	if (p->h->include == NULL)
		return alias_file_fail(p, ":include: is not allowed here");
	memcpy(path, s, n);
	path[n] = '\0';
	buf_init(&text, ALIAS_INCLUDE_MAX);
	if (p->h->include(p->h->ctx, path, &text, &why) < 0) {
		buf_free(&text);
		return alias_file_fail(p, ":include:%s: %s", path, why);
	}
	p->inc_path = path;
	r = alias_file_include_text(p, &text);
	p->inc_path = NULL;
	buf_free(&text);
	if (r == 0 && p->ntargets == before)
		return alias_file_fail(p, ":include:%s lists no targets", path);
	return r;
}

/* One target as written (trimmed, non-empty). */
static int alias_file_target(struct alias_file_parser *p, const char *t, size_t n)
{
	struct alias_target parsed = { 0 };
	const char *why = "";
	enum alias_kind kind;

	if (n >= ALIAS_INCLUDE_PREFIX_LEN && strncasecmp(t, ALIAS_INCLUDE_PREFIX, ALIAS_INCLUDE_PREFIX_LEN) == 0)
		return alias_file_include(p, t, n);
	if (alias_target_parse(t, n, &parsed, &why) < 0)
		return alias_file_fail(p, "bad target: %s", why);
	kind = parsed.kind;
	free(parsed.text);
	if (kind == ALIAS_COMMAND && p->inc_path != NULL)
		return alias_file_fail(p, "a command in an included file is not allowed");
	return alias_file_append(p, t, n);
}

/* The targets of one line (the text after the key, or a continuation
 * line), trimmed: comma-separated; a comma may end the line (more
 * follow), and on a continuation line one may start it. */
static int alias_file_piece(struct alias_file_parser *p, const char *s, size_t n, int continuation)
{
	size_t pos = 0;

	alias_file_trim(&s, &n);
	if (n == 0)
		return 0;
	if (continuation && s[0] == ',') {
		p->comma_open = 1;
		s++, n--;
		alias_file_trim(&s, &n);
		if (n == 0)
			return 0;
	}
	if (!p->comma_open)
		return alias_file_fail(p, "missing comma between targets (the line above ends without one)");
	for (;;) {
		long span = alias_target_span(s + pos, n - pos);
		const char *t = s + pos;
		size_t tn;

		if (span < 0)
			return alias_file_fail(p, "unterminated quote (a quoted target must end on its line)");
		tn = (size_t)span;
		pos += tn;
		alias_file_trim(&t, &tn);
		if (tn == 0 && pos >= n) {   /* a comma ended the line */
			p->comma_open = 1;
			return 0;
		}
		if (tn == 0)
			return alias_file_fail(p, "empty target (two commas in a row?)");
		if (alias_file_target(p, t, tn) < 0)
			return -1;
		if (pos >= n) {
			p->comma_open = 0;
			return 0;
		}
		pos++;   /* the comma */
	}
}

/* ---- entries ---- */

/* Check and hand on the open entry, if any. */
static int alias_file_finish(struct alias_file_parser *p)
{
	struct alias_list list = { 0 };
	const char *why = "";
	size_t line = p->line;

	if (p->entry_line == 0)
		return 0;
	p->line = p->entry_line;   /* problems of the entry are at its key */
	if (p->ntargets == 0)
		return alias_file_fail(p, "%.300s has no targets (a continuation line must start with a space or tab)",
				       buf_cstr(&p->key));
	if (alias_parse(p->value.data, p->value.len, &list, &why) < 0)
		return alias_file_fail(p, "entry %.300s: %s", buf_cstr(&p->key), why);
	alias_list_free(&list);
	if (p->h->entry(p->h->ctx, p->key.data, p->key.len, p->value.data, p->value.len, &why) < 0)
		return alias_file_fail(p, "%.300s: %s", buf_cstr(&p->key), why);
	p->line = line;
	p->entry_line = 0;
	return 0;
}

/* A line that starts an entry: KEY, ':' or white space, targets. */
static int alias_file_entry(struct alias_file_parser *p, const char *s, size_t n)
{
	long span = alias_file_key_span(s, n);
	const char *why;
	size_t k, rest;

	if (span < 0)
		return alias_file_fail(p, "unterminated quote in the key");
	k = (size_t)span;
	if (k == 0)
		return alias_file_fail(p, "the line starts with ':' (no key before it)");
	if ((why = alias_file_key_check(s, k)) != NULL)
		return alias_file_fail(p, "%s: %.*s", why, (int)(k > 300 ? 300 : k), s);
	rest = k;
	if (rest < n && s[rest] == ':') {
		rest++;   /* aliases(5): KEY: targets */
	} else {
		while (rest < n && alias_file_space(s[rest]))
			rest++;
		/* KEY : targets, but not KEY :include:PATH (older form). */
		if (rest < n && s[rest] == ':' &&
		    (n - rest < ALIAS_INCLUDE_PREFIX_LEN ||
		     strncasecmp(s + rest, ALIAS_INCLUDE_PREFIX, ALIAS_INCLUDE_PREFIX_LEN) != 0))
			rest++;
	}
	if (alias_file_key_canonical(s, k, &p->key) < 0)
		return alias_file_fail(p, "cannot put the key in canonical form: %.*s", (int)(k > 300 ? 300 : k), s);
	p->entry_line = p->line;
	p->ntargets = 0;
	p->comma_open = 1;
	buf_reset(&p->value);
	return alias_file_piece(p, s + rest, n - rest, 0);
}

static int alias_file_line(struct alias_file_parser *p, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && alias_file_space(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	if (i > 0) {
		if (p->entry_line == 0)
			return alias_file_fail(p, "a line starting with white space continues an entry, "
					       "but there is none above it");
		return alias_file_piece(p, s, n, 1);
	}
	if (alias_file_finish(p) < 0)
		return -1;
	return alias_file_entry(p, s, n);
}

int alias_file_parse(const char *text, size_t len, const struct alias_file_hooks *hooks,
		     struct alias_file_error *err_r)
{
	struct alias_file_parser p = { .h = hooks, .err = err_r };
	size_t pos = 0;
	int r = 0;

	err_r->line = 0;
	err_r->msg[0] = '\0';
	buf_init(&p.key, ADDRESS_PATH_MAX);
	buf_init(&p.value, ALIAS_VALUE_MAX);
	while (pos < len && r == 0) {
		const char *s;
		size_t n;

		p.line++;
		r = alias_file_next_line(&p, text, len, &pos, &s, &n);
		if (r == 0)
			r = alias_file_line(&p, s, n);
	}
	if (r == 0)
		r = alias_file_finish(&p);
	buf_free(&p.key);
	buf_free(&p.value);
	return r;
}

/* ---- compiling ---- */

struct alias_file_compiler {
	struct cdbmap_writer *w;
	char dir[4096];           /* directory of the aliases file, for relative includes */
	time_t newest;
};

static int alias_file_add(void *ctx, const char *key, size_t key_len, const char *value,
			  size_t value_len, const char **error_r)
{
	struct alias_file_compiler *c = ctx;

	return cdbmap_writer_add(c->w, key, key_len, value, value_len, error_r);
}

static int alias_file_read_include(void *ctx, const char *path, struct buf *text_r, const char **error_r)
{
	struct alias_file_compiler *c = ctx;
	char full[sizeof c->dir + ALIAS_INCLUDE_PATH_MAX + 2];
	struct stat st;
	int fd, n;

	n = path[0] == '/' ? snprintf(full, sizeof full, "%s", path)
			   : snprintf(full, sizeof full, "%s/%s", c->dir, path);
	if (n < 0 || (size_t)n >= sizeof full) {
		*error_r = "path too long";
		return -1;
	}
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		*error_r = strerror(errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & S_IWOTH)) {
		*error_r = !S_ISREG(st.st_mode) ? "not a regular file"
			   : "writable by others (anyone could add targets)";
		close(fd);
		return -1;
	}
	if (st.st_mtime > c->newest)
		c->newest = st.st_mtime;
	if (fd_read_all(fd, text_r, ALIAS_INCLUDE_MAX) < 0) {
		*error_r = errno == EFBIG ? "larger than 1 MiB" : strerror(errno);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static char alias_file_errbuf[4096 + sizeof ((struct alias_file_error *)0)->msg + 64];

static int alias_file_compile_fail(const char **error_r, const char *src, size_t line, const char *msg)
{
	if (line > 0)
		snprintf(alias_file_errbuf, sizeof alias_file_errbuf, "%s:%zu: %s", src, line, msg);
	else
		snprintf(alias_file_errbuf, sizeof alias_file_errbuf, "%s: %s", src, msg);
	*error_r = alias_file_errbuf;
	return -1;
}

/* Read src (fd) whole, and note its directory and time in c. */
static int alias_file_load(const char *src, int fd, struct alias_file_compiler *c, struct buf *text,
			   struct stat *st, const char **error_r)
{
	const char *slash = strrchr(src, '/');
	size_t dn = slash == NULL ? 1 : slash == src ? 1 : (size_t)(slash - src);

	if (dn >= sizeof c->dir)
		return alias_file_compile_fail(error_r, src, 0, "path too long");
	memcpy(c->dir, slash == NULL ? "." : src, dn);
	c->dir[dn] = '\0';
	if (fstat(fd, st) < 0 || fd_read_all(fd, text, ALIAS_FILE_MAX) < 0)
		return alias_file_compile_fail(error_r, src, 0, errno == EFBIG ? "larger than 64 MiB" :
					       strerror(errno));
	c->newest = st->st_mtime;
	return 0;
}

int alias_file_compile(const char *src, const char *dst, time_t *newest_r, const char **error_r)
{
	struct alias_file_compiler c = { 0 };
	struct alias_file_hooks hooks = { .entry = alias_file_add, .include = alias_file_read_include, .ctx = &c };
	struct alias_file_error err;
	struct buf text;
	struct stat st;
	int fd = open(src, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return alias_file_compile_fail(error_r, src, 0, strerror(errno));
	buf_init(&text, ALIAS_FILE_MAX);
	r = alias_file_load(src, fd, &c, &text, &st, error_r);
	close(fd);
	if (r == 0)
		r = cdbmap_writer_start(dst, &st, &c.w, error_r);
	if (r == 0 && alias_file_parse(text.data != NULL ? text.data : "", text.len, &hooks, &err) < 0) {
		cdbmap_writer_abort(&c.w);
		r = alias_file_compile_fail(error_r, src, err.line, err.msg);
	}
	buf_free(&text);
	if (r == 0)
		r = cdbmap_writer_commit(&c.w, error_r);
	if (r == 0 && newest_r != NULL)
		*newest_r = c.newest;
	return r;
}
