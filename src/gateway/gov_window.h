/* A sliding one-minute window for request and token counts (RPM/TPM), in one-second buckets.
 *
 * The window counts the 61 buckets that overlap (now - 60 s, now]: the oldest, partly
 * expired one is counted whole, so admitting while used + n <= limit guarantees that no
 * rolling 60-second interval ever holds more than limit (a burst of limit + k requests
 * admits exactly limit), at the cost of freeing capacity up to one second late. Memory is
 * fixed (61 slots) whatever the limit, and the same layout maps onto a Redis hash in one
 * hash slot for the Redis backend. docs/governance.md explains the choice over GCRA and
 * token buckets.
 *
 * Times are milliseconds on any monotonic clock, passed in (tests inject them). Pure; the
 * caller serialises access (gov_local.c holds the owner's mutex). */
#ifndef GD_GATEWAY_GOV_WINDOW_H
#define GD_GATEWAY_GOV_WINDOW_H

#include <stdint.h>

#define GD_GOV_WINDOW_SECONDS 60
#define GD_GOV_WINDOW_SLOTS (GD_GOV_WINDOW_SECONDS + 1)

struct gd_gov_window_slot {
    int64_t second; /* which second the slot holds; -1: empty */
    int64_t count;
};

/* A running total is kept as time advances (expired buckets are subtracted once), so the
 * per-request sum is O(1) and touches a cache line or two, not 61 slots. */
struct gd_gov_window {
    int64_t total; /* sum of the buckets live at second `cur` */
    int64_t cur;   /* the newest second seen; -1 before the first use */
    struct gd_gov_window_slot slot[GD_GOV_WINDOW_SLOTS];
};

void gd_gov_window_init(struct gd_gov_window *w);
/* Sum over the live buckets at now_ms (advances the window: not const). A time before the
 * newest one seen (threads read the clock before taking the lock) counts as that one. */
int64_t gd_gov_window_used(struct gd_gov_window *w, uint64_t now_ms);
/* Adds n (> 0) to the bucket of now_ms (or of the newest second seen, if later). */
void gd_gov_window_add(struct gd_gov_window *w, uint64_t now_ms, int64_t n);
/* Corrects what was added at at_ms by delta (reconciling an estimate with the real usage):
 * applied to at_ms's bucket while it is live, never taking it below zero; a bucket that
 * already left the window is not touched (its tokens no longer count anyway). */
void gd_gov_window_adjust(struct gd_gov_window *w, uint64_t at_ms, uint64_t now_ms, int64_t delta);
/* Milliseconds from now_ms until used + need <= limit: 0 when it fits now, UINT64_MAX when
 * need > limit (it never fits). */
uint64_t gd_gov_window_wait_ms(const struct gd_gov_window *w, uint64_t now_ms, int64_t limit,
                               int64_t need);
/* Milliseconds until the bucket of now_ms leaves the window: the reset time right after
 * adding to it (the newest bucket is then the current one). */
static inline uint64_t gd_gov_window_reset_after_add_ms(uint64_t now_ms)
{
    return (now_ms / 1000u + GD_GOV_WINDOW_SLOTS) * 1000u - now_ms;
}
/* Milliseconds until the window is empty again (every counted bucket expired); 0 if empty. */
uint64_t gd_gov_window_reset_ms(const struct gd_gov_window *w, uint64_t now_ms);

#endif
