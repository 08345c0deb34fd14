/* dovecot_uidlist: reader and writer of Dovecot's Maildir `dovecot-uidlist`
 * (version 3), byte-compatible with what Dovecot 2.3 reads and writes, so
 * that one Maildir tree can be served by Dovecot and Postern in turn with
 * UIDVALIDITY and every UID unchanged.  Pure: no I/O; the mailbox store
 * reads and writes the file.  See dovecot_uidlist.c for the format. */
#ifndef POSTERN_DOVECOT_UIDLIST_H
#define POSTERN_DOVECOT_UIDLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define DOVECOT_UIDLIST_NAME "dovecot-uidlist"
/* Dovecot's lock: a dotlock created with O_EXCL beside the file. */
#define DOVECOT_UIDLIST_LOCK_NAME "dovecot-uidlist.lock"
#define DOVECOT_UIDLIST_VERSION 3
/* Most records one parse accepts: the store's cap on messages per folder. */
#define DOVECOT_UIDLIST_RECORDS_MAX 1000000
/* Longest line, LF included.  A record is a UID (10), a few fields (sizes,
 * a GUID, a POP3 UIDL: well under 200 bytes as Dovecot writes them) and a
 * file name (NAME_MAX); 4096 leaves room and bounds one line's work. */
#define DOVECOT_UIDLIST_LINE_MAX 4096
/* Longest file name in a record (NAME_MAX). */
#define DOVECOT_UIDLIST_NAME_MAX 255
/* Largest UID Dovecot accepts in a record ((uint32_t)-1 is refused). */
#define DOVECOT_UIDLIST_UID_MAX (UINT32_MAX - 1)
/* The mailbox GUID: 128 bits, written as 32 lowercase hex digits. */
#define DOVECOT_GUID_SIZE 16

/* The header line: "3 V<uidvalidity> N<nextuid> G<guid> [other fields]". */
struct dovecot_uidlist_header {
	uint32_t uidvalidity;             /* V, nonzero */
	uint32_t nextuid;                 /* N as written: records appended later may be >= it */
	unsigned char guid[DOVECOT_GUID_SIZE];   /* G */
	bool has_guid;
	const char *fields;               /* every field after the version, as written (unknown */
	size_t fields_len;                /* ones are kept through a rewrite); NULL, 0 when none */
};

/* One record line: "<uid> [fields] :<file name>". */
struct dovecot_uidlist_rec {
	uint32_t uid;
	const char *fields;               /* the fields between the UID and " :", as written */
	size_t fields_len;                /* (W and S included); NULL, 0 when none */
	const char *name;                 /* the file name as recorded: base, maybe ":2,FLAGS" */
	size_t name_len;
	size_t base_len;                  /* the base name is name[0, base_len): up to the first ':' */
	uint64_t vsize;                   /* W: size with CRLF line ends (RFC822.SIZE), if has_vsize */
	uint64_t size;                    /* S: size on disk, if has_size */
	bool has_vsize, has_size;
};

struct dovecot_uidlist {
	struct dovecot_uidlist_header hdr;   /* zero after dovecot_uidlist_parse_tail */
	struct dovecot_uidlist_rec *recs;    /* UIDs strictly ascending; point into the parsed text */
	size_t n;
	uint32_t nextuid;   /* the next UID to give: max(hdr.nextuid, last UID + 1); 0 if neither */
	size_t end;         /* bytes parsed: the end of the last complete line (on failure: the
			     * start of the bad line; what is before it parses) */
};

/* Parse a whole dovecot-uidlist held in p[0, len): the header line, then
 * every complete record line; a last line without its LF is not yet
 * written and is left out (ul->end says where parsing stopped).  ul->recs
 * is allocated (dovecot_uidlist_free) and points into p.  0, or -1 with
 * *error_r (static) and ul holding nothing to free. */
int dovecot_uidlist_parse(const char *p, size_t len, struct dovecot_uidlist *ul, const char **error_r);
/* Parse record lines appended after a previous parse: p[0, len) is the
 * file from that parse's end on, after_uid the last UID known (0: none);
 * every UID must be above it.  Same results and failures as
 * dovecot_uidlist_parse, with ul->hdr zero. */
int dovecot_uidlist_parse_tail(const char *p, size_t len, uint32_t after_uid, struct dovecot_uidlist *ul,
			       const char **error_r);
/* Free what a parse allocated; ul is left empty. */
void dovecot_uidlist_free(struct dovecot_uidlist *ul);
/* The value of field key in fields[0, len) (a header's or record's): 1
 * with *val_r, *vlen_r, or 0 when absent. */
int dovecot_uidlist_field(const char *fields, size_t len, char key, const char **val_r, size_t *vlen_r);

/* Append the header line for h: V, N, G (when h->has_guid), then h's
 * other fields but V, N and G.  0, or -1 with errno EINVAL (a zero
 * UIDVALIDITY or NEXTUID, a bad field) or the buf's error; b unchanged. */
int dovecot_uidlist_write_header(struct buf *b, const struct dovecot_uidlist_header *h);
/* Append the record line for r: the UID, W and S when set, r's other
 * fields but W and S, then " :" and the base name (name[0, base_len)),
 * as Dovecot 2.3 writes it.  0, or -1 (errno as above); b unchanged. */
int dovecot_uidlist_write_record(struct buf *b, const struct dovecot_uidlist_rec *r);
/* A new random mailbox GUID.  0, or -1 with errno. */
int dovecot_uidlist_guid_new(unsigned char guid[DOVECOT_GUID_SIZE]);

#endif
