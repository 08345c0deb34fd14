/* imap_parser: the incremental parser of IMAP client commands (RFC 3501,
 * RFC 9051 section 9 grammar; LITERAL+ / LITERAL- of RFC 7888; literal8
 * of RFC 3516).  Fed bytes as they arrive, in chunks of any size; yields
 * events: a complete command (tag, name, argument tree), a request to
 * send a continuation ("+ ...") for a synchronizing literal, an error
 * with what the tagged or untagged reply needs, or a raw line when the
 * caller asked for one (AUTHENTICATE responses, IDLE's DONE).  Large
 * literals go to a caller-supplied sink instead of memory.  No I/O. */
#ifndef POSTERN_IMAP_PARSER_H
#define POSTERN_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

/* RFC 7888 section 5: with LITERAL-, {n+} is allowed only up to this. */
#define IMAP_LITERAL_MINUS_MAX 4096
/* Longest tag kept for the reply; a longer one gets an untagged BAD. */
#define IMAP_TAG_MAX 256
/* Longest command name (UID's second word included). */
#define IMAP_NAME_MAX 32

/* Defaults of struct imap_parser_limits (imapd sets them from postern.conf). */
#define IMAP_LINE_MAX_DEFAULT 65536          /* RFC 7162 section 4 asks for at least 8192 */
#define IMAP_ARGS_MAX_DEFAULT 8192
#define IMAP_DEPTH_MAX_DEFAULT 32
#define IMAP_LITERAL_MAX_DEFAULT 10485760    /* = message_size_limit's default */
#define IMAP_LITERAL_MEM_MAX_DEFAULT 65536
#define IMAP_MEM_MAX_DEFAULT (8u << 20)

/* IMAP character classes (RFC 9051 section 9), bits of imap_char_class[]. */
#define IMAP_CC_ATOM     0x01   /* ATOM-CHAR */
#define IMAP_CC_TOKEN    0x02   /* ATOM-CHAR, "%", "*": what may start an atom argument */
#define IMAP_CC_TAG      0x04   /* ASTRING-CHAR except "+" */
#define IMAP_CC_QUOTED   0x08   /* a byte that stands for itself in a quoted string */
#define IMAP_CC_ASTRING  0x10   /* ASTRING-CHAR: ATOM-CHAR or "]" */
#define IMAP_CC_SCAN_TOP 0x20   /* atom body outside a section: TOKEN and "]", not "[" */
#define IMAP_CC_SCAN_SEC 0x40   /* atom body inside a section: TOKEN, not "[" */
#define IMAP_CC_LIST     0x80   /* list-char: ATOM-CHAR, "%", "*", "]" */
/* The class bits of every byte. */
extern const unsigned char imap_char_class[256];

struct imap_parser_limits {
	size_t line_max;          /* bytes of a command outside its literals, line ends included */
	unsigned int args_max;    /* argument nodes of one command, lists included */
	unsigned int depth_max;   /* nesting of ( ) lists */
	uint64_t literal_max;     /* largest literal accepted at all (APPEND: message_size_limit) */
	size_t literal_mem_max;   /* bytes of literals one command may keep in memory */
	size_t mem_max;           /* cap of the command arena (tokens, typed grammar) */
	bool literal_plus;        /* LITERAL+ advertised; false: LITERAL- ({n+} <= 4096) */
};

enum imap_arg_type {
	IMAP_ARG_ATOM,            /* atom, \Flag, sequence set, pattern: text holds it */
	IMAP_ARG_NIL,             /* the atom NIL (any case); text holds it as sent */
	IMAP_ARG_QUOTED,          /* quoted string, escapes removed */
	IMAP_ARG_LITERAL,         /* literal kept in memory (text, len) */
	IMAP_ARG_STREAM,          /* literal given to a sink: only its size is here */
	IMAP_ARG_LIST,            /* ( ... ): items, count */
	IMAP_ARG_SECTION,         /* FETCH's BODY[...]<...>: text = name, items = inside [], suffix */
};

#define IMAP_ARG_F_NONSYNC  0x01  /* literal was {n+} */
#define IMAP_ARG_F_BINARY   0x02  /* literal8 ~{n} (RFC 3516) */
#define IMAP_ARG_F_8BIT     0x04  /* string holds bytes >= 0x80 */
#define IMAP_ARG_F_NUL      0x08  /* literal8 holds NUL bytes */
#define IMAP_ARG_F_SINK_ERR 0x10  /* the sink refused part of the literal */

struct imap_arg {
	enum imap_arg_type type;
	unsigned int flags;               /* IMAP_ARG_F_* */
	const char *text;                 /* NUL-terminated; NULL for LIST and STREAM */
	size_t len;                       /* bytes of text; for STREAM the literal size */
	const struct imap_arg *items;     /* LIST and SECTION children */
	unsigned int count;               /* number of items */
	const char *suffix;               /* SECTION: text after ']' ("<0.100>"), else NULL */
	size_t suffix_len;
};

struct imap_cmd {
	const char *tag;
	const char *name;                 /* upper case; for "UID FETCH" the "FETCH" */
	bool uid;                         /* prefixed by UID */
	const struct imap_arg *args;      /* top-level arguments after the name */
	unsigned int count;
};

enum imap_parse_event {
	IMAP_PARSE_MORE,          /* all input consumed; feed more */
	IMAP_PARSE_COMMAND,       /* imap_parser_command() is complete */
	IMAP_PARSE_CONTINUE,      /* send "+ ..." now: a synchronizing literal was accepted */
	IMAP_PARSE_ERROR,         /* imap_parser_error() says what to reply */
	IMAP_PARSE_LINE,          /* imap_parser_line() holds the raw line asked for */
};

enum imap_reply_kind { IMAP_REPLY_BAD, IMAP_REPLY_NO };

struct imap_parse_error {
	const char *tag;                  /* NULL: reply untagged ("* BAD ...") */
	enum imap_reply_kind kind;
	const char *code;                 /* response code without brackets ("TOOBIG") or NULL */
	const char *text;                 /* human-readable reason */
};

/* Where a literal stands, for the caller's literal policy. */
struct imap_literal_info {
	const char *tag;
	const char *name;                 /* command name as in struct imap_cmd */
	bool uid;
	unsigned int index;               /* top-level argument position (0 = first) */
	unsigned int depth;               /* list nesting, 0 = top level */
	uint64_t size;
	bool nonsync;                     /* {n+}: the bytes come without a continuation */
	bool binary;                      /* ~{n} */
};

/* Receives a literal's bytes as they arrive.  write returns 0 to go on,
 * -1 to take no more (the rest is read and dropped, and the argument is
 * flagged IMAP_ARG_F_SINK_ERR).  The caller owns what ctx points to and
 * settles it (commit or remove) after the COMMAND or ERROR event that
 * ends the command. */
struct imap_literal_sink {
	int (*write)(void *ctx, const unsigned char *data, size_t len);
	void *ctx;
};

enum imap_literal_action {
	IMAP_LITERAL_MEMORY,      /* keep in the arena (within literal_mem_max) */
	IMAP_LITERAL_SINK,        /* stream to *sink_r */
	IMAP_LITERAL_REFUSE,      /* reject the command with *refusal_r */
};

/* Called once the header of a literal is read and its size is within
 * literal_max (and within 4096 for {n+} under LITERAL-). */
typedef enum imap_literal_action imap_literal_policy_fn(void *ctx,
		const struct imap_literal_info *info,
		struct imap_literal_sink *sink_r, struct imap_parse_error *refusal_r);

struct imap_parser;

/* Fill limits with the defaults above. */
void imap_parser_limits_default(struct imap_parser_limits *limits);
/* A parser with these limits (copied); NULL on ENOMEM. */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
/* Free the parser (wiping its memory) and set *pp to NULL. */
void imap_parser_free(struct imap_parser **pp);
/* Decide where literals go; without a policy every literal is kept in memory. */
void imap_parser_set_literal_policy(struct imap_parser *p, imap_literal_policy_fn *fn, void *ctx);
/* Switch LITERAL+ (true) and LITERAL- (false) for later literals. */
void imap_parser_set_literal_plus(struct imap_parser *p, bool literal_plus);
/* Parse up to len bytes; *consumed_r says how many were used.  Stops at
 * each event; the unconsumed rest must be fed again (after STARTTLS the
 * caller drops it instead: bytes sent before the TLS handshake must not
 * become commands).  What an event returns stays valid until the next
 * call. */
enum imap_parse_event imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
				       size_t *consumed_r);
/* The command of the last IMAP_PARSE_COMMAND event. */
const struct imap_cmd *imap_parser_command(const struct imap_parser *p);
/* The error of the last IMAP_PARSE_ERROR event. */
const struct imap_parse_error *imap_parser_error(const struct imap_parser *p);
/* Take the next line raw (without its CRLF) as an IMAP_PARSE_LINE event;
 * only between commands. */
void imap_parser_expect_line(struct imap_parser *p);
/* The line of the last IMAP_PARSE_LINE event. */
const char *imap_parser_line(const struct imap_parser *p, size_t *len_r);
/* The arena of the current command, for the typed grammar built on it. */
struct arena *imap_parser_arena(struct imap_parser *p);
/* True when the parser sits between commands (no partial command held). */
bool imap_parser_idle(const struct imap_parser *p);
/* Wipe the memory of the last command or line (after LOGIN, AUTHENTICATE). */
void imap_parser_forget(struct imap_parser *p);

#endif
