#include "gateway/gov_window.h"

#include <criterion/criterion.h>

#define S(x) ((uint64_t)(x)*1000u)

Test(gov_window, burst_admits_exactly_the_limit)
{
    struct gd_gov_window w;
    gd_gov_window_init(&w);
    uint64_t t = S(1000) + 250;
    int admitted = 0;
    for (int i = 0; i < 20; i++, t += 7)
        if (gd_gov_window_used(&w, t) + 1 <= 5) {
            gd_gov_window_add(&w, t, 1);
            admitted++;
        }
    cr_assert_eq(admitted, 5);
    cr_assert_eq(gd_gov_window_used(&w, t), 5);
}

Test(gov_window, never_more_than_limit_in_any_rolling_minute)
{
    /* one attempt every 100 ms for 5 minutes against a limit of 7: every 60 s interval
     * (checked at 100 ms resolution) holds at most 7 admissions */
    struct gd_gov_window w;
    gd_gov_window_init(&w);
    uint64_t adm[4000];
    int n = 0;
    for (uint64_t t = S(50); t < S(350); t += 100)
        if (gd_gov_window_used(&w, t) + 1 <= 7) {
            gd_gov_window_add(&w, t, 1);
            adm[n++] = t;
        }
    cr_assert_gt(n, 7 * 4);
    for (int i = 0; i < n; i++) {
        int in = 0;
        for (int j = i; j < n && adm[j] < adm[i] + S(60); j++)
            in++;
        cr_assert_leq(in, 7, "at %llu: %d", (unsigned long long)adm[i], in);
    }
}

Test(gov_window, expires_after_a_minute_and_reports_waits)
{
    struct gd_gov_window w;
    gd_gov_window_init(&w);
    gd_gov_window_add(&w, S(100) + 500, 3); /* second 100 */
    gd_gov_window_add(&w, S(130), 2);       /* second 130 */
    /* at 140 s with limit 5: one more fits when second 100 drops out, at 161 s */
    cr_assert_eq(gd_gov_window_used(&w, S(140)), 5);
    cr_assert_eq(gd_gov_window_wait_ms(&w, S(140), 5, 1), S(21));
    cr_assert_eq(gd_gov_window_wait_ms(&w, S(140), 6, 1), 0);
    cr_assert_eq(gd_gov_window_wait_ms(&w, S(140), 5, 4), S(51)); /* needs both gone */
    cr_assert_eq(gd_gov_window_wait_ms(&w, S(140), 5, 6), UINT64_MAX);
    cr_assert_eq(gd_gov_window_reset_ms(&w, S(140)), S(51));
    cr_assert_eq(gd_gov_window_used(&w, S(160)), 5);
    cr_assert_eq(gd_gov_window_used(&w, S(160) + 999), 5); /* second 100 still counted */
    cr_assert_eq(gd_gov_window_used(&w, S(161)), 2);
    cr_assert_eq(gd_gov_window_used(&w, S(150)), 2); /* an earlier reading counts as 161 */
    cr_assert_eq(gd_gov_window_used(&w, S(191)), 0);
    cr_assert_eq(gd_gov_window_reset_ms(&w, S(200)), 0);
    /* after a long idle gap everything is gone and the window starts over */
    gd_gov_window_add(&w, S(5000), 7);
    cr_assert_eq(gd_gov_window_used(&w, S(5000)), 7);
    cr_assert_eq(gd_gov_window_used(&w, S(5061)), 0);
}

Test(gov_window, adjust_reconciles_only_live_buckets)
{
    struct gd_gov_window w;
    gd_gov_window_init(&w);
    gd_gov_window_add(&w, S(10), 80);
    gd_gov_window_adjust(&w, S(10), S(12), 24 - 80);
    cr_assert_eq(gd_gov_window_used(&w, S(12)), 24);
    gd_gov_window_adjust(&w, S(10), S(12), -1000); /* never below zero */
    cr_assert_eq(gd_gov_window_used(&w, S(12)), 0);
    gd_gov_window_add(&w, S(20), 10);
    gd_gov_window_adjust(&w, S(20), S(90), 50); /* bucket already gone: ignored */
    cr_assert_eq(gd_gov_window_used(&w, S(90)), 0);
    /* a slot reused by a later second is not touched by an old reservation */
    gd_gov_window_add(&w, S(20 + 61), 5);
    gd_gov_window_adjust(&w, S(20), S(20 + 61), 100);
    cr_assert_eq(gd_gov_window_used(&w, S(20 + 61)), 5);
}

/* The running total against a brute-force sum over every recorded (second, n), with
 * adds, reconciliations and idle gaps in random order. */
Test(gov_window, running_total_matches_brute_force)
{
    struct gd_gov_window w;
    gd_gov_window_init(&w);
    static int64_t at[20000], amount[20000];
    int n = 0;
    uint64_t t = 1000, seed = 12345;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(seed >> 33);
        t += r % 7 == 0 ? (r % 90000) : (r % 700); /* now and then a gap of up to 90 s */
        if (r % 5 == 0 && n > 0) {                 /* reconcile a recent reservation */
            int i = n - 1 - (int)(r % (n < 8 ? (unsigned)n : 8u));
            int64_t delta = (int64_t)(r % 11) - 5;
            if ((int64_t)(t / 1000) - at[i] <= 60 && amount[i] + delta >= 0) {
                /* the brute force clamps per reservation; the window per bucket: only
                 * apply deltas that keep the reservation non-negative */
                gd_gov_window_adjust(&w, (uint64_t)at[i] * 1000u, t, delta);
                amount[i] += delta;
            }
        } else {
            int64_t k = 1 + (int64_t)(r % 9);
            gd_gov_window_add(&w, t, k);
            at[n] = (int64_t)(t / 1000);
            amount[n++] = k;
        }
        int64_t cur = (int64_t)(t / 1000), sum = 0;
        for (int i = 0; i < n; i++)
            if (cur - at[i] <= 60)
                sum += amount[i];
        cr_assert_eq(gd_gov_window_used(&w, t), sum, "step %d", step);
    }
}
