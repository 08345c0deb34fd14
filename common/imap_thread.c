/* imap_thread: THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 3).
 *
 * Offers: imap_thread_run, which builds the threads of the searched
 * messages and writes their thread lists (RFC 5256 4: a chain of single
 * children as "1 2 3", two or more children each in parentheses, a
 * top-level dummy as "((1)(2))").
 *
 * ORDEREDSUBJECT: messages sorted by base subject (collation keys
 * compared as octets), then sent date, then mailbox order; each run of
 * one base subject is a thread whose first message is the parent of all
 * the others (no grandchildren); threads ordered by their first message's
 * sent date.  An empty base subject is a subject like any other.
 *
 * REFERENCES, the RFC's steps as written:
 *  (1) containers for every message and every referenced Message-ID (a
 *      message without a valid Message-ID, or whose Message-ID an
 *      earlier message has, gets one of its own that nothing can
 *      reference; a reference to no message is a dummy).  (1A) each
 *      reference is the parent of the next unless the next already has
 *      a parent or the link would make a loop; (1B) the last reference
 *      becomes the message's parent, breaking the link it had (a message
 *      without references ends with none), unless that makes a loop.
 *      Message-IDs compare case-sensitively.
 *  (2) the parentless containers are the root's children.
 *  (3) dummies go: their children take their place, except at the top,
 *      where a dummy with more than one child stays (done in one pass:
 *      each message's parent becomes its nearest real ancestor; the
 *      messages below a top-level dummy with none become its children,
 *      or the top-level message when there is only one).
 *  (4) the top level sorted by sent date (a dummy: by its first child,
 *      its children sorted first).
 *  (5) threads of one base subject (non-empty) merged: the subject
 *      table holds a dummy if one has the subject, else the first
 *      message that is no reply, else the first; then each other thread
 *      of that subject joins it: dummy and dummy pool their children; a
 *      message joins a dummy, a reply joins a non-reply; otherwise a new
 *      dummy holds both.
 *  (6) every set of siblings sorted by sent date, the deepest first (a
 *      dummy by its first child).
 * Sent dates tie-break by mailbox order (RFC 5256 2.2).
 *
 * Trusts: the keys as imap_sort_msg_fill made them (references at most
 * IMAP_SORT_REFS_MAX per message).  Nothing recurses: trees as deep as
 * the mailbox is long are walked with explicit arrays.  Cost: O(n log n)
 * but for the loop checks of step 1, each a walk up the tree: O(n times
 * the depth of the deepest thread), for real mail a few hundred.
 *
 * Fails: -1 with errno EMSGSIZE when out's cap is reached (out may then
 * hold part of the answer), ENOMEM when memory runs out. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "hash.h"
#include "imap_thread.h"

#define NONE UINT32_MAX
#define CLOSE (UINT32_MAX - 1)         /* the renderer's ")" marker */
#define ORPHAN (UINT32_MAX - 2)        /* step 3: below a top-level dummy */
#define NODES_MAX (UINT32_MAX - 3)

struct tnode {
	uint32_t msg;                      /* index into msgs; NONE: a dummy */
	uint32_t parent, child, next, prev;
	const char *id;                    /* Message-ID (map key), or NULL */
};

struct thr {
	const struct imap_sort_msg *msgs;
	size_t n;
	struct tnode *nodes;
	uint32_t nnodes, cap;
	uint32_t *slots;                   /* Message-ID map: node indices, NONE empty */
	size_t nslots;                     /* a power of two */
	uint32_t *scratch;                 /* cap entries, for sorting and walks */
};

/* ------------------------------------------------------------ nodes */

static uint32_t thr_node_new(struct thr *t, uint32_t msg, const char *id)
{
	uint32_t x = t->nnodes++;

	t->nodes[x] = (struct tnode){ msg, NONE, NONE, NONE, NONE, id };
	return x;
}

static void thr_link(struct thr *t, uint32_t p, uint32_t c)
{
	struct tnode *n = &t->nodes[c];

	n->parent = p;
	n->prev = NONE;
	n->next = t->nodes[p].child;
	if (n->next != NONE)
		t->nodes[n->next].prev = c;
	t->nodes[p].child = c;
}

static void thr_unlink(struct thr *t, uint32_t c)
{
	struct tnode *n = &t->nodes[c];

	if (n->parent == NONE)
		return;
	if (n->prev != NONE)
		t->nodes[n->prev].next = n->next;
	else
		t->nodes[n->parent].child = n->next;
	if (n->next != NONE)
		t->nodes[n->next].prev = n->prev;
	n->parent = n->prev = n->next = NONE;
}

/* Whether making p the parent of c would make a loop: p is c or below it. */
static bool thr_loops(const struct thr *t, uint32_t p, uint32_t c)
{
	for (uint32_t x = p, steps = 0; x != NONE && steps <= t->nnodes; x = t->nodes[x].parent, steps++)
		if (x == c)
			return true;
	return false;
}

/* The message a node sorts and is named by: itself, or a dummy's first
 * child's, down through dummies.  NONE for a dummy without children. */
static uint32_t thr_key_msg(const struct thr *t, uint32_t x)
{
	for (uint32_t steps = 0; x != NONE && steps <= t->nnodes; steps++) {
		if (t->nodes[x].msg != NONE)
			return t->nodes[x].msg;
		x = t->nodes[x].child;
	}
	return NONE;
}

/* Sent date, then mailbox order (RFC 5256 2.2). */
static int thr_msg_cmp(const struct thr *t, uint32_t a, uint32_t b)
{
	if (a == NONE || b == NONE)
		return a == b ? 0 : a == NONE ? 1 : -1;
	const struct imap_sort_msg *x = &t->msgs[a], *y = &t->msgs[b];
	if (x->sent != y->sent)
		return x->sent < y->sent ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int thr_node_qcmp(const void *a, const void *b, void *ctx)
{
	const struct thr *t = ctx;

	return thr_msg_cmp(t, thr_key_msg(t, *(const uint32_t *)a), thr_key_msg(t, *(const uint32_t *)b));
}

static void thr_sort_nodes(struct thr *t, uint32_t *v, size_t n)
{
	if (n > 1)
		qsort_r(v, n, sizeof(*v), thr_node_qcmp, t);
}

/* Sort the children of x (their own children already sorted). */
static void thr_sort_children(struct thr *t, uint32_t x)
{
	uint32_t *v = t->scratch, k = 0;

	for (uint32_t c = t->nodes[x].child; c != NONE; c = t->nodes[c].next)
		v[k++] = c;
	if (k < 2)
		return;
	thr_sort_nodes(t, v, k);
	t->nodes[x].child = v[0];
	for (uint32_t i = 0; i < k; i++) {
		t->nodes[v[i]].prev = i > 0 ? v[i - 1] : NONE;
		t->nodes[v[i]].next = i + 1 < k ? v[i + 1] : NONE;
	}
}

/* ------------------------------------------------------------ the Message-ID map */

static uint32_t *thr_slot(struct thr *t, const char *id)
{
	size_t mask = t->nslots - 1, i = (size_t)hash_fnv64_str(HASH_FNV64_INIT, id) & mask;

	while (t->slots[i] != NONE && strcmp(t->nodes[t->slots[i]].id, id) != 0)
		i = (i + 1) & mask;
	return &t->slots[i];
}

/* The node of a referenced Message-ID, a new dummy when there is none. */
static uint32_t thr_ref_node(struct thr *t, const char *id)
{
	uint32_t *s = thr_slot(t, id);

	if (*s == NONE)
		*s = thr_node_new(t, NONE, id);
	return *s;
}

/* ------------------------------------------------------------ rendering */

/* Append one thread-list, the tree at x. */
static int thr_render(struct thr *t, uint32_t x, struct buf *out)
{
	uint32_t *stack = t->scratch;
	size_t sp = 0;
	int rc = 0;

	stack[sp++] = x;
	while (sp > 0 && rc == 0) {
		bool first = true;

		x = stack[--sp];
		if (x == CLOSE) {
			rc = buf_putc(out, ')');
			continue;
		}
		rc = buf_putc(out, '(');
		while (rc == 0) {
			uint32_t c = t->nodes[x].child, last;

			if (t->nodes[x].msg != NONE) {
				rc = buf_printf(out, first ? "%u" : " %u", t->msgs[t->nodes[x].msg].id);
				first = false;
			}
			if (rc < 0)
				break;
			if (c == NONE) {
				rc = buf_putc(out, ')');
				break;
			}
			if (t->nodes[c].next == NONE) {
				x = c;   /* a single child continues the chain */
				continue;
			}
			/* thread-nested: each child a thread-list, then ")" */
			if (!first)
				rc = buf_putc(out, ' ');
			stack[sp++] = CLOSE;
			for (last = c; t->nodes[last].next != NONE; last = t->nodes[last].next)
				;
			for (uint32_t y = last; y != NONE; y = t->nodes[y].prev)
				stack[sp++] = y;
			break;
		}
	}
	return rc;
}

static int thr_render_all(struct thr *t, const uint32_t *top, size_t ntop, struct buf *out)
{
	for (size_t i = 0; i < ntop; i++)
		if (thr_render(t, top[i], out) < 0)
			return -1;
	return 0;
}

/* ------------------------------------------------------------ ORDEREDSUBJECT */

static int thr_subject_cmp(const struct imap_sort_msg *a, const struct imap_sort_msg *b)
{
	size_t la = a->len[IMAP_SORT_S_SUBJECT], lb = b->len[IMAP_SORT_S_SUBJECT];
	int r = la < lb ? (la > 0 ? memcmp(a->str[IMAP_SORT_S_SUBJECT], b->str[IMAP_SORT_S_SUBJECT], la) : 0)
			: (lb > 0 ? memcmp(a->str[IMAP_SORT_S_SUBJECT], b->str[IMAP_SORT_S_SUBJECT], lb) : 0);

	return r != 0 ? r : la < lb ? -1 : la > lb;
}

static int thr_os_qcmp(const void *a, const void *b, void *ctx)
{
	const struct thr *t = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int r = thr_subject_cmp(&t->msgs[x], &t->msgs[y]);

	return r != 0 ? r : thr_msg_cmp(t, x, y);
}

static int thr_orderedsubject(struct thr *t, struct buf *out)
{
	uint32_t *order = malloc(t->n * sizeof(*order)), *top = malloc(t->n * sizeof(*top));
	size_t ntop = 0;
	int rc = -1;

	if (order == NULL || top == NULL)
		goto done;
	for (uint32_t i = 0; i < t->n; i++) {
		order[i] = i;
		thr_node_new(t, i, NULL);
	}
	qsort_r(order, t->n, sizeof(*order), thr_os_qcmp, t);
	for (size_t g = 0, e; g < t->n; g = e) {
		for (e = g + 1; e < t->n && thr_subject_cmp(&t->msgs[order[g]], &t->msgs[order[e]]) == 0; e++)
			;
		/* The first is the parent of the rest, in their order. */
		for (size_t k = e - 1; k > g; k--)
			thr_link(t, order[g], order[k]);
		top[ntop++] = order[g];
	}
	thr_sort_nodes(t, top, ntop);
	rc = thr_render_all(t, top, ntop, out);
done:
	free(order);
	free(top);
	return rc;
}

/* ------------------------------------------------------------ REFERENCES */

/* Step 1. */
static void thr_link_references(struct thr *t)
{
	for (uint32_t i = 0; i < t->n; i++) {
		const char *id = t->msgs[i].msgid;

		thr_node_new(t, i, NULL);
		if (id != NULL) {
			uint32_t *s = thr_slot(t, id);

			if (*s == NONE) {   /* the first message with it keeps it */
				t->nodes[i].id = id;
				*s = i;
			}
		}
	}
	for (uint32_t i = 0; i < t->n; i++) {
		const struct imap_sort_msg *m = &t->msgs[i];
		uint32_t prev = NONE;

		for (unsigned int k = 0; k < m->nrefs; k++) {
			uint32_t x = thr_ref_node(t, m->refs[k]);

			/* (1A) never re-parent, never loop */
			if (prev != NONE && t->nodes[x].parent == NONE && !thr_loops(t, prev, x))
				thr_link(t, prev, x);
			prev = x;
		}
		/* (1B) the last reference is the parent */
		if (t->nodes[i].parent != prev) {
			thr_unlink(t, i);
			if (prev != NONE && !thr_loops(t, prev, i))
				thr_link(t, prev, i);
		}
	}
}

/* Steps 2 and 3: the top level into top[]; its size, or -1 (memory). */
static ssize_t thr_prune(struct thr *t, uint32_t *top)
{
	uint32_t nn = t->nnodes, *queue = t->scratch;
	uint32_t *nra = malloc(4 * (size_t)nn * sizeof(*nra));   /* nearest real ancestor */
	uint32_t *topof, *newp, *count;                             /* root, new parent, orphans */
	size_t qh = 0, qt = 0, ntop = 0;

	if (nra == NULL)
		return -1;
	topof = nra + nn;
	newp = topof + nn;
	count = newp + nn;
	memset(count, 0, nn * sizeof(*count));
	for (uint32_t x = 0; x < nn; x++)
		if (t->nodes[x].parent == NONE) {
			nra[x] = NONE;
			topof[x] = x;
			queue[qt++] = x;
		}
	while (qh < qt) {
		uint32_t x = queue[qh++];
		bool real = t->nodes[x].msg != NONE;

		if (real)
			newp[x] = nra[x] != NONE ? nra[x] : x == topof[x] ? NONE : ORPHAN;
		if (real && newp[x] == ORPHAN)
			count[topof[x]]++;
		for (uint32_t c = t->nodes[x].child; c != NONE; c = t->nodes[c].next) {
			nra[c] = real ? x : nra[x];
			topof[c] = topof[x];
			queue[qt++] = c;
		}
	}
	for (uint32_t x = 0; x < nn; x++)
		t->nodes[x].parent = t->nodes[x].child = t->nodes[x].next = t->nodes[x].prev = NONE;
	for (uint32_t x = 0; x < nn; x++) {
		if (t->nodes[x].msg == NONE) {
			if (topof[x] == x && count[x] >= 2)
				top[ntop++] = x;   /* a top-level dummy that stays */
			continue;
		}
		uint32_t p = newp[x];
		if (p == ORPHAN)
			p = count[topof[x]] == 1 ? NONE : topof[x];
		if (p == NONE)
			top[ntop++] = x;
		else
			thr_link(t, p, x);
	}
	free(nra);
	return (ssize_t)ntop;
}

/* The base subject a thread is known by (step 5.B.i). */
static const struct imap_sort_msg *thr_subject_of(const struct thr *t, uint32_t x)
{
	uint32_t m = t->nodes[x].msg != NONE ? t->nodes[x].msg
		     : t->nodes[x].child != NONE ? t->nodes[t->nodes[x].child].msg : NONE;

	return m != NONE ? &t->msgs[m] : NULL;
}

struct subj_table {
	uint32_t *node;                    /* NONE: empty */
	const struct imap_sort_msg **key;  /* the message whose subject is the key */
	size_t mask;
};

static uint32_t *thr_subj_slot(struct subj_table *st, const struct imap_sort_msg *m,
			       const struct imap_sort_msg ***key_r)
{
	const char *s = m->str[IMAP_SORT_S_SUBJECT];
	size_t len = m->len[IMAP_SORT_S_SUBJECT], i;
	uint64_t h = HASH_FNV64_INIT;

	for (size_t k = 0; k < len; k++)
		h = hash_fnv64_byte(h, (unsigned char)s[k]);
	for (i = (size_t)h & st->mask; st->node[i] != NONE; i = (i + 1) & st->mask)
		if (thr_subject_cmp(st->key[i], m) == 0)
			break;
	*key_r = &st->key[i];
	return &st->node[i];
}

/* Step 5 over top[0..ntop) (sorted); the new top level into top (room
 * for ntop / 2 more), its size.  gone: a flag per node, all false. */
static size_t thr_merge_subjects(struct thr *t, uint32_t *top, size_t ntop, struct subj_table *st, bool *gone)
{
	const struct imap_sort_msg **key;
	size_t k = 0, nnew = ntop;

	/* (B) one thread per subject: a dummy, else a message that is no
	 * reply, else the first */
	for (size_t i = 0; i < ntop; i++) {
		const struct imap_sort_msg *m = thr_subject_of(t, top[i]);
		uint32_t x = top[i], *slot;

		if (m == NULL || m->len[IMAP_SORT_S_SUBJECT] == 0)
			continue;
		slot = thr_subj_slot(st, m, &key);
		if (*slot == NONE) {
			*slot = x;
			*key = m;
		} else if (t->nodes[*slot].msg != NONE &&
			   (t->nodes[x].msg == NONE || (t->msgs[t->nodes[*slot].msg].reply && !m->reply))) {
			*slot = x;
		}
	}
	/* (C) the other threads of a subject join the table's */
	for (size_t i = 0; i < ntop; i++) {
		const struct imap_sort_msg *m = thr_subject_of(t, top[i]);
		uint32_t x = top[i], *slot, y;

		if (gone[x] || m == NULL || m->len[IMAP_SORT_S_SUBJECT] == 0)
			continue;
		slot = thr_subj_slot(st, m, &key);
		if ((y = *slot) == x)
			continue;
		bool xd = t->nodes[x].msg == NONE, yd = t->nodes[y].msg == NONE;
		if (xd && yd) {
			uint32_t c;
			while ((c = t->nodes[x].child) != NONE) {
				thr_unlink(t, c);
				thr_link(t, y, c);
			}
		} else if (yd || (!xd && m->reply && !t->msgs[t->nodes[y].msg].reply)) {
			thr_link(t, y, x);
		} else {
			/* y is a top-level message: a new dummy takes its place */
			uint32_t d = thr_node_new(t, NONE, NULL);
			thr_link(t, d, x);
			thr_link(t, d, y);
			gone[y] = true;
			*slot = d;
			top[nnew++] = d;
		}
		gone[x] = true;
	}
	for (size_t i = 0; i < nnew; i++)
		if (!gone[top[i]])
			top[k++] = top[i];
	return k;
}

/* Step 6: every sibling set, the deepest first; then the top level. */
static void thr_sort_all(struct thr *t, uint32_t *top, size_t ntop, uint32_t *order)
{
	size_t qh = 0, qt = 0;

	for (size_t i = 0; i < ntop; i++)
		order[qt++] = top[i];
	while (qh < qt)
		for (uint32_t c = t->nodes[order[qh++]].child; c != NONE; c = t->nodes[c].next)
			order[qt++] = c;
	while (qt > 0)
		thr_sort_children(t, order[--qt]);
	thr_sort_nodes(t, top, ntop);
}

static int thr_references(struct thr *t, struct buf *out)
{
	size_t slots = 1;
	ssize_t ntop;
	uint32_t *top = NULL, *order = NULL;
	bool *gone = NULL;
	struct subj_table st = { 0 };
	int rc = -1;

	thr_link_references(t);
	/* the top level: at most every node, and a dummy per two of step 5 */
	if ((top = malloc(((size_t)t->nnodes + t->n) * sizeof(*top))) == NULL ||
	    (ntop = thr_prune(t, top)) < 0)
		goto done;
	for (ssize_t i = 0; i < ntop; i++)
		if (t->nodes[top[i]].msg == NONE)
			thr_sort_children(t, top[i]);
	thr_sort_nodes(t, top, (size_t)ntop);            /* step 4 */
	while (slots < 2 * (size_t)ntop + 2)
		slots <<= 1;
	st.mask = slots - 1;
	if ((st.node = malloc(slots * sizeof(*st.node))) == NULL ||
	    (st.key = calloc(slots, sizeof(*st.key))) == NULL || (gone = calloc(t->cap, sizeof(*gone))) == NULL)
		goto done;
	memset(st.node, 0xff, slots * sizeof(*st.node));
	ntop = (ssize_t)thr_merge_subjects(t, top, (size_t)ntop, &st, gone);
	if ((order = malloc((size_t)t->nnodes * sizeof(*order))) == NULL)
		goto done;
	thr_sort_all(t, top, (size_t)ntop, order);
	rc = thr_render_all(t, top, (size_t)ntop, out);
done:
	free(top);
	free(order);
	free(gone);
	free(st.node);
	free(st.key);
	return rc;
}

/* ------------------------------------------------------------ entry */

int imap_thread_run(enum imap_thread_alg alg, const struct imap_sort_msg *msgs, size_t n, struct buf *out)
{
	struct thr t = { .msgs = msgs, .n = n };
	size_t cap = n, refs = 0;
	int rc = -1;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		refs += msgs[i].nrefs;   /* at most IMAP_SORT_REFS_MAX each: no overflow */
	/* messages, dummies for references, dummies of step 5 */
	if (__builtin_add_overflow(cap, refs, &cap) || __builtin_add_overflow(cap, n, &cap) ||
	    cap > NODES_MAX / 2) {
		errno = EMSGSIZE;
		return -1;
	}
	t.cap = (uint32_t)cap;
	t.nslots = 1;
	while (t.nslots < 2 * cap)
		t.nslots <<= 1;
	t.nodes = calloc(cap, sizeof(*t.nodes));
	t.scratch = calloc(2 * cap + 2, sizeof(*t.scratch));   /* the renderer's stack at most */
	t.slots = malloc(t.nslots * sizeof(*t.slots));
	errno = ENOMEM;
	if (t.nodes != NULL && t.scratch != NULL && t.slots != NULL) {
		memset(t.slots, 0xff, t.nslots * sizeof(*t.slots));
		rc = alg == IMAP_THREAD_ORDEREDSUBJECT ? thr_orderedsubject(&t, out) : thr_references(&t, out);
	}
	if (rc < 0 && errno != EMSGSIZE)
		errno = ENOMEM;   /* out's cap says EMSGSIZE; the rest is memory */
	int e = errno;
	free(t.nodes);
	free(t.scratch);
	free(t.slots);
	errno = e;
	return rc;
}
