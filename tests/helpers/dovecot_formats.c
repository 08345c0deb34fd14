/* dovecot_formats: a test program (not installed) that exposes
 * common/dovecot_uidlist and common/dovecot_keywords to the integration
 * tests (tests/integration/test_dovecot_formats.py), which compare them
 * with a real Dovecot.  Built by `make unit` / `make test` into
 * BUILD/tests/helpers/.
 *
 *   dovecot_formats read-uidlist FILE [OFFSET AFTER_UID]
 *       parse FILE (or, with OFFSET, the records from byte OFFSET on with
 *       dovecot_uidlist_parse_tail) and print it as one JSON object:
 *       {"uidvalidity", "hdr_nextuid", "nextuid", "guid", "end",
 *        "records": [{"uid", "name", "base", "vsize", "size", "fields"}]}
 *       (absent values are null; bytes outside printable ASCII in strings
 *       are \u00XX, so a reader gets them back with .encode("latin-1"))
 *   dovecot_formats read-keywords FILE
 *       print {"a": NAME, ...} for the named letters
 *   dovecot_formats write-uidlist FILE UIDVALIDITY NEXTUID GUID|-
 *       write FILE (temp file, fsync, rename) from records on stdin, one
 *       "UID VSIZE|- NAME" a line (NAME the rest of the line); GUID is 32
 *       hex digits, "-" for a new random one
 *   dovecot_formats write-keywords FILE NAME...
 *       add the names in order (dovecot_keywords_add) and write FILE
 *
 * Exit status 0, or 1 with a message on stderr (a parse error included). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "buf.h"
#include "dovecot_keywords.h"
#include "dovecot_uidlist.h"
#include "helper_json.h"

#define FILE_MAX ((size_t)256 << 20)

__attribute__((noreturn)) static void die(const char *what, const char *detail)
{
	fprintf(stderr, "dovecot_formats: %s: %s\n", what, detail);
	exit(1);
}

static void read_file(const char *path, struct buf *b)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		die(path, strerror(errno));
	buf_init(b, FILE_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(b, chunk, (size_t)n) < 0)
			die(path, strerror(errno));
	if (n < 0)
		die(path, strerror(errno));
	close(fd);
}

static void write_file(const char *path, const struct buf *b)
{
	if (atomic_file_write(AT_FDCWD, path, NULL, b->data, b->len, 0600, ATOMIC_SYNC) < 0)
		die(path, strerror(errno));
}

static void json_opt_u64(struct buf *o, const char *key, int has, unsigned long long v)
{
	if (has)
		buf_printf(o, ", \"%s\": %llu", key, v);
	else
		buf_printf(o, ", \"%s\": null", key);
}

static int cmd_read_uidlist(int argc, char **argv)
{
	struct dovecot_uidlist ul;
	struct buf in, o;
	const char *err;
	int r;

	if (argc != 3 && argc != 5)
		die("read-uidlist", "FILE [OFFSET AFTER_UID]");
	read_file(argv[2], &in);
	if (argc == 5) {
		size_t off = strtoul(argv[3], NULL, 10);
		if (off > in.len)
			die(argv[2], "offset past the end");
		r = dovecot_uidlist_parse_tail(in.data != NULL ? in.data + off : "", in.len - off,
					       (uint32_t)strtoul(argv[4], NULL, 10), &ul, &err);
	} else {
		r = dovecot_uidlist_parse(in.data != NULL ? in.data : "", in.len, &ul, &err);
	}
	if (r < 0)
		die(argv[2], err);
	buf_init(&o, FILE_MAX);
	buf_printf(&o, "{\"uidvalidity\": %u, \"hdr_nextuid\": %u, \"nextuid\": %u, \"end\": %zu, \"guid\": ",
		   ul.hdr.uidvalidity, ul.hdr.nextuid, ul.nextuid, ul.end);
	if (ul.hdr.has_guid) {
		buf_putc(&o, '"');
		for (size_t i = 0; i < DOVECOT_GUID_SIZE; i++)
			buf_printf(&o, "%02x", ul.hdr.guid[i]);
		buf_putc(&o, '"');
	} else {
		buf_append_str(&o, "null");
	}
	buf_append_str(&o, ", \"records\": [");
	for (size_t i = 0; i < ul.n; i++) {
		const struct dovecot_uidlist_rec *rec = &ul.recs[i];
		buf_printf(&o, "%s{\"uid\": %u, \"name\": ", i > 0 ? ", " : "", rec->uid);
		json_str(&o, rec->name, rec->name_len);
		buf_append_str(&o, ", \"base\": ");
		json_str(&o, rec->name, rec->base_len);
		json_opt_u64(&o, "vsize", rec->has_vsize, rec->vsize);
		json_opt_u64(&o, "size", rec->has_size, rec->size);
		buf_append_str(&o, ", \"fields\": ");
		json_str(&o, rec->fields != NULL ? rec->fields : "", rec->fields_len);
		buf_putc(&o, '}');
	}
	if (buf_append_str(&o, "]}\n") < 0)
		die("output", strerror(errno));
	fwrite(o.data, 1, o.len, stdout);
	dovecot_uidlist_free(&ul);
	buf_free(&o);
	buf_free(&in);
	return 0;
}

static int cmd_read_keywords(int argc, char **argv)
{
	struct dovecot_keywords kw;
	struct buf in, o;
	const char *err;
	int first = 1;

	if (argc != 3)
		die("read-keywords", "FILE");
	read_file(argv[2], &in);
	if (dovecot_keywords_parse(in.data != NULL ? in.data : "", in.len, &kw, &err) < 0)
		die(argv[2], err);
	buf_init(&o, 65536);
	buf_putc(&o, '{');
	for (char c = 'a'; c <= 'z'; c++) {
		size_t len;
		const char *name = dovecot_keywords_name(&kw, c, &len);
		if (name == NULL)
			continue;
		buf_printf(&o, "%s\"%c\": ", first ? "" : ", ", c);
		json_str(&o, name, len);
		first = 0;
	}
	if (buf_append_str(&o, "}\n") < 0)
		die("output", strerror(errno));
	fwrite(o.data, 1, o.len, stdout);
	buf_free(&o);
	buf_free(&in);
	return 0;
}

/* The header of write-uidlist; the GUID goes through the parser. */
static void header_from_args(char **argv, struct dovecot_uidlist_header *h)
{
	struct dovecot_uidlist ul;
	struct buf line;
	const char *err;

	memset(h, 0, sizeof(*h));
	buf_init(&line, 4096);
	if (buf_printf(&line, "3 V%s N%s%s%s\n", argv[3], argv[4], strcmp(argv[5], "-") == 0 ? "" : " G",
		       strcmp(argv[5], "-") == 0 ? "" : argv[5]) < 0 ||
	    dovecot_uidlist_parse(line.data, line.len, &ul, &err) < 0)
		die("write-uidlist header", "bad UIDVALIDITY, NEXTUID or GUID");
	*h = ul.hdr;
	h->fields = NULL;
	h->fields_len = 0;
	if (!h->has_guid) {
		if (dovecot_uidlist_guid_new(h->guid) < 0)
			die("guid", strerror(errno));
		h->has_guid = true;
	}
	buf_free(&line);
}

static int cmd_write_uidlist(int argc, char **argv)
{
	struct dovecot_uidlist_header h;
	struct buf out;
	char line[8192];

	if (argc != 6)
		die("write-uidlist", "FILE UIDVALIDITY NEXTUID GUID|-");
	header_from_args(argv, &h);
	buf_init(&out, FILE_MAX);
	if (dovecot_uidlist_write_header(&out, &h) < 0)
		die("write header", strerror(errno));
	while (fgets(line, sizeof(line), stdin) != NULL) {
		struct dovecot_uidlist_rec r = { 0 };
		char *vs, *name, *colon, *nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		vs = strchr(line, ' ');
		name = vs != NULL ? strchr(vs + 1, ' ') : NULL;
		if (name == NULL)
			die("record", "want UID VSIZE|- NAME");
		*vs++ = '\0';
		*name++ = '\0';
		r.uid = (uint32_t)strtoul(line, NULL, 10);
		if (strcmp(vs, "-") != 0) {
			r.vsize = strtoull(vs, NULL, 10);
			r.has_vsize = true;
		}
		r.name = name;
		r.name_len = strlen(name);
		colon = strchr(name, ':');
		r.base_len = colon != NULL ? (size_t)(colon - name) : r.name_len;
		if (dovecot_uidlist_write_record(&out, &r) < 0)
			die("write record", strerror(errno));
	}
	write_file(argv[2], &out);
	buf_free(&out);
	return 0;
}

static int cmd_write_keywords(int argc, char **argv)
{
	struct dovecot_keywords kw;
	struct buf out;
	const char *err;
	char letter;

	if (argc < 3)
		die("write-keywords", "FILE NAME...");
	dovecot_keywords_init(&kw);
	for (int i = 3; i < argc; i++)
		if (dovecot_keywords_add(&kw, argv[i], strlen(argv[i]), &letter, &err) < 0)
			die(argv[i], err);
	buf_init(&out, DOVECOT_KEYWORDS_FILE_MAX);
	if (dovecot_keywords_write(&kw, &out) < 0)
		die("write keywords", strerror(errno));
	write_file(argv[2], &out);
	buf_free(&out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "read-uidlist") == 0)
		return cmd_read_uidlist(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "read-keywords") == 0)
		return cmd_read_keywords(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "write-uidlist") == 0)
		return cmd_write_uidlist(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "write-keywords") == 0)
		return cmd_write_keywords(argc, argv);
	die("usage", "read-uidlist|read-keywords|write-uidlist|write-keywords ...");
}
