/* libFuzzer driver for the HTTP/1.1 request parser and the chunked decoder.
 * Each input is parsed whole and again fed in growing pieces (split points derived from the
 * input), and both runs must agree; when the head announces a chunked body, the rest is
 * decoded in place, whole and split, and both decodings must agree too. */
#include "net/http_parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct gd_http_limits lim = {4096, 32, 512, 1 << 16};

static long parse_split(const uint8_t *data, size_t size, size_t step, struct gd_http_head *h,
                        struct gd_http_header *hdrs)
{
    size_t scan = 0, have = 0;
    long r = 0;
    while (have < size) {
        have = have + step < size ? have + step : size;
        r = gd_http_parse_head((const char *)data, have, &lim, h, hdrs, &scan);
        if (r != 0)
            break;
    }
    return r;
}

static int decode(const uint8_t *src, size_t n, size_t step, char *out, size_t *out_len)
{
    struct gd_http_chunked c;
    gd_http_chunked_init(&c, lim.max_body_bytes, lim.max_header_bytes);
    char *buf = malloc(n + 1);
    size_t dec = 0, raw = 0, have = 0, fed = 0;
    int rc = 0;
    while (fed < n) {
        size_t k = n - fed < step ? n - fed : step;
        memcpy(buf + have, src + fed, k);
        have += k, fed += k;
        size_t w, used;
        rc = gd_http_chunked_decode(&c, buf + dec, buf + raw, have - raw, &w, &used);
        dec += w, raw += used;
        if (rc != 0)
            break;
        memmove(buf + dec, buf + raw, have - raw);
        have -= raw - dec;
        raw = dec;
    }
    if (dec > (size_t)lim.max_body_bytes)
        abort();
    memcpy(out, buf, dec);
    *out_len = dec;
    free(buf);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gd_http_header hdrs[32], hdrs2[32];
    struct gd_http_head h, h2;
    long whole = parse_split(data, size, size ? size : 1, &h, hdrs);
    size_t step = size ? (size_t)data[0] % 7 + 1 : 1;
    long split = parse_split(data, size, step, &h2, hdrs2);
    if ((whole > 0) != (split > 0) || (whole > 0 && whole != split))
        abort();
    if (whole < 0 && split < 0 && h.error_status != h2.error_status)
        abort();
    if (whole > 0) {
        if (h.n_headers > lim.max_headers || h.target.n > lim.max_target_bytes)
            abort();
        for (size_t i = 0; i < h.n_headers; i++)
            if (hdrs[i].name.p < (const char *)data ||
                hdrs[i].value.p + hdrs[i].value.n > (const char *)data + whole)
                abort();
        struct gd_traceparent tp;
        if (h.traceparent.p)
            gd_traceparent_parse(h.traceparent.p, h.traceparent.n, &tp);
    }
    if (whole > 0 && h.body_kind == GD_HTTP_BODY_CHUNKED) {
        size_t n = size - (size_t)whole;
        char *a = malloc(n + 1), *b = malloc(n + 1);
        size_t la, lb;
        int ra = decode(data + whole, n, n ? n : 1, a, &la);
        int rb = decode(data + whole, n, step, b, &lb);
        if (ra != rb || (ra == 1 && (la != lb || memcmp(a, b, la) != 0)))
            abort();
        free(a);
        free(b);
    }
    return 0;
}
