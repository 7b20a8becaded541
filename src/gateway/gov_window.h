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

struct gd_gov_window {
    int64_t count[GD_GOV_WINDOW_SLOTS];
    int64_t second[GD_GOV_WINDOW_SLOTS]; /* which second each slot holds; -1: empty */
};

void gd_gov_window_init(struct gd_gov_window *w);
/* Sum over the live buckets at now_ms. */
int64_t gd_gov_window_used(const struct gd_gov_window *w, uint64_t now_ms);
/* Adds n (> 0) to the bucket of now_ms. */
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
