/* libFuzzer driver for the Bedrock Converse translators (xl_bedrock.h), which read
 * untrusted bytes from the upstream (answers, error bodies, event streams) and from clients
 * (requests). The first input byte picks the translator; the rest is its input:
 *   'r' Converse response -> chat.completion     'e' error body -> OpenAI error
 *   'q' OpenAI request -> Converse request
 *   else a ConverseStream: lines "<event type>\t<payload>" (type "!x" is an exception x),
 *   framed here as event stream messages with valid CRCs, fed to the decoder in two
 *   pieces (split at a byte taken from the first input byte) and translated.
 * Properties: no crash or leak (sanitizers); whatever is produced is valid JSON; each
 * translated SSE event is "data: <JSON object>" or "data: [DONE]" (after an "event: error"
 * line for errors), nothing follows [DONE], and a failed event appends nothing. */
#include "gateway/xl_bedrock.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void must_be_json(const char *p, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(p, n);
    if (!cJSON_IsObject(j))
        abort();
    cJSON_Delete(j);
}

static void check_events(const char *b, size_t n, int *done)
{
    const char *end = b + n;
    while (b < end) {
        const char *sep = memmem(b, (size_t)(end - b), "\n\n", 2);
        if (!sep || *done)
            abort();
        if ((size_t)(sep - b) > 13 && memcmp(b, "event: error\n", 13) == 0)
            b += 13;
        if ((size_t)(sep - b) < 6 || memcmp(b, "data: ", 6) != 0)
            abort();
        b += 6;
        if (sep - b == 6 && memcmp(b, "[DONE]", 6) == 0)
            *done = 1;
        else
            must_be_json(b, (size_t)(sep - b));
        b = sep + 2;
    }
}

struct sse_ctx {
    struct gd_xl_br_sse st;
    struct gd_buf out;
    int done;
};

static int on_event(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    (void)raw;
    (void)n;
    struct sse_ctx *c = ud;
    gd_buf_reset(&c->out);
    int rc = gd_xl_br_sse_event(&c->st, data, dlen, &c->out);
    if (rc == 0)
        check_events(c->out.data ? c->out.data : "", c->out.len, &c->done);
    else if (c->out.len != 0)
        abort();
    return rc;
}

static int put_header(struct gd_buf *b, const char *name, const char *v, size_t vn)
{
    unsigned char h[4] = {(unsigned char)strlen(name), 0, 7, 0};
    int rc = gd_buf_append(b, h, 1);
    rc = rc ? rc : gd_buf_puts(b, name);
    h[0] = 7, h[1] = (unsigned char)(vn >> 8), h[2] = (unsigned char)vn;
    rc = rc ? rc : gd_buf_append(b, h, 3);
    return rc ? rc : gd_buf_append(b, v, vn);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* One event stream message for a "type\tpayload" line. */
static int frame(struct gd_buf *s, const char *line, size_t n)
{
    const char *tab = memchr(line, '\t', n);
    if (!tab || tab == line || (size_t)(tab - line) > 60)
        return 0;
    int exc = line[0] == '!';
    const char *t = line + exc;
    size_t tn = (size_t)(tab - t), pn = n - (size_t)(tab + 1 - line);
    struct gd_buf h;
    gd_buf_init(&h, 1024);
    int rc = put_header(&h, ":message-type", exc ? "exception" : "event", exc ? 9 : 5);
    rc = rc ? rc : put_header(&h, exc ? ":exception-type" : ":event-type", t, tn);
    size_t at = s->len, total = 16 + h.len + pn;
    unsigned char pre[12];
    put_be32(pre, (uint32_t)total);
    put_be32(pre + 4, (uint32_t)h.len);
    put_be32(pre + 8, (uint32_t)crc32(0, pre, 8));
    rc = rc ? rc : gd_buf_append(s, pre, 12);
    rc = rc ? rc : gd_buf_append(s, h.data, h.len);
    rc = rc ? rc : gd_buf_append(s, tab + 1, pn);
    if (rc == 0) {
        unsigned char c[4];
        put_be32(c, (uint32_t)crc32(0, (const unsigned char *)s->data + at, (uInt)(total - 4)));
        rc = gd_buf_append(s, c, 4);
    }
    gd_buf_free(&h);
    return rc;
}

static void stream(uint8_t mode, const char *in, size_t n)
{
    struct gd_buf s;
    gd_buf_init(&s, 1u << 22);
    for (const char *p = in, *end = in + n; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (frame(&s, p, (size_t)(e - p)) != 0)
            break;
        p = nl ? nl + 1 : end;
    }
    struct sse_ctx *c = malloc(sizeof *c);
    if (!c) {
        gd_buf_free(&s);
        return;
    }
    gd_xl_br_sse_init(&c->st, mode & 1, 1);
    gd_buf_init(&c->out, 1u << 24);
    c->done = 0;
    size_t cut = s.len ? mode % (s.len + 1) : 0;
    const char *d = s.data ? s.data : "";
    if (gd_xl_br_sse_feed(&c->st, d, cut, on_event, c) == 0)
        gd_xl_br_sse_feed(&c->st, d + cut, s.len - cut, on_event, c);
    if (c->done != c->st.finished)
        abort();
    struct gd_gw_usage u;
    if (gd_xl_br_sse_usage(&c->st, &u) && (u.prompt_tokens < 0 || u.total_tokens < 0))
        abort();
    gd_xl_br_sse_free(&c->st);
    gd_buf_free(&c->out);
    gd_buf_free(&s);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    struct gd_buf out;
    gd_buf_init(&out, 1u << 24);
    if (data[0] == 'r') {
        struct gd_gw_usage u;
        if (gd_xl_bedrock_response(in, n, 1, &out, &u) == 0) {
            must_be_json(out.data, out.len);
            if (u.prompt_tokens < 0 || u.completion_tokens < 0 ||
                u.total_tokens < u.prompt_tokens + u.completion_tokens)
                abort();
        } else if (out.len != 0) {
            abort();
        }
    } else if (data[0] == 'e') {
        if (gd_xl_bedrock_error(429, in, n, &out) == 0)
            must_be_json(out.data, out.len);
    } else if (data[0] == 'q') {
        struct gd_xl_err err;
        int rc = gd_xl_bedrock_request(in, n, "m", &out, &err);
        if (rc == 0)
            must_be_json(out.data, out.len);
        else if (rc == GD_EINVAL && (err.status != 400 || !err.message[0]))
            abort(); /* a refusal always says why */
    } else {
        stream(data[0], in, n);
    }
    gd_buf_free(&out);
    return 0;
}
