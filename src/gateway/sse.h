/* Incremental Server-Sent Events framer for upstream LLM streams.
 *
 * Bytes arrive from the upstream in arbitrary pieces; the framer finds event boundaries
 * (a blank line, with \n, \r\n or \r line endings, even when a \r\n is split across two
 * reads) and hands each complete event to a callback as the exact raw bytes received, so
 * the concatenation of everything forwarded is byte-identical to what the upstream sent.
 * It also reads each event's data field to spot `data: [DONE]` and the `usage` object of
 * the final chunk (stream_options.include_usage).
 *
 * Memory: only an incomplete trailing event is copied, capped by max_event bytes.
 * One framer per stream; not thread-safe. */
#ifndef GD_GATEWAY_SSE_H
#define GD_GATEWAY_SSE_H

#include "core/buf.h"
#include "gateway/json_scan.h"

#include <stddef.h>
#include <stdint.h>

struct gd_gw_sse {
    struct gd_buf pending; /* incomplete event bytes */
    size_t scanned;        /* bytes of pending already scanned */
    int line_empty;        /* the current line has no bytes yet */
    int prev_cr;           /* the last byte was \r (a \n may complete it) */
    int lf_due;            /* an event ended with \r at the end of the last read */
    int done;              /* saw data: [DONE] */
    int have_usage;        /* usage holds the last usage object seen */
    struct gd_gw_usage usage;
    uint64_t events; /* complete events seen */
};

/* Called once per complete event: raw is the event's bytes as received (terminator
 * included), data the value of its data field(s) joined by \n (NULL/0 when none; points
 * into scratch valid only during the call). A non-zero return stops gd_gw_sse_feed, which
 * returns it, dropping the rest of that read. Rarely (an event that ended with a bare \r at
 * the end of a read, followed by \n) raw is that lone "\n" with data NULL: forward it,
 * it is not an event. */
typedef int (*gd_gw_sse_event_fn)(void *ud, const char *raw, size_t raw_len, const char *data,
                                  size_t data_len);

void gd_gw_sse_init(struct gd_gw_sse *s, size_t max_event);
void gd_gw_sse_free(struct gd_gw_sse *s);

/* Feeds n bytes. Returns 0, the callback's non-zero value, GD_ELIMIT (an event longer
 * than max_event) or GD_ENOMEM. */
int gd_gw_sse_feed(struct gd_gw_sse *s, const char *p, size_t n, gd_gw_sse_event_fn fn, void *ud);

/* Bytes of an incomplete event held back (dropped if the stream ends now). */
size_t gd_gw_sse_pending(const struct gd_gw_sse *s);

#endif
