/* clock_jumps: how long a queued message has really been queued when the
 * wall clock has jumped forward since it arrived.  A message's arrival is
 * a wall-clock stamp in its queue file; a step of the clock (an NTP step,
 * a clock set right, a VM resumed with its old time) would age every
 * queued message by the step and expire it early.  qmgr compares the wall
 * clock with CLOCK_BOOTTIME (which counts a suspend, so a machine that
 * slept is not taken for a jump) at every wake-up; a forward step of at
 * least CLOCK_JUMP_MIN seconds is kept in a ledger, and a message's age
 * leaves out every step taken after it arrived.
 *
 * Backward steps are not kept: they make ages smaller, so mail lives
 * longer, never shorter.  A jump forward that corrects one backward
 * is kept like any other, and the mail that arrived before both then
 * lives longer by the step: the safe side.
 *
 * The ledger survives a restart of qmgr in a small text file
 * (docs/queue.md, "Clocks"): a first line "postern-clock-jumps 1", then
 * one line "BEFORE DELTA" per step (decimal seconds: the wall clock just
 * before the step, the step), in the order they happened.  A file that does not parse
 * is ignored whole (logged by the caller): ages are then plain wall-clock
 * ages again, as before any jump. */
#ifndef POSTERN_CLOCK_JUMPS_H
#define POSTERN_CLOCK_JUMPS_H

#include <stddef.h>

#define CLOCK_JUMPS_MAX 32          /* steps kept; beyond, the two oldest are merged */
#define CLOCK_JUMP_MIN 60           /* seconds: smaller differences are not steps */
#define CLOCK_JUMPS_FILE_MAX 2048   /* bytes of the ledger file that are read */
#define CLOCK_JUMPS_NAME "state/clock-jumps"   /* in the queue directory */

struct clock_jump {
	long long before;    /* wall clock just before the step */
	long long delta;     /* the step, seconds (> 0) */
};

struct clock_jumps {
	struct clock_jump j[CLOCK_JUMPS_MAX];
	size_t n;
	long long last_wall, last_boot;   /* the previous observation */
	int observed;                     /* last_* are set */
};

/* An empty ledger. */
void clock_jumps_init(struct clock_jumps *cj);
/* One observation of both clocks (seconds).  1 when it found a forward
 * step (added; *delta_r is its size), else 0.  Steps that can no longer
 * change any decision are dropped: those older than lifetime plus every
 * recorded step (a message that arrived before one is past its lifetime
 * whatever the ledger says). */
int clock_jumps_observe(struct clock_jumps *cj, long long wall, long long boot, unsigned long long lifetime,
			long long *delta_r);
/* The age at wall-clock time now of a message that arrived at arrival:
 * now - arrival without the forward steps taken since; 0 if negative. */
unsigned long long clock_jumps_age(const struct clock_jumps *cj, long long arrival, long long now);

/* The ledger as text (buf of cap bytes, CLOCK_JUMPS_FILE_MAX is enough);
 * its length. */
size_t clock_jumps_format(const struct clock_jumps *cj, char *buf, size_t cap);
/* Parse len bytes of a ledger file into cj's steps (the observation is
 * kept).  0, or -1 with cj's steps emptied when the text is not a ledger:
 * wrong first line, a bad number, a step that is not positive, more than
 * CLOCK_JUMPS_MAX steps. */
int clock_jumps_parse(struct clock_jumps *cj, const char *text, size_t len);

#endif
