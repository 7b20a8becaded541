/* libFuzzer driver for the gateway's parsers of untrusted bytes: the request field scanner
 * + model splice (client bodies), and the SSE framer + usage scanner (upstream streams),
 * the latter fed in two pieces split at a byte taken from the input. */
#include "gateway/json_scan.h"
#include "gateway/sse.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static int on_event(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    size_t *total = ud;
    (void)raw;
    *total += n;
    if (data && dlen > 0 && data[dlen - 1] == '\x01')
        return -11; /* exercise the stop path */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct gd_gw_req_fields f;
    if (gd_gw_scan_request(s, size, &f) == 0 && f.model_tok.off >= 0) {
        struct gd_buf out;
        gd_buf_init(&out, size + 64);
        gd_gw_splice_model(s, size, &f, "x\"y", 3, &out);
        gd_buf_free(&out);
        char dst[256];
        gd_gw_json_unescape(s + f.model.off, (size_t)f.model.len, dst, sizeof dst);
    }
    struct gd_gw_sse p;
    size_t total = 0, cut = size ? data[0] % (size + 1) : 0;
    gd_gw_sse_init(&p, 4096);
    if (gd_gw_sse_feed(&p, s, cut, on_event, &total) == 0)
        gd_gw_sse_feed(&p, s + cut, size - cut, on_event, &total);
    gd_gw_sse_free(&p);
    return 0;
}
