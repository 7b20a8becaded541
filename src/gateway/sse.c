/* SSE framing (see sse.h). Blank lines end events: found with memchr from newline to
 * newline while no \r is in sight, else by a byte-level state machine that also handles
 * \r\n split across reads (and jumps over the inside of each line with memchr). Complete events are
 * handed out as slices of the input when possible; only the head of an event that straddles two
 * reads is copied into `pending`. */
#include "gateway/sse.h"
#include "girder/error.h"

#include <string.h>

void gd_gw_sse_init(struct gd_gw_sse *s, size_t max_event)
{
    memset(s, 0, sizeof *s);
    gd_buf_init(&s->pending, max_event);
    s->line_empty = 1;
    s->usage.prompt_tokens = s->usage.completion_tokens = s->usage.total_tokens = -1;
}

void gd_gw_sse_free(struct gd_gw_sse *s)
{
    gd_buf_free(&s->pending);
}

size_t gd_gw_sse_pending(const struct gd_gw_sse *s)
{
    return s->pending.len;
}

/* Length of the line starting at p (without its terminator) and of the terminator. */
static size_t line_len(const char *p, size_t n, int lf_only, size_t *term)
{
    const char *nl = memchr(p, '\n', n);
    size_t i = nl ? (size_t)(nl - p) : n;
    const char *cr = lf_only ? NULL : memchr(p, '\r', i); /* a \r ends the line there */
    if (cr)
        i = (size_t)(cr - p);
    *term = i < n ? (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n' ? 2 : 1) : 0;
    return i;
}

/* Finds the event's data: a single data line is returned in place; several are joined
 * with \n into scratch (bounded by the event's own size). */
static int event_data(const char *raw, size_t n, int lf_only, struct gd_buf *scratch,
                      const char **data, size_t *dlen)
{
    int lines = 0;
    *data = NULL;
    *dlen = 0;
    for (size_t i = 0, term; i < n; i += term) {
        size_t ll = line_len(raw + i, n - i, lf_only, &term);
        const char *l = raw + i;
        i += ll;
        if (ll < 5 || memcmp(l, "data:", 5) != 0)
            continue;
        const char *v = l + 5;
        size_t vl = ll - 5;
        if (vl && *v == ' ')
            v++, vl--;
        if (lines == 1) {
            gd_buf_reset(scratch);
            if (gd_buf_append(scratch, *data, *dlen) != 0)
                return GD_ENOMEM;
        }
        if (lines >= 1 && (gd_buf_putc(scratch, '\n') || gd_buf_append(scratch, v, vl)))
            return GD_ENOMEM;
        if (lines == 0) {
            *data = v;
            *dlen = vl;
        } else {
            *data = scratch->data;
            *dlen = scratch->len;
        }
        lines++;
    }
    return 0;
}

/* Whether "usage" (quoted) occurs in data. Every chunk is checked, so this is a memchr for
 * its rarest letter rather than a general substring search. */
static int has_usage_key(const char *data, size_t n)
{
    if (n < 7)
        return 0;
    const char *p = data + 4, *end = data + n - 2; /* 'g' is byte 4 of the 7 */
    while (p < end && (p = memchr(p, 'g', (size_t)(end - p)))) {
        if (memcmp(p - 4, "\"usage\"", 7) == 0)
            return 1;
        p++;
    }
    return 0;
}

/* lf_only: the event is known to hold no \r (its lines end at \n only). */
static int emit(struct gd_gw_sse *s, const char *raw, size_t n, int lf_only, gd_gw_sse_event_fn fn,
                void *ud)
{
    struct gd_buf scratch;
    const char *data;
    size_t dlen;
    gd_buf_init(&scratch, n + 1);
    int rc = event_data(raw, n, lf_only, &scratch, &data, &dlen);
    s->events++;
    if (rc == 0 && data) {
        if (dlen == 6 && memcmp(data, "[DONE]", 6) == 0) {
            s->done = 1;
        } else if (has_usage_key(data, dlen)) {
            struct gd_gw_usage u;
            if (gd_gw_scan_usage(data, dlen, &u) == 1) {
                s->usage = u;
                s->have_usage = 1;
            }
        }
    }
    if (rc == 0)
        rc = fn(ud, raw, n, data, dlen);
    gd_buf_free(&scratch);
    return rc;
}

/* Advances the line state over byte c; returns 1 when c ends an event. */
static int step(struct gd_gw_sse *s, char c)
{
    if (c == '\r') {
        int end = s->line_empty;
        s->line_empty = 1;
        s->prev_cr = 1;
        return end;
    }
    if (c == '\n') {
        if (s->prev_cr) { /* second half of \r\n: the line already ended */
            s->prev_cr = 0;
            return 0;
        }
        int end = s->line_empty;
        s->line_empty = 1;
        return end;
    }
    s->prev_cr = 0;
    s->line_empty = 0;
    return 0;
}

/* Delivers the event ending at p[i] (inclusive), joining it with any pending head. */
static int finish_event(struct gd_gw_sse *s, const char *p, size_t from, size_t i, int lf_only,
                        gd_gw_sse_event_fn fn, void *ud)
{
    if (s->pending.len == 0)
        return emit(s, p + from, i + 1 - from, lf_only, fn, ud);
    int rc = gd_buf_append(&s->pending, p + from, i + 1 - from);
    if (rc == 0)
        rc = emit(s, s->pending.data, s->pending.len, 0, fn, ud);
    gd_buf_reset(&s->pending);
    return rc;
}

/* Newline to newline with memchr over a stretch known to hold no \r (the usual case):
 * same result as stepping each byte. Returns 0 or the first non-zero from finish_event. */
static int feed_lf_only(struct gd_gw_sse *s, const char *p, size_t *from, size_t *at, size_t end,
                        gd_gw_sse_event_fn fn, void *ud)
{
    size_t i = *at;
    while (i < end) {
        const char *q = memchr(p + i, '\n', end - i);
        if (!q) {
            s->line_empty = 0;
            i = end;
            break;
        }
        size_t j = (size_t)(q - p);
        int ends_event = s->line_empty && j == i;
        s->line_empty = 1;
        i = j + 1;
        if (ends_event) {
            int rc = finish_event(s, p, *from, j, 1, fn, ud);
            *from = i;
            if (rc != 0) {
                *at = i;
                return rc;
            }
        }
    }
    *at = i;
    return 0;
}

int gd_gw_sse_feed(struct gd_gw_sse *s, const char *p, size_t n, gd_gw_sse_event_fn fn, void *ud)
{
    size_t from = 0;
    if (s->lf_due && n > 0) {
        /* The previous event ended with a \r at the end of a read; its \n arrives now and
         * is forwarded on its own so the output stays byte-identical. */
        s->lf_due = 0;
        if (p[0] == '\n') {
            step(s, '\n');
            from = 1;
            int rc = fn(ud, p, 1, NULL, 0);
            if (rc != 0)
                return rc;
        }
    }
    size_t i = from;
    if (!s->prev_cr) {
        const char *cr = memchr(p + i, '\r', n - i);
        int rc = feed_lf_only(s, p, &from, &i, cr ? (size_t)(cr - p) : n, fn, ud);
        if (rc != 0)
            return rc;
    }
    for (; i < n; i++) {
        if (!s->line_empty && !s->prev_cr) {
            /* inside a line: the bytes up to the next \r or \n leave the state as it is */
            const char *lf = memchr(p + i, '\n', n - i);
            size_t stop = lf ? (size_t)(lf - p) : n;
            const char *cr = memchr(p + i, '\r', stop - i);
            i = cr ? (size_t)(cr - p) : stop;
            if (i == n)
                break;
        }
        if (!step(s, p[i]))
            continue;
        if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
            step(s, p[++i]);
        else if (p[i] == '\r' && i + 1 == n) /* its \n, if any, comes with the next read */
            s->lf_due = 1;
        int rc = finish_event(s, p, from, i, 0, fn, ud);
        from = i + 1;
        if (rc != 0)
            return rc;
    }
    if (from < n)
        return gd_buf_append(&s->pending, p + from, n - from);
    return 0;
}
