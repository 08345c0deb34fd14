/* store_dump: a test program (not installed) that shows one folder as
 * the mailbox store (common/mailbox_store.h) sees it, and makes the
 * changes an IMAP session would, for the integration tests that swap a
 * Maildir tree between Postern and Dovecot
 * (tests/integration/test_dovecot_swap.py).  Built by `make unit` /
 * `make test` into BUILD/tests/helpers/.
 *
 *   store_dump FOLDER                      print the folder
 *   store_dump FOLDER set UID [FLAG...]    replace the flags of UID
 *   store_dump FOLDER add UID FLAG...      add flags to UID
 *   store_dump FOLDER remove UID           expunge UID
 *
 * FOLDER is relative to the current directory, as the store takes it
 * (the mail root: DOMAIN/LOCALPART, or DOMAIN/LOCALPART/.Sub for a
 * Maildir++ subfolder).  A FLAG is a system flag by its IMAP name
 * (\Seen \Answered \Flagged \Deleted \Draft, any case) or a keyword,
 * added to dovecot-keywords when new.  After a change the folder is
 * synced again and printed, as one JSON object:
 *   {"uidvalidity", "uidnext", "highestmodseq", "overflow",
 *    "keywords": {"a": NAME, ...},
 *    "messages": [{"uid", "flags": [NAME...], "other", "base", "size",
 *                  "vsize", "modseq"}]}
 * with flags as IMAP names (system flags first, then keywords in letter
 * order; a letter without a name in dovecot-keywords as "?LETTER") and
 * other the upper-case info letters that are no IMAP flag.
 *
 * Users: run as root, it first takes the uid and gid of FOLDER's owner
 * (the store's files must stay the mail user's, as when popd writes
 * them); run as that user, it just works.
 *
 * Exit status 0, or 1 with a message on stderr (an unknown UID included). */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "helper_json.h"
#include "mailbox_store.h"

#define OUT_MAX ((size_t)256 << 20)

static const struct {
	const char *name;
	uint32_t flag;
} system_flags[] = {
	{ "\\Seen", MBOX_SEEN },         { "\\Answered", MBOX_ANSWERED }, { "\\Flagged", MBOX_FLAGGED },
	{ "\\Deleted", MBOX_DELETED },   { "\\Draft", MBOX_DRAFT },
};
#define N_SYSTEM (sizeof(system_flags) / sizeof(system_flags[0]))

__attribute__((noreturn)) static void die(const char *what, const char *detail)
{
	fprintf(stderr, "store_dump: %s: %s\n", what, detail);
	exit(1);
}

/* As root, become the folder's owner (no supplementary groups). */
static void become_owner(const char *folder)
{
	struct stat sb;

	if (geteuid() != 0)
		return;
	if (stat(folder, &sb) < 0)
		die(folder, strerror(errno));
	if (sb.st_uid == 0)
		return;
	if (setgroups(0, NULL) < 0 || setgid(sb.st_gid) < 0 || setuid(sb.st_uid) < 0)
		die("cannot take the folder owner's ids", strerror(errno));
}

static void print_flags(struct buf *o, const struct mbox *mb, uint32_t flags)
{
	int first = 1;

	buf_putc(o, '[');
	for (size_t i = 0; i < N_SYSTEM; i++)
		if ((flags & system_flags[i].flag) != 0) {
			buf_append_str(o, first ? "" : ", ");
			json_str(o, system_flags[i].name, strlen(system_flags[i].name));
			first = 0;
		}
	for (int i = 0; i < MBOX_KEYWORDS_MAX; i++) {
		char unnamed[3] = { '?', (char)('a' + i), '\0' };
		const char *name = mb->keywords[i] != NULL ? mb->keywords[i] : unnamed;
		if ((flags & MBOX_KEYWORD(i)) == 0)
			continue;
		buf_append_str(o, first ? "" : ", ");
		json_str(o, name, strlen(name));
		first = 0;
	}
	buf_putc(o, ']');
}

static void print_folder(struct mbox *mb)
{
	struct buf o;
	int first = 1;

	buf_init(&o, OUT_MAX);
	buf_printf(&o, "{\"uidvalidity\": %u, \"uidnext\": %u, \"highestmodseq\": %llu, \"overflow\": %d, "
		       "\"keywords\": {", mb->uidvalidity, mb->uidnext,
		   (unsigned long long)mb->highestmodseq, mb->overflow);
	for (int i = 0; i < MBOX_KEYWORDS_MAX; i++) {
		if (mb->keywords[i] == NULL)
			continue;
		buf_printf(&o, "%s\"%c\": ", first ? "" : ", ", 'a' + i);
		json_str(&o, mb->keywords[i], strlen(mb->keywords[i]));
		first = 0;
	}
	buf_append_str(&o, "}, \"messages\": [");
	for (size_t i = 0; i < mb->n; i++) {
		const struct mbox_msg *m = &mb->msgs[i];
		char other[32], base[MBOX_BASE_MAX + 1];
		uint32_t letters = mbox_msg_other(mb, i);
		long base_len = mbox_msg_base(mb, i, base, sizeof(base));
		size_t k = 0;
		if (base_len < 0)
			die("base name", strerror(errno));
		for (int c = 0; c < 26; c++)
			if ((letters & (1u << c)) != 0)
				other[k++] = (char)('A' + c);
		buf_printf(&o, "%s{\"uid\": %u, \"flags\": ", i > 0 ? ", " : "", m->uid);
		print_flags(&o, mb, m->flags);
		buf_append_str(&o, ", \"other\": ");
		json_str(&o, other, k);
		buf_append_str(&o, ", \"base\": ");
		json_str(&o, base, (size_t)base_len);
		buf_printf(&o, ", \"size\": %llu, \"vsize\": %llu, \"modseq\": %llu}", (unsigned long long)m->size, m->vsize,
			   (unsigned long long)m->modseq);
	}
	buf_append_str(&o, "]}\n");
	if (o.len >= OUT_MAX || fwrite(o.data, 1, o.len, stdout) != o.len || fflush(stdout) != 0)
		die("stdout", "cannot write");
	buf_free(&o);
}

/* The flag bits of the names argv[0..argc), creating keywords. */
static uint32_t parse_flags(struct mbox *mb, int argc, char **argv)
{
	uint32_t flags = 0, bit;

	for (int i = 0; i < argc; i++) {
		size_t j;
		for (j = 0; j < N_SYSTEM; j++)
			if (strcasecmp(argv[i], system_flags[j].name) == 0)
				break;
		if (j < N_SYSTEM) {
			flags |= system_flags[j].flag;
			continue;
		}
		if (argv[i][0] == '\\')
			die(argv[i], "not a system flag");
		if (mbox_keyword(mb, argv[i], strlen(argv[i]), 1, &bit) < 0)
			die(argv[i], strerror(errno));
		flags |= bit;
	}
	return flags;
}

static size_t msg_index(const struct mbox *mb, const char *arg)
{
	char *end;
	unsigned long uid = strtoul(arg, &end, 10);
	long idx;

	if (*arg == '\0' || *end != '\0' || uid == 0 || uid > UINT32_MAX)
		die(arg, "not a UID");
	if ((idx = mbox_find_uid(mb, (uint32_t)uid)) < 0)
		die(arg, "no message with this UID");
	return (size_t)idx;
}

int main(int argc, char **argv)
{
	struct mbox *mb;
	const char *err;

	if (argc < 2)
		die("usage", "FOLDER [set UID FLAG... | add UID FLAG... | remove UID]");
	become_owner(argv[1]);
	if (mbox_open(argv[1], strlen(argv[1]), 0, &mb, &err) < 0)
		die(argv[1], err);
	if (argc >= 4 && (strcmp(argv[2], "set") == 0 || strcmp(argv[2], "add") == 0)) {
		size_t idx = msg_index(mb, argv[3]);
		uint32_t flags = parse_flags(mb, argc - 4, argv + 4);
		if (strcmp(argv[2], "add") == 0)
			flags |= mb->msgs[idx].flags;
		if (mbox_msg_set_flags(mb, idx, flags) < 0)
			die("set flags", strerror(errno));
	} else if (argc == 4 && strcmp(argv[2], "remove") == 0) {
		if (mbox_msg_remove(mb, msg_index(mb, argv[3])) < 0)
			die("remove", strerror(errno));
	} else if (argc != 2) {
		die("usage", "FOLDER [set UID FLAG... | add UID FLAG... | remove UID]");
	}
	if (argc > 2 && mbox_sync(mb, 0, &err) < 0)
		die(argv[1], err);
	print_folder(mb);
	mbox_close(&mb);
	return 0;
}
