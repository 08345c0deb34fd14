/* postern_confcmd: `postern conf`, the settings as postconf(1) shows and
 * edits them (docs/operator.md, "Configuration").
 *
 * Offers: with no argument every key of postern.conf and its active
 * value; -n those the file sets to something other than the default;
 * -D the defaults; KEY... those keys; -h values without "KEY = ".
 * KEY=VALUE... sets keys and -X KEY... removes them, editing the file in
 * place (common/conf_edit.c: every other line kept byte for byte).  -M
 * shows master.conf entries (all, NAME or NAME/TYPE), -M NAME/TYPE=LINE
 * replaces or adds one, -M -X NAME/TYPE removes it; -F NAME/TYPE/FIELD
 * shows one column of an entry and -F NAME/TYPE/FIELD=VALUE sets it
 * (those in postern_confmaster.c).
 *
 * Trusts: the operator.  Every edit is checked before anything is
 * written: each value by config.c's own rules, then the whole new file
 * by the parser the daemons use (config_parse), and master.conf lines by
 * common/master_line.c, the master's rules; a file the daemons would
 * refuse is never written.  The new file replaces the old atomically
 * (temp file, fsync, rename) with the old one's owner and mode, under
 * the etc lock.  Running services keep their settings until `postern
 * reload`; nothing is printed on success, as postconf -e prints nothing.
 *
 * Fails: an unknown key, a bad value or a missing entry prints
 * "postern: ..." and exits 1 without writing; bad usage exits 2. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_edit.h"
#include "config.h"
#include "fsutil.h"
#include "postern.h"

#define POSTERN_CONF_FILE_MAX (1024 * 1024)   /* config.c's limit on postern.conf */

/* ---- reading and writing ---- */

int postern_confcmd_read(const char *path, struct buf *text, size_t max)
{
	buf_init(text, max);
	if (file_read_all(path, 0, text, max) < 0) {
		postern_err("cannot read %s: %s", path,
			    errno == EFBIG || errno == EMSGSIZE ? "file too large" : strerror(errno));
		buf_free(text);
		return -1;
	}
	return 0;
}

int postern_confcmd_write(const char *path, const struct buf *text)
{
	struct postern_owner own;
	struct stat st;

	if (stat(path, &st) < 0) {
		postern_err("%s: %s", path, strerror(errno));
		return -1;
	}
	own.uid = st.st_uid;
	own.gid = st.st_gid;
	own.mode = st.st_mode & 07777;
	return postern_write_file(path, text->data != NULL ? text->data : "", text->len, &own);
}

/* ---- postern.conf: showing ---- */

static int postern_confcmd_show(const struct postern_confcmd *c, struct buf *out, const char *key)
{
	const char *def = config_default(key), *set = config_setting(key), *value;

	if (def == NULL) {
		postern_err("unknown key %s", key);
		return -2;
	}
	if (c->non_default && (set == NULL || strcmp(set, def) == 0))
		return 0;
	value = c->defaults ? def : set != NULL ? set : def;
	/* An empty myhostname or program_directory means a computed value:
	 * the active value shows what the services will use. */
	if (!c->defaults && value[0] == '\0' &&
	    (strcmp(key, "myhostname") == 0 || strcmp(key, "program_directory") == 0))
		value = config_str(key);
	if (c->values_only)
		return buf_printf(out, "%s\n", value);
	return buf_printf(out, "%s =%s%s\n", key, value[0] != '\0' ? " " : "", value);
}

struct postern_confcmd_all {
	const struct postern_confcmd *c;
	struct buf *out;
	int failed;
};

static void postern_confcmd_show_one(const char *key, const char *value, const char *doc, void *arg)
{
	struct postern_confcmd_all *a = arg;

	(void)value;
	(void)doc;
	if (!a->failed && postern_confcmd_show(a->c, a->out, key) < 0)
		a->failed = 1;
}

static int postern_confcmd_print(const struct postern_confcmd *c, char **keys, int n)
{
	struct buf out;
	const char *error = "";
	int r = 0;

	if (!c->defaults && config_load(c->path, &error) < 0) {
		postern_err("%s", error);
		return POSTERN_EXIT_FAIL;
	}
	buf_init(&out, 4 * POSTERN_CONF_FILE_MAX);
	if (n == 0) {
		struct postern_confcmd_all a = { c, &out, 0 };

		config_each_default(postern_confcmd_show_one, &a);
		r = a.failed ? -1 : 0;
	}
	for (int i = 0; i < n && r == 0; i++)
		r = postern_confcmd_show(c, &out, keys[i]);
	if (r == -2) {   /* an unknown key, already said */
		buf_free(&out);
		return POSTERN_EXIT_FAIL;
	}
	return postern_print(&out, r, "the settings");
}

/* ---- postern.conf: editing ---- */

/* Apply KEY=VALUE (or, removing, KEY) to text; 0 or -1 (printed). */
static int postern_confcmd_edit_one(const struct postern_confcmd *c, struct buf *text, const char *arg)
{
	char key[128];
	const char *eq = strchr(arg, '='), *value = "", *error = "";
	size_t klen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	struct buf out;
	int r;

	if ((eq != NULL) == c->remove || klen == 0 || klen >= sizeof(key)) {
		postern_err(c->remove ? "expected KEY, not %s" : "expected KEY=VALUE, not %s", arg);
		return -1;
	}
	memcpy(key, arg, klen);
	key[klen] = '\0';
	while (klen > 0 && (key[klen - 1] == ' ' || key[klen - 1] == '\t'))
		key[--klen] = '\0';
	if (eq != NULL) {
		/* The parser trims a value; so does the editor. */
		size_t vlen;

		value = eq + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		vlen = strlen(value);
		while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
			vlen--;
		if (value[vlen] != '\0') {
			static char trimmed[4097];

			if (vlen >= sizeof(trimmed)) {
				postern_err("bad value for %s: value too long", key);
				return -1;
			}
			memcpy(trimmed, value, vlen);
			trimmed[vlen] = '\0';
			value = trimmed;
		}
	}
	if (c->remove ? config_default(key) == NULL && config_check(key, "", &error) < 0 :
	    config_check(key, value, &error) < 0) {
		postern_err("%s", error);
		return -1;
	}
	buf_init(&out, POSTERN_CONF_FILE_MAX);
	r = c->remove ? conf_edit_remove(text->data != NULL ? text->data : "", text->len, key, &out) :
		conf_edit_set(text->data != NULL ? text->data : "", text->len, key, value, &out);
	if (r < 0) {
		postern_err("%s would be larger than 1 MiB", c->path);
		buf_free(&out);
		return -1;
	}
	buf_free(text);
	*text = out;
	return 0;
}

static int postern_confcmd_edit(const struct postern_confcmd *c, char **args, int n)
{
	struct buf text;
	const char *error = "";
	int lock = postern_lock_etc(c->tree), r = 0;

	if (lock < 0 || postern_confcmd_read(c->path, &text, POSTERN_CONF_FILE_MAX) < 0)
		return POSTERN_EXIT_FAIL;
	for (int i = 0; i < n && r == 0; i++)
		r = postern_confcmd_edit_one(c, &text, args[i]);
	/* The whole new file, by the daemons' parser: a file they would
	 * refuse (a duplicate, a bad line elsewhere) is not written. */
	if (r == 0 && config_parse(c->path, buf_cstr(&text), text.len, &error) < 0) {
		postern_err("%s (not written)", error);
		r = -1;
	}
	if (r == 0)
		r = postern_confcmd_write(c->path, &text);
	buf_free(&text);
	close(lock);
	return r < 0 ? POSTERN_EXIT_FAIL : POSTERN_EXIT_OK;
}

/* ---- the command ---- */

int postern_cmd_conf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "defaults", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct postern_confcmd c;
	const char *dir = NULL;
	int ch, edits = 0;

	memset(&c, 0, sizeof(c));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "d:nDhMFX", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'n': c.non_default = 1; break;
		case 'D': c.defaults = 1; break;
		case 'h': c.values_only = 1; break;
		case 'M': c.master = 1; break;
		case 'F': c.field = 1; break;
		case 'X': c.remove = 1; break;
		default: return postern_usage();
		}
	}
	if ((c.master && c.field) || (c.remove && c.field) || ((c.master || c.field) && (c.non_default || c.defaults)))
		return postern_usage();
	if (postern_tree(dir, c.tree, sizeof(c.tree)) < 0 ||
	    postern_path(c.path, sizeof(c.path), "%s/etc/%s", c.tree,
			 c.master || c.field ? "master.conf" : "postern.conf") < 0)
		return POSTERN_EXIT_FAIL;
	argc -= optind;
	argv += optind;
	if (c.master || c.field)
		return postern_confmaster(&c, argv, argc);
	for (int i = 0; i < argc; i++)
		edits += strchr(argv[i], '=') != NULL;
	if (c.remove) {
		if (argc == 0 || edits > 0 || c.non_default || c.defaults || c.values_only)
			return postern_usage();
		return postern_confcmd_edit(&c, argv, argc);
	}
	if (edits > 0) {
		if (edits != argc || c.non_default || c.defaults || c.values_only)
			return postern_usage();
		return postern_confcmd_edit(&c, argv, argc);
	}
	return postern_confcmd_print(&c, argv, argc);
}
