/* clock_jumps: the ledger of forward steps of the wall clock (see
 * clock_jumps.h for what it is for and the file's format).
 *
 * Offers: observation of the two clocks, the age of a message with the
 * steps since its arrival left out, and the ledger as text both ways.
 * Trusts: nothing in the text it parses (bounded by its length, numbers
 * checked for overflow, at most CLOCK_JUMPS_MAX steps).
 * Fails: a text that is not a ledger leaves no steps: ages are then
 * plain wall-clock ages, which is what they were before this ledger. */
#include <stdio.h>
#include <string.h>

#include "clock_jumps.h"

#define CLOCK_JUMPS_HEADER "postern-clock-jumps 1\n"

void clock_jumps_init(struct clock_jumps *cj)
{
	memset(cj, 0, sizeof(*cj));
}

static long long clock_jumps_total(const struct clock_jumps *cj)
{
	long long total = 0;

	for (size_t i = 0; i < cj->n; i++)
		if (__builtin_add_overflow(total, cj->j[i].delta, &total))
			return __LONG_LONG_MAX__;
	return total;
}

/* Drop the steps no message's fate depends on any more (before every
 * observation that adds one, so the ledger stays short). */
static void clock_jumps_prune(struct clock_jumps *cj, long long now, unsigned long long lifetime)
{
	long long total = clock_jumps_total(cj), horizon;
	size_t k = 0;

	if (lifetime > (unsigned long long)__LONG_LONG_MAX__ ||
	    __builtin_sub_overflow(now, (long long)lifetime, &horizon) ||
	    __builtin_sub_overflow(horizon, total, &horizon))
		return;
	for (size_t i = 0; i < cj->n; i++)
		if (cj->j[i].before >= horizon)
			cj->j[k++] = cj->j[i];
	cj->n = k;
}

/* A full ledger: the two oldest steps become one, at the later of their
 * two places.  Mail that arrived between them then has the earlier step
 * left out too: younger than it is, so it lives longer, never shorter. */
static void clock_jumps_merge_oldest(struct clock_jumps *cj)
{
	struct clock_jump *a = &cj->j[0], *b = &cj->j[1];

	if (b->before < a->before)
		b->before = a->before;
	if (__builtin_add_overflow(a->delta, b->delta, &b->delta))
		b->delta = __LONG_LONG_MAX__;
	memmove(&cj->j[0], &cj->j[1], (cj->n - 1) * sizeof(cj->j[0]));
	cj->n--;
}

int clock_jumps_observe(struct clock_jumps *cj, long long wall, long long boot, unsigned long long lifetime,
			long long *delta_r)
{
	long long last_wall = cj->last_wall, last_boot = cj->last_boot, dwall, dboot, step, before;
	int was = cj->observed;

	cj->last_wall = wall;
	cj->last_boot = boot;
	cj->observed = 1;
	/* The wall clock should have moved as far as the boot clock did;
	 * what it moved beyond that is a step. */
	if (!was || __builtin_sub_overflow(wall, last_wall, &dwall) ||
	    __builtin_sub_overflow(boot, last_boot, &dboot) ||
	    __builtin_sub_overflow(dwall, dboot, &step) || step < CLOCK_JUMP_MIN ||
	    __builtin_add_overflow(last_wall, dboot, &before))
		return 0;
	/* It was taken at some moment since the last observation: the wall
	 * clock just before it was at most last_wall + dboot.  Mail that
	 * arrived in between counts as arrived before it (younger: the
	 * safe side). */
	clock_jumps_prune(cj, wall, lifetime);
	if (cj->n == CLOCK_JUMPS_MAX)
		clock_jumps_merge_oldest(cj);
	cj->j[cj->n++] = (struct clock_jump){ .before = before, .delta = step };
	*delta_r = step;
	return 1;
}

unsigned long long clock_jumps_age(const struct clock_jumps *cj, long long arrival, long long now)
{
	long long age;

	if (__builtin_sub_overflow(now, arrival, &age))
		return 0;
	for (size_t i = 0; i < cj->n; i++)
		if (cj->j[i].before >= arrival && __builtin_sub_overflow(age, cj->j[i].delta, &age))
			return 0;
	return age > 0 ? (unsigned long long)age : 0;
}

size_t clock_jumps_format(const struct clock_jumps *cj, char *buf, size_t cap)
{
	size_t len = 0;
	int r = snprintf(buf, cap, "%s", CLOCK_JUMPS_HEADER);

	if (r < 0 || (size_t)r >= cap)
		return 0;
	len = (size_t)r;
	for (size_t i = 0; i < cj->n; i++) {
		r = snprintf(buf + len, cap - len, "%lld %lld\n", cj->j[i].before, cj->j[i].delta);
		if (r < 0 || (size_t)r >= cap - len)
			return 0;
		len += (size_t)r;
	}
	return len;
}

/* A decimal number (optionally negative) ending at stop; *p moves past it. */
static int clock_jumps_number(const char **p, const char *end, char stop, long long *v_r)
{
	const char *s = *p;
	int neg = 0;
	long long v = 0;

	if (s < end && *s == '-') {
		neg = 1;
		s++;
	}
	if (s == end || *s < '0' || *s > '9')
		return -1;
	while (s < end && *s >= '0' && *s <= '9') {
		int dig = *s++ - '0';

		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, neg ? -dig : dig, &v))
			return -1;
	}
	if (s == end || *s != stop)
		return -1;
	*p = s + 1;
	*v_r = v;
	return 0;
}

int clock_jumps_parse(struct clock_jumps *cj, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	size_t hlen = strlen(CLOCK_JUMPS_HEADER);

	cj->n = 0;
	if (len < hlen || memcmp(text, CLOCK_JUMPS_HEADER, hlen) != 0)
		return -1;
	p += hlen;
	while (p < end) {
		struct clock_jump j;

		if (cj->n == CLOCK_JUMPS_MAX || clock_jumps_number(&p, end, ' ', &j.before) < 0 ||
		    clock_jumps_number(&p, end, '\n', &j.delta) < 0 || j.delta <= 0) {
			cj->n = 0;
			return -1;
		}
		cj->j[cj->n++] = j;
	}
	return 0;
}
