/* postern_confmaster: the master.conf half of `postern conf`
 * (postern_confcmd.c), as postconf -M and -F show and edit master.cf.
 *
 * Offers: postern_confmaster shows the entries (all, NAME or NAME/TYPE:
 * an entry is named by its first two columns, e.g. smtp/inet) or one
 * column (-F NAME/TYPE/FIELD), and edits: -M NAME/TYPE=LINE replaces the
 * entry or adds it, -M -X NAME/TYPE removes it, -F NAME/TYPE/FIELD=VALUE
 * sets one column (name and type rename the entry).  Edits go through
 * common/conf_edit.c, so every other line is kept byte for byte.
 *
 * Trusts: the operator, but not the file or the arguments: every entry
 * of the new file must pass common/master_line.c, the master's own rules
 * (and an inet listen must be an address the master can bind), and the
 * names must stay unique, or nothing is written.  Whether the users
 * exist and the ports are free is for `postern check`.
 *
 * Fails: "postern: ..." and exit 1 (nothing written); usage exits 2. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf_edit.h"
#include "master_line.h"
#include "postern.h"

#define POSTERN_MASTER_FILE_MAX (1024 * 1024)   /* 64 services need far less */

/* "NAME", "NAME/TYPE" or, with field_r, "NAME/TYPE/FIELD" split into
 * the static buffers; -1 (printed) when malformed. */
static int postern_confmaster_selector(const char *sel, size_t len, const char **name_r,
				    const char **type_r, const char **field_r)
{
	static char copy[3 * (MASTER_LINE_NAME_MAX + 1)];
	char *slash, *slash2 = NULL;

	if (len == 0 || len >= sizeof(copy)) {
		postern_err("bad service %.*s: expected NAME/TYPE", (int)len, sel);
		return -1;
	}
	memcpy(copy, sel, len);
	copy[len] = '\0';
	*name_r = copy;
	*type_r = NULL;
	slash = strchr(copy, '/');
	if (slash != NULL) {
		*slash = '\0';
		*type_r = slash + 1;
		slash2 = strchr(slash + 1, '/');
		if (slash2 != NULL)
			*slash2 = '\0';
	}
	if (field_r != NULL) {
		if (slash2 == NULL || slash2[1] == '\0') {
			postern_err("bad field %s: expected NAME/TYPE/FIELD", copy);
			return -1;
		}
		*field_r = slash2 + 1;
	} else if (slash2 != NULL) {
		postern_err("bad service %.*s: expected NAME/TYPE", (int)len, sel);
		return -1;
	}
	if (copy[0] == '\0' || (*type_r != NULL && (*type_r)[0] == '\0')) {
		postern_err("bad service %.*s: expected NAME/TYPE", (int)len, sel);
		return -1;
	}
	return 0;
}

/* The master's rules on one entry line, and that it is name/type. */
static int postern_confmaster_line(const char *line, const char *name, const char *type)
{
	char copy[MASTER_LINE_MAX + 1];
	char *f[MASTER_LINE_FIELDS + 1];
	size_t nf;
	const char *why;

	if (strlen(line) > MASTER_LINE_MAX || strchr(line, '\n') != NULL) {
		postern_err("bad entry for %s/%s: %s", name, type, "one line of at most 1024 bytes");
		return -1;
	}
	memcpy(copy, line, strlen(line) + 1);
	nf = master_line_split(copy, f, MASTER_LINE_FIELDS + 1);
	why = master_line_is_comment(f, nf) ? "an entry, not a comment" : master_line_check(f, nf);
	if (why == NULL && strcmp(f[1], "inet") == 0 && !master_line_inet_ok(f[2]))
		why = "inet listen must be ADDRESS:PORT or [IPV6]:PORT";
	if (why == NULL && (strcmp(f[0], name) != 0 || strcmp(f[1], type) != 0))
		why = "its name and type must be the ones it is set for";
	if (why != NULL) {
		postern_err("bad entry for %s/%s: %s", name, type, why);
		return -1;
	}
	return 0;
}

/* Every entry of the new text by the master's rules, names unique. */
static int postern_confmaster_text(const char *path, const struct buf *text)
{
	char line[MASTER_LINE_MAX + 1], names[64][MASTER_LINE_NAME_MAX + 1];
	size_t pos = 0, nnames = 0;
	unsigned lineno = 0;

	while (pos < text->len) {
		const char *p = text->data + pos, *nl = memchr(p, '\n', text->len - pos);
		size_t n = nl != NULL ? (size_t)(nl - p) : text->len - pos;
		char *f[MASTER_LINE_FIELDS + 1];
		const char *why = NULL;
		size_t nf;

		pos += n + 1;
		lineno++;
		if (n > MASTER_LINE_MAX || memchr(p, '\0', n) != NULL) {
			postern_err("%s:%u: line too long (not written)", path, lineno);
			return -1;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		nf = master_line_split(line, f, MASTER_LINE_FIELDS + 1);
		if (master_line_is_comment(f, nf))
			continue;
		why = master_line_check(f, nf);
		for (size_t i = 0; why == NULL && i < nnames; i++)
			if (strcmp(names[i], f[0]) == 0)
				why = "duplicate service name";
		if (why == NULL && nnames == sizeof(names) / sizeof(names[0]))
			why = "too many services";
		if (why != NULL) {
			postern_err("%s:%u: %s (not written)", path, lineno, why);
			return -1;
		}
		memcpy(names[nnames++], f[0], strlen(f[0]) + 1);
	}
	if (nnames == 0) {
		postern_err("%s: no services (not written)", path);
		return -1;
	}
	return 0;
}

static const char *const postern_confmaster_fields[] = {
	"name", "type", "listen", "user", "root", "maxproc", "command",
};

/* The entry line with field fi set to value (command: the command and
 * its arguments), aligned as postern init writes them. */
static int postern_confmaster_set_field(const char *line, size_t fi, const char *value, struct buf *out)
{
	char copy[MASTER_LINE_MAX + 1];
	char *f[MASTER_LINE_FIELDS + 1];
	size_t nf;

	if (strlen(line) > MASTER_LINE_MAX)
		return -1;
	memcpy(copy, line, strlen(line) + 1);
	nf = master_line_split(copy, f, MASTER_LINE_FIELDS + 1);
	if (nf < 7 || nf > MASTER_LINE_FIELDS)
		return -1;
	if (fi < 6)
		f[fi] = (char *)value;
	if (buf_printf(out, "%-10s %-5s %-17s %-14s %-9s %-8s", f[0], f[1], f[2], f[3], f[4], f[5]) < 0)
		return -1;
	if (fi == 6)
		return buf_printf(out, " %s", value);
	for (size_t i = 6; i < nf; i++)
		if (buf_printf(out, " %s", f[i]) < 0)
			return -1;
	return 0;
}

/* The first entry name[/type] of text, as a C string in line_r; 0 or -1. */
static int postern_confmaster_find(const struct buf *text, const char *name, const char *type,
				char *line_r, size_t linelen)
{
	size_t pos = 0;

	while (pos < text->len) {
		const char *p = text->data + pos, *nl = memchr(p, '\n', text->len - pos);
		size_t n = nl != NULL ? (size_t)(nl - p) : text->len - pos;

		pos += n + 1;
		if (conf_edit_master_is(p, n, name, type) && n < linelen) {
			memcpy(line_r, p, n);
			line_r[n] = '\0';
			return 0;
		}
	}
	return -1;
}

/* Show the entries: all (sel NULL), NAME or NAME/TYPE; -F: one field. */
static int postern_confmaster_show(const struct postern_confcmd *c, const struct buf *text,
				       const char *name, const char *type, const char *field, struct buf *out)
{
	size_t pos = 0;
	int found = 0;

	while (pos < text->len) {
		const char *p = text->data + pos, *nl = memchr(p, '\n', text->len - pos);
		size_t n = nl != NULL ? (size_t)(nl - p) : text->len - pos;
		char line[MASTER_LINE_MAX + 1], *f[MASTER_LINE_FIELDS + 1];
		size_t nf, fi;

		pos += n + 1;
		if (n > MASTER_LINE_MAX)
			continue;
		memcpy(line, p, n);
		line[n] = '\0';
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (name != NULL ? !conf_edit_master_is(p, n, name, type) :
		    line[strspn(line, " \t")] == '\0' || line[strspn(line, " \t")] == '#')
			continue;
		found++;
		if (field == NULL) {
			if (buf_printf(out, "%s\n", line) < 0)
				return -1;
			continue;
		}
		nf = master_line_split(line, f, MASTER_LINE_FIELDS + 1);
		for (fi = 0; fi < 7 && strcmp(postern_confmaster_fields[fi], field) != 0; fi++)
			;
		if (fi == 7 || nf < 7 || nf > MASTER_LINE_FIELDS) {
			postern_err(fi == 7 ? "unknown field %s (name type listen user root maxproc command)" :
				    "%s: a broken entry", field);
			return -2;
		}
		if (!c->values_only && buf_printf(out, "%s/%s/%s = ", f[0], f[1], field) < 0)
			return -1;
		for (size_t i = fi; i < (fi == 6 ? nf : fi + 1); i++)
			if (buf_printf(out, "%s%s", i > fi ? " " : "", f[i]) < 0)
				return -1;
		if (buf_putc(out, '\n') < 0)
			return -1;
	}
	if (name != NULL && found == 0) {
		postern_err("no service %s%s%s in %s", name, type != NULL ? "/" : "", type != NULL ? type : "",
			    c->path);
		return -2;
	}
	return 0;
}

/* One -M or -F argument that edits: apply it to text. 0 or -1 (printed). */
static int postern_confmaster_edit_one(const struct postern_confcmd *c, struct buf *text, const char *arg)
{
	const char *eq = strchr(arg, '='), *name, *type, *field = NULL, *line;
	size_t fi = 0;
	struct buf out, built;
	char old[MASTER_LINE_MAX + 1];
	int r;

	if (postern_confmaster_selector(arg, eq != NULL ? (size_t)(eq - arg) : strlen(arg), &name, &type,
				     c->field ? &field : NULL) < 0)
		return -1;
	if (type == NULL) {
		postern_err("bad service %s: expected NAME/TYPE", arg);
		return -1;
	}
	line = eq != NULL ? eq + 1 : NULL;
	buf_init(&built, MASTER_LINE_MAX + 1);
	if (c->field) {
		for (fi = 0; fi < 7 && strcmp(postern_confmaster_fields[fi], field) != 0; fi++)
			;
		if (fi == 7) {
			postern_err("unknown field %s (name type listen user root maxproc command)", field);
			return -1;
		}
		if (postern_confmaster_find(text, name, type, old, sizeof(old)) < 0) {
			postern_err("no service %s/%s in %s", name, type, c->path);
			return -1;
		}
		if (postern_confmaster_set_field(old, fi, line, &built) < 0) {
			postern_err("%s/%s: the entry would be longer than 1024 bytes or is broken", name, type);
			buf_free(&built);
			return -1;
		}
		line = buf_cstr(&built);
		/* A new name or type renames the entry. */
		if (fi <= 1)
			type = fi == 1 ? eq + 1 : type;
		if (fi == 0)
			name = eq + 1;
	}
	r = line != NULL ? postern_confmaster_line(line, name, type) : 0;
	if (r == 0 && line == NULL && postern_confmaster_find(text, name, type, old, sizeof(old)) < 0) {
		postern_err("no service %s/%s in %s", name, type, c->path);
		r = -1;
	}
	if (r == 0 && c->field && fi <= 1) {
		/* Renamed: the old entry goes, the new one replaces it. */
		const char *oname = strtok(old, " \t"), *otype = strtok(NULL, " \t");
		buf_init(&out, POSTERN_MASTER_FILE_MAX);
		r = conf_edit_master(text->data, text->len, oname, otype, line, &out) < 0 ? -1 : 0;
	} else if (r == 0) {
		buf_init(&out, POSTERN_MASTER_FILE_MAX);
		r = conf_edit_master(text->data != NULL ? text->data : "", text->len, name, type, line, &out) < 0 ? -1 : 0;
		if (r < 0)
			postern_err("%s would be larger than 1 MiB", c->path);
	}
	buf_free(&built);
	if (r < 0)
		return -1;
	buf_free(text);
	*text = out;
	return 0;
}

int postern_confmaster(const struct postern_confcmd *c, char **args, int n)
{
	struct buf text, out;
	int lock, r = 0, edits = 0;

	for (int i = 0; i < n; i++) {
		if (c->remove && strchr(args[i], '=') != NULL)
			return postern_usage();   /* -X takes NAME/TYPE alone */
		edits += strchr(args[i], '=') != NULL || c->remove;
	}
	if (edits != 0 && edits != n)
		return postern_usage();
	if (c->remove && n == 0)
		return postern_usage();
	if (edits == 0 && c->field && n == 0)
		return postern_usage();
	lock = edits > 0 ? postern_lock_etc(c->tree) : 0;
	if (lock < 0 || postern_confcmd_read(c->path, &text, POSTERN_MASTER_FILE_MAX) < 0)
		return POSTERN_EXIT_FAIL;
	if (edits == 0) {
		buf_init(&out, POSTERN_MASTER_FILE_MAX);
		if (n == 0)
			r = postern_confmaster_show(c, &text, NULL, NULL, NULL, &out);
		for (int i = 0; i < n && r == 0; i++) {
			const char *name, *type, *field = NULL;

			r = postern_confmaster_selector(args[i], strlen(args[i]), &name, &type,
						     c->field ? &field : NULL) < 0 ? -2 :
				postern_confmaster_show(c, &text, name, type, field, &out);
		}
		buf_free(&text);
		if (r == -2) {
			buf_free(&out);
			return POSTERN_EXIT_FAIL;
		}
		return postern_print(&out, r, "master.conf");
	}
	for (int i = 0; i < n && r == 0; i++)
		r = postern_confmaster_edit_one(c, &text, args[i]);
	if (r == 0)
		r = postern_confmaster_text(c->path, &text);
	if (r == 0)
		r = postern_confcmd_write(c->path, &text);
	buf_free(&text);
	close(lock);
	return r < 0 ? POSTERN_EXIT_FAIL : POSTERN_EXIT_OK;
}

