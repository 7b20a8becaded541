/* libFuzzer driver for the upstream client's response-head parser (net/http_client_parse.h).
 * Each input is parsed whole and again fed in growing pieces (split points derived from the
 * input, resuming with the same scan offset as the client does): both must agree on success
 * and on everything parsed; slices must lie inside the head, the status in 100..599 and the
 * framing consistent. When the head is followed by a chunked body, it is decoded in place as
 * the client does (no size cap) to exercise the pair. */
#include "net/http_client_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_HEAD = 4096, MAX_HDRS = 32 };

static long parse_split(const uint8_t *data, size_t size, size_t step, struct gd_hc_head *h,
                        struct gd_http_header *hdrs)
{
    size_t scan = 0, have = 0;
    long r = 0;
    while (have < size) {
        have = have + step < size ? have + step : size;
        r = gd_hc_parse_head((const char *)data, have, MAX_HEAD, hdrs, MAX_HDRS, h, &scan);
        if (r != 0)
            break;
    }
    return r;
}

static void check_head(const uint8_t *data, long len, const struct gd_hc_head *h,
                       const struct gd_http_header *hdrs)
{
    const char *lo = (const char *)data, *hi = lo + len;
    if (h->status < 100 || h->status > 599 || h->n_headers > MAX_HDRS || len > MAX_HEAD)
        abort();
    if (h->framing == GD_HC_BODY_CLOSE && h->keep_alive)
        abort();
    for (size_t i = 0; i < h->n_headers; i++)
        if (hdrs[i].name.p < lo || hdrs[i].name.n == 0 || hdrs[i].value.p < lo ||
            hdrs[i].value.p + hdrs[i].value.n > hi || memchr(hdrs[i].value.p, '\n', hdrs[i].value.n))
            abort();
}

static void decode_body(const uint8_t *src, size_t n)
{
    char *buf = malloc(n + 1);
    memcpy(buf, src, n);
    struct gd_http_chunked c;
    gd_http_chunked_init(&c, UINT64_MAX, MAX_HEAD);
    size_t w = 0, used = 0;
    int rc = gd_http_chunked_decode(&c, buf, buf, n, &w, &used);
    if (w > used || used > n || (rc < 0 && !c.error))
        abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gd_http_header hdrs[MAX_HDRS], hdrs2[MAX_HDRS];
    struct gd_hc_head h, h2;
    long whole = parse_split(data, size, size ? size : 1, &h, hdrs);
    size_t step = size ? (size_t)data[0] % 7 + 1 : 1;
    long split = parse_split(data, size, step, &h2, hdrs2);
    if ((whole > 0) != (split > 0) || (whole < 0) != (split < 0))
        abort();
    if (whole < 0 && (!h.error || !h2.error))
        abort();
    if (whole <= 0)
        return 0;
    if (whole != split || h.status != h2.status || h.framing != h2.framing ||
        h.keep_alive != h2.keep_alive || h.content_length != h2.content_length ||
        h.n_headers != h2.n_headers)
        abort();
    check_head(data, whole, &h, hdrs);
    if (h.framing == GD_HC_BODY_CHUNKED)
        decode_body(data + whole, size - (size_t)whole);
    return 0;
}
