/* ConverseStream event stream -> OpenAI chat.completion.chunk events (see xl_bedrock.h).
 * Text deltas are copied verbatim, so the client reassembles exactly what the upstream
 * streamed; tool input arrives as pieces of JSON text and goes out as argument pieces. */
#include "gateway/xl_bedrock.h"
#include "gateway/oai_error.h"
#include "gateway/xl_gemini.h" /* gd_xl_gem_put_usage: OpenAI's usage member */
#include "core/json_write.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void gd_xl_br_sse_init(struct gd_xl_br_sse *s, int include_usage, int64_t created)
{
    memset(s, 0, sizeof *s);
    gd_aws_es_init(&s->es, 0);
    s->include_usage = include_usage;
    gd_xl_chunks_init(&s->ck, created);
    s->block = -1;
    s->prompt = s->completion = s->total = s->cached = -1;
    snprintf(s->ck.id, sizeof s->ck.id, "chatcmpl-bedrock-%lld", (long long)created);
    gd_xl_chunks_build(&s->ck); /* Converse streams do not name the model: "" */
}

void gd_xl_br_sse_free(struct gd_xl_br_sse *s)
{
    gd_aws_es_free(&s->es);
}

struct feed_ctx {
    struct gd_xl_br_sse *s;
    int (*fn)(void *, const char *, size_t, const char *, size_t);
    void *ud;
};

static int on_message(void *ud, const struct gd_aws_es_msg *m)
{
    struct feed_ctx *c = ud;
    size_t tn = 0, en = 0;
    const char *mt = gd_aws_es_header_str(m, ":message-type", &tn);
    const char *name = NULL;
    c->s->exception = !(mt && tn == 5 && memcmp(mt, "event", 5) == 0);
    if (!c->s->exception)
        name = gd_aws_es_header_str(m, ":event-type", &en);
    else if (!(name = gd_aws_es_header_str(m, ":exception-type", &en)))
        name = gd_aws_es_header_str(m, ":error-code", &en);
    if (!name) {
        name = c->s->exception ? "InternalServerException" : "";
        en = strlen(name);
    }
    if (en >= sizeof c->s->event)
        en = sizeof c->s->event - 1;
    memcpy(c->s->event, name, en);
    c->s->event[en] = '\0';
    return c->fn(c->ud, NULL, 0, m->payload_len ? m->payload : "{}",
                 m->payload_len ? m->payload_len : 2);
}

int gd_xl_br_sse_feed(struct gd_xl_br_sse *s, const char *p, size_t n,
                      int (*fn)(void *ud, const char *raw, size_t raw_len, const char *data,
                                size_t data_len),
                      void *ud)
{
    struct feed_ctx c = {s, fn, ud};
    return gd_aws_es_feed(&s->es, p, n, on_message, &c);
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int block_index(const cJSON *ev)
{
    int64_t i = gd_xl_count(ev, "contentBlockIndex");
    return i >= 0 && i < 1000000 ? (int)i : -2;
}

static int on_block_start(struct gd_xl_br_sse *s, const cJSON *ev, struct gd_buf *b)
{
    const cJSON *tu = get(get(ev, "start"), "toolUse");
    if (!tu)
        return 0;
    const cJSON *id = get(tu, "toolUseId"), *name = get(tu, "name");
    if (!cJSON_IsString(id) || !cJSON_IsString(name) || block_index(ev) < 0)
        return GD_EPARSE;
    if (s->n_tools >= GD_XL_BR_MAX_TOOLS)
        return GD_ELIMIT;
    s->n_tools++;
    s->block = block_index(ev);
    return gd_xl_chunk_tool(&s->ck, b, s->n_tools - 1, id->valuestring, name->valuestring, "");
}

static int on_block_delta(struct gd_xl_br_sse *s, const cJSON *ev, struct gd_buf *b)
{
    const cJSON *d = get(ev, "delta");
    if (!cJSON_IsObject(d))
        return GD_EPARSE;
    const cJSON *t = get(d, "text"), *tu = get(d, "toolUse");
    if (cJSON_IsString(t))
        return t->valuestring[0]
                   ? gd_xl_chunk_text(&s->ck, b, t->valuestring, strlen(t->valuestring), 0)
                   : 0;
    if (tu) {
        const cJSON *in = get(tu, "input");
        if (!cJSON_IsString(in) || s->block < 0 || block_index(ev) != s->block)
            return GD_EPARSE;
        return in->valuestring[0]
                   ? gd_xl_chunk_tool(&s->ck, b, s->n_tools - 1, NULL, NULL, in->valuestring)
                   : 0;
    }
    return 0; /* reasoningContent, citations, ...: not part of OpenAI's chunk */
}

static int on_metadata(struct gd_xl_br_sse *s, const cJSON *ev, struct gd_buf *b)
{
    const cJSON *us = get(ev, "usage");
    if (cJSON_IsObject(us)) {
        s->prompt = gd_xl_count(us, "inputTokens");
        s->completion = gd_xl_count(us, "outputTokens");
        s->total = gd_xl_count(us, "totalTokens");
        s->cached = gd_xl_count(us, "cacheReadInputTokens");
    }
    int rc = 0;
    if (s->include_usage) {
        rc = gd_xl_chunk_head(&s->ck, b);
        rc = rc ? rc : gd_buf_puts(b, "],");
        rc = rc ? rc : gd_xl_gem_put_usage(b, s->prompt, s->completion, s->total, s->cached, NULL);
        rc = rc ? rc : gd_buf_puts(b, "}\n\n");
    }
    s->finished = 1;
    return rc ? rc : gd_buf_puts(b, "data: [DONE]\n\n");
}

int gd_xl_bedrock_exception_status(const char *name)
{
    static const struct {
        const char *name;
        int status;
    } map[] = {{"throttlingException", 429},       {"serviceUnavailableException", 503},
               {"validationException", 400},       {"accessDeniedException", 403},
               {"resourceNotFoundException", 404}, {"modelTimeoutException", 408},
               {"modelStreamErrorException", 424}, {"modelErrorException", 424},
               {"modelNotReadyException", 429},    {"internalServerException", 500}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(name, map[i].name) == 0)
            return map[i].status;
    return 500;
}

static int on_exception(struct gd_xl_br_sse *s, const cJSON *ev, struct gd_buf *b)
{
    const cJSON *m = get(ev, "message");
    if (!cJSON_IsString(m))
        m = get(ev, "Message");
    char code[48];
    snprintf(code, sizeof code, "%s", s->event);
    if (code[0] >= 'a' && code[0] <= 'z')
        code[0] = (char)(code[0] - 'a' + 'A'); /* ThrottlingException, as in error bodies */
    int rc = gd_buf_puts(b, "event: error\ndata: ");
    rc = rc ? rc
            : gd_gw_error_write(b, gd_xl_bedrock_exception_status(s->event),
                                cJSON_IsString(m) ? m->valuestring : "upstream error", NULL, NULL,
                                code);
    s->finished = 1;
    return rc ? rc : gd_buf_puts(b, "\n\ndata: [DONE]\n\n");
}

static int dispatch(struct gd_xl_br_sse *s, const cJSON *ev, struct gd_buf *b)
{
    if (!cJSON_IsObject(ev))
        return GD_EPARSE;
    if (s->exception)
        return on_exception(s, ev, b);
    const char *t = s->event;
    int rc = 0;
    if (!s->started) {
        s->started = 1;
        rc = gd_xl_chunk(&s->ck, b, "{\"role\":\"assistant\",\"content\":\"\"}", NULL);
    }
    if (rc)
        return rc;
    if (strcmp(t, "contentBlockStart") == 0)
        return on_block_start(s, ev, b);
    if (strcmp(t, "contentBlockDelta") == 0)
        return on_block_delta(s, ev, b);
    if (strcmp(t, "contentBlockStop") == 0) {
        if (block_index(ev) == s->block)
            s->block = -1;
        return 0;
    }
    if (strcmp(t, "messageStop") == 0) {
        const cJSON *sr = get(ev, "stopReason");
        if (!cJSON_IsString(sr))
            return GD_EPARSE;
        s->stopped = 1;
        return gd_xl_chunk(&s->ck, b, "{}", gd_xl_bedrock_finish_reason(sr->valuestring));
    }
    if (strcmp(t, "metadata") == 0)
        return on_metadata(s, ev, b);
    return 0; /* messageStart (role chunk above) and event types added later */
}

static int only_ws(const char *d, size_t i, size_t n)
{
    for (; i < n; i++)
        if (d[i] != ' ' && d[i] != '\t' && d[i] != '\r' && d[i] != '\n')
            return 0;
    return 1;
}

/* A contentBlockDelta event as ConverseStream serialises a text piece,
 *   {"contentBlockIndex":N,"delta":{"text":"..."},"p":"..."}   ("p": padding, optional),
 * as a text chunk without a JSON tree. 1 when handled (result in *rc), 0 to take the general
 * path, which decides everything else (other shapes, escapes the raw copy cannot keep). */
static int fast_text_delta(const struct gd_xl_br_sse *s, const char *d, size_t n, struct gd_buf *b,
                           int *rc)
{
    static const char p1[] = "{\"contentBlockIndex\":";
    static const char p2[] = ",\"delta\":{\"text\":\"";
    static const char pad[] = ",\"p\":\"";
    size_t i = sizeof p1 - 1, digits = 0;
    if (!s->started || s->exception || strcmp(s->event, "contentBlockDelta") != 0 || n < i ||
        memcmp(d, p1, i) != 0)
        return 0;
    while (i < n && d[i] >= '0' && d[i] <= '9' && digits < 6)
        i++, digits++;
    if (digits == 0 || (digits > 1 && d[i - digits] == '0'))
        return 0;
    if (n - i < sizeof p2 - 1 || memcmp(d + i, p2, sizeof p2 - 1) != 0)
        return 0;
    size_t t0 = i + sizeof p2 - 1, t1 = gd_xl_plain_string_end(d, n, t0);
    if (!t1 || n - t1 < 3 || d[t1 + 1] != '}')
        return 0;
    size_t k = t1 + 2;
    if (n - k > sizeof pad - 1 && memcmp(d + k, pad, sizeof pad - 1) == 0) {
        size_t e = gd_xl_plain_string_end(d, n, k + sizeof pad - 1);
        if (!e)
            return 0;
        k = e + 1;
    }
    if (k >= n || d[k] != '}' || !only_ws(d, k + 1, n))
        return 0;
    *rc = t1 == t0 ? 0 : gd_xl_chunk_text(&s->ck, b, d + t0 - 1, t1 - t0 + 2, 1);
    return 1;
}

int gd_xl_br_sse_event(struct gd_xl_br_sse *s, const char *data, size_t dlen, struct gd_buf *out)
{
    if (s->finished || !data || dlen == 0)
        return 0; /* nothing follows [DONE] */
    int rc;
    size_t mark = out->len;
    if (fast_text_delta(s, data, dlen, out, &rc)) {
        if (rc)
            out->len = mark;
        return rc;
    }
    cJSON *ev = cJSON_ParseWithLength(data, dlen);
    if (!ev)
        return GD_EPARSE;
    struct gd_xl_br_sse save = *s;
    rc = dispatch(s, ev, out);
    cJSON_Delete(ev);
    if (rc != 0) {
        out->len = mark;
        *s = save; /* a failed event changes nothing (es is untouched by dispatch) */
    }
    return rc;
}

int gd_xl_br_sse_usage(const struct gd_xl_br_sse *s, struct gd_gw_usage *u)
{
    return gd_xl_stream_usage(s->prompt, s->completion, s->total, u);
}
