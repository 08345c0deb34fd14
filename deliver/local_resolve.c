/* local_resolve: from one recipient to the places its mail goes.
 *
 * Offers: local_resolve_deliver(), called per recipient after the loop
 * check.  Resolution order (docs/operator.md "Aliases"), with the
 * recipient A = local@domain and, for local+tag@domain, the base
 * address base@domain (recipient_delimiter):
 *   1. aliases: A, then the bare local part (for any local domain), then
 *      base@domain and the bare base;
 *   2. mailboxes: A, then base@domain (the mail goes into the Maildir++
 *      folder .tag when that folder exists, else into INBOX);
 *   3. the catch-all alias @domain;
 *   4. otherwise 5.1.1 user unknown; postmaster@ of a local domain that
 *      resolves nowhere is deferred with a warning instead (RFC 5321
 *      4.5.1: it must exist, so it is a configuration error, and mail to
 *      it must not be lost).
 * Alias targets are expanded recursively (alias_nesting_limit levels, at
 * most alias_expansion_limit targets): a target in a domain that is not
 * local is forwarded through enqueue, a command runs in the helper, a
 * target naming its own alias goes to the mailbox of that address.  All
 * forwarded targets of one recipient share one new queue file.
 *
 * Trusts: the maps are the operator's, still checked: Maildir paths with
 * maildir_path_ok, alias values with alias_parse, folder names for
 * path components.
 *
 * Fails: the recipient's result: a loop in the alias graph or nesting
 * too deep -> failed 5.4.6; an unknown target -> failed 5.1.1; a bad map
 * entry or map error -> deferred 4.3.5 / 4.3.0.  With several targets,
 * any deferral defers the recipient (targets already done are done again
 * on the retry: at-least-once), else any failure fails it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "address.h"
#include "alias.h"
#include "config.h"
#include "local.h"
#include "local_domain.h"
#include "log.h"
#include "maildir.h"
#include "queuefile.h"
#include "recipient.h"

#define LOCAL_TAG_MAX 64                       /* longest +tag used as a folder */
#define LOCAL_PREFIX_MAX (2 * ADDRESS_PATH_MAX + 64 + QUEUEFILE_PREPEND_MAX)   /* Return-Path + Delivered-To + prepended */

enum local_kind { LOCAL_T_MAILBOX, LOCAL_T_FORWARD, LOCAL_T_COMMAND };

struct local_target {
	enum local_kind kind;
	char addr[ADDRESS_PATH_MAX + 1];   /* mailbox / forward address; alias key for commands */
	char *text;                        /* Maildir path, or the command */
	size_t root_len;                   /* mailbox: the Maildir part of text (before a folder) */
	struct maildir_quota quota;        /* mailbox: its quota (0s: none) */
};

struct local_expansion {
	const struct local_ctx *ctx;
	const struct local_msg *m;
	struct local_target *t;
	size_t n, max;
	unsigned long long depth_max;
	const char *chain[64];             /* aliases being expanded (loop check) */
	size_t nchain;
};

static int local_lookup(struct cdbmap *map, const char *key, size_t len, struct buf *out,
			const char *what, struct local_result *r)
{
	int found;

	if (map == NULL)
		return 0;
	found = cdbmap_lookup(map, key, len, out);
	if (found < 0) {
		log_warn("%s map lookup for <%.*s> failed: %s", what, (int)len, key, strerror(errno));
		local_result_set(r, "deferred", "4.3.0", "%s map lookup failed", what);
	}
	return found;
}

static int local_domain_is_local(struct local_expansion *e, const char *domain, struct local_result *r)
{
	/* no domains map: every domain qmgr hands us is ours */
	int found = local_domain_is(e->ctx->domains, domain, strlen(domain));

	if (found < 0) {
		log_warn("domains map lookup for <%s> failed: %s", domain, strerror(errno));
		local_result_set(r, "deferred", "4.3.0", "domains map lookup failed");
	}
	return found;
}

static int local_target_add(struct local_expansion *e, enum local_kind kind, const char *addr,
			    const char *text, struct local_result *r)
{
	struct local_target *t;

	for (size_t i = 0; i < e->n; i++)   /* one delivery per place */
		if (e->t[i].kind == kind && strcasecmp(e->t[i].addr, addr) == 0 &&
		    (text == NULL || strcmp(e->t[i].text, text) == 0))
			return 0;
	if (e->n >= e->max) {
		local_result_set(r, "failed", "5.3.0", "alias expands to more than %zu targets", e->max);
		return -1;
	}
	if (e->n % 16 == 0) {
		struct local_target *nt = realloc(e->t, (e->n + 16) * sizeof *nt);
		if (nt == NULL) {
			local_result_set(r, "deferred", "4.3.0", "out of memory");
			return -1;
		}
		e->t = nt;
	}
	t = &e->t[e->n];
	memset(t, 0, sizeof *t);
	t->kind = kind;
	if (strlen(addr) >= sizeof t->addr || (text != NULL && (t->text = strdup(text)) == NULL)) {
		local_result_set(r, "deferred", "4.3.0", "out of memory");
		return -1;
	}
	memcpy(t->addr, addr, strlen(addr) + 1);
	e->n++;
	return 0;
}

static int local_expand(struct local_expansion *e, const char *addr, int use_aliases,
			struct local_result *r);

/* Expand one alias value found under key for address addr. */
static int local_expand_value(struct local_expansion *e, const char *key, const char *addr,
			      const char *domain, const struct buf *value, struct local_result *r)
{
	struct alias_list list = { 0 };
	const char *error;
	int ret = 0;

	if (alias_parse(value->data, value->len, &list, &error) < 0) {
		log_warn("aliases: entry %s: %s", key, error);
		local_result_set(r, "deferred", "4.3.5", "alias entry invalid: %s", error);
		return -1;
	}
	if (e->nchain >= sizeof e->chain / sizeof e->chain[0] || e->nchain >= e->depth_max) {
		local_result_set(r, "failed", "5.4.6", "alias nesting too deep at %s", addr);
		alias_list_free(&list);
		return -1;
	}
	e->chain[e->nchain++] = addr;
	for (size_t i = 0; i < list.n && ret == 0; i++) {
		const struct alias_target *t = &list.t[i];
		struct buf full;
		if (t->kind == ALIAS_COMMAND) {
			ret = local_target_add(e, LOCAL_T_COMMAND, key, t->text, r);
			continue;
		}
		buf_init(&full, ADDRESS_PATH_MAX + 1);
		if ((t->qualified ? buf_set(&full, t->text, t->len)
		     : buf_printf(&full, "%s@%s", t->text, domain)) < 0) {
			local_result_set(r, "failed", "5.1.3", "alias target too long in %s", key);
			ret = -1;
		} else {
			struct buf norm;
			buf_init(&norm, ADDRESS_PATH_MAX + 1);
			if (address_normalize(full.data, full.len, &norm) < 0) {
				local_result_set(r, "failed", "5.1.3", "bad alias target in %s", key);
				ret = -1;
			} else {
				/* A target naming its own alias means "and my mailbox too". */
				int self = strcasecmp(norm.data, addr) == 0;
				for (size_t c = 0; c < e->nchain && !self; c++)
					if (strcasecmp(e->chain[c], norm.data) == 0) {
						local_result_set(r, "failed", "5.4.6", "alias loop through %s", norm.data);
						ret = -1;
					}
				if (ret == 0)
					ret = local_expand(e, norm.data, !self, r);
			}
			buf_free(&norm);
		}
		buf_free(&full);
	}
	e->nchain--;
	alias_list_free(&list);
	return ret;
}

/* Try the aliases map under key; 1 expanded, 0 absent, -1 error. */
static int local_try_alias(struct local_expansion *e, const char *key, const char *addr,
			   const char *domain, struct local_result *r)
{
	struct buf v;
	int found;

	buf_init(&v, ALIAS_VALUE_MAX);
	found = local_lookup(e->ctx->aliases, key, strlen(key), &v, "aliases", r);
	if (found > 0)
		found = local_expand_value(e, key, addr, domain, &v, r) < 0 ? -1 : 1;
	buf_free(&v);
	return found;
}

/* A +tag usable as a Maildir++ folder name: one path component. */
static int local_tag_ok(const char *tag)
{
	size_t n = strlen(tag);

	if (n == 0 || n > LOCAL_TAG_MAX || tag[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)tag[i] < 0x20 || tag[i] == 0x7f || tag[i] == '/')
			return 0;
	return 1;
}

/* Mailboxes map: 1 added a mailbox target, 0 absent, -1 error. */
static int local_try_mailbox(struct local_expansion *e, const char *key, const char *addr,
			     const char *tag, struct local_result *r)
{
	struct buf path;
	size_t root_len;
	int found;

	buf_init(&path, MAILDIR_PATH_MAX);
	found = local_lookup(e->ctx->map, key, strlen(key), &path, "mailboxes", r);
	if (found > 0 && (!maildir_path_ok(path.data, path.len) || memchr(path.data, '\0', path.len))) {
		log_warn("mailboxes map entry for <%s> is not a relative Maildir path: %s", key, path.data);
		local_result_set(r, "deferred", "4.3.5", "mailbox map entry invalid");
		found = -1;
	}
	root_len = path.len;
	if (found > 0 && tag != NULL && local_tag_ok(tag)) {
		struct stat st;
		size_t keep = path.len;
		if (buf_printf(&path, "%s.%s", path.len > 0 && path.data[path.len - 1] == '/' ? "" : "/",
			       tag) < 0 || stat(path.data, &st) < 0 || !S_ISDIR(st.st_mode)) {
			path.len = keep;   /* no such folder: INBOX */
			path.data[keep] = '\0';
		}
	}
	if (found > 0) {
		size_t before = e->n;
		if (local_target_add(e, LOCAL_T_MAILBOX, addr, path.data, r) < 0)
			found = -1;
		else if (e->n > before) {
			e->t[before].root_len = root_len;
			local_quota_of(e->ctx, key, &e->t[before].quota);
		}
	}
	buf_free(&path);
	return found;
}

/* Split addr into local part, domain, and (with a delimiter) base + tag:
 * common/recipient, so that smtpd's RCPT check cuts addresses the same way. */
static int local_split(const char *addr, struct recipient_parts *p)
{
	return recipient_split(addr, strlen(addr), config_str("recipient_delimiter"), p);
}

static int local_expand(struct local_expansion *e, const char *addr, int use_aliases,
			struct local_result *r)
{
	struct recipient_parts p;
	char key[ADDRESS_PATH_MAX + 2];
	int is_local, found = 0;

	if (local_split(addr, &p) < 0) {
		local_result_set(r, "failed", "5.1.3", "bad address %s", addr);
		return -1;
	}
	is_local = local_domain_is_local(e, p.domain, r);
	if (is_local < 0)
		return -1;
	if (!is_local && e->nchain > 0)
		return local_target_add(e, LOCAL_T_FORWARD, addr, NULL, r);
	if (use_aliases) {
		found = local_try_alias(e, addr, addr, p.domain, r);
		if (found == 0 && is_local)
			found = local_try_alias(e, p.local, addr, p.domain, r);
		if (found == 0 && p.tag != NULL)
			found = local_try_alias(e, p.base_addr, addr, p.domain, r);
		if (found == 0 && p.tag != NULL && is_local)
			found = local_try_alias(e, p.base, addr, p.domain, r);
		if (found != 0)
			return found < 0 ? -1 : 0;
	}
	found = local_try_mailbox(e, addr, addr, NULL, r);
	if (found == 0 && p.tag != NULL)
		found = local_try_mailbox(e, p.base_addr, addr, p.tag, r);
	if (found == 0 && use_aliases) {
		snprintf(key, sizeof key, "@%s", p.domain);
		found = local_try_alias(e, key, addr, p.domain, r);
	}
	if (found != 0)
		return found < 0 ? -1 : 0;
	if (strcasecmp(p.local, "postmaster") == 0 && is_local) {
		log_warn("postmaster@%s resolves nowhere: add `postmaster USER@DOMAIN` to etc/aliases",
			 p.domain);
		local_result_set(r, "deferred", "4.3.5", "no postmaster configured");
		return -1;
	}
	local_result_set(r, "failed", "5.1.1", e->nchain == 0 ? "user unknown" : "user unknown: %s",
			 addr);
	return -1;
}

/* ---- delivery ---- */

static void local_mailbox(const struct local_msg *m, const struct local_target *t,
			  const char *root, struct local_result *r)
{
	char name[MAILDIR_NAME_MAX];
	const char *error;
	struct buf prefix;

	buf_init(&prefix, LOCAL_PREFIX_MAX);
	if (buf_printf(&prefix, "Return-Path: <%s>\nDelivered-To: %s\n", m->sender, t->addr) < 0 ||
	    buf_append(&prefix, m->prepend, m->prepend_len) < 0) {
		local_result_set(r, "deferred", "4.3.0", "cannot build delivery headers");
	} else if (local_quota_check(root, &t->quota, (unsigned long long)m->size + prefix.len, r) < 0) {
		/* r says why */
	} else if (maildir_deliver(t->text, &prefix, m->fd, m->offset, m->size,
				   name, sizeof name, &error) < 0) {
		int err = errno;
		log_warn("%s: maildir %s: %s: %s", m->queue_id, t->text, error, strerror(err));
		local_result_set(r, maildir_error_temporary(err) ? "deferred" : "failed",
				 maildir_error_dsn(err), "maildir delivery failed: %s", strerror(err));
	} else {
		log_debug("%s: stored as %s/new/%s", m->queue_id, t->text, name);
		local_quota_add(root, &t->quota, (unsigned long long)m->size + prefix.len);
		local_result_set(r, "delivered", "2.0.0", "delivered to maildir");
	}
	buf_free(&prefix);
}

/* The Maildir a folder path belongs to: quota counts the whole Maildir++. */
static void local_mailbox_target(const struct local_msg *m, const struct local_target *t,
				 struct local_result *r)
{
	char root[MAILDIR_PATH_MAX];
	size_t n = t->root_len < sizeof root ? t->root_len : sizeof root - 1;

	memcpy(root, t->text, n);
	root[n] = '\0';
	local_mailbox(m, t, root, r);
}

/* Fold one target's result into the recipient's: deferred beats failed
 * beats delivered. */
static void local_combine(struct local_result *all, const struct local_result *one, int first)
{
	int rank_one = strcmp(one->status, "deferred") == 0 ? 2 : strcmp(one->status, "failed") == 0;

	if (first || rank_one > (strcmp(all->status, "deferred") == 0 ? 2 :
				 strcmp(all->status, "failed") == 0))
		*all = *one;
}

static void local_deliver_targets(const struct local_ctx *ctx, const struct local_msg *m,
				  const char *rcpt, struct local_expansion *e, struct local_result *r)
{
	const char **fwd = calloc(e->n + 1, sizeof *fwd);
	size_t nfwd = 0;
	int first = 1;
	struct local_result one;

	if (fwd == NULL) {
		local_result_set(r, "deferred", "4.3.0", "out of memory");
		return;
	}
	for (size_t i = 0; i < e->n; i++) {
		const struct local_target *t = &e->t[i];
		if (t->kind == LOCAL_T_FORWARD) {
			fwd[nfwd++] = t->addr;
			continue;
		}
		if (t->kind == LOCAL_T_MAILBOX)
			local_mailbox_target(m, t, &one);
		else
			local_command_run(ctx, m, t->addr, t->text, rcpt, rcpt, &one);
		local_combine(r, &one, first);
		first = 0;
	}
	if (nfwd > 0) {
		local_forward(m, rcpt, fwd, nfwd, e->n == 1, &one);
		local_combine(r, &one, first);
		first = 0;
	}
	if (first)
		local_result_set(r, "failed", "5.1.1", "alias expands to nothing");
	else if (strcmp(r->status, "delivered") == 0 && e->n > 1)
		r->action = "expanded";   /* RFC 3461 6.2.7.3: the copies report nothing more */
	else if (strcmp(r->status, "delivered") == 0 && nfwd == 1)
		r->action = "passed";     /* 6.2.7.2: the copy took the NOTIFY */
	free(fwd);
}

void local_resolve_deliver(const struct local_ctx *ctx, struct local_msg *m,
			   const char *addr, size_t len, struct local_result *r)
{
	struct local_expansion e = { .ctx = ctx, .m = m };

	(void)len;
	e.max = config_size("alias_expansion_limit");
	e.depth_max = config_size("alias_nesting_limit");
	if (e.max == 0)
		e.max = 1;
	if (local_expand(&e, addr, 1, r) == 0)
		local_deliver_targets(ctx, m, addr, &e, r);
	for (size_t i = 0; i < e.n; i++)
		free(e.t[i].text);
	free(e.t);
}

/* ---- where it would go (sendmail -bv) ---- */

int local_resolve_explain(const struct local_ctx *ctx, const char *addr, FILE *out)
{
	struct local_expansion e = { .ctx = ctx };
	struct local_result r = { .status = "delivered" };
	int ok;

	e.max = config_size("alias_expansion_limit");
	e.depth_max = config_size("alias_nesting_limit");
	if (e.max == 0)
		e.max = 1;
	ok = local_expand(&e, addr, 1, &r) == 0 && e.n > 0;
	if (ok) {
		fprintf(out, "%s: deliverable\n", addr);
		for (size_t i = 0; i < e.n; i++) {
			const struct local_target *t = &e.t[i];

			if (t->kind == LOCAL_T_MAILBOX)
				fprintf(out, "  mailbox of <%s>: %s (in the mail root)\n", t->addr, t->text);
			else if (t->kind == LOCAL_T_FORWARD)
				fprintf(out, "  forwarded to <%s> (queued again)\n", t->addr);
			else
				fprintf(out, "  command of alias %s: |%s\n", t->addr, t->text);
		}
	} else if (e.n == 0 && strcmp(r.status, "delivered") == 0) {
		fprintf(out, "%s: undeliverable: 5.1.1 alias expands to nothing\n", addr);
	} else {
		fprintf(out, "%s: %s: %s %s\n", addr, strcmp(r.status, "failed") == 0 ? "undeliverable" :
			"not deliverable now", r.dsn, r.reason);
	}
	for (size_t i = 0; i < e.n; i++)
		free(e.t[i].text);
	free(e.t);
	return ok ? 0 : strcmp(r.status, "failed") == 0 ? 1 : 2;
}
