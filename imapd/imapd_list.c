/* imapd_list: LIST and LSUB (RFC 3501 6.3.8-9, RFC 9051 6.3.9) with the
 * selection and return options of LIST-EXTENDED (RFC 5258), SPECIAL-USE
 * (RFC 6154) and LIST-STATUS (RFC 5819).
 *
 * Offers: INBOX, the user's Maildir++ folders and the names in the
 * subscriptions file go to common/imap_list, which decides what is
 * returned (subscribed names that do not exist, levels of hierarchy,
 * CHILDINFO, LSUB's \Noselect parents); this file writes its answers as
 * LIST / LSUB lines (names in UTF-8 under IMAP4rev2) and, for RETURN
 * (STATUS (...)), a STATUS response after each selectable mailbox, made
 * by the STATUS command's own code (imapd_status_send).
 *
 * Trusts: nothing in a pattern (matched in linear time; at most
 * IMAPD_LIST_PATTERNS_MAX of them); a pattern that does not convert to
 * the stored form, or is longer than IMAPD_NAME_MAX * 8 bytes with its
 * reference, is ignored, as RFC 5258 3 asks of a pattern a server does
 * not accept; a subscription that is no valid name is left out.
 *
 * Fails: NO [SERVERBUG] when the folders or the subscriptions cannot be
 * read, NO [LIMIT] for too many patterns; an untagged NO [LIMIT] when
 * more than IMAPD_FOLDERS_MAX folders or subscriptions exist (the rest
 * are left out, logged). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_list.h"
#include "imap_string.h"
#include "imap_utf7.h"
#include "imapd_session.h"
#include "log.h"

#define IMAPD_LIST_PATTERNS_MAX 64

struct imapd_list_out {
	struct imapd_session *ss;
	const char *cmd;              /* "LIST" or "LSUB" */
	unsigned int status_items;    /* RETURN (STATUS (...)); 0: none */
	struct buf name, shown, line;
};

/* One reply line, then its STATUS (RFC 5819: only for a selectable mailbox). */
static void imapd_list_emit(void *ctx, const struct imap_list_reply *r)
{
	static const struct { unsigned int bit; const char *text; } attrs[] = {
		{ IMAP_LIST_NOSELECT, "\\Noselect" }, { IMAP_LIST_NONEXISTENT, "\\NonExistent" },
		{ IMAP_LIST_HASCHILDREN, "\\HasChildren" }, { IMAP_LIST_HASNOCHILDREN, "\\HasNoChildren" },
		{ IMAP_LIST_SUBSCRIBED_A, "\\Subscribed" },
	};
	struct imapd_list_out *o = ctx;
	struct imapd_session *ss = o->ss;
	const char *err, *sep = "";

	buf_reset(&o->shown);
	buf_reset(&o->line);
	if (buf_set(&o->name, r->name, r->len) < 0)
		return;
	const char *shown = buf_cstr(&o->name);
	if (imapd_utf8(ss) && imap_utf7_to_utf8(o->name.data, o->name.len, &o->shown, &err) == 0)
		shown = buf_cstr(&o->shown);
	buf_printf(&o->line, "* %s (", o->cmd);
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (r->attrs & attrs[i].bit) {
			buf_printf(&o->line, "%s%s", sep, attrs[i].text);
			sep = " ";
		}
	if (r->use != NULL)
		buf_printf(&o->line, "%s%s", sep, r->use);
	buf_printf(&o->line, ") \"%c\" ", IMAPD_HIERARCHY_SEP);
	imap_write_astring(&o->line, shown, strlen(shown), imapd_utf8(ss) ? IMAP_STR_UTF8 : 0);
	if (r->attrs & IMAP_LIST_CHILDINFO)
		buf_append_str(&o->line, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	if (buf_append(&o->line, "\r\n", 2) < 0)
		return;
	stream_write(ss->s, o->line.data, o->line.len);
	if (o->status_items == 0 || !r->selectable)
		return;
	char path[IMAPD_FOLDER_PATH_MAX];
	int n = strcmp(buf_cstr(&o->name), "INBOX") == 0
			? snprintf(path, sizeof(path), "%s", ss->root)
			: snprintf(path, sizeof(path), "%s/.%s", ss->root, buf_cstr(&o->name));
	/* Gone since the folders were read: no STATUS, as for any \NonExistent. */
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (imapd_status_send(ss, shown, path, o->status_items) < 0 && errno != ENOENT))
		log_warn("user=%s %s: no STATUS for LIST: %s", buf_cstr(&ss->user), path, strerror(errno));
}

/* The patterns, reference prefixed, in the stored form, compiled. */
static int imapd_list_patterns(const struct imap_list *l,
			       struct imap_list_pattern **pats, size_t *n_r)
{
	struct buf joined, stored;
	const char *err;
	int r = 0;

	*n_r = 0;
	buf_init(&joined, IMAPD_NAME_MAX * 8);
	buf_init(&stored, IMAPD_NAME_MAX * 32);
	for (unsigned int i = 0; i < l->npatterns && r == 0; i++) {
		/* RFC 5258 3: "" only asks for the delimiter in a plain LIST;
		 * elsewhere it matches nothing. */
		if (l->patterns[i][0] == '\0')
			continue;
		buf_reset(&joined);
		buf_reset(&stored);
		/* RFC 9051 6.3.9: the reference is prefixed to the pattern. */
		if (buf_printf(&joined, "%s%s", l->reference != NULL ? l->reference : "", l->patterns[i]) < 0)
			continue;
		/* Patterns come in UTF-8 from the grammar; folders are stored
		 * in modified UTF-7. */
		if (imap_utf8_to_utf7(joined.data, joined.len, &stored, &err) < 0)
			continue;
		r = imap_list_pattern_compile(stored.data, stored.len, IMAPD_HIERARCHY_SEP, &pats[*n_r]);
		if (r == 0)
			(*n_r)++;
	}
	buf_free(&joined);
	buf_free(&stored);
	return r;
}

/* INBOX, the folders and the subscriptions (subs's lines are cut in
 * place) as sorted, merged names; *truncated_r when some were left out. */
static struct imap_list_name *imapd_list_names(const struct imapd_folders *f, struct buf *subs, size_t *n_r,
					       int *truncated_r)
{
	char *p = subs->len > 0 ? subs->data : NULL, *end = p != NULL ? p + subs->len : NULL;
	size_t n = 0, nsubs = 0, lines = 1;

	for (char *q = p; q != NULL && (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
		lines++;
	struct imap_list_name *names = calloc(1 + f->n + (lines < IMAPD_FOLDERS_MAX ? lines : IMAPD_FOLDERS_MAX),
					      sizeof(*names));
	*truncated_r = f->truncated;
	if (names == NULL)
		return NULL;
	names[n++] = (struct imap_list_name){ "INBOX", IMAP_LIST_EXISTS, NULL };
	for (size_t i = 0; i < f->n; i++)
		if (imap_list_name_valid(f->name[i], IMAPD_HIERARCHY_SEP))
			names[n++] = (struct imap_list_name){ f->name[i], IMAP_LIST_EXISTS,
							      imapd_special_use_of(f->name[i]) };
	while (p != NULL && p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl != NULL)
			*nl = '\0';
		const char *name = strcasecmp(p, "INBOX") == 0 ? "INBOX" : p;
		if (imap_list_name_valid(name, IMAPD_HIERARCHY_SEP)) {
			if (nsubs == IMAPD_FOLDERS_MAX) {
				*truncated_r = 1;
				break;
			}
			names[n++] = (struct imap_list_name){ name, IMAP_LIST_SUBSCRIBED, NULL };
			nsubs++;
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	*n_r = imap_list_names_merge(names, n);
	return names;
}

/* Write what the query returns from the names. 0, or -1 with errno. */
static int imapd_list_write(struct imapd_session *ss, const struct imap_command *c, struct imap_list_pattern **pats,
			    size_t npats, const struct imap_list_name *names, size_t n)
{
	const struct imap_list *l = &c->u.list;
	bool lsub = c->id == IMAP_CMD_LSUB;
	struct imap_list_query q = {
		.sep = IMAPD_HIERARCHY_SEP, .lsub = lsub,
		/* RFC 5258 3, RFC 9051 7.3.1: a client of the extended LIST
		 * (every IMAP4rev2 client) knows \NonExistent. */
		.nonexistent = l->extended || ss->rev2,
		.select = lsub ? 0 : l->select, .ret = lsub ? 0 : l->ret,
	};
	struct imapd_list_out o = { ss, lsub ? "LSUB" : "LIST", lsub ? 0 : l->status_items, { 0 }, { 0 }, { 0 } };

	buf_init(&o.name, IMAP_LIST_NAME_MAX + 1);
	buf_init(&o.shown, IMAP_LIST_NAME_MAX * 4);
	buf_init(&o.line, IMAP_LIST_NAME_MAX * 8);
	int r = imap_list_run(&q, pats, npats, names, n, imapd_list_emit, &o);
	buf_free(&o.name);
	buf_free(&o.shown);
	buf_free(&o.line);
	return r;
}

void imapd_cmd_list(struct imapd_session *ss, const struct imap_command *c)
{
	const struct imap_list *l = &c->u.list;
	const char *cmd = c->id == IMAP_CMD_LSUB ? "LSUB" : "LIST";
	struct imap_list_pattern *pats[IMAPD_LIST_PATTERNS_MAX];
	struct imap_list_name *names = NULL;
	struct imapd_folders f = { 0 };
	struct buf subs;
	size_t npats = 0, n = 0;
	int truncated = 0, failed;

	if (c->id == IMAP_CMD_LIST && !l->extended && l->npatterns == 1 && l->patterns[0][0] == '\0') {
		/* RFC 9051 6.3.9: the hierarchy delimiter and root. */
		stream_printf(ss->s, "* LIST (\\Noselect) \"%c\" \"\"\r\n", IMAPD_HIERARCHY_SEP);
		imapd_tagged(ss, c->tag, "OK LIST completed");
		return;
	}
	if (l->npatterns > IMAPD_LIST_PATTERNS_MAX) {
		imapd_tagged(ss, c->tag, "NO [LIMIT] At most %d patterns", IMAPD_LIST_PATTERNS_MAX);
		return;
	}
	buf_init(&subs, 0);
	failed = imapd_list_patterns(l, pats, &npats) < 0;
	if (!failed && (imapd_folders_read(ss, &f) < 0 || imapd_subs_read(ss, &subs) < 0)) {
		log_warn("user=%s %s: %s", buf_cstr(&ss->user), ss->root, strerror(errno));
		failed = 1;
	}
	if (!failed && (names = imapd_list_names(&f, &subs, &n, &truncated)) == NULL)
		failed = 1;
	if (!failed && truncated) {
		log_warn("user=%s: more than %d mailboxes or subscriptions: %s leaves the rest out",
			 buf_cstr(&ss->user), IMAPD_FOLDERS_MAX, cmd);
		stream_printf(ss->s, "* NO [LIMIT] More than %d mailboxes: not all are listed\r\n", IMAPD_FOLDERS_MAX);
	}
	if (!failed)
		failed = imapd_list_write(ss, c, pats, npats, names, n) < 0;
	free(names);
	buf_free(&subs);
	imapd_folders_free(&f);
	for (size_t i = 0; i < npats; i++)
		imap_list_pattern_free(&pats[i]);
	if (failed)
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot list the mailboxes");
	else
		imapd_tagged(ss, c->tag, "OK %s completed", cmd);
}
