/* smtp_data: the SMTP DATA state machine (RFC 5321 4.1.1.4, 4.5.2,
 * 2.3.8).  Fed the successive lines of message content as returned by
 * stream_read_line, it gives the bytes to store for each (CRLF becomes
 * LF, one leading dot is removed), recognises the end of data only at
 * <CRLF>.<CRLF>, flags any bare LF or bare CR, and counts the stored
 * size.  Pure: no allocation, no I/O. */
#ifndef POSTERN_SMTP_DATA_H
#define POSTERN_SMTP_DATA_H

#include <stddef.h>

enum smtp_data_result {
	SMTP_DATA_MORE = 0,   /* a content line: store the output, read on */
	SMTP_DATA_END,        /* the end-of-data line: nothing to store */
};

struct smtp_data {
	int after_crlf;           /* the previous line ended in CRLF (or none yet) */
	int bare_newline;         /* a bare LF or bare CR was seen: reject at the end */
	int too_long;             /* an overlong line was seen: reject at the end */
	unsigned long long size;  /* bytes stored so far (LF line ends) */
	unsigned long long lines; /* content lines seen */
};

/* Start a new message. */
void smtp_data_init(struct smtp_data *sd);
/* Feed one line (len > 0, normally ending in LF).  For SMTP_DATA_MORE,
 * the bytes to store are *out_r, *out_len_r (a range of line, without
 * terminator) followed by an LF when *add_lf_r is 1. */
enum smtp_data_result smtp_data_line(struct smtp_data *sd, const char *line, size_t len,
				     const char **out_r, size_t *out_len_r, int *add_lf_r);
/* Note that the reader discarded an overlong line (STREAM_TOOLONG). */
void smtp_data_toolong(struct smtp_data *sd);
/* BDAT (RFC 3030): chunk data is raw, with no dot-stuffing and no end
 * marker; only the CRLF line ends become LF for storage. */
struct smtp_bdat {
	int pending_cr;           /* the last chunk ended in CR */
	int bare_newline;         /* a bare LF or bare CR was seen */
	unsigned long long size;  /* bytes produced so far */
};

/* Start a new BDAT message. */
void smtp_bdat_init(struct smtp_bdat *b);
/* Convert n bytes of chunk data into out, which must have room for n + 1
 * bytes (a CR held back from the previous chunk may come out now).
 * Returns the bytes written. */
size_t smtp_bdat_feed(struct smtp_bdat *b, const char *p, size_t n, char *out);
/* After the LAST chunk: a CR still held back is a bare CR; writes it
 * (at most 1 byte) to out and returns the count. */
size_t smtp_bdat_end(struct smtp_bdat *b, char *out);

#endif
