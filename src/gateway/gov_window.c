/* Sliding one-minute window in one-second buckets (see gov_window.h).
 *
 * Slot s holds second `slot[s].second` (second = ms / 1000, slot = second % 61). A bucket
 * of second b is live at second c while c - 60 <= b <= c and drops out at the start of
 * second b + 61; advancing `cur` subtracts the buckets that dropped out from `total`. */
#include "gateway/gov_window.h"

void gd_gov_window_init(struct gd_gov_window *w)
{
    w->total = 0;
    w->cur = -1;
    for (int i = 0; i < GD_GOV_WINDOW_SLOTS; i++) {
        w->slot[i].count = 0;
        w->slot[i].second = -1;
    }
}

static int live(int64_t b, int64_t cur)
{
    return b >= 0 && b <= cur && cur - b <= GD_GOV_WINDOW_SECONDS;
}

/* Moves cur to now's second, expiring what leaves the window; returns the second to use. */
static int64_t advance(struct gd_gov_window *w, uint64_t now_ms)
{
    int64_t c = (int64_t)(now_ms / 1000u);
    if (c <= w->cur)
        return w->cur;
    if (w->cur < 0 || c - w->cur >= GD_GOV_WINDOW_SLOTS) {
        w->total = 0; /* everything expired; stale slots are never counted again */
    } else {
        for (int64_t b = w->cur - GD_GOV_WINDOW_SECONDS; b <= c - GD_GOV_WINDOW_SLOTS; b++) {
            struct gd_gov_window_slot *s = &w->slot[(b < 0 ? 0 : b) % GD_GOV_WINDOW_SLOTS];
            if (b >= 0 && s->second == b) {
                w->total -= s->count;
                s->count = 0;
                s->second = -1;
            }
        }
    }
    w->cur = c;
    return c;
}

int64_t gd_gov_window_used(struct gd_gov_window *w, uint64_t now_ms)
{
    advance(w, now_ms);
    return w->total;
}

void gd_gov_window_add(struct gd_gov_window *w, uint64_t now_ms, int64_t n)
{
    int64_t cur = advance(w, now_ms);
    struct gd_gov_window_slot *s = &w->slot[cur % GD_GOV_WINDOW_SLOTS];
    if (s->second != cur) {
        s->second = cur;
        s->count = 0;
    }
    s->count += n;
    w->total += n;
}

void gd_gov_window_adjust(struct gd_gov_window *w, uint64_t at_ms, uint64_t now_ms, int64_t delta)
{
    int64_t b = (int64_t)(at_ms / 1000u), cur = advance(w, now_ms);
    struct gd_gov_window_slot *s = &w->slot[b % GD_GOV_WINDOW_SLOTS];
    if (s->second != b || !live(b, cur))
        return;
    int64_t before = s->count;
    s->count += delta;
    if (s->count < 0)
        s->count = 0;
    w->total += s->count - before;
}

/* Live buckets in age order: fills sec[]/cnt[] oldest first, returns how many. */
static int live_sorted(const struct gd_gov_window *w, int64_t cur, int64_t *sec, int64_t *cnt)
{
    int n = 0;
    for (int64_t b = cur - GD_GOV_WINDOW_SECONDS; b <= cur; b++) {
        if (b < 0)
            continue;
        const struct gd_gov_window_slot *s = &w->slot[b % GD_GOV_WINDOW_SLOTS];
        if (s->second == b && s->count > 0) {
            sec[n] = b;
            cnt[n++] = s->count;
        }
    }
    return n;
}

/* The window's second for a reading at now_ms (never before cur). */
static int64_t at_second(const struct gd_gov_window *w, uint64_t now_ms)
{
    int64_t c = (int64_t)(now_ms / 1000u);
    return c < w->cur ? w->cur : c;
}

uint64_t gd_gov_window_wait_ms(const struct gd_gov_window *w, uint64_t now_ms, int64_t limit,
                               int64_t need)
{
    if (need > limit)
        return UINT64_MAX;
    int64_t sec[GD_GOV_WINDOW_SLOTS], cnt[GD_GOV_WINDOW_SLOTS], cur = at_second(w, now_ms);
    int n = live_sorted(w, cur, sec, cnt);
    int64_t used = 0;
    for (int i = 0; i < n; i++)
        used += cnt[i];
    for (int i = 0; i < n && used + need > limit; i++) {
        used -= cnt[i];
        if (used + need <= limit) {
            uint64_t at = (uint64_t)(sec[i] + GD_GOV_WINDOW_SLOTS) * 1000u;
            return at > now_ms ? at - now_ms : 1;
        }
    }
    return 0;
}

uint64_t gd_gov_window_reset_ms(const struct gd_gov_window *w, uint64_t now_ms)
{
    int64_t sec[GD_GOV_WINDOW_SLOTS], cnt[GD_GOV_WINDOW_SLOTS], cur = at_second(w, now_ms);
    int n = live_sorted(w, cur, sec, cnt);
    if (n == 0)
        return 0;
    uint64_t at = (uint64_t)(sec[n - 1] + GD_GOV_WINDOW_SLOTS) * 1000u;
    return at > now_ms ? at - now_ms : 1;
}
