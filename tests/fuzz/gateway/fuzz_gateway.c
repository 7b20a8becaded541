/* libFuzzer driver for the gateway's parsers of untrusted bytes: the request field scanner
 * + model splice (client bodies), and the SSE framer + usage scanner (upstream streams).
 * The framer is fed the same bytes three ways (whole, in two pieces split at a byte taken
 * from the input, byte by byte): its memchr fast path and its byte-level state machine must
 * agree on every event, data field and usage object. The response cache's key (client
 * bodies too) must not depend on whitespace: a body and its pretty-printed form agree. */
#include "gateway/gw_cache.h"
#include "gateway/json_scan.h"
#include "gateway/sse.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What one feeding produced: all raw bytes, and per event its data (or a marker). */
struct trace {
    struct gd_buf raw, datas;
    int stopped;
};

static int record(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    struct trace *t = ud;
    gd_buf_append(&t->raw, raw, n);
    if (data) {
        gd_buf_append(&t->datas, data, dlen);
        gd_buf_putc(&t->datas, '\x02');
    } else if (!(n == 1 && raw[0] == '\n')) { /* a lone LF of a split \r\n is not an event */
        gd_buf_putc(&t->datas, '\x03');
    }
    if (data && dlen > 0 && data[dlen - 1] == '\x01') {
        t->stopped = 1;
        return -11;
    }
    return 0;
}

/* Feeds s in pieces of `step` bytes (0: whole); fills t and the framer's final state. */
static void feed(const char *s, size_t size, size_t cut, size_t step, struct trace *t,
                 struct gd_gw_sse *p)
{
    gd_buf_init(&t->raw, size + 1);
    gd_buf_init(&t->datas, 2 * size + 16);
    t->stopped = 0;
    gd_gw_sse_init(p, size + 1); /* no event can exceed the cap: pieces must not matter */
    if (step == 0) {
        if (gd_gw_sse_feed(p, s, cut, record, t) == 0)
            gd_gw_sse_feed(p, s + cut, size - cut, record, t);
        return;
    }
    for (size_t i = 0; i < size && !t->stopped; i += step)
        if (gd_gw_sse_feed(p, s + i, size - i < step ? size - i : step, record, t) != 0)
            break;
}

static int same(const struct gd_buf *a, const struct gd_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Raw bytes forwarded: identical, except that a stop right after an event ended by a \r at
 * the end of a piece leaves that \r\n's \n unforwarded (it would come on its own next). */
static int same_raw(const struct gd_buf *a, const struct gd_buf *b, int stopped)
{
    if (same(a, b))
        return 1;
    const struct gd_buf *lo = a->len < b->len ? a : b, *hi = lo == a ? b : a;
    return stopped && hi->len == lo->len + 1 && hi->data[lo->len] == '\n' &&
           (lo->len == 0 || memcmp(lo->data, hi->data, lo->len) == 0);
}

static void check_framer(const char *s, size_t size, size_t cut)
{
    struct trace t[3];
    struct gd_gw_sse p[3];
    feed(s, size, size, 0, &t[0], &p[0]);
    feed(s, size, cut, 0, &t[1], &p[1]);
    feed(s, size, 0, 1, &t[2], &p[2]);
    for (int i = 1; i < 3; i++) {
        if (!same_raw(&t[0].raw, &t[i].raw, t[0].stopped) || !same(&t[0].datas, &t[i].datas) ||
            t[0].stopped != t[i].stopped || p[0].done != p[i].done ||
            p[0].have_usage != p[i].have_usage ||
            p[0].usage.prompt_tokens != p[i].usage.prompt_tokens ||
            p[0].usage.completion_tokens != p[i].usage.completion_tokens)
            abort();
    }
    for (int i = 0; i < 3; i++) {
        gd_buf_free(&t[i].raw);
        gd_buf_free(&t[i].datas);
        gd_gw_sse_free(&p[i]);
    }
}

static int on_event(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    size_t *total = ud;
    (void)raw;
    *total += n;
    if (data && dlen > 0 && data[dlen - 1] == '\x01')
        return -11; /* exercise the stop path */
    return 0;
}

static void check_cache_key(const char *s, size_t size)
{
    uint8_t a[GD_GW_CACHE_KEY_BYTES], b[GD_GW_CACHE_KEY_BYTES];
    if (gd_gw_cache_key(0, "scope", s, size, a) != 0)
        return;
    cJSON *root = cJSON_ParseWithLength(s, size);
    char *pretty = root ? cJSON_Print(root) : NULL;
    if (pretty && gd_gw_cache_key(0, "scope", pretty, strlen(pretty), b) == 0 &&
        memcmp(a, b, sizeof a) != 0)
        abort();
    cJSON_free(pretty);
    cJSON_Delete(root);
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
    if (size <= 4096) /* byte-by-byte feeding is quadratic in the worst case */
        check_framer(s, size, cut);
    check_cache_key(s, size);
    return 0;
}
