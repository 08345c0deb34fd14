/* imap_parser: the incremental parser of IMAP client commands.
 *
 * Offers: a byte-level state machine, fed chunks of any size (one byte at
 * a time gives the same result as a whole buffer), that turns the client
 * stream into commands: tag, command name (two words for UID ...), and a
 * tree of arguments (atoms, NIL, quoted strings, literals, lists, and
 * FETCH's BODY[...]<...> sections).  It is the lexical layer only: what
 * the arguments mean is imap_grammar's business (which also says which
 * literals are APPEND messages).  Lexical rules (RFC 9051 section 9):
 *   tag      1*<ASTRING-CHAR except "+">
 *   atom     1*ATOM-CHAR, plus "%" and "*" (list-wildcards and sequence
 *            sets use them), plus "]" outside a section (ASTRING-CHAR);
 *            a leading "\" makes a flag ("\Seen")
 *   quoted   DQUOTE *(any byte but CR LF NUL DQUOTE "\", or "\" DQUOTE,
 *            or "\\") DQUOTE; 8-bit bytes are kept (RFC 9051 utf8-quoted)
 *            and flagged, since only the grammar knows where they are
 *            allowed
 *   literal  "{" number ["+"] "}" CRLF octets; "~{" ... for literal8
 *   list     "(" [arg *(SP arg)] ")", nested at most depth_max deep
 *   section  in FETCH only: BODY / BODY.PEEK / BINARY / BINARY.PEEK /
 *            BINARY.SIZE directly followed by "[", arguments up to "]",
 *            then atom characters ("<0.100>") as the suffix; outside
 *            FETCH "[" is an ordinary atom character (a mailbox may be
 *            named "a[1]")
 * Arguments are separated by exactly one SP; a line ends in CRLF (a bare
 * LF is taken as well, as most servers do).  Blank lines between commands
 * are ignored.
 *
 * Literals.  When a literal's header is read, the parser checks, in this
 * order: LITERAL- (a {n+} literal above 4096 octets while LITERAL+ is not
 * advertised: tagged BAD [TOOBIG], RFC 7888 section 5); the absolute cap
 * literal_max (tagged NO [TOOBIG]); then the caller's policy, which keeps
 * the literal in memory (bounded by literal_mem_max per command: NO
 * [TOOBIG] beyond it), streams it to a sink (APPEND into a Maildir tmp
 * file) or refuses the command with its own reply.  A synchronizing
 * literal that is accepted yields IMAP_PARSE_CONTINUE: the caller sends
 * "+ ..." and the client only then sends the octets.  A refused
 * synchronizing literal ends the command at once: the client, seeing a
 * tagged reply instead of the continuation, does not send the literal or
 * the rest of the command (RFC 9051 section 7.5; RFC 3501 section 7.5).
 * A refused non-synchronizing literal is already on its way: its octets
 * are read and dropped without being stored, then the rest of the command
 * line (with any further {n+} literals in it) is skipped, so the stream
 * stays in step (RFC 7888 sections 4 and 5 leave the server the choice of
 * reading and discarding, or closing the connection; Postern discards).
 * NUL in a literal is flagged (IMAP_ARG_F_NUL), not refused here: a
 * literal8 may hold NUL, a string may not, and that is the grammar's call.
 *
 * Errors.  Bad syntax yields IMAP_PARSE_ERROR with the tag when one was
 * read (tagged BAD) or none (untagged "* BAD"); the parser then skips to
 * the end of the command by itself, tracking {n+} literals at line ends
 * so that their octets are not mistaken for commands, and resumes at the
 * next command.  Limits: line_max bytes of command text outside literals
 * (tag, arguments, literal headers and line ends), args_max argument nodes,
 * depth_max list nesting, literal_max per literal, literal_mem_max of
 * literals in memory per command, mem_max for the whole command arena.
 *
 * Memory.  A command lives in one arena, reset when the next feed starts
 * after an event, so nothing is freed per token; tokens are gathered in
 * one reused buffer (capped at line_max) and copied once into the arena;
 * in-memory literals are allocated at their announced size.  Nothing is
 * allocated per byte.
 *
 * Trusts: nothing about the input; the caller for limits and for a policy
 * and sinks that behave as documented in imap_parser.h.
 *
 * Fails: never crashes or reads outside (data, len).  Allocation failure
 * (ENOMEM) is reported like a limit: the command is refused (NO [TOOBIG]
 * for a literal, BAD otherwise) and the parser resynchronises. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap_parser.h"

const unsigned char imap_char_class[256] = {
	0x00, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x00, 0x08, 0x08, 0x00, 0x08, 0x08,
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
	0x08, 0xff, 0x00, 0xff, 0xff, 0xea, 0xff, 0xff, 0x08, 0x08, 0xea, 0xfb, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x9f, 0x00, 0xbc, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x08, 0xff, 0xff, 0xff, 0x08,
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
};

enum imap_state {
	ST_START,         /* between commands; blank lines are dropped */
	ST_BLANK_LF,      /* CR of a blank line read; LF expected */
	ST_TAG,
	ST_NAME,          /* command name (or UID's second word) */
	ST_ARG,           /* an argument starts here */
	ST_ATOM,
	ST_QUOTED,
	ST_QUOTED_ESC,    /* "\" read inside a quoted string */
	ST_TILDE,         /* "~" read where an argument starts */
	ST_LIT_NUM,       /* digits of a literal's size */
	ST_LIT_CLOSE,     /* "+" read; "}" expected */
	ST_LIT_EOL,       /* "}" read; CR or LF expected */
	ST_LIT_LF,        /* CR after "}" read; LF expected */
	ST_AFTER,         /* after an argument: SP, ")", "]", CR or LF */
	ST_SUFFIX,        /* after a section's "]" */
	ST_EOL_LF,        /* CR ending the command read; LF expected */
	ST_RAW,           /* a raw line the caller asked for */
	/* States below do not count toward line_max. */
	ST_LITERAL,       /* octets of an accepted literal */
	ST_DISCARD,       /* octets of a refused {n+} literal */
	ST_SKIP,          /* rest of a failed command */
};

/* The literal tracker of ST_SKIP: "{" digits ["+"] "}" [CR] at a line end. */
enum skip_phase { SK_NONE, SK_OPEN, SK_DIGITS, SK_PLUS, SK_CLOSED, SK_CR };

struct imap_frame {
	enum imap_arg_type type;      /* IMAP_ARG_LIST or IMAP_ARG_SECTION */
	unsigned int start;           /* index in pend of its first child */
	const char *name;             /* SECTION: "BODY.PEEK" etc. */
	size_t name_len;
};

struct imap_parser {
	struct imap_parser_limits limits;
	imap_literal_policy_fn *policy;
	void *policy_ctx;

	enum imap_state state;
	bool reset_pending;           /* the last event's data may go */
	bool want_line;               /* the next line is raw */
	bool skip_literals;           /* ST_SKIP tracks {n+} at line ends */
	size_t line_len;              /* bytes of command text so far */

	char tag[IMAP_TAG_MAX + 1];
	size_t tag_len;
	bool have_tag;
	char name[IMAP_NAME_MAX + 1];
	size_t name_len;
	bool uid;
	bool fetch_mode;              /* FETCH / UID FETCH: sections allowed */
	bool just_opened;             /* ST_ARG right after "(" or "[" */

	struct buf tok;               /* the token being read */
	unsigned int tok_flags;

	struct imap_arg *pend;        /* arguments of the open lists, outermost first */
	unsigned int npend, pend_cap;
	struct imap_frame *frames;
	unsigned int depth;
	unsigned int nodes;           /* argument nodes in this command */
	unsigned int sections;        /* open sections (0 or 1) */
	struct imap_arg section;      /* a closed section waiting for its suffix */

	uint64_t lit_size;            /* announced size */
	uint64_t lit_left;            /* octets still to come */
	bool lit_nonsync, lit_binary, lit_overflow;
	unsigned int lit_digits;
	char *lit_buf;                /* memory literal, or NULL */
	size_t lit_pos;
	bool lit_to_sink;
	struct imap_literal_sink sink;
	unsigned int lit_flags;
	size_t lit_mem_used;

	enum skip_phase sk_phase;
	uint64_t sk_size;
	bool sk_plus;

	struct arena arena;
	struct imap_cmd cmd;
	struct imap_parse_error err;
	const char *line;
	size_t line_out_len;
};

void imap_parser_limits_default(struct imap_parser_limits *l)
{
	l->line_max = IMAP_LINE_MAX_DEFAULT;
	l->args_max = IMAP_ARGS_MAX_DEFAULT;
	l->depth_max = IMAP_DEPTH_MAX_DEFAULT;
	l->literal_max = IMAP_LITERAL_MAX_DEFAULT;
	l->literal_mem_max = IMAP_LITERAL_MEM_MAX_DEFAULT;
	l->mem_max = IMAP_MEM_MAX_DEFAULT;
	l->literal_plus = true;
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->limits = *limits;
	if (p->limits.line_max < 64)
		p->limits.line_max = 64;
	if (p->limits.args_max < 1)
		p->limits.args_max = 1;
	p->frames = calloc((size_t)p->limits.depth_max + 1, sizeof(*p->frames));
	if (p->frames == NULL) {
		free(p);
		return NULL;
	}
	buf_init(&p->tok, p->limits.line_max);
	arena_init(&p->arena, 8192, p->limits.mem_max);
	p->state = ST_START;
	p->skip_literals = true;
	return p;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	imap_parser_forget(p);
	buf_free(&p->tok);
	arena_free(&p->arena);
	if (p->pend != NULL)
		explicit_bzero(p->pend, (size_t)p->pend_cap * sizeof(*p->pend));
	free(p->pend);
	free(p->frames);
	free(p);
	*pp = NULL;
}

void imap_parser_set_literal_policy(struct imap_parser *p, imap_literal_policy_fn *fn, void *ctx)
{
	p->policy = fn;
	p->policy_ctx = ctx;
}

void imap_parser_set_literal_plus(struct imap_parser *p, bool literal_plus)
{
	p->limits.literal_plus = literal_plus;
}

const struct imap_cmd *imap_parser_command(const struct imap_parser *p)
{
	return &p->cmd;
}

const struct imap_parse_error *imap_parser_error(const struct imap_parser *p)
{
	return &p->err;
}

const char *imap_parser_line(const struct imap_parser *p, size_t *len_r)
{
	*len_r = p->line_out_len;
	return p->line;
}

struct arena *imap_parser_arena(struct imap_parser *p)
{
	return &p->arena;
}

void imap_parser_expect_line(struct imap_parser *p)
{
	p->want_line = true;
}

bool imap_parser_idle(const struct imap_parser *p)
{
	return p->state == ST_START;
}

void imap_parser_forget(struct imap_parser *p)
{
	arena_wipe(&p->arena);
	buf_wipe(&p->tok);
	explicit_bzero(p->tag, sizeof(p->tag));
}

/* Drop what the last event returned; called when the next feed starts. */
static void command_reset(struct imap_parser *p)
{
	arena_reset(&p->arena);
	buf_reset(&p->tok);
	p->reset_pending = false;
	p->npend = 0;
	p->depth = 0;
	p->nodes = 0;
	p->sections = 0;
	p->lit_mem_used = 0;
	p->lit_buf = NULL;
	p->lit_to_sink = false;
	p->line = NULL;
	p->line_out_len = 0;
	memset(&p->cmd, 0, sizeof(p->cmd));
}

/* A new command starts: forget the previous one's header. */
static void command_begin(struct imap_parser *p)
{
	if (p->npend > 0 || p->nodes > 0 || p->arena.used > 0)
		command_reset(p);
	p->line_len = 0;
	p->tag_len = 0;
	p->have_tag = false;
	p->name_len = 0;
	p->uid = false;
	p->fetch_mode = false;
	p->just_opened = false;
	p->tok_flags = 0;
	buf_reset(&p->tok);
}

/* ------------------------------------------------------------ errors */

static void skip_track_reset(struct imap_parser *p)
{
	p->sk_phase = SK_NONE;
	p->sk_size = 0;
	p->sk_plus = false;
}

/* Report an error and skip the rest of the command from the current
 * (unconsumed) byte on. */
static enum imap_parse_event fail_kind(struct imap_parser *p, bool tagged, enum imap_reply_kind kind,
				       const char *code, const char *text)
{
	p->tag[p->tag_len] = '\0';
	p->err.tag = tagged && p->have_tag ? p->tag : NULL;
	p->err.kind = kind;
	p->err.code = code;
	p->err.text = text;
	p->state = ST_SKIP;
	skip_track_reset(p);
	p->reset_pending = true;
	return IMAP_PARSE_ERROR;
}

static enum imap_parse_event fail(struct imap_parser *p, const char *text)
{
	return fail_kind(p, true, IMAP_REPLY_BAD, NULL, text);
}

/* ------------------------------------------------------------ arguments */

/* Count one more argument node against args_max. */
static int node_add(struct imap_parser *p)
{
	if (p->nodes >= p->limits.args_max)
		return -1;
	p->nodes++;
	return 0;
}

/* Append an argument to the innermost open list (or the top level). */
static int pend_push(struct imap_parser *p, const struct imap_arg *a)
{
	if (p->npend == p->pend_cap) {
		unsigned int cap = p->pend_cap == 0 ? 16 : p->pend_cap * 2;
		struct imap_arg *n;

		if (cap > p->limits.args_max)
			cap = p->limits.args_max;
		if (cap <= p->npend)
			return -1;
		n = reallocarray(p->pend, cap, sizeof(*n));
		if (n == NULL)
			return -1;
		p->pend = n;
		p->pend_cap = cap;
	}
	p->pend[p->npend++] = *a;
	return 0;
}

/* Move the arguments from index start on into the arena. */
static const struct imap_arg *pend_take(struct imap_parser *p, unsigned int start, unsigned int *count_r)
{
	unsigned int n = p->npend - start;
	struct imap_arg *items;

	*count_r = n;
	if (n == 0)
		return NULL;
	items = arena_calloc(&p->arena, n, sizeof(*items));
	if (items == NULL)
		return NULL;
	memcpy(items, p->pend + start, (size_t)n * sizeof(*items));
	p->npend = start;
	return items;
}

static enum imap_parse_event tok_append(struct imap_parser *p, const unsigned char *s, size_t n)
{
	if (buf_append(&p->tok, s, n) < 0)
		return fail_kind(p, true, IMAP_REPLY_BAD, "TOOBIG", "Command line too long");
	return IMAP_PARSE_MORE;
}

/* Finish a token (s, n) as an argument of the given type: from the input
 * directly when it lay in one chunk, else from tok. */
static enum imap_parse_event token_push(struct imap_parser *p, enum imap_arg_type type,
					const unsigned char *s, size_t n)
{
	struct imap_arg a = { .type = type, .flags = p->tok_flags };

	a.text = arena_strndup(&p->arena, s, n);
	if (a.text == NULL)
		return fail(p, "Command too large");
	a.len = n;
	if (type == IMAP_ARG_ATOM && n == 3 && (a.text[0] | 0x20) == 'n' && (a.text[1] | 0x20) == 'i' &&
	    (a.text[2] | 0x20) == 'l')
		a.type = IMAP_ARG_NIL;
	if (pend_push(p, &a) < 0)
		return fail(p, "Too many arguments");
	buf_reset(&p->tok);
	p->tok_flags = 0;
	p->state = ST_AFTER;
	return IMAP_PARSE_MORE;
}

/* Finish the token gathered so far plus (s, n) of the current chunk. */
static enum imap_parse_event token_finish(struct imap_parser *p, enum imap_arg_type type,
					  const unsigned char *s, size_t n)
{
	enum imap_parse_event ev;

	if (p->tok.len == 0)
		return token_push(p, type, s, n);
	if ((ev = tok_append(p, s, n)) != IMAP_PARSE_MORE)
		return ev;
	return token_push(p, type, (const unsigned char *)p->tok.data, p->tok.len);
}

static enum imap_parse_event frame_open(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_frame *f;

	if (p->depth >= p->limits.depth_max)
		return fail(p, "Too deeply nested lists");
	f = &p->frames[p->depth++];
	f->type = type;
	f->start = p->npend;
	f->name = NULL;
	f->name_len = 0;
	if (type == IMAP_ARG_SECTION) {
		f->name = arena_strndup(&p->arena, p->tok.data, p->tok.len);
		if (f->name == NULL)
			return fail(p, "Command too large");
		f->name_len = p->tok.len;
		buf_reset(&p->tok);
		p->tok_flags = 0;
		p->sections++;
	}
	p->just_opened = true;
	p->state = ST_ARG;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_event frame_close(struct imap_parser *p)
{
	struct imap_frame *f = &p->frames[p->depth - 1];
	struct imap_arg a = { .type = f->type };

	a.items = pend_take(p, f->start, &a.count);
	if (a.count > 0 && a.items == NULL)
		return fail(p, "Command too large");
	p->depth--;
	if (f->type == IMAP_ARG_SECTION) {
		a.text = f->name;
		a.len = f->name_len;
		p->sections--;
		p->section = a;
		p->state = ST_SUFFIX;
		return IMAP_PARSE_MORE;
	}
	if (pend_push(p, &a) < 0)
		return fail(p, "Too many arguments");
	p->state = ST_AFTER;
	return IMAP_PARSE_MORE;
}

/* The command is complete: hand it out. */
static enum imap_parse_event command_done(struct imap_parser *p)
{
	p->tag[p->tag_len] = '\0';
	p->name[p->name_len] = '\0';
	p->cmd.tag = p->tag;
	p->cmd.name = p->name;
	p->cmd.uid = p->uid;
	p->cmd.args = pend_take(p, 0, &p->cmd.count);
	if (p->cmd.count > 0 && p->cmd.args == NULL) {
		/* The line end is consumed: the next byte starts a command. */
		enum imap_parse_event ev = fail(p, "Command too large");

		p->state = ST_START;
		return ev;
	}
	p->state = ST_START;
	p->reset_pending = true;
	return IMAP_PARSE_COMMAND;
}

/* An argument position where the line ends (CR or LF at s[i]). */
static enum imap_parse_event line_end(struct imap_parser *p, unsigned char c, size_t *ip)
{
	if (p->depth > 0)
		return fail(p, p->sections > 0 ? "Missing ] in section" : "Missing ) in list");
	(*ip)++;
	if (c == '\r') {
		p->state = ST_EOL_LF;
		return IMAP_PARSE_MORE;
	}
	return command_done(p);
}

/* ------------------------------------------------------------ header */

static enum imap_parse_event st_start(struct imap_parser *p, const unsigned char *s, size_t *ip)
{
	unsigned char c = s[*ip];

	if (p->want_line) {
		/* An empty line is a valid answer (an empty SASL response). */
		command_begin(p);
		p->want_line = false;
		p->state = ST_RAW;
		return IMAP_PARSE_MORE;
	}
	if (c == '\n') {
		(*ip)++;
		return IMAP_PARSE_MORE;
	}
	if (c == '\r') {
		(*ip)++;
		p->state = ST_BLANK_LF;
		return IMAP_PARSE_MORE;
	}
	command_begin(p);
	p->state = ST_TAG;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_event st_tag(struct imap_parser *p, const unsigned char *s, size_t end, size_t *ip)
{
	size_t i = *ip, start = i;

	while (i < end && (imap_char_class[s[i]] & IMAP_CC_TAG))
		i++;
	if (i - start > IMAP_TAG_MAX - p->tag_len) {
		*ip = start;
		return fail_kind(p, false, IMAP_REPLY_BAD, NULL, "Tag too long");
	}
	memcpy(p->tag + p->tag_len, s + start, i - start);
	p->tag_len += i - start;
	*ip = i;
	if (i == end)
		return IMAP_PARSE_MORE;
	if (s[i] == ' ' && p->tag_len > 0) {
		p->have_tag = true;
		p->tag[p->tag_len] = '\0';
		*ip = i + 1;
		p->state = ST_NAME;
		return IMAP_PARSE_MORE;
	}
	if ((s[i] == '\r' || s[i] == '\n') && p->tag_len > 0) {
		p->have_tag = true;
		return fail(p, "Missing command");
	}
	return fail_kind(p, false, IMAP_REPLY_BAD, NULL, p->tag_len > 0 ? "Invalid tag" : "Missing tag");
}

/* The command name (or the word after UID) is complete. */
static enum imap_parse_event name_done(struct imap_parser *p, bool at_eol)
{
	p->name[p->name_len] = '\0';
	if (p->name_len == 0)
		return fail(p, "Missing command");
	if (!p->uid && strcmp(p->name, "UID") == 0) {
		if (at_eol)
			return fail(p, "Missing command after UID");
		p->uid = true;
		p->name_len = 0;
		return IMAP_PARSE_MORE;
	}
	p->fetch_mode = strcmp(p->name, "FETCH") == 0;
	if (!at_eol)
		p->state = ST_ARG;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_event st_name(struct imap_parser *p, const unsigned char *s, size_t end, size_t *ip)
{
	size_t i = *ip;
	enum imap_parse_event ev;

	while (i < end && (imap_char_class[s[i]] & IMAP_CC_ATOM)) {
		if (p->name_len >= IMAP_NAME_MAX) {
			*ip = i;
			return fail(p, "Unknown command");
		}
		p->name[p->name_len++] = (char)((s[i] >= 'a' && s[i] <= 'z') ? s[i] - 32 : s[i]);
		i++;
	}
	*ip = i;
	if (i == end)
		return IMAP_PARSE_MORE;
	if (s[i] == ' ') {
		*ip = i + 1;
		return name_done(p, false);
	}
	if (s[i] == '\r' || s[i] == '\n') {
		ev = name_done(p, true);
		if (ev != IMAP_PARSE_MORE)
			return ev;
		return line_end(p, s[i], ip);
	}
	return fail(p, "Invalid characters in command name");
}

/* ------------------------------------------------------------ arguments */

static bool is_section_name(const struct buf *tok)
{
	static const char *const names[] = { "BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE" };

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (tok->len == strlen(names[k]) && strncasecmp(tok->data, names[k], tok->len) == 0)
			return true;
	return false;
}

static enum imap_parse_event st_arg(struct imap_parser *p, const unsigned char *s, size_t *ip)
{
	unsigned char c = s[*ip];
	bool opened = p->just_opened;
	struct imap_frame *top = p->depth > 0 ? &p->frames[p->depth - 1] : NULL;

	p->just_opened = false;
	if (c == ')' && opened && top != NULL && top->type == IMAP_ARG_LIST) {
		(*ip)++;
		return frame_close(p);
	}
	if (c == ']' && p->sections > 0) {
		if (!opened || top == NULL || top->type != IMAP_ARG_SECTION)
			return fail(p, "Unexpected ]");
		(*ip)++;
		return frame_close(p);
	}
	if (c == '\r' || c == '\n')
		return fail(p, opened ? (p->sections > 0 ? "Missing ] in section" : "Missing ) in list")
				      : "Unexpected end of line");
	if (c == ' ')
		return fail(p, "Unexpected space");
	if (c == ')')
		return fail(p, "Unexpected )");
	if (node_add(p) < 0)
		return fail(p, "Too many arguments");
	switch (c) {
	case '(':
		(*ip)++;
		return frame_open(p, IMAP_ARG_LIST);
	case '"':
		(*ip)++;
		p->state = ST_QUOTED;
		return IMAP_PARSE_MORE;
	case '{':
		(*ip)++;
		p->lit_binary = false;
		p->state = ST_LIT_NUM;
		p->lit_size = 0;
		p->lit_digits = 0;
		p->lit_nonsync = false;
		p->lit_overflow = false;
		return IMAP_PARSE_MORE;
	case '~':
		(*ip)++;
		p->state = ST_TILDE;
		return IMAP_PARSE_MORE;
	case '\\':
		(*ip)++;
		p->state = ST_ATOM;
		return tok_append(p, &c, 1);
	default:
		if ((imap_char_class[c] & IMAP_CC_TOKEN) || c == ']') {
			p->state = ST_ATOM;
			return IMAP_PARSE_MORE;
		}
		return fail(p, c >= 0x80 ? "8-bit characters outside a string" : "Invalid characters in argument");
	}
}

static enum imap_parse_event st_atom(struct imap_parser *p, const unsigned char *s, size_t end, size_t *ip)
{
	unsigned char mask = p->sections > 0 ? IMAP_CC_SCAN_SEC : IMAP_CC_SCAN_TOP;
	size_t i = *ip, start = i;
	enum imap_parse_event ev;

	/* The scan stops at "[" (an ATOM-CHAR) so that a section can start. */
	while (i < end && (imap_char_class[s[i]] & mask))
		i++;
	*ip = i;
	if (i == end || s[i] == '[') {
		if (i > start && (ev = tok_append(p, s + start, i - start)) != IMAP_PARSE_MORE) {
			*ip = start;
			return ev;
		}
		if (i == end)
			return IMAP_PARSE_MORE;
		*ip = i + 1;
		if (p->fetch_mode && p->sections == 0 && is_section_name(&p->tok))
			return frame_open(p, IMAP_ARG_SECTION);
		return tok_append(p, s + i, 1);
	}
	return token_finish(p, IMAP_ARG_ATOM, s + start, i - start);
}

static enum imap_parse_event st_quoted(struct imap_parser *p, const unsigned char *s, size_t end, size_t *ip)
{
	size_t i = *ip, start = i;
	enum imap_parse_event ev;

	while (i < end && (imap_char_class[s[i]] & IMAP_CC_QUOTED)) {
		if (s[i] >= 0x80)
			p->tok_flags |= IMAP_ARG_F_8BIT;
		i++;
	}
	*ip = i;
	if (i < end && s[i] == '"') {
		*ip = i + 1;
		return token_finish(p, IMAP_ARG_QUOTED, s + start, i - start);
	}
	if (i > start && (ev = tok_append(p, s + start, i - start)) != IMAP_PARSE_MORE) {
		*ip = start;
		return ev;
	}
	if (i == end)
		return IMAP_PARSE_MORE;
	switch (s[i]) {
	case '\\':
		*ip = i + 1;
		p->state = ST_QUOTED_ESC;
		return IMAP_PARSE_MORE;
	case '\0':
		return fail(p, "NUL in quoted string");
	default:
		return fail(p, "Missing \" at the end of a quoted string");
	}
}

static enum imap_parse_event st_quoted_esc(struct imap_parser *p, const unsigned char *s, size_t *ip)
{
	unsigned char c = s[*ip];

	/* RFC 9051 section 9: QUOTED-CHAR allows "\" only before quoted-specials. */
	if (c != '"' && c != '\\')
		return fail(p, "Invalid \\ escape in a quoted string");
	(*ip)++;
	p->state = ST_QUOTED;
	return tok_append(p, &c, 1);
}

static enum imap_parse_event st_tilde(struct imap_parser *p, const unsigned char *s, size_t *ip)
{
	static const unsigned char tilde = '~';

	if (s[*ip] == '{') {
		(*ip)++;
		p->lit_binary = true;
		p->state = ST_LIT_NUM;
		p->lit_size = 0;
		p->lit_digits = 0;
		p->lit_nonsync = false;
		p->lit_overflow = false;
		return IMAP_PARSE_MORE;
	}
	/* An atom that starts with "~". */
	p->state = ST_ATOM;
	return tok_append(p, &tilde, 1);
}

/* ------------------------------------------------------------ literals */

static enum imap_parse_event st_lit_num(struct imap_parser *p, const unsigned char *s, size_t end, size_t *ip)
{
	size_t i = *ip;

	while (i < end && s[i] >= '0' && s[i] <= '9') {
		uint64_t v;

		if (__builtin_mul_overflow(p->lit_size, (uint64_t)10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			p->lit_overflow = true;
		else
			p->lit_size = v;
		p->lit_digits++;
		i++;
	}
	*ip = i;
	if (i == end)
		return IMAP_PARSE_MORE;
	if (p->lit_digits == 0)
		return fail(p, "Missing literal size");
	if (s[i] == '+') {
		*ip = i + 1;
		p->lit_nonsync = true;
		p->state = ST_LIT_CLOSE;
		return IMAP_PARSE_MORE;
	}
	if (s[i] == '}') {
		*ip = i + 1;
		p->state = ST_LIT_EOL;
		return IMAP_PARSE_MORE;
	}
	return fail(p, "Invalid literal size");
}

/* A refused literal: a synchronizing one ends the command (its octets
 * never come); a non-synchronizing one is read and dropped. */
static enum imap_parse_event literal_refuse(struct imap_parser *p, enum imap_reply_kind kind,
					    const char *code, const char *text)
{
	enum imap_parse_event ev = fail_kind(p, true, kind, code, text);

	if (p->lit_nonsync) {
		p->lit_left = p->lit_overflow ? UINT64_MAX : p->lit_size;
		p->state = p->lit_left > 0 ? ST_DISCARD : ST_SKIP;
	} else {
		p->state = ST_START;
	}
	return ev;
}

static unsigned int literal_index(const struct imap_parser *p)
{
	return p->depth > 0 ? p->frames[0].start : p->npend;
}

static enum imap_parse_event literal_finish(struct imap_parser *p)
{
	struct imap_arg a = { .flags = p->lit_flags };

	if (p->lit_to_sink) {
		a.type = IMAP_ARG_STREAM;
		a.len = (size_t)p->lit_size;
	} else {
		a.type = IMAP_ARG_LITERAL;
		a.text = p->lit_buf;
		a.len = (size_t)p->lit_size;
		p->lit_buf[a.len] = '\0';
	}
	p->lit_buf = NULL;
	p->lit_to_sink = false;
	if (pend_push(p, &a) < 0)
		return fail(p, "Too many arguments");
	p->state = ST_AFTER;
	return IMAP_PARSE_MORE;
}

/* The header of a literal is complete (its LF consumed). */
static enum imap_parse_event literal_begin(struct imap_parser *p)
{
	struct imap_literal_info info;
	struct imap_parse_error refusal = { .kind = IMAP_REPLY_NO, .code = NULL, .text = "Literal refused" };
	enum imap_literal_action action = IMAP_LITERAL_MEMORY;

	if (p->lit_nonsync && !p->limits.literal_plus &&
	    (p->lit_overflow || p->lit_size > IMAP_LITERAL_MINUS_MAX))
		return literal_refuse(p, IMAP_REPLY_BAD, "TOOBIG",
				      "Non-synchronizing literal over 4096 octets (LITERAL-)");
	if (p->lit_overflow || p->lit_size > p->limits.literal_max || p->lit_size > SIZE_MAX - 1)
		return literal_refuse(p, IMAP_REPLY_NO, "TOOBIG", "Literal too large");
	p->lit_flags = (p->lit_nonsync ? IMAP_ARG_F_NONSYNC : 0) | (p->lit_binary ? IMAP_ARG_F_BINARY : 0);
	if (p->policy != NULL) {
		p->tag[p->tag_len] = '\0';
		p->name[p->name_len] = '\0';
		info.tag = p->tag;
		info.name = p->name;
		info.uid = p->uid;
		info.index = literal_index(p);
		info.depth = p->depth;
		info.size = p->lit_size;
		info.nonsync = p->lit_nonsync;
		info.binary = p->lit_binary;
		p->sink.write = NULL;
		p->sink.ctx = NULL;
		action = p->policy(p->policy_ctx, &info, &p->sink, &refusal);
	}
	switch (action) {
	case IMAP_LITERAL_SINK:
		if (p->sink.write == NULL)
			return literal_refuse(p, IMAP_REPLY_NO, NULL, "Literal refused");
		p->lit_to_sink = true;
		break;
	case IMAP_LITERAL_REFUSE:
		return literal_refuse(p, refusal.kind, refusal.code, refusal.text);
	case IMAP_LITERAL_MEMORY:
	default:
		if (p->lit_size > p->limits.literal_mem_max - p->lit_mem_used)
			return literal_refuse(p, IMAP_REPLY_NO, "TOOBIG", "Literal too large for this command");
		p->lit_buf = arena_alloc(&p->arena, (size_t)p->lit_size + 1);
		if (p->lit_buf == NULL)
			return literal_refuse(p, IMAP_REPLY_NO, "TOOBIG", "Command too large");
		p->lit_mem_used += (size_t)p->lit_size;
		break;
	}
	p->lit_left = p->lit_size;
	p->lit_pos = 0;
	p->state = ST_LITERAL;
	if (p->lit_left == 0) {
		enum imap_parse_event ev = literal_finish(p);

		if (ev != IMAP_PARSE_MORE)
			return ev;
	}
	return p->lit_nonsync ? IMAP_PARSE_MORE : IMAP_PARSE_CONTINUE;
}

static enum imap_parse_event st_lit_close(struct imap_parser *p, const unsigned char *s, size_t *ip)
{
	if (s[*ip] != '}')
		return fail(p, "Invalid literal size");
	(*ip)++;
	p->state = ST_LIT_EOL;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_event st_lit_eol(struct imap_parser *p, const unsigned char *s, size_t *ip)
{
	unsigned char c = s[*ip];

	if (p->state == ST_LIT_EOL && c == '\r') {
		(*ip)++;
		p->state = ST_LIT_LF;
		return IMAP_PARSE_MORE;
	}
	if (c != '\n')
		return fail(p, "Literal must end the line");
	(*ip)++;
	return literal_begin(p);
}

static enum imap_parse_event st_literal(struct imap_parser *p, const unsigned char *s, size_t len, size_t *ip)
{
	size_t avail = len - *ip;
	size_t n = p->lit_left < avail ? (size_t)p->lit_left : avail;
	const unsigned char *d = s + *ip;

	if (memchr(d, '\0', n) != NULL)
		p->lit_flags |= IMAP_ARG_F_NUL;
	if (p->lit_to_sink) {
		if (p->sink.write != NULL && p->sink.write(p->sink.ctx, d, n) < 0) {
			p->sink.write = NULL;
			p->lit_flags |= IMAP_ARG_F_SINK_ERR;
		}
	} else {
		memcpy(p->lit_buf + p->lit_pos, d, n);
		for (size_t k = 0; k < n && !(p->lit_flags & IMAP_ARG_F_8BIT); k++)
			if (d[k] >= 0x80)
				p->lit_flags |= IMAP_ARG_F_8BIT;
		p->lit_pos += n;
	}
	*ip += n;
	p->lit_left -= n;
	if (p->lit_left == 0)
		return literal_finish(p);
	return IMAP_PARSE_MORE;
}

/* Advance the literal tracker of ST_SKIP by one byte (not LF); -1 when
 * the byte breaks the pattern. */
static int skip_track(struct imap_parser *p, unsigned char c)
{
	bool digit = c >= '0' && c <= '9';
	uint64_t v;

	switch (p->sk_phase) {
	case SK_OPEN:
	case SK_DIGITS:
		if (digit) {
			if (__builtin_mul_overflow(p->sk_size, (uint64_t)10, &v) ||
			    __builtin_add_overflow(v, (uint64_t)(c - '0'), &v))
				v = UINT64_MAX;
			p->sk_size = v;
			p->sk_phase = SK_DIGITS;
			return 0;
		}
		if (p->sk_phase == SK_DIGITS && (c == '+' || c == '}')) {
			p->sk_plus = c == '+';
			p->sk_phase = c == '+' ? SK_PLUS : SK_CLOSED;
			return 0;
		}
		return -1;
	case SK_PLUS:
		if (c != '}')
			return -1;
		p->sk_phase = SK_CLOSED;
		return 0;
	case SK_CLOSED:
		if (c != '\r')
			return -1;
		p->sk_phase = SK_CR;
		return 0;
	default:
		return -1;
	}
}

static enum imap_parse_event st_discard(struct imap_parser *p, size_t len, size_t *ip)
{
	size_t avail = len - *ip;
	size_t n = p->lit_left < avail ? (size_t)p->lit_left : avail;

	*ip += n;
	p->lit_left -= n;
	if (p->lit_left == 0) {
		p->state = ST_SKIP;
		skip_track_reset(p);
	}
	return IMAP_PARSE_MORE;
}

/* Drop the rest of a failed command: up to a line end that is not the
 * end of a literal header; the octets of {n+} literals are dropped too. */
static enum imap_parse_event st_skip(struct imap_parser *p, const unsigned char *s, size_t len, size_t *ip)
{
	size_t i = *ip;

	while (i < len) {
		unsigned char c = s[i++];

		if (c == '\n') {
			bool lit = p->skip_literals && (p->sk_phase == SK_CLOSED || p->sk_phase == SK_CR);

			if (lit && p->sk_plus) {
				/* {n+}: its octets follow, then more of the command. */
				p->lit_left = p->sk_size;
				p->state = p->sk_size > 0 ? ST_DISCARD : ST_SKIP;
				skip_track_reset(p);
				if (p->state == ST_SKIP)
					continue;
			} else {
				/* A plain line end, or a synchronizing literal that
				 * the client will not send: the command is over. */
				p->state = ST_START;
				p->skip_literals = true;
			}
			*ip = i;
			return IMAP_PARSE_MORE;
		}
		if (skip_track(p, c) == 0)
			continue;
		skip_track_reset(p);
		if (c == '{')
			p->sk_phase = SK_OPEN;
	}
	*ip = i;
	return IMAP_PARSE_MORE;
}

/* ------------------------------------------------------------ after */

static enum imap_parse_event st_after(struct imap_parser *p, const unsigned char *s, size_t *ip)
{
	unsigned char c = s[*ip];
	struct imap_frame *top = p->depth > 0 ? &p->frames[p->depth - 1] : NULL;

	switch (c) {
	case ' ':
		(*ip)++;
		p->state = ST_ARG;
		return IMAP_PARSE_MORE;
	case ')':
		if (top == NULL || top->type != IMAP_ARG_LIST)
			return fail(p, "Unexpected )");
		(*ip)++;
		return frame_close(p);
	case ']':
		if (top == NULL || top->type != IMAP_ARG_SECTION)
			return fail(p, "Unexpected ]");
		(*ip)++;
		return frame_close(p);
	case '\r':
	case '\n':
		return line_end(p, c, ip);
	default:
		return fail(p, "Missing space between arguments");
	}
}

static enum imap_parse_event st_suffix(struct imap_parser *p, const unsigned char *s, size_t end, size_t *ip)
{
	size_t i = *ip, start = i;
	enum imap_parse_event ev;

	while (i < end && (imap_char_class[s[i]] & IMAP_CC_ATOM))
		i++;
	*ip = i;
	if (i > start && (ev = tok_append(p, s + start, i - start)) != IMAP_PARSE_MORE) {
		*ip = start;
		return ev;
	}
	if (i == end)
		return IMAP_PARSE_MORE;
	if (p->tok.len > 0) {
		p->section.suffix = arena_strndup(&p->arena, p->tok.data, p->tok.len);
		if (p->section.suffix == NULL)
			return fail(p, "Command too large");
		p->section.suffix_len = p->tok.len;
		buf_reset(&p->tok);
	}
	if (pend_push(p, &p->section) < 0)
		return fail(p, "Too many arguments");
	memset(&p->section, 0, sizeof(p->section));
	p->state = ST_AFTER;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_event st_eol_lf(struct imap_parser *p, const unsigned char *s, size_t *ip)
{
	if (s[*ip] != '\n')
		return fail(p, "CR without LF");
	(*ip)++;
	return command_done(p);
}

static enum imap_parse_event st_blank_lf(struct imap_parser *p, const unsigned char *s, size_t *ip)
{
	if (s[*ip] != '\n') {
		p->have_tag = false;
		return fail_kind(p, false, IMAP_REPLY_BAD, NULL, "CR without LF");
	}
	(*ip)++;
	p->state = ST_START;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_event st_raw(struct imap_parser *p, const unsigned char *s, size_t end, size_t *ip)
{
	size_t i = *ip, start = i;
	const unsigned char *nl = memchr(s + i, '\n', end - i);
	size_t stop = nl != NULL ? (size_t)(nl - s) : end;
	enum imap_parse_event ev;

	if (stop > start && (ev = tok_append(p, s + start, stop - start)) != IMAP_PARSE_MORE) {
		p->skip_literals = false;
		return ev;
	}
	*ip = stop;
	if (nl == NULL)
		return IMAP_PARSE_MORE;
	*ip = stop + 1;
	if (p->tok.len > 0 && p->tok.data[p->tok.len - 1] == '\r')
		p->tok.data[--p->tok.len] = '\0';
	p->line = p->tok.data != NULL ? p->tok.data : "";
	p->line_out_len = p->tok.len;
	p->state = ST_START;
	p->reset_pending = true;
	return IMAP_PARSE_LINE;
}

/* ------------------------------------------------------------ driver */

/* One step in a state that counts toward line_max; s[*ip .. end) is
 * within the line budget. */
static enum imap_parse_event step_line(struct imap_parser *p, const unsigned char *s, size_t end, size_t *ip)
{
	switch (p->state) {
	case ST_TAG:
		return st_tag(p, s, end, ip);
	case ST_NAME:
		return st_name(p, s, end, ip);
	case ST_ARG:
		return st_arg(p, s, ip);
	case ST_ATOM:
		return st_atom(p, s, end, ip);
	case ST_QUOTED:
		return st_quoted(p, s, end, ip);
	case ST_QUOTED_ESC:
		return st_quoted_esc(p, s, ip);
	case ST_TILDE:
		return st_tilde(p, s, ip);
	case ST_LIT_NUM:
		return st_lit_num(p, s, end, ip);
	case ST_LIT_CLOSE:
		return st_lit_close(p, s, ip);
	case ST_LIT_EOL:
	case ST_LIT_LF:
		return st_lit_eol(p, s, ip);
	case ST_AFTER:
		return st_after(p, s, ip);
	case ST_SUFFIX:
		return st_suffix(p, s, end, ip);
	case ST_EOL_LF:
		return st_eol_lf(p, s, ip);
	case ST_RAW:
		return st_raw(p, s, end, ip);
	default:
		return fail(p, "Internal parser state");
	}
}

enum imap_parse_event imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
				       size_t *consumed_r)
{
	const unsigned char *s = data;
	enum imap_parse_event ev = IMAP_PARSE_MORE;
	size_t i = 0;

	if (p->reset_pending)
		command_reset(p);
	while (i < len && ev == IMAP_PARSE_MORE) {
		switch (p->state) {
		case ST_LITERAL:
			ev = st_literal(p, s, len, &i);
			break;
		case ST_DISCARD:
			ev = st_discard(p, len, &i);
			break;
		case ST_SKIP:
			ev = st_skip(p, s, len, &i);
			break;
		case ST_START:
			ev = st_start(p, s, &i);
			break;
		case ST_BLANK_LF:
			ev = st_blank_lf(p, s, &i);
			break;
		default: {
			size_t start = i, room = p->limits.line_max - p->line_len;
			size_t end = len - i > room ? i + room : len;

			if (room == 0) {
				if (p->state == ST_RAW)
					p->skip_literals = false;
				ev = fail_kind(p, p->state != ST_TAG && p->state != ST_RAW,
					       IMAP_REPLY_BAD, "TOOBIG", "Command line too long");
				break;
			}
			ev = step_line(p, s, end, &i);
			if (p->state != ST_START)
				p->line_len += i - start;
			break;
		}
		}
	}
	*consumed_r = i;
	return ev;
}
