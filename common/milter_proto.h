/* milter_proto: the wire format of the Sendmail milter protocol
 * (version 2 to 6), MTA side: packets (a 32-bit big-endian length, a
 * command byte, data) built into a struct buf, and the filter's replies
 * split out of a byte stream and decoded with every field checked to lie
 * inside its packet.  Nothing here does I/O; common/milter_client.c drives
 * the conversation.  Fuzz target: tests/fuzz/fuzz_milter_reply.c. */
#ifndef POSTERN_MILTER_PROTO_H
#define POSTERN_MILTER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MILTER_VERSION 6              /* the newest protocol we speak */
#define MILTER_CHUNK_MAX 65535        /* body bytes in one SMFIC_BODY */
#define MILTER_PACKET_MAX 1048576     /* longest reply packet we take (cmd + data) */
#define MILTER_STAGES 7               /* macro stages of the negotiation reply */

/* Commands, MTA to filter. */
#define MILTER_CMD_ABORT 'A'
#define MILTER_CMD_BODY 'B'
#define MILTER_CMD_CONNECT 'C'
#define MILTER_CMD_MACRO 'D'
#define MILTER_CMD_BODYEOB 'E'
#define MILTER_CMD_HELO 'H'
#define MILTER_CMD_HEADER 'L'
#define MILTER_CMD_MAIL 'M'
#define MILTER_CMD_EOH 'N'
#define MILTER_CMD_OPTNEG 'O'
#define MILTER_CMD_QUIT 'Q'
#define MILTER_CMD_RCPT 'R'
#define MILTER_CMD_DATA 'T'

/* Replies, filter to MTA. */
#define MILTER_R_ADDRCPT '+'
#define MILTER_R_DELRCPT '-'
#define MILTER_R_ADDRCPT_PAR '2'
#define MILTER_R_SHUTDOWN '4'
#define MILTER_R_ACCEPT 'a'
#define MILTER_R_REPLBODY 'b'
#define MILTER_R_CONTINUE 'c'
#define MILTER_R_DISCARD 'd'
#define MILTER_R_CHGFROM 'e'
#define MILTER_R_CONN_FAIL 'f'
#define MILTER_R_ADDHEADER 'h'
#define MILTER_R_INSHEADER 'i'
#define MILTER_R_CHGHEADER 'm'
#define MILTER_R_OPTNEG 'O'
#define MILTER_R_PROGRESS 'p'
#define MILTER_R_QUARANTINE 'q'
#define MILTER_R_REJECT 'r'
#define MILTER_R_SKIP 's'
#define MILTER_R_TEMPFAIL 't'
#define MILTER_R_REPLYCODE 'y'

/* Actions (SMFIF_*) a filter may take. */
#define MILTER_ACT_ADDHDRS 0x001
#define MILTER_ACT_CHGBODY 0x002
#define MILTER_ACT_ADDRCPT 0x004
#define MILTER_ACT_DELRCPT 0x008
#define MILTER_ACT_CHGHDRS 0x010
#define MILTER_ACT_QUARANTINE 0x020
#define MILTER_ACT_CHGFROM 0x040
#define MILTER_ACT_ADDRCPT_PAR 0x080
#define MILTER_ACT_SETSYMLIST 0x100
#define MILTER_ACT_ALL 0x1ff

/* Protocol steps (SMFIP_*): skip a command, or no reply to it. */
#define MILTER_P_NOCONNECT 0x000001
#define MILTER_P_NOHELO 0x000002
#define MILTER_P_NOMAIL 0x000004
#define MILTER_P_NORCPT 0x000008
#define MILTER_P_NOBODY 0x000010
#define MILTER_P_NOHDRS 0x000020
#define MILTER_P_NOEOH 0x000040
#define MILTER_P_NR_HDR 0x000080
#define MILTER_P_NOUNKNOWN 0x000100
#define MILTER_P_NODATA 0x000200
#define MILTER_P_SKIP 0x000400
#define MILTER_P_RCPT_REJ 0x000800
#define MILTER_P_NR_CONN 0x001000
#define MILTER_P_NR_HELO 0x002000
#define MILTER_P_NR_MAIL 0x004000
#define MILTER_P_NR_RCPT 0x008000
#define MILTER_P_NR_DATA 0x010000
#define MILTER_P_NR_UNKN 0x020000
#define MILTER_P_NR_EOH 0x040000
#define MILTER_P_NR_BODY 0x080000
#define MILTER_P_HDR_LEADSPC 0x100000

/* Macro stages of the negotiation reply (SMFIM_*). */
enum milter_stage {
	MILTER_STAGE_CONNECT, MILTER_STAGE_HELO, MILTER_STAGE_MAIL, MILTER_STAGE_RCPT,
	MILTER_STAGE_DATA, MILTER_STAGE_EOM, MILTER_STAGE_EOH,
};

/* One decoded reply.  Strings point into the packet (NUL-terminated
 * there); only the members of its code are set. */
struct milter_reply {
	char code;
	uint32_t version, actions, protocol;     /* 'O' */
	const char *macros[MILTER_STAGES];       /* 'O': stage lists, NULL if not given */
	uint32_t index;                          /* 'i', 'm' */
	const char *name, *value;                /* 'h', 'i', 'm' */
	const char *addr;                        /* '+', '-', '2', 'e' */
	const char *args;                        /* '2', 'e': ESMTP args, NUL-separated */
	size_t args_len;
	const char *data;                        /* 'b' */
	size_t data_len;
	int smtp_code;                           /* 'y': 400..599 */
	const char *text;                        /* 'y': reply text; 'q': reason */
};

/* Start a packet of command cmd in out; *mark_r remembers where, for
 * milter_end.  0, or -1 (out's cap). */
int milter_begin(struct buf *out, char cmd, size_t *mark_r);
/* Append a NUL-terminated string to the packet being built. */
int milter_add_str(struct buf *out, const char *s);
/* Append raw bytes to the packet being built. */
int milter_add_bytes(struct buf *out, const void *p, size_t n);
/* Append a 32-bit (network order) / 16-bit integer. */
int milter_add_u32(struct buf *out, uint32_t v);
int milter_add_u16(struct buf *out, uint16_t v);
/* Close the packet begun at mark: write its length.  0, or -1 when it
 * is over MILTER_PACKET_MAX. */
int milter_end(struct buf *out, size_t mark);
/* A whole packet: cmd with len bytes of data. */
int milter_packet(struct buf *out, char cmd, const void *data, size_t len);

/* Find the first packet in (p, len): 1 with its cmd + data at *pkt_r
 * (*pkt_len_r bytes, at least 1) and *used_r the bytes it took; 0 when
 * more bytes are needed; -1 when its length is 0 or over max. */
int milter_packet_split(const char *p, size_t len, size_t max, const char **pkt_r,
			size_t *pkt_len_r, size_t *used_r);
/* Decode a reply packet (cmd + data, as milter_packet_split gives it):
 * 0, or -1 with *error_r (static) when its code is unknown or its data
 * does not have the code's form.  The packet must stay alive while r is
 * used. */
int milter_reply_parse(const char *pkt, size_t len, struct milter_reply *r, const char **error_r);

#endif
