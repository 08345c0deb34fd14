/* Unit tests for common/clock_jumps.c: steps found and not found, ages
 * with the steps since arrival left out, pruning, merging a full ledger,
 * the text form both ways and refused texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "clock_jumps.h"

#define DAY 86400LL
#define LIFETIME (5 * DAY)

/* Observations every 10 s of the boot clock, the wall clock stepped
 * forward by step at the fifth. */
static void test_forward_step_is_found_once(void **state)
{
	struct clock_jumps cj;
	long long wall = 1000000, boot = 50, delta = 0;
	int found = 0;

	(void)state;
	clock_jumps_init(&cj);
	for (int i = 0; i < 10; i++) {
		found += clock_jumps_observe(&cj, wall, boot, LIFETIME, &delta);
		if (i == 4)
			wall += 2 * DAY;
		wall += 10;
		boot += 10;
	}
	assert_int_equal(found, 1);
	assert_int_equal(cj.n, 1);
	assert_int_equal(delta, 2 * DAY);
	/* The latest wall time the step may have come after. */
	assert_int_equal(cj.j[0].before, 1000000 + 5 * 10);
}

static void test_small_drift_suspend_and_backward_steps_are_not_kept(void **state)
{
	struct clock_jumps cj;
	long long delta = 0;

	(void)state;
	clock_jumps_init(&cj);
	assert_int_equal(clock_jumps_observe(&cj, 1000, 10, LIFETIME, &delta), 0);   /* first: nothing to compare */
	/* NTP slewing, a second off in a minute. */
	assert_int_equal(clock_jumps_observe(&cj, 1061, 70, LIFETIME, &delta), 0);
	/* Under CLOCK_JUMP_MIN. */
	assert_int_equal(clock_jumps_observe(&cj, 1061 + 10 + CLOCK_JUMP_MIN - 1, 80, LIFETIME, &delta), 0);
	/* A suspend of a day: both clocks moved. */
	assert_int_equal(clock_jumps_observe(&cj, 1130 + DAY, 80 + DAY, LIFETIME, &delta), 0);
	/* Backwards two hours. */
	assert_int_equal(clock_jumps_observe(&cj, 1140 + DAY - 7200, 90 + DAY, LIFETIME, &delta), 0);
	assert_int_equal(cj.n, 0);
}

static void test_age_leaves_out_only_steps_since_arrival(void **state)
{
	struct clock_jumps cj;
	long long delta;

	(void)state;
	clock_jumps_init(&cj);
	/* A step of 3 days after wall 10000, another of 1 day after 20000. */
	clock_jumps_observe(&cj, 10000, 0, LIFETIME, &delta);
	assert_int_equal(clock_jumps_observe(&cj, 10000 + 3 * DAY, 0, LIFETIME, &delta), 1);
	clock_jumps_observe(&cj, 20000 + 3 * DAY, 10000, LIFETIME, &delta);
	assert_int_equal(clock_jumps_observe(&cj, 20000 + 4 * DAY, 10000, LIFETIME, &delta), 1);
	long long now = 30000 + 4 * DAY;
	/* Arrived before both: 30000 s really passed. */
	assert_int_equal(clock_jumps_age(&cj, 5000, now), 25000);
	/* Arrived between them (wall 15000 + 3 days). */
	assert_int_equal(clock_jumps_age(&cj, 15000 + 3 * DAY, now), 15000);
	/* Arrived after both. */
	assert_int_equal(clock_jumps_age(&cj, 25000 + 4 * DAY, now), 5000);
	/* From the future (the clock went back since): 0, never negative. */
	assert_int_equal(clock_jumps_age(&cj, now + 100, now), 0);
	/* An empty ledger is the plain difference. */
	clock_jumps_init(&cj);
	assert_int_equal(clock_jumps_age(&cj, 100, 1100), 1000);
}

static void test_backward_then_forward_correction_never_ages_mail(void **state)
{
	struct clock_jumps cj;
	long long delta, t = 1000000;

	(void)state;
	clock_jumps_init(&cj);
	clock_jumps_observe(&cj, t, 0, LIFETIME, &delta);
	clock_jumps_observe(&cj, t + 10 - 2 * DAY, 10, LIFETIME, &delta);        /* set 2 days back */
	long long arrived = t + 20 - 2 * DAY;                                  /* mail while wrong */
	clock_jumps_observe(&cj, t + 30 - 2 * DAY, 30, LIFETIME, &delta);
	assert_int_equal(clock_jumps_observe(&cj, t + 40, 40, LIFETIME, &delta), 1);   /* put right */
	/* Mail from before the mistake and from during it: at most their real age. */
	assert_true(clock_jumps_age(&cj, t - 100, t + 40) <= 140);
	assert_int_equal(clock_jumps_age(&cj, arrived, t + 40), 20);
}

static void test_old_steps_are_pruned_and_a_full_ledger_merged(void **state)
{
	struct clock_jumps cj;
	long long delta, wall = 0, boot = 0;

	(void)state;
	clock_jumps_init(&cj);
	clock_jumps_observe(&cj, wall, boot, LIFETIME, &delta);
	/* More steps of 100 s than the ledger holds, all recent. */
	for (int i = 0; i < CLOCK_JUMPS_MAX + 5; i++) {
		wall += 1000 + 100;
		boot += 1000;
		assert_int_equal(clock_jumps_observe(&cj, wall, boot, LIFETIME, &delta), 1);
	}
	assert_int_equal(cj.n, CLOCK_JUMPS_MAX);
	/* Merged, nothing lost: mail from the start has every step left out. */
	assert_int_equal(clock_jumps_age(&cj, 0, wall), boot);
	/* Mail from after the first steps is never older than it is. */
	assert_true(clock_jumps_age(&cj, 3 * 1100, wall) <= (unsigned long long)(boot - 3 * 1000));
	/* Past lifetime + every step, the old steps go at the next one. */
	wall += LIFETIME + 10 * DAY;
	boot += LIFETIME + 10 * DAY;
	clock_jumps_observe(&cj, wall, boot, LIFETIME, &delta);
	wall += 10 + DAY;
	boot += 10;
	assert_int_equal(clock_jumps_observe(&cj, wall, boot, LIFETIME, &delta), 1);
	assert_int_equal(cj.n, 1);
	assert_int_equal(delta, DAY);
}

static void test_text_round_trip(void **state)
{
	struct clock_jumps cj, back;
	char text[CLOCK_JUMPS_FILE_MAX];
	long long delta;
	size_t len;

	(void)state;
	clock_jumps_init(&cj);
	clock_jumps_observe(&cj, -5000, 0, LIFETIME, &delta);
	clock_jumps_observe(&cj, -4000 + DAY, 1000, LIFETIME, &delta);
	clock_jumps_observe(&cj, -3000 + 2 * DAY, 2000, LIFETIME, &delta);
	assert_int_equal(cj.n, 2);
	len = clock_jumps_format(&cj, text, sizeof(text));
	assert_true(len > 0);
	clock_jumps_init(&back);
	assert_int_equal(clock_jumps_parse(&back, text, len), 0);
	assert_int_equal(back.n, 2);
	assert_memory_equal(back.j, cj.j, 2 * sizeof(cj.j[0]));
	assert_string_equal(text, "postern-clock-jumps 1\n-4000 86400\n83400 86400\n");
	/* The largest ledger fits the file limit. */
	for (size_t i = 0; i < CLOCK_JUMPS_MAX; i++)
		cj.j[i] = (struct clock_jump){ .before = -__LONG_LONG_MAX__ - 1, .delta = __LONG_LONG_MAX__ };
	cj.n = CLOCK_JUMPS_MAX;
	assert_true(clock_jumps_format(&cj, text, sizeof(text)) > 0);
}

static void test_damaged_texts_are_refused_whole(void **state)
{
	static const char *const bad[] = {
		"",
		"postern-clock-jumps 2\n",
		"postern-clock-jumps 1\n100 0\n",
		"postern-clock-jumps 1\n100 -5\n",
		"postern-clock-jumps 1\n100 5",
		"postern-clock-jumps 1\n100  5\n",
		"postern-clock-jumps 1\n+100 5\n",
		"postern-clock-jumps 1\n99999999999999999999 5\n",
		"postern-clock-jumps 1\n100 5\n\n",
		"postern-clock-jumps 1\n- 5\n",
	};
	struct clock_jumps cj;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		clock_jumps_init(&cj);
		cj.n = 3;
		assert_int_equal(clock_jumps_parse(&cj, bad[i], strlen(bad[i])), -1);
		assert_int_equal(cj.n, 0);
	}
	/* One step more than the ledger holds. */
	char text[CLOCK_JUMPS_FILE_MAX * 2];
	size_t len = 22;

	memcpy(text, "postern-clock-jumps 1\n", len);
	for (int i = 0; i <= CLOCK_JUMPS_MAX; i++, len += 4)
		memcpy(text + len, "1 1\n", 4);
	assert_int_equal(clock_jumps_parse(&cj, text, len), -1);
	assert_int_equal(clock_jumps_parse(&cj, text, len - 4), 0);
	assert_int_equal(cj.n, CLOCK_JUMPS_MAX);
	assert_int_equal(clock_jumps_parse(&cj, "postern-clock-jumps 1\n", 22), 0);
	assert_int_equal(cj.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_step_is_found_once),
		cmocka_unit_test(test_small_drift_suspend_and_backward_steps_are_not_kept),
		cmocka_unit_test(test_age_leaves_out_only_steps_since_arrival),
		cmocka_unit_test(test_backward_then_forward_correction_never_ages_mail),
		cmocka_unit_test(test_old_steps_are_pruned_and_a_full_ledger_merged),
		cmocka_unit_test(test_text_round_trip),
		cmocka_unit_test(test_damaged_texts_are_refused_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
