/* mailbox_store_snap: postern-snapshot, the folded state of a folder in
 * one binary file that every session maps read-only and shares.
 *
 * Offers: writing the state a session has read as a snapshot, and
 * starting a session's state from one (mbox_snap_attach): the session
 * then reads only what dovecot-uidlist and postern-index gained since,
 * so opening an unchanged folder of 100,000 messages reads neither, and
 * the numbers of its messages are held once, in pages of the page cache
 * that every session of the folder shares.  Lookups by UID and by base
 * name for the rest of the store.
 *
 * What a snapshot says is only trusted when it summarizes the files as
 * they are now: the log's random ID (new with every postern-index file)
 * and the length of it that was folded, which the log still has (it is
 * append-only: its first bytes never change); the UID list's
 * UIDVALIDITY and its last line folded, found again at the same offset
 * (records are only ever appended, UIDs ascending, and what a UID names
 * never changes, so what follows that line is exactly what was listed
 * since); a checksum of the whole file; and every field in range.
 * Anything else -- a snapshot of another log, of a list rewritten since
 * (by Postern or Dovecot), a damaged or short one -- is not used: the
 * files are then read whole, as without a snapshot, and the session
 * writes a new one.  A snapshot is written whole under the exclusive
 * folder lock (temp file, fsync, rename), so none is seen half written;
 * an older one that is still in place after a crash still summarizes
 * the start of the same files, and is used.
 *
 * Trusts: nothing in the file (see above; names are checked as base
 * names).  The mapping is read-only; the file is only ever replaced by
 * rename, never changed in place.  Fails: -1 with errno; a snapshot that
 * cannot be written is logged by the caller and costs speed only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "fsutil.h"
#include "log.h"
#include "mailbox_store_int.h"

#define SNAP_MAGIC "POSTERN-SNAPSHOT"   /* 16 bytes */
#define SNAP_VERSION 3                  /* 2: the view's array (struct mbox_msg, native) at the end; 3: sums mixed */
#define SNAP_TMP "postern-snapshot.tmp"
#define SNAP_HDR 192
#define SNAP_BYTE_ORDER 0x01020304u     /* stored as the CPU has it: another byte order reads otherwise */
#define SNAP_ALIGN_MAX 65536            /* the largest page the array may be aligned to */
#define SNAP_ENT 64                     /* one listed UID (sizes where an index record has them) */
#define SNAP_EX 16                      /* one remembered expunge */
#define SNAP_NIDX 8                     /* (hash of a base name, entry) */
#define SNAP_CHG 24                     /* a message changed last: UID, place in the array, MODSEQ, flags */
#define SNAP_CHANGES_MAX 4096           /* the messages changed last that it lists (QRESYNC) */
#define SNAP_ANCHOR_MAX DOVECOT_UIDLIST_LINE_MAX
#define SNAP_ENTRIES_MAX DOVECOT_UIDLIST_RECORDS_MAX
#define SNAP_NAME_MAX (1 + MBOX_BASE_MAX + 8)
#define SNAP_FILE_MAX ((size_t)SNAP_HDR + SNAP_ANCHOR_MAX + 64 + \
		       (size_t)SNAP_ENTRIES_MAX * (SNAP_ENT + SNAP_NIDX + SNAP_NAME_MAX) + \
		       (size_t)MBOX_EXPUNGED_MAX * SNAP_EX + 8 + SNAP_CHANGES_MAX * SNAP_CHG + SNAP_ALIGN_MAX + \
		       (size_t)SNAP_ENTRIES_MAX * sizeof(struct mbox_msg))
#define SNAP_OUT_BLOCK 65536

size_t mbox_snapshot_min = 64, mbox_snapshot_tail_min = 256;

/* Bits above the 26 other letters of an entry's word at 8. */
#define SNAP_OTHER_MASK ((1u << 26) - 1)
#define SNAP_LIVE (1u << 26)            /* a message (else only listed) */
#define SNAP_DUP (1u << 27)             /* MBOX_STATE_DUP */
#define SNAP_UNMEASURED (1u << 28)      /* MBOX_STATE_UNMEASURED */
#define SNAP_EMAILID (1u << 29)         /* the name is followed by an EMAILID */
#define SNAP_BITS_KNOWN (SNAP_OTHER_MASK | SNAP_LIVE | SNAP_DUP | SNAP_UNMEASURED | SNAP_EMAILID)

struct mbox_snap {
	const unsigned char *map;
	size_t size;
	int fd;                         /* the file, for the view's private mapping (-1: none) */
	uint64_t msgs_off;              /* the view's array: n_live struct mbox_msg, page-aligned */
	uint32_t uidvalidity, uidnext, n, n_live, n_ex, recent_hw, stamp_verified, anchor_len;
	uint64_t log_id, log_off, log_records, ul_off, highestmodseq, ex_floor;
	long long new_stamp, cur_stamp;
	const unsigned char *anchor, *ent, *ex, *nidx, *names, *chg;
	size_t names_size;
	uint32_t n_chg;                 /* messages changed last, listed: every live one with a MODSEQ */
	uint64_t chg_floor;             /* above this (for QRESYNC) */
	uint64_t sum_b;
	int rest;                       /* expunges, name index, names: 0 unchecked, 1 good, -1 damaged */
	int bad_entry;                  /* an entry used was out of range: set aside at the next sync */
};

/* ---- checksum ----
 * Fletcher's sums over 64-bit words, in four interleaved lanes: every
 * word is added twice (once into a running sum, once more through the
 * sum of sums, so that order counts), which a CPU does at memory speed.
 * It finds damage (a torn write, zeros, flipped bits), which is all it
 * is for: nobody but a writer of the folder can write the file. */

struct snap_sum {
	uint64_t a[4], b[4];
	uint64_t len;
	unsigned char carry[32];
	size_t nc;
};

static void snap_sum_init(struct snap_sum *s)
{
	memset(s, 0, sizeof(*s));
}

static void snap_sum_blocks(struct snap_sum *s, const unsigned char *p, size_t blocks)
{
	uint64_t a0 = s->a[0], a1 = s->a[1], a2 = s->a[2], a3 = s->a[3];
	uint64_t b0 = s->b[0], b1 = s->b[1], b2 = s->b[2], b3 = s->b[3];

	for (size_t i = 0; i < blocks; i++, p += 32) {
		a0 += mbox_get64(p);
		b0 += a0;
		a1 += mbox_get64(p + 8);
		b1 += a1;
		a2 += mbox_get64(p + 16);
		b2 += a2;
		a3 += mbox_get64(p + 24);
		b3 += a3;
	}
	s->a[0] = a0, s->a[1] = a1, s->a[2] = a2, s->a[3] = a3;
	s->b[0] = b0, s->b[1] = b1, s->b[2] = b2, s->b[3] = b3;
}

static void snap_sum_add(struct snap_sum *s, const void *data, size_t n)
{
	const unsigned char *p = data;

	s->len += n;
	if (s->nc > 0) {
		size_t take = 32 - s->nc < n ? 32 - s->nc : n;
		memcpy(s->carry + s->nc, p, take);
		s->nc += take;
		p += take;
		n -= take;
		if (s->nc < 32)
			return;
		snap_sum_blocks(s, s->carry, 1);
		s->nc = 0;
	}
	snap_sum_blocks(s, p, n / 32);
	p += n / 32 * 32;
	memcpy(s->carry, p, n % 32);
	s->nc = n % 32;
}

/* A bijection of 64-bit words in which every input bit moves about
 * half the output bits: a change confined to a word's top byte (where
 * a flipped byte of the last lane leaves both of its sums) cannot
 * cancel in the next step, as it could when the sums were only
 * multiplied and added (one byte of UIDNEXT flipped then passed unseen
 * in about one run of the unit test in ten). */
static uint64_t snap_mix(uint64_t h)
{
	h ^= h >> 31;
	h *= 0x7fb5d329728ea185ULL;
	h ^= h >> 27;
	h *= 0x81dadef4bc2dd44dULL;
	return h ^ (h >> 33);
}

static uint64_t snap_sum_end(struct snap_sum *s)
{
	uint64_t h = snap_mix(s->len);

	memset(s->carry + s->nc, 0, 32 - s->nc);
	snap_sum_blocks(s, s->carry, 1);
	for (int i = 0; i < 4; i++)
		h = snap_mix(snap_mix(h ^ s->a[i]) ^ s->b[i]);
	return h;
}

static uint64_t snap_sum_of(const void *p, size_t n)
{
	struct snap_sum s;

	snap_sum_init(&s);
	snap_sum_add(&s, p, n);
	return snap_sum_end(&s);
}

/* Sum A: the header (both sums zero) and the anchor, given the sum of
 * the anchor; checked when the file is mapped.  Sum B (at 144):
 * expunges, name index and names, checked when first needed (a session
 * that only lists messages never reads names).  Entries and the view's
 * array have no sum: a session maps them and reads only what it uses
 * (docs/mailbox-store.md, "When it is believed"). */
static uint64_t snap_sum_a(const unsigned char *hdr, uint64_t body_sum)
{
	unsigned char h[SNAP_HDR];

	memcpy(h, hdr, SNAP_HDR);
	memset(h + 136, 0, 16);
	uint64_t hs = snap_sum_of(h, SNAP_HDR);
	return (hs << 17 | hs >> 47) ^ body_sum;
}

static uint32_t snap_name_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

static size_t snap_pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* The anchor is padded to 64 bytes: entries then start on a block of
 * the checksum, which is taken in the same pass as their check. */
static size_t snap_pad64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/* ---- lookups ---- */

static int snap_check_rest(const struct mbox_snap *s);

/* Whether the expunges, name index and names are whole (checked once). */
static int snap_rest_ok(struct mbox_snap *s)
{
	if (s->rest == 0) {
		size_t len = (size_t)(s->names - s->ex) + snap_pad8(s->names_size);
		s->rest = snap_sum_of(s->ex, len) == s->sum_b && snap_check_rest(s) == 0 ? 1 : -1;
		if (s->rest < 0)
			log_warn("%s: damaged (names): not used again", MBOX_SNAPSHOT_NAME);
	}
	return s->rest > 0;
}

int mbox_snap_damaged(const struct mbox_snap *s)
{
	return s != NULL && (s->rest < 0 || s->bad_entry);
}

/* An entry in range (what the writer makes; unchecked until used): its
 * name inside the names, known bits, sizes that fit. */
static int snap_entry_ok(const struct mbox_snap *s, const unsigned char *p)
{
	uint32_t bits = mbox_get32(p + 8), off = mbox_get32(p + 12);

	if ((bits & ~SNAP_BITS_KNOWN) != 0 || off >= s->names_size)
		return 0;
	if ((bits & SNAP_LIVE) == 0)
		return 1;
	uint32_t flags = mbox_get32(p + 4);
	uint64_t modseq = mbox_get64(p + 16), size = mbox_get64(p + 24), vsize = mbox_get64(p + 32);
	return (flags & ~(MBOX_SYSTEM_FLAGS | (((1u << MBOX_KEYWORDS_MAX) - 1) << 5))) == 0 && modseq != 0 &&
	       modseq <= s->highestmodseq && size <= INT64_MAX && vsize >= size && mbox_get64(p + 48) <= size &&
	       mbox_get64(p + 56) <= size + 1;
}

/* A damaged entry was found in use: the session reads the files whole
 * at its next sync and writes a sound snapshot. */
static void snap_entry_bad(struct mbox_snap *s)
{
	if (!s->bad_entry)
		log_warn("%s: damaged (an entry): not used again", MBOX_SNAPSHOT_NAME);
	s->bad_entry = 1;
}

int mbox_snap_names_ok(struct mbox_snap *s)
{
	return s != NULL && snap_rest_ok(s);
}

uint64_t mbox_snap_ul_off(const struct mbox_snap *s)
{
	return s != NULL ? s->ul_off : 0;
}

size_t mbox_snap_count(const struct mbox_snap *s)
{
	return s != NULL ? s->n : 0;
}

size_t mbox_snap_live(const struct mbox_snap *s)
{
	return s != NULL ? s->n_live : 0;
}

uint32_t mbox_snap_uid(const struct mbox_snap *s, size_t i)
{
	return mbox_get32(s->ent + i * SNAP_ENT);
}

uint32_t mbox_snap_max_uid(const struct mbox_snap *s)
{
	return s != NULL && s->n > 0 ? mbox_snap_uid(s, s->n - 1) : 0;
}

int mbox_snap_entry(struct mbox_snap *s, size_t i, struct mbox_ul_entry *e, struct mbox_index_rec *r)
{
	const unsigned char *p = s->ent + i * SNAP_ENT;
	uint32_t bits = mbox_get32(p + 8);

	if (!snap_entry_ok(s, p)) {
		snap_entry_bad(s);
		if (e != NULL)
			*e = (struct mbox_ul_entry){ .uid = mbox_get32(p), .base = "" };
		return 0;
	}
	if (e != NULL && !snap_rest_ok(s)) {
		*e = (struct mbox_ul_entry){ .uid = mbox_get32(p), .base = "" };
	} else if (e != NULL) {
		/* Checked as it is used (a name that is none names no file). */
		size_t off = mbox_get32(p + 12);
		const unsigned char *nm = s->names + off;
		size_t need = 1 + (size_t)nm[0] + ((bits & SNAP_EMAILID) != 0 ? 8 : 0);
		e->uid = mbox_get32(p);
		e->base_len = nm[0];
		e->base = (const char *)nm + 1;
		e->emailid = 0;
		if (need > s->names_size - off || !mbox_base_ok(e->base, e->base_len))
			e->base_len = 0;
		else if ((bits & SNAP_EMAILID) != 0)
			e->emailid = mbox_get64(nm + 1 + nm[0]);
	}
	if ((bits & SNAP_LIVE) == 0)
		return 0;
	if (r != NULL) {
		memset(r, 0, sizeof(*r));
		r->type = MBOX_REC_MSG;
		r->uid = mbox_get32(p);
		r->flags = mbox_get32(p + 4);
		r->other = bits & SNAP_OTHER_MASK;
		r->state = (uint8_t)(((bits & SNAP_DUP) != 0 ? MBOX_STATE_DUP : 0) |
				     ((bits & SNAP_UNMEASURED) != 0 ? MBOX_STATE_UNMEASURED : 0));
		r->modseq = mbox_get64(p + 16);
		mbox_rec_sizes_get(p, r);
	}
	return 1;
}

size_t mbox_snap_lower_bound(const struct mbox_snap *s, uint32_t uid)
{
	size_t lo = 0, hi = s != NULL ? s->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mbox_snap_uid(s, mid) < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long mbox_snap_find(const struct mbox_snap *s, uint32_t uid)
{
	size_t i = mbox_snap_lower_bound(s, uid);

	return s != NULL && i < s->n && mbox_snap_uid(s, i) == uid ? (long)i : -1;
}

long mbox_snap_find_base(struct mbox_snap *s, const char *base, size_t len)
{
	uint32_t h = snap_name_hash(base, len);
	size_t lo = 0, hi = s != NULL ? s->n : 0;
	long hit = -1;

	if (s == NULL || !snap_rest_ok(s))
		return -1;
	while (lo < hi) {   /* the first entry of hash h */
		size_t mid = lo + (hi - lo) / 2;
		if (mbox_get32(s->nidx + mid * SNAP_NIDX) < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ascending entries within one hash: the last match is the highest UID. */
	for (size_t k = lo; k < s->n && mbox_get32(s->nidx + k * SNAP_NIDX) == h; k++) {
		struct mbox_ul_entry e;
		uint32_t i = mbox_get32(s->nidx + k * SNAP_NIDX + 4);
		if (i >= s->n)
			continue;   /* checked with sum B; kept here as the bound of the read */
		mbox_snap_entry(s, i, &e, NULL);
		if (e.base_len == len && memcmp(e.base, base, len) == 0)
			hit = (long)i;
	}
	return hit;
}

/* The fields as mbox_snap_entry decodes them, without the record in
 * between (values only: nothing here indexes memory): a first view
 * that cannot map the array (mbox_snap_msgs_map) is made here. */
size_t mbox_snap_view(const struct mbox_snap *s, size_t from, size_t to, struct mbox_msg *out, size_t max,
		      size_t *next)
{
	size_t k = 0, i = from;

	for (; i < to && k < max; i++) {
		const unsigned char *p = s->ent + i * SNAP_ENT;
		if ((mbox_get32(p + 8) & SNAP_LIVE) == 0)
			continue;
		struct mbox_msg m = { .uid = mbox_get32(p), .flags = mbox_get32(p + 4), .modseq = mbox_get64(p + 16),
				      .size = mbox_get64(p + 24), .vsize = mbox_get64(p + 32),
				      .date = (long long)mbox_get64(p + 40) };
		out[k++] = m;
	}
	*next = i;
	return k;
}

/* Values only (nothing indexes memory by them): no sum is checked
 * for them, so QRESYNC's VANISHED reads no name (sum B is the names'). */
size_t mbox_snap_ex_count(struct mbox_snap *s)
{
	return s != NULL ? s->n_ex : 0;
}

struct mbox_expunged mbox_snap_ex_at(const struct mbox_snap *s, size_t i)
{
	const unsigned char *p = s->ex + i * SNAP_EX;
	return (struct mbox_expunged){ mbox_get32(p), mbox_get64(p + 8) };
}

void mbox_snap_release(struct mbox_snap *s)
{
	if (s != NULL)
		madvise((void *)s->map, s->size, MADV_DONTNEED);
}

struct mbox_msg *mbox_snap_msgs_map(const struct mbox_snap *s, size_t *n_r, size_t *bytes_r)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes;
	void *p;

	*n_r = *bytes_r = 0;
	if (s == NULL || s->fd < 0 || s->n_live == 0)
		return NULL;
	/* The array ends the file: its last page is the file's last. */
	bytes = ((size_t)s->n_live * sizeof(struct mbox_msg) + page - 1) & ~(page - 1);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, s->fd, (off_t)s->msgs_off);
	if (p == MAP_FAILED)
		return NULL;
	*n_r = s->n_live;
	*bytes_r = bytes;
	return p;
}

uint64_t mbox_snap_highestmodseq(const struct mbox_snap *s)
{
	return s != NULL ? s->highestmodseq : 0;
}

size_t mbox_snap_changed(const struct mbox_snap *s, uint64_t *floor_r)
{
	*floor_r = s != NULL ? s->chg_floor : UINT64_MAX;
	return s != NULL ? s->n_chg : 0;
}

struct mbox_snap_chg mbox_snap_changed_at(const struct mbox_snap *s, size_t i)
{
	const unsigned char *p = s->chg + i * SNAP_CHG;
	return (struct mbox_snap_chg){ .uid = mbox_get32(p), .pos = mbox_get32(p + 4), .modseq = mbox_get64(p + 8),
				       .flags = mbox_get32(p + 16) };
}

void mbox_snap_detach(struct mbox_state *st)
{
	if (st->snap == NULL)
		return;
	if (st->snap->fd >= 0)
		close(st->snap->fd);
	munmap((void *)st->snap->map, st->snap->size);
	free(st->snap);
	st->snap = NULL;
	st->view_snap_n = 0;   /* the places were in its array */
}

/* ---- checking a mapped file ---- */

/* The header and the bounds of every section into s: a snapshot of
 * another version, or of a build whose struct mbox_msg differs (size,
 * byte order, layout), is refused like a damaged one, and rebuilt.  0,
 * or -1. */
static int snap_parse_header(const unsigned char *p, size_t size, struct mbox_snap *s)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t order;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (size < SNAP_HDR || memcmp(p, SNAP_MAGIC, 16) != 0 || mbox_get32(p + 16) != SNAP_VERSION ||
	    mbox_get32(p + 20) != SNAP_HDR || mbox_get64(p + 128) != size)
		return -1;
	memcpy(&order, p + 168, sizeof(order));
	if (order != SNAP_BYTE_ORDER || mbox_get32(p + 164) != sizeof(struct mbox_msg) ||
	    mbox_get32(p + 172) != MBOX_MSG_LAYOUT)
		return -1;
	s->map = p;
	s->size = size;
	s->uidvalidity = mbox_get32(p + 24);
	s->uidnext = mbox_get32(p + 28);
	s->log_id = mbox_get64(p + 32);
	s->log_off = mbox_get64(p + 40);
	s->log_records = mbox_get64(p + 48);
	s->ul_off = mbox_get64(p + 56);
	s->anchor_len = mbox_get32(p + 64);
	s->n = mbox_get32(p + 68);
	s->n_live = mbox_get32(p + 72);
	s->n_ex = mbox_get32(p + 76);
	s->highestmodseq = mbox_get64(p + 80);
	s->ex_floor = mbox_get64(p + 88);
	s->new_stamp = (long long)mbox_get64(p + 96);
	s->cur_stamp = (long long)mbox_get64(p + 104);
	s->stamp_verified = mbox_get32(p + 112);
	s->recent_hw = mbox_get32(p + 116);
	s->sum_b = mbox_get64(p + 144);
	s->msgs_off = mbox_get64(p + 152);
	uint64_t names_size = mbox_get64(p + 120);
	if (s->uidvalidity == 0 || s->log_id == 0 || s->log_off < MBOX_INDEX_HDR_SIZE ||
	    s->anchor_len == 0 || s->anchor_len > SNAP_ANCHOR_MAX || s->ul_off < s->anchor_len ||
	    s->n > SNAP_ENTRIES_MAX || s->n_live > s->n || s->n_ex > MBOX_EXPUNGED_MAX ||
	    mbox_get32(p + 160) != s->n_live || s->stamp_verified > 3 || s->ex_floor > s->highestmodseq ||
	    s->highestmodseq > INT64_MAX || names_size > (uint64_t)s->n * SNAP_NAME_MAX)
		return -1;
	/* Every bound is small enough that these sums cannot overflow. */
	size_t off = SNAP_HDR;
	s->anchor = p + off;
	off += snap_pad64(s->anchor_len);
	s->ent = p + off;
	off += (size_t)s->n * SNAP_ENT;
	s->ex = p + off;
	off += (size_t)s->n_ex * SNAP_EX;
	s->nidx = p + off;
	off += (size_t)s->n * SNAP_NIDX;
	s->names = p + off;
	s->names_size = (size_t)names_size;
	off += snap_pad8(s->names_size);
	s->chg = p + off;
	s->n_chg = mbox_get32(p + 176);
	s->chg_floor = mbox_get64(p + 184);
	if (s->n_chg > SNAP_CHANGES_MAX || s->n_chg > s->n_live || s->chg_floor > s->highestmodseq)
		return -1;
	off += (size_t)s->n_chg * SNAP_CHG;
	/* The view's array ends the file, on a page of this machine. */
	if (s->msgs_off < off || s->msgs_off - off >= SNAP_ALIGN_MAX || s->msgs_off % page != 0 ||
	    s->msgs_off > size || size - s->msgs_off != (size_t)s->n_live * sizeof(struct mbox_msg))
		return -1;
	return 0;
}

/* Sum A holds: the header and the anchor are as written. */
static int snap_head_ok(const struct mbox_snap *s)
{
	uint64_t a = snap_sum_of(s->anchor, snap_pad64(s->anchor_len));
	return snap_sum_a(s->map, a) == mbox_get64(s->map + 136);
}

/* The expunges and the name index in range.  0, or -1. */
static int snap_check_rest(const struct mbox_snap *s)
{
	uint64_t prev_ms = 0, prev_key = 0;

	for (size_t i = 0; i < s->n_ex; i++) {
		const unsigned char *p = s->ex + i * SNAP_EX;
		uint32_t uid = mbox_get32(p);
		uint64_t ms = mbox_get64(p + 8);
		if (uid == 0 || ms < prev_ms || ms <= s->ex_floor || ms > s->highestmodseq)
			return -1;
		prev_ms = ms;
	}
	for (size_t k = 0; k < s->n; k++) {
		uint64_t key = mbox_get64(s->nidx + k * SNAP_NIDX);   /* hash low, entry high */
		uint64_t ordered = (key & 0xffffffffu) << 32 | key >> 32;
		if ((key >> 32) >= s->n || (k > 0 && ordered <= prev_key))
			return -1;
		prev_key = ordered;
	}
	return 0;
}

int mbox_snapshot_check(const unsigned char *p, size_t len, int sums)
{
	struct mbox_snap s;
	struct mbox_msg v[64];
	uint64_t seen = 0;

	if (snap_parse_header(p, len, &s) < 0 || (sums && !snap_head_ok(&s)))
		return -1;
	s.rest = sums ? 0 : (snap_check_rest(&s) == 0 ? 1 : -1);
	/* What a session may read of one it took up, which is checked only
	 * as it is used: every read stays inside the file. */
	for (size_t i = 0; i < s.n; i++) {
		struct mbox_ul_entry e;
		struct mbox_index_rec r;
		mbox_snap_entry(&s, i, &e, &r);
		seen += (uint64_t)mbox_snap_find(&s, e.uid);
		if (e.base_len > 0)
			seen += (uint64_t)mbox_snap_find_base(&s, e.base, e.base_len);
	}
	for (size_t i = 0; i < mbox_snap_ex_count(&s); i++)
		seen += mbox_snap_ex_at(&s, i).uid;
	for (size_t i = 0; i < s.n_chg; i++) {
		struct mbox_snap_chg c = mbox_snap_changed_at(&s, i);
		seen += c.uid + c.pos + c.modseq + c.flags;
	}
	for (size_t i = 0, next; i < s.n; i = next)
		seen += mbox_snap_view(&s, i, s.n, v, 64, &next);
	for (size_t i = 0; i < s.n_live; i++) {
		struct mbox_msg m;
		memcpy(&m, p + s.msgs_off + i * sizeof(m), sizeof(m));
		seen += m.uid;
	}
	(void)seen;
	return mbox_snap_damaged(&s) ? -1 : 0;
}

/* The log and the list a session would read: does s summarize them?
 * On success their descriptors (kept as the positions' pins) and the
 * list's header line into the out-parameters. */
static int snap_matches(struct mbox *mb, const struct mbox_snap *s, int *ixfd_r, struct stat *ixsb,
			struct mbox_index_hdr *h, int *ulfd_r, struct stat *ulsb, struct dovecot_uidlist_header *uh)
{
	unsigned char hdr[MBOX_INDEX_HDR_SIZE];
	char line[SNAP_ANCHOR_MAX + 1];
	struct dovecot_uidlist ul = { 0 };
	const char *err;
	int ixfd, ulfd;

	*ixfd_r = *ulfd_r = -1;
	ixfd = openat(mb->dirfd, MBOX_INDEX_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (ixfd < 0)
		return -1;
	*ixfd_r = ixfd;
	if (fstat(ixfd, ixsb) < 0 || !S_ISREG(ixsb->st_mode) || (uint64_t)ixsb->st_size < s->log_off ||
	    (unsigned long long)ixsb->st_size > MBOX_INDEX_MAX ||
	    mbox_pread_full(ixfd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    mbox_index_header_parse(hdr, sizeof(hdr), h) < 0 || h->log_id != s->log_id ||
	    h->uidvalidity != s->uidvalidity || (s->log_off - MBOX_INDEX_HDR_SIZE) % MBOX_REC_SIZE != 0)
		return -1;
	ulfd = openat(mb->dirfd, MBOX_UIDLIST_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (ulfd < 0)
		return -1;
	*ulfd_r = ulfd;
	if (fstat(ulfd, ulsb) < 0 || !S_ISREG(ulsb->st_mode) || (uint64_t)ulsb->st_size < s->ul_off)
		return -1;
	/* Its header line: the same UIDVALIDITY, and N and G as they are now. */
	ssize_t got = mbox_pread_full(ulfd, line, SNAP_ANCHOR_MAX, 0);
	const char *nl = got > 0 ? memchr(line, '\n', (size_t)got) : NULL;
	if (nl == NULL || dovecot_uidlist_parse(line, (size_t)(nl - line) + 1, &ul, &err) < 0)
		return -1;
	*uh = ul.hdr;
	uh->fields = NULL;
	uh->fields_len = 0;
	dovecot_uidlist_free(&ul);
	if (uh->uidvalidity != s->uidvalidity)
		return -1;
	/* The last line folded, at the same place, as a whole line. */
	size_t before = s->ul_off > s->anchor_len ? 1 : 0;
	off_t at = (off_t)(s->ul_off - s->anchor_len - before);
	if (mbox_pread_full(ulfd, line, s->anchor_len + before, at) != (ssize_t)(s->anchor_len + before) ||
	    (before && line[0] != '\n') || memcmp(line + before, s->anchor, s->anchor_len) != 0)
		return -1;
	return 0;
}

int mbox_snap_attach(struct mbox *mb)
{
	struct mbox_state *st = mb->st;
	struct mbox_snap s, *sp;
	struct stat sb, ixsb, ulsb;
	struct mbox_index_hdr h;
	struct dovecot_uidlist_header uh;
	int fd, ixfd, ulfd;
	void *map;

	fd = openat(mb->dirfd, MBOX_SNAPSHOT_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size < SNAP_HDR ||
	    (unsigned long long)sb.st_size > SNAP_FILE_MAX) {
		close(fd);
		return 0;
	}
	st->snap_dev = sb.st_dev;
	st->snap_ino = sb.st_ino;
	if (st->snap_rejected && sb.st_dev == st->snap_reject_dev && sb.st_ino == st->snap_reject_ino) {
		close(fd);
		return 0;   /* found damaged by this session */
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return 0;
	}
	/* The header only: no pass over the entries (they are read as used,
	 * each checked where it indexes memory). */
	if (snap_parse_header(map, (size_t)sb.st_size, &s) < 0 || !snap_head_ok(&s)) {
		log_warn("%s/%s: damaged, or of another version or build: not used", mb->path,
			 MBOX_SNAPSHOT_NAME);
		munmap(map, (size_t)sb.st_size);
		close(fd);
		return 0;
	}
	if (snap_matches(mb, &s, &ixfd, &ixsb, &h, &ulfd, &ulsb, &uh) < 0 || (sp = malloc(sizeof(*sp))) == NULL) {
		if (ixfd >= 0)
			close(ixfd);
		if (ulfd >= 0)
			close(ulfd);
		munmap(map, (size_t)sb.st_size);
		close(fd);
		return 0;   /* of files that have changed since: stale */
	}
	s.fd = fd;   /* kept for the view's private mapping of the array */
	*sp = s;
	st->snap = sp;
	st->snap_tail = 0;
	mb->snapshot_reads++;
	/* The UID list up to its anchor, the log up to the offset folded. */
	mb->uidvalidity = s.uidvalidity;
	mb->uidnext = s.uidnext;
	if (uh.nextuid > mb->uidnext)
		mb->uidnext = uh.nextuid;
	if (mbox_snap_max_uid(sp) >= mb->uidnext)
		mb->uidnext = mbox_snap_max_uid(sp) + 1;
	memcpy(st->ul_guid, uh.guid, sizeof(st->ul_guid));
	st->ul_has_guid = uh.has_guid;
	mbox_filepos_take(&st->ul_pos, ulfd, &ulsb, (off_t)s.ul_off);
	st->hdr = h;
	mbox_filepos_take(&st->idx_pos, ixfd, &ixsb, (off_t)s.log_off);
	st->idx_records = (size_t)s.log_records;
	st->live_n = s.n_live;
	st->ex_floor = s.ex_floor;
	st->new_stamp = s.new_stamp;
	st->cur_stamp = s.cur_stamp;
	st->stamp_verified = (int)s.stamp_verified;
	st->recent_hw = s.recent_hw;
	mb->highestmodseq = s.highestmodseq > h.modseq_base ? s.highestmodseq : h.modseq_base;
	return 1;
}

/* ---- writing ---- */

struct snap_out {
	int fd;
	unsigned char *buf;
	size_t n;
	struct snap_sum sum;
	int err;
};

static void snap_out_flush(struct snap_out *o)
{
	if (o->err == 0 && o->n > 0 && fd_write_all(o->fd, o->buf, o->n) < 0)
		o->err = errno != 0 ? errno : EIO;
	o->n = 0;
}

static void snap_out(struct snap_out *o, const void *p, size_t n)
{
	snap_sum_add(&o->sum, p, n);
	while (n > 0) {
		size_t take = SNAP_OUT_BLOCK - o->n < n ? SNAP_OUT_BLOCK - o->n : n;
		memcpy(o->buf + o->n, p, take);
		o->n += take;
		p = (const unsigned char *)p + take;
		n -= take;
		if (o->n == SNAP_OUT_BLOCK)
			snap_out_flush(o);
	}
}

static void snap_out_zero(struct snap_out *o, size_t n)
{
	static const unsigned char zero[64];
	snap_out(o, zero, n);
}

static void snap_out_pad(struct snap_out *o, size_t len)
{
	snap_out_zero(o, snap_pad8(len) - len);
}

/* The last line of the list up to ul_pos.off, the anchor, into a.  Its
 * length, or 0 when it cannot be had. */
static size_t snap_anchor(const struct mbox_state *st, char *a)
{
	off_t end = st->ul_pos.off;
	size_t want = end > SNAP_ANCHOR_MAX ? SNAP_ANCHOR_MAX + 1 : (size_t)end;
	char buf[SNAP_ANCHOR_MAX + 1];

	if (!st->ul_pos.known || st->ul_pos.pin < 0 || end <= 0 ||
	    mbox_pread_full(st->ul_pos.pin, buf, want, end - (off_t)want) != (ssize_t)want || buf[want - 1] != '\n')
		return 0;
	size_t start = want - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && want == SNAP_ANCHOR_MAX + 1)
		return 0;   /* a line longer than any the list may have */
	memcpy(a, buf + start, want - start);
	return want - start;
}

static int snap_nidx_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int mbox_snap_newer(struct mbox *mb)
{
	struct stat sb;

	return fstatat(mb->dirfd, MBOX_SNAPSHOT_NAME, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	       (sb.st_dev != mb->st->snap_dev || sb.st_ino != mb->st->snap_ino);
}

int mbox_snap_wanted(const struct mbox *mb)
{
	const struct mbox_state *st = mb->st;
	size_t listed = mbox_ul_count(st);

	if (listed < mbox_snapshot_min || st->hdr.log_id == 0 || st->hdr.version < 2 || !st->ul_pos.known ||
	    !st->idx_pos.known)
		return 0;
	if (st->snap == NULL)
		return 1;
	/* Messages of it expunged since: every new view would move the
	 * array's pages behind the first (copy-on-write, O(n) per session);
	 * one write spares that every session to come. */
	return (st->ov_dead > 0 && mbox_snap_live(st->snap) >= mbox_snapshot_min) ||
	       (st->snap_tail >= mbox_snapshot_tail_min && st->snap_tail >= listed / 16);
}

/* Entries, expunges, name index and names of the state, to o (its sum
 * from the expunges on), and the view's array of the live messages into
 * msgs (room for every entry).  The header's counts into the
 * out-parameters. */
static int snap_write_body(struct mbox_state *st, struct snap_out *o, struct mbox_msg *msgs, uint32_t *n_r,
			   uint32_t *live_r, uint32_t *nex_r, uint64_t *names_r)
{
	size_t n = mbox_ul_count(st), nex = mbox_expunged_count(st);
	uint64_t *nidx = calloc(n > 0 ? n : 1, sizeof(*nidx));
	uint64_t names = 0;
	uint32_t live = 0;

	if (nidx == NULL)
		return -1;
	for (size_t k = 0; k < n; k++) {
		struct mbox_ul_entry e;
		struct mbox_index_rec r;
		unsigned char p[SNAP_ENT] = { 0 };
		mbox_ul_listed(st, k, &e);
		uint32_t bits = e.emailid != 0 ? SNAP_EMAILID : 0;
		mbox_put32(p, e.uid);
		mbox_put32(p + 12, (uint32_t)names);
		if (mbox_fold_get(st, e.uid, &r)) {
			/* as a view holds it, \Recent clear (padding bits zero) */
			memset(&msgs[live], 0, sizeof(msgs[live]));
			msgs[live].uid = r.uid;
			msgs[live].flags = r.flags;
			msgs[live].modseq = r.modseq;
			msgs[live].size = r.size;
			msgs[live].vsize = r.vsize;
			msgs[live].date = r.date;
			live++;
			bits |= SNAP_LIVE | (r.other & SNAP_OTHER_MASK) |
				((r.state & MBOX_STATE_DUP) != 0 ? SNAP_DUP : 0) |
				((r.state & MBOX_STATE_UNMEASURED) != 0 ? SNAP_UNMEASURED : 0);
			mbox_put32(p + 4, r.flags);
			mbox_put64(p + 16, r.modseq);
			mbox_rec_sizes_put(p, &r);
		}
		mbox_put32(p + 8, bits);
		snap_out(o, p, sizeof(p));
		nidx[k] = (uint64_t)snap_name_hash(e.base, e.base_len) << 32 | k;
		names += 1 + e.base_len + (e.emailid != 0 ? 8 : 0);
	}
	snap_sum_init(&o->sum);   /* sum B from here */
	for (size_t i = 0; i < nex; i++) {
		struct mbox_expunged x = mbox_expunged_at(st, i);
		unsigned char p[SNAP_EX] = { 0 };
		mbox_put32(p, x.uid);
		mbox_put64(p + 8, x.modseq);
		snap_out(o, p, sizeof(p));
	}
	/* By hash, then entry: equal names come in ascending UID. */
	if (n > 1)
		qsort(nidx, n, sizeof(*nidx), snap_nidx_cmp);
	for (size_t k = 0; k < n; k++) {
		unsigned char p[SNAP_NIDX];
		mbox_put32(p, (uint32_t)(nidx[k] >> 32));
		mbox_put32(p + 4, (uint32_t)nidx[k]);
		snap_out(o, p, sizeof(p));
	}
	free(nidx);
	for (size_t k = 0; k < n; k++) {
		struct mbox_ul_entry e;
		unsigned char len, id[8];
		mbox_ul_listed(st, k, &e);
		len = (unsigned char)e.base_len;
		snap_out(o, &len, 1);
		snap_out(o, e.base, e.base_len);
		if (e.emailid != 0) {
			mbox_put64(id, e.emailid);
			snap_out(o, id, 8);
		}
	}
	snap_out_pad(o, (size_t)names);
	*n_r = (uint32_t)n;
	*live_r = live;
	*nex_r = (uint32_t)nex;
	*names_r = names;
	return 0;
}

/* A message of the array, for sorting by MODSEQ with its place. */
struct snap_chg_key {
	uint64_t modseq;
	uint32_t uid, pos, flags;
};

static int snap_modseq_desc(const void *a, const void *b)
{
	uint64_t x = ((const struct snap_chg_key *)a)->modseq, y = ((const struct snap_chg_key *)b)->modseq;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The messages changed last (at most SNAP_CHANGES_MAX), by MODSEQ
 * descending, each with its place in the view's array and its flags:
 * with them and the log since, a QRESYNC client that was in sync not
 * long before is answered without a pass over the view, and without
 * touching the view's pages of the messages it reports (on a mapped
 * view, a page fault each).  *floor_r: they are every message with a
 * MODSEQ above it.  Their count. */
static uint32_t snap_write_changed(struct snap_out *o, const struct mbox_msg *msgs, size_t live, uint64_t *floor_r)
{
	struct snap_chg_key *byms = live > 0 ? malloc(live * sizeof(*byms)) : NULL;
	size_t k = 0;

	*floor_r = 0;
	if (byms == NULL) {
		/* none listed: the floor is the top, nothing is above it */
		for (size_t i = 0; i < live; i++)
			if (msgs[i].modseq > *floor_r)
				*floor_r = msgs[i].modseq;
		return 0;
	}
	for (size_t i = 0; i < live; i++)
		byms[i] = (struct snap_chg_key){ msgs[i].modseq, msgs[i].uid, (uint32_t)i, msgs[i].flags };
	qsort(byms, live, sizeof(*byms), snap_modseq_desc);
	if (live > SNAP_CHANGES_MAX) {
		/* the floor is the first MODSEQ left out; ties with it are out too */
		*floor_r = byms[SNAP_CHANGES_MAX].modseq;
		while (k < SNAP_CHANGES_MAX && byms[k].modseq > *floor_r)
			k++;
	} else {
		k = live;
	}
	for (size_t i = 0; i < k; i++) {
		unsigned char p[SNAP_CHG] = { 0 };
		mbox_put32(p, byms[i].uid);
		mbox_put32(p + 4, byms[i].pos);
		mbox_put64(p + 8, byms[i].modseq);
		mbox_put32(p + 16, byms[i].flags);
		snap_out(o, p, sizeof(p));
	}
	free(byms);
	return (uint32_t)k;
}

int mbox_snap_write(struct mbox *mb)
{
	struct mbox_state *st = mb->st;
	unsigned char hdr[SNAP_HDR] = { 0 };
	char anchor[SNAP_ANCHOR_MAX + 64] = { 0 };
	struct snap_out o = { .fd = -1 };
	struct atomic_file af;
	struct mbox_msg *msgs = NULL;
	uint32_t n, live, nex, order = SNAP_BYTE_ORDER;
	uint64_t names;
	size_t alen, page = (size_t)sysconf(_SC_PAGESIZE);
	int r = -1;

	if (mbox_ul_count(st) > SNAP_ENTRIES_MAX || (alen = snap_anchor(st, anchor)) == 0 || page > SNAP_ALIGN_MAX) {
		errno = EINVAL;
		return -1;
	}
	if ((o.buf = malloc(SNAP_OUT_BLOCK)) == NULL)
		return -1;
	if ((msgs = calloc(mbox_ul_count(st) + 1, sizeof(*msgs))) == NULL) {
		free(o.buf);
		return -1;
	}
	if (atomic_file_open(&af, mb->dirfd, MBOX_SNAPSHOT_NAME, SNAP_TMP, O_RDWR, 0600) < 0)
		goto out;
	o.fd = af.fd;
	snap_sum_init(&o.sum);
	if (lseek(o.fd, SNAP_HDR, SEEK_SET) < 0)
		goto out;
	snap_out(&o, anchor, snap_pad64(alen));
	uint64_t body_a = snap_sum_of(anchor, snap_pad64(alen));
	if (snap_write_body(st, &o, msgs, &n, &live, &nex, &names) < 0)
		goto out;
	uint64_t body_b = snap_sum_end(&o.sum);
	uint64_t chg_floor;
	uint32_t nchg = snap_write_changed(&o, msgs, live, &chg_floor);
	uint64_t end = SNAP_HDR + snap_pad64(alen) + (uint64_t)n * (SNAP_ENT + SNAP_NIDX) + (uint64_t)nex * SNAP_EX +
		       snap_pad8((size_t)names) + (uint64_t)nchg * SNAP_CHG;
	/* The view's array on a page of its own, mapped as it is. */
	uint64_t msgs_off = (end + page - 1) & ~(uint64_t)(page - 1);
	for (uint64_t z = end; z < msgs_off; z += 64)
		snap_out_zero(&o, msgs_off - z < 64 ? (size_t)(msgs_off - z) : 64);
	snap_out(&o, msgs, (size_t)live * sizeof(*msgs));
	snap_out_flush(&o);
	if (o.err != 0) {
		errno = o.err;
		goto out;
	}
	uint64_t size = msgs_off + (uint64_t)live * sizeof(*msgs);
	memcpy(hdr, SNAP_MAGIC, 16);
	mbox_put32(hdr + 16, SNAP_VERSION);
	mbox_put32(hdr + 20, SNAP_HDR);
	mbox_put32(hdr + 24, mb->uidvalidity);
	mbox_put32(hdr + 28, mb->uidnext);
	mbox_put64(hdr + 32, st->hdr.log_id);
	mbox_put64(hdr + 40, (uint64_t)st->idx_pos.off);
	mbox_put64(hdr + 48, st->idx_records);
	mbox_put64(hdr + 56, (uint64_t)st->ul_pos.off);
	mbox_put32(hdr + 64, (uint32_t)alen);
	mbox_put32(hdr + 68, n);
	mbox_put32(hdr + 72, live);
	mbox_put32(hdr + 76, nex);
	mbox_put64(hdr + 80, mb->highestmodseq);
	mbox_put64(hdr + 88, st->ex_floor);
	mbox_put64(hdr + 96, (uint64_t)st->new_stamp);
	mbox_put64(hdr + 104, (uint64_t)st->cur_stamp);
	mbox_put32(hdr + 112, (uint32_t)st->stamp_verified);
	mbox_put32(hdr + 116, st->recent_hw);
	mbox_put64(hdr + 120, names);
	mbox_put64(hdr + 128, size);
	mbox_put64(hdr + 144, body_b);
	mbox_put64(hdr + 152, msgs_off);
	mbox_put32(hdr + 160, live);
	mbox_put32(hdr + 164, (uint32_t)sizeof(struct mbox_msg));
	memcpy(hdr + 168, &order, sizeof(order));
	mbox_put32(hdr + 172, MBOX_MSG_LAYOUT);
	mbox_put32(hdr + 176, nchg);
	mbox_put64(hdr + 184, chg_floor);
	mbox_put64(hdr + 136, snap_sum_a(hdr, body_a));
	/* On disk whole before it has the name: never seen half written. */
	if (pwrite(o.fd, hdr, SNAP_HDR, 0) != SNAP_HDR)
		goto out;
	o.fd = -1;
	/* No directory fsync: an older snapshot back after a crash still
	 * summarizes the start of the same files and is used (see above). */
	r = atomic_file_commit(&af, ATOMIC_SYNC);
out:;
	int e = errno;
	if (o.fd >= 0)
		atomic_file_abort(&af);
	free(o.buf);
	free(msgs);
	errno = e;
	return r;
}
