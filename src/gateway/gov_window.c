/* Sliding one-minute window in one-second buckets (see gov_window.h).
 *
 * Slot s holds second `second[s]` (second = ms / 1000, slot = second % 61). A bucket of
 * second b is live at second c while c - 60 <= b <= c and drops out at the start of second
 * b + 61. */
#include "gateway/gov_window.h"

void gd_gov_window_init(struct gd_gov_window *w)
{
    for (int i = 0; i < GD_GOV_WINDOW_SLOTS; i++) {
        w->count[i] = 0;
        w->second[i] = -1;
    }
}

static int live(int64_t b, int64_t cur)
{
    return b >= 0 && b <= cur && cur - b <= GD_GOV_WINDOW_SECONDS;
}

int64_t gd_gov_window_used(const struct gd_gov_window *w, uint64_t now_ms)
{
    int64_t cur = (int64_t)(now_ms / 1000u), sum = 0;
    for (int i = 0; i < GD_GOV_WINDOW_SLOTS; i++)
        if (live(w->second[i], cur))
            sum += w->count[i];
    return sum;
}

void gd_gov_window_add(struct gd_gov_window *w, uint64_t now_ms, int64_t n)
{
    int64_t cur = (int64_t)(now_ms / 1000u);
    int s = (int)(cur % GD_GOV_WINDOW_SLOTS);
    if (w->second[s] != cur) {
        w->second[s] = cur;
        w->count[s] = 0;
    }
    w->count[s] += n;
}

void gd_gov_window_adjust(struct gd_gov_window *w, uint64_t at_ms, uint64_t now_ms, int64_t delta)
{
    int64_t b = (int64_t)(at_ms / 1000u), cur = (int64_t)(now_ms / 1000u);
    int s = (int)(b % GD_GOV_WINDOW_SLOTS);
    if (w->second[s] != b || !live(b, cur))
        return;
    w->count[s] += delta;
    if (w->count[s] < 0)
        w->count[s] = 0;
}

/* Live buckets in age order: fills sec[]/cnt[] oldest first, returns how many. */
static int live_sorted(const struct gd_gov_window *w, int64_t cur, int64_t *sec, int64_t *cnt)
{
    int n = 0;
    for (int64_t b = cur - GD_GOV_WINDOW_SECONDS; b <= cur; b++) {
        if (b < 0)
            continue;
        int s = (int)(b % GD_GOV_WINDOW_SLOTS);
        if (w->second[s] == b && w->count[s] > 0) {
            sec[n] = b;
            cnt[n++] = w->count[s];
        }
    }
    return n;
}

uint64_t gd_gov_window_wait_ms(const struct gd_gov_window *w, uint64_t now_ms, int64_t limit,
                               int64_t need)
{
    if (need > limit)
        return UINT64_MAX;
    int64_t sec[GD_GOV_WINDOW_SLOTS], cnt[GD_GOV_WINDOW_SLOTS], cur = (int64_t)(now_ms / 1000u);
    int n = live_sorted(w, cur, sec, cnt);
    int64_t used = 0;
    for (int i = 0; i < n; i++)
        used += cnt[i];
    for (int i = 0; i < n && used + need > limit; i++) {
        used -= cnt[i];
        if (used + need <= limit)
            return (uint64_t)(sec[i] + GD_GOV_WINDOW_SLOTS) * 1000u - now_ms;
    }
    return 0;
}

uint64_t gd_gov_window_reset_ms(const struct gd_gov_window *w, uint64_t now_ms)
{
    int64_t sec[GD_GOV_WINDOW_SLOTS], cnt[GD_GOV_WINDOW_SLOTS], cur = (int64_t)(now_ms / 1000u);
    int n = live_sorted(w, cur, sec, cnt);
    return n ? (uint64_t)(sec[n - 1] + GD_GOV_WINDOW_SLOTS) * 1000u - now_ms : 0;
}
