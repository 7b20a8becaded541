/* libFuzzer driver for the inbound /v1/responses translators (xl_responses_in.h), which read
 * untrusted bytes from clients (requests) and from upstreams (chat answers, chat chunk
 * streams). The first input byte picks the translator; the rest is its input:
 *   'Q' Responses request -> OpenAI chat request
 *   'R' chat.completion -> Response object
 *   else an OpenAI SSE stream, framed by the gateway's framer (split into two reads at a
 *   byte taken from the input) and translated event by event, then ended with
 *   response.failed when it did not finish
 * Properties: no crash or leak (sanitizers); output is valid JSON; every stream event is
 * "event: T\ndata: <JSON object>" with the object's type T and sequence_number counting
 * from 0; nothing follows the terminal event; a failed call appends nothing. Violations
 * abort. */
#include "gateway/sse.h"
#include "gateway/xl_responses_in.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void must_be_json(const char *p, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(p, n);
    if (!cJSON_IsObject(j))
        abort();
    cJSON_Delete(j);
}

struct ctx {
    struct gd_xl_in_resp_sse st;
    struct gd_buf out;
    int64_t seq;  /* the next sequence_number expected */
    int terminal; /* a completed / incomplete / failed event was seen */
};

static int is_terminal(const char *t)
{
    return strcmp(t, "response.completed") == 0 || strcmp(t, "response.incomplete") == 0 ||
           strcmp(t, "response.failed") == 0;
}

static void check_events(struct ctx *c, const char *b, size_t n)
{
    const char *end = b + n;
    while (b < end) {
        const char *sep = memmem(b, (size_t)(end - b), "\n\n", 2);
        const char *nl = sep ? memchr(b, '\n', (size_t)(sep - b)) : NULL;
        if (!nl || c->terminal || (size_t)(nl - b) < 8 || memcmp(b, "event: ", 7) != 0 ||
            (size_t)(sep - nl) < 7 || memcmp(nl + 1, "data: ", 6) != 0)
            abort();
        cJSON *j = cJSON_ParseWithLength(nl + 7, (size_t)(sep - nl - 7));
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "sequence_number");
        if (!cJSON_IsString(t) || strlen(t->valuestring) != (size_t)(nl - b - 7) ||
            memcmp(t->valuestring, b + 7, (size_t)(nl - b - 7)) != 0 || !cJSON_IsNumber(q) ||
            q->valuedouble != (double)c->seq++)
            abort();
        c->terminal = is_terminal(t->valuestring);
        cJSON_Delete(j);
        b = sep + 2;
    }
}

static int on_event(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    (void)raw;
    (void)n;
    struct ctx *c = ud;
    gd_buf_reset(&c->out);
    int rc = gd_xl_in_resp_sse_event(&c->st, data, dlen, &c->out);
    if (rc == 0)
        check_events(c, c->out.data ? c->out.data : "", c->out.len);
    else if (c->out.len != 0)
        abort();
    return rc;
}

static void stream(uint8_t first, const char *in, size_t n)
{
    struct ctx *c = malloc(sizeof *c);
    struct gd_gw_sse fr;
    if (!c)
        return;
    gd_xl_in_resp_sse_init(&c->st, 1);
    gd_buf_init(&c->out, 1u << 24);
    c->seq = 0;
    c->terminal = 0;
    gd_gw_sse_init(&fr, 1u << 20);
    size_t cut = n ? first % (n + 1) : 0;
    int rc = gd_gw_sse_feed(&fr, in, cut, on_event, c);
    if (rc == 0)
        rc = gd_gw_sse_feed(&fr, in + cut, n - cut, on_event, c);
    if (c->terminal != c->st.finished)
        abort();
    if (rc == 0 && !c->st.finished) { /* cut short: what the gateway then writes */
        gd_buf_reset(&c->out);
        if (gd_xl_in_resp_sse_error(&c->st, "cut", &c->out) == 0) {
            check_events(c, c->out.data, c->out.len);
            if (!c->terminal)
                abort();
        }
    }
    gd_gw_sse_free(&fr);
    gd_buf_free(&c->out);
    gd_xl_in_resp_sse_free(&c->st);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    struct gd_buf out;
    gd_buf_init(&out, 1u << 24);
    if (data[0] == 'Q') {
        struct gd_xl_err err;
        int rc = gd_xl_in_resp_request(in, n, &out, &err);
        if (rc == 0)
            must_be_json(out.data, out.len);
        else if (rc == GD_EINVAL && (err.status != 400 || !err.message[0]))
            abort(); /* a refusal always says why */
        else if (out.len != 0)
            abort();
    } else if (data[0] == 'R') {
        if (gd_xl_in_resp_response(in, n, 1, &out) == 0)
            must_be_json(out.data, out.len);
        else if (out.len != 0)
            abort();
    } else {
        stream(data[0], in, n);
    }
    gd_buf_free(&out);
    return 0;
}
