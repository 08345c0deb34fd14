/* smtp_data: the SMTP DATA state machine (RFC 5321 4.1.1.4, 4.5.2,
 * 2.3.8).  Fed the successive lines of message content as returned by
 * stream_read_line, it gives the bytes to store for each (CRLF becomes
 * LF, one leading dot is removed), recognises the end of data only at
 * <CRLF>.<CRLF>, flags any bare LF or bare CR, and counts the stored
 * size.  smtp_bdat_* does the same for BDAT chunks, smtp_dot_* the
 * reverse (client side).  Pure: no allocation, no I/O. */
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
/* Note that the reader discarded an overlong line (STREAM_TOOLONG);
 * crlf says whether it ended in CRLF (stream_toolong_crlf), which decides
 * whether a following ".<CRLF>" ends the data. */
void smtp_data_toolong(struct smtp_data *sd, int crlf);
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

/* The client side of DATA (remote and LMTP delivery): stored content to
 * wire form.  Every LF, CRLF and bare CR becomes CRLF; a dot that begins
 * a line is doubled (RFC 5321 4.5.2). */
struct smtp_dot {
	int bol;                  /* the next byte begins a line */
	int cr;                   /* a CR is held until the next byte */
};

/* Start a message. */
void smtp_dot_init(struct smtp_dot *d);
/* Convert n bytes into out, which must have room for SMTP_DOT_ROOM(n)
 * bytes.  Returns the bytes written. */
size_t smtp_dot_feed(struct smtp_dot *d, const char *p, size_t n, char *out);
/* Worst case of smtp_dot_feed: a held CR's CRLF plus a doubled dot. */
#define SMTP_DOT_ROOM(n) (2 * (size_t)(n) + 2)
/* After the last byte: end the last line if needed, then ".<CRLF>"; out
 * needs room for 5 bytes.  Returns the bytes written. */
size_t smtp_dot_end(struct smtp_dot *d, char *out);

#endif
