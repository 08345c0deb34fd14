/* maildir_quota: Maildir++ quota, the `maildirsize` file in a user's
 * Maildir (INBOX).  Its first line is the quota definition, "NNNS" for
 * octets and "MMMC" for messages, comma-separated ("104857600S,5000C");
 * every further line "BYTES COUNT" is a change in usage (negative for
 * removals); usage is the sum.  Shared by local delivery (which checks
 * and counts deliveries) and imapd (APPEND, COPY, EXPUNGE, the QUOTA
 * extension), so both keep the file the same way.  Paths are relative
 * to the current directory (the mail root) or absolute. */
#ifndef POSTERN_MAILDIR_QUOTA_H
#define POSTERN_MAILDIR_QUOTA_H

#include <stddef.h>

#define MAILDIR_QUOTA_FILE "maildirsize"
#define MAILDIR_QUOTA_FILE_MAX 5120     /* Maildir++: a larger file is rebuilt */
#define MAILDIR_QUOTA_FOLDERS_MAX 10000 /* folders one rebuild scans */
#define MAILDIR_QUOTA_DEF_MAX 64        /* room for any definition line we write */

struct cdbmap;

/* The limits of one mailbox; 0 is no limit. */
struct maildir_quota {
	unsigned long long bytes;       /* S: octets, all folders counted */
	unsigned long long messages;    /* C: messages, all folders counted */
};

struct maildir_usage {
	unsigned long long bytes;
	unsigned long long count;
};

/* Whether q limits anything. */
static inline int maildir_quota_active(const struct maildir_quota *q)
{
	return q->bytes > 0 || q->messages > 0;
}

/* Parse a definition line ("NNNS", "MMMC", "NNNS,MMMC"; len bytes, no
 * line end) into q_r.  0, or -1 when it is not one. */
int maildir_quota_def_parse(const char *p, size_t len, struct maildir_quota *q_r);
/* The definition line of q (no line end) into out.  0, or -1 (no room). */
int maildir_quota_def_format(const struct maildir_quota *q, char *out, size_t len);
/* Parse a whole maildirsize image: its definition and the summed usage
 * (clamped at 0).  0, or -1 for anything malformed (a torn last line too). */
int maildir_quota_parse(const char *p, size_t len, struct maildir_quota *q_r, struct maildir_usage *u_r);
/* Parse a quota map value "SIZE[,COUNT]" (SIZE with k/m/g as in
 * postern.conf, COUNT a decimal number of messages) into q; without
 * ",COUNT" q->messages is left as it was.  0, or -1 with q untouched. */
int maildir_quota_value_parse(const char *p, size_t len, struct maildir_quota *q);
/* Whether bytes and count more fit under q with usage u. */
int maildir_quota_fits(const struct maildir_quota *q, const struct maildir_usage *u, unsigned long long bytes,
		       unsigned long long count);

/* Read maildir/maildirsize.  0 with its definition and usage, or -1 when
 * it is missing, over MAILDIR_QUOTA_FILE_MAX or malformed. */
int maildir_quota_read(const char *maildir, struct maildir_quota *q_r, struct maildir_usage *u_r);
/* Add the messages of one folder (its cur/ and new/: S= of the file
 * name, else the file's size) to u. */
void maildir_quota_scan_folder(const char *folder, struct maildir_usage *u);
/* The usage of the whole Maildir++: INBOX and every ".folder". */
void maildir_quota_scan(const char *maildir, struct maildir_usage *u_r);
/* Scan, and write maildirsize anew (temp file, rename) with q's
 * definition.  0, or -1 with errno when it could not be written (the
 * usage in u_r is right either way). */
int maildir_quota_rebuild(const char *maildir, const struct maildir_quota *q, struct maildir_usage *u_r);
/* The usage under q, and whether bytes and count more fit: maildirsize
 * is used when it parses and names q; it is rebuilt when it does not,
 * and again before saying no (readers that remove mail without writing
 * a negative line cannot make a mailbox look full for ever).  1 fits,
 * 0 does not; u_r is the usage either way.  A file that cannot be
 * rewritten is logged, the scanned usage counts. */
int maildir_quota_check(const char *maildir, const struct maildir_quota *q, unsigned long long bytes,
			unsigned long long count, struct maildir_usage *u_r);
/* Append the line "BYTES COUNT" (negative for removals) to
 * maildir/maildirsize in one write with O_APPEND, so that concurrent
 * writers never mix lines.  Nothing when the file does not exist (the
 * next check rebuilds it).  0, or -1 with errno. */
int maildir_quota_add(const char *maildir, long long bytes, long long count);
/* The quota of the mailbox whose etc/mailboxes key is addr: its entry in
 * map (NULL: no map) when there is one, else mailbox_quota and
 * mailbox_quota_messages of postern.conf.  A bad entry is logged and
 * the defaults apply. */
void maildir_quota_of(struct cdbmap *map, const char *addr, struct maildir_quota *q_r);

#endif
