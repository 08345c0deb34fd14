/* mime: the one MIME parser of Postern (RFC 2045, 2046, 2231): a part
 * tree with byte offsets into a stored message, sizes as IMAP sends
 * them, Content-* fields decoded, hard limits.  See mime.c. */
#ifndef POSTERN_MIME_H
#define POSTERN_MIME_H

#include <stddef.h>

#include "buf.h"

/* Hard limits.  Passing one never fails the parse: see mime.c. */
#define MIME_MAX_DEPTH 100           /* parts in one chain from the root (multipart and message levels) */
#define MIME_MAX_PARTS 10000         /* parts in one message, the root included */
#define MIME_MAX_HEADER_LINES 10000  /* header lines of one part that are looked at */
#define MIME_MAX_PARAMS 100          /* parameters (RFC 2231 sections each count) of one field */
#define MIME_MAX_FIELD_SIZE 65536    /* bytes of one unfolded Content-* field that is interpreted */
#define MIME_MAX_BOUNDARY 1000       /* bytes of a multipart boundary (RFC 2046 says 70) */

/* Which limits a message reached (struct mime_message.limits). */
#define MIME_LIMIT_DEPTH 0x01
#define MIME_LIMIT_PARTS 0x02
#define MIME_LIMIT_HEADER_LINES 0x04
#define MIME_LIMIT_PARAMS 0x08
#define MIME_LIMIT_FIELD_SIZE 0x10

/* A string: p == NULL means absent (IMAP NIL).  Strings the parser
 * made are also NUL-terminated at p[len] (they may hold NULs). */
struct mime_str {
	const char *p;
	size_t len;
};

/* One region of the stored message and its size on the IMAP wire,
 * where every line end is CRLF. */
struct mime_region {
	size_t offset;     /* bytes from the start of the message */
	size_t size;       /* bytes as stored */
	size_t wire_size;  /* bytes with every bare LF sent as CRLF */
	size_t lines;      /* LF characters in the region */
};

/* A parameter after decoding RFC 2231 (name without '*' when decoded). */
struct mime_param {
	struct mime_str name;
	struct mime_str value;
};

/* Part flags. */
#define MIME_PART_MULTIPART 0x01     /* type multipart: children are its body parts */
#define MIME_PART_MESSAGE 0x02       /* message/rfc822 or message/global: one child, the embedded message */
#define MIME_PART_GLOBAL 0x04        /* the message part is message/global (RFC 6532) */
#define MIME_PART_DEFAULT_TYPE 0x08  /* no usable Content-Type: the RFC 2045/2046 default applies */
#define MIME_PART_EMBEDDED 0x10      /* the header is a message header (the root, or a message part's child) */

struct mime_part {
	struct mime_part *parent;
	struct mime_part *children;  /* first child, or NULL */
	struct mime_part *next;      /* next sibling, or NULL */
	unsigned int n_children;
	unsigned int depth;          /* root = 0 */
	unsigned int flags;          /* MIME_PART_* */
	struct mime_region header;   /* the header with the blank line that ends it */
	struct mime_region body;
	struct mime_str type, subtype;  /* as written (case kept); "text" "plain" by default */
	struct mime_param *params;
	unsigned int n_params;
	struct mime_str encoding;    /* Content-Transfer-Encoding token; absent = 7bit */
	struct mime_str id, description, md5, location;  /* unfolded, trimmed */
	struct mime_str disposition;
	struct mime_param *disp_params;
	unsigned int n_disp_params;
	struct mime_str *languages;
	unsigned int n_languages;
};

/* A chunked allocator: pointers stay valid until mime_arena_free. */
struct mime_arena {
	struct mime_arena_chunk *chunks;
	char *next;
	size_t left;
	size_t total;  /* bytes allocated from malloc */
};

struct mime_message {
	const char *data;   /* the caller's message; must outlive the tree */
	size_t len;
	struct mime_part *root;
	unsigned int n_parts;
	unsigned int limits;  /* MIME_LIMIT_* reached */
	struct mime_arena arena;
};

/* Parse a whole stored message (LF or CRLF line ends).  0 with
 * *msg_r, or -1 (errno ENOMEM) and *error_r; bad input never fails. */
int mime_parse(const char *data, size_t len, struct mime_message **msg_r, const char **error_r);
/* Free a parsed message and set *msg to NULL (NULL is fine). */
void mime_message_free(struct mime_message **msg);

/* Whether the part's type (and subtype, unless NULL) are these (case-insensitive). */
int mime_part_is(const struct mime_part *part, const char *type, const char *subtype);
/* The first parameter called name (case-insensitive) of params, or NULL. */
const struct mime_param *mime_param_find(const struct mime_param *params, unsigned int n,
					 const char *name);
/* The part's charset parameter, "us-ascii" for text/ without one, else NULL. */
const char *mime_part_charset(const struct mime_part *part, size_t *len_r);
/* The n-th child (1-based) of part, or NULL. */
struct mime_part *mime_part_child(const struct mime_part *part, unsigned int n);

/* Content-Transfer-Encodings. */
enum mime_cte { MIME_CTE_IDENTITY, MIME_CTE_BASE64, MIME_CTE_QP, MIME_CTE_UNKNOWN };
/* Classify a Content-Transfer-Encoding (absent = 7bit = identity). */
enum mime_cte mime_cte_of(const struct mime_str *encoding);
/* Decode base64 (RFC 2045 6.8: bytes outside the alphabet are skipped,
 * decoding ends at '=') and append to out.  0 or -1 (out's cap). */
int mime_base64_decode(const char *p, size_t len, struct buf *out);
/* The number of bytes mime_base64_decode would append. */
size_t mime_base64_decoded_size(const char *p, size_t len);
/* Decode quoted-printable (RFC 2045 6.7); a hard line break becomes
 * CRLF, trailing white space is dropped, a bad '=' is kept as is.
 * Append to out.  0 or -1 (out's cap). */
int mime_qp_decode(const char *p, size_t len, struct buf *out);
/* The number of bytes mime_qp_decode would append. */
size_t mime_qp_decoded_size(const char *p, size_t len);

/* Append the text of leaf part (of message msg, msg_len bytes of it) as
 * UTF-8: the first max_in bytes of its body with the transfer encoding
 * undone, converted from its charset (kept as they are when that
 * fails).  tmp is scratch.  0 or -1 (memory, out's cap).  In
 * mime_text.c. */
int mime_part_text(const char *msg, size_t msg_len, const struct mime_part *part, size_t max_in,
		   struct buf *tmp, struct buf *out);

/* Append p with every esc + two hex digits decoded (RFC 2231 '%',
 * RFC 2047 Q '='), and '_' as a space when underscore_space (RFC 2047
 * 4.2); a bad escape stays as it is.  0 or -1 (out's cap). */
int mime_hex_unescape(const char *p, size_t n, char esc, int underscore_space, struct buf *out);

/* Initialise an empty arena. */
void mime_arena_init(struct mime_arena *a);
/* n bytes aligned for any object, or NULL (ENOMEM / overflow). */
void *mime_arena_alloc(struct mime_arena *a, size_t n);
/* A NUL-terminated copy of n bytes, or NULL. */
char *mime_arena_strdup(struct mime_arena *a, const char *p, size_t n);
/* Free every allocation of the arena. */
void mime_arena_free(struct mime_arena *a);

#endif
