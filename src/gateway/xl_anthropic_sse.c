/* Anthropic Messages stream events -> OpenAI chat.completion.chunk events (xl_anthropic.h).
 *
 *   message_start        -> chunk with delta {role: assistant, content: ""}
 *   content_block_start  -> (tool_use) chunk with tool_calls[k] {id, type, name, arguments ""}
 *   content_block_delta  -> text_delta: delta.content; input_json_delta: the fragment as
 *                           tool_calls[k].function.arguments (thinking deltas are dropped)
 *   message_delta        -> remembers stop_reason and the usage
 *   message_stop         -> chunk with finish_reason, usage chunk (include_usage), [DONE]
 *   ping, content_block_stop, unknown types -> nothing
 *   error                -> data: {"error":{...}} then [DONE]
 * Text and argument fragments are copied verbatim, so the client reassembles exactly what the
 * upstream streamed.
 *
 * Hot path: most events of a stream are text deltas. Those in the exact form the Messages API
 * writes are recognised without building a cJSON tree (fast_text_delta), and every chunk
 * starts with a head built once per stream; anything else takes the general path. */
#include "gateway/xl_anthropic.h"
#include "gateway/oai_error.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <string.h>

void gd_xl_anth_sse_init(struct gd_xl_anth_sse *s, int include_usage, int64_t created)
{
    memset(s, 0, sizeof *s);
    s->include_usage = include_usage;
    gd_xl_chunks_init(&s->ck, created);
    for (int i = 0; i < GD_XL_ANTH_MAX_BLOCKS; i++)
        s->tool_of_block[i] = -1;
    s->input_tokens = s->output_tokens = s->cache_read = s->cache_creation = -1;
}

static void take_usage(struct gd_xl_anth_sse *s, const cJSON *u)
{
    static const char *const keys[] = {"input_tokens", "output_tokens", "cache_read_input_tokens",
                                       "cache_creation_input_tokens"};
    int64_t *dst[] = {&s->input_tokens, &s->output_tokens, &s->cache_read, &s->cache_creation};
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(u, keys[i]);
        if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e15)
            *dst[i] = (int64_t)v->valuedouble;
    }
}

/* {"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"..."}} exactly
 * (the Messages API's own serialisation), as a text chunk. 1 when handled (result in *rc),
 * 0 to take the general path. */
static int fast_text_delta(const struct gd_xl_anth_sse *s, const char *d, size_t n,
                           struct gd_buf *b, int *rc)
{
    static const char p1[] = "{\"type\":\"content_block_delta\",\"index\":";
    static const char p2[] = ",\"delta\":{\"type\":\"text_delta\",\"text\":\"";
    size_t i = sizeof p1 - 1, v = 0, digits = 0;
    if (!s->started || n < i || memcmp(d, p1, i) != 0)
        return 0;
    while (i < n && d[i] >= '0' && d[i] <= '9' && digits < 5)
        v = v * 10 + (size_t)(d[i++] - '0'), digits++;
    if (digits == 0 || (digits > 1 && d[i - digits] == '0') || v >= GD_XL_ANTH_MAX_BLOCKS)
        return 0; /* the general path refuses or limits it */
    if (n - i < sizeof p2 - 1 || memcmp(d + i, p2, sizeof p2 - 1) != 0)
        return 0;
    size_t t0 = i + sizeof p2 - 1, t1 = gd_xl_plain_string_end(d, n, t0);
    if (!t1 || n - t1 < 3 || d[t1 + 1] != '}' || d[t1 + 2] != '}')
        return 0;
    for (size_t k = t1 + 3; k < n; k++)
        if (d[k] != ' ' && d[k] != '\t' && d[k] != '\r' && d[k] != '\n')
            return 0;
    *rc = 0;
    if (t1 == t0)
        return 1; /* empty text: nothing to say */
    *rc = gd_xl_chunk_text(&s->ck, b, d + t0 - 1, t1 - t0 + 2, 1);
    return 1;
}

static int block_index(const cJSON *ev)
{
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(ev, "index");
    if (!cJSON_IsNumber(i) || i->valuedouble < 0 || i->valuedouble >= GD_XL_ANTH_MAX_BLOCKS)
        return cJSON_IsNumber(i) && i->valuedouble >= GD_XL_ANTH_MAX_BLOCKS ? GD_ELIMIT : GD_EPARSE;
    return (int)i->valuedouble;
}

static int on_block_start(struct gd_xl_anth_sse *s, const cJSON *ev, struct gd_buf *b)
{
    int i = block_index(ev);
    if (i < 0)
        return i;
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(ev, "content_block");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cb, "type");
    if (!cJSON_IsString(t))
        return GD_EPARSE;
    if (strcmp(t->valuestring, "text") == 0) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(cb, "text");
        return cJSON_IsString(text) && text->valuestring[0]
                   ? gd_xl_chunk_text(&s->ck, b, text->valuestring, strlen(text->valuestring), 0)
                   : 0;
    }
    if (strcmp(t->valuestring, "tool_use") != 0)
        return 0; /* thinking, server tools: not part of an OpenAI chat answer */
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(cb, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cb, "name");
    if (!cJSON_IsString(id) || !cJSON_IsString(name) || s->tool_of_block[i] >= 0)
        return GD_EPARSE;
    s->tool_of_block[i] = (int16_t)s->n_tools;
    return gd_xl_chunk_tool(&s->ck, b, s->n_tools++, id->valuestring, name->valuestring, "");
}

static int on_block_delta(struct gd_xl_anth_sse *s, const cJSON *ev, struct gd_buf *b)
{
    int i = block_index(ev);
    if (i < 0)
        return i;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "delta");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "type");
    if (!cJSON_IsString(t))
        return GD_EPARSE;
    if (strcmp(t->valuestring, "text_delta") == 0) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(d, "text");
        if (!cJSON_IsString(text))
            return GD_EPARSE;
        return text->valuestring[0]
                   ? gd_xl_chunk_text(&s->ck, b, text->valuestring, strlen(text->valuestring), 0)
                   : 0;
    }
    if (strcmp(t->valuestring, "input_json_delta") == 0) {
        const cJSON *pj = cJSON_GetObjectItemCaseSensitive(d, "partial_json");
        if (!cJSON_IsString(pj) || s->tool_of_block[i] < 0)
            return GD_EPARSE;
        return pj->valuestring[0]
                   ? gd_xl_chunk_tool(&s->ck, b, s->tool_of_block[i], NULL, NULL, pj->valuestring)
                   : 0;
    }
    return 0; /* thinking_delta, signature_delta, citations: nothing to say in OpenAI's form */
}

static int on_stop(struct gd_xl_anth_sse *s, struct gd_buf *b)
{
    int rc = gd_xl_chunk(&s->ck, b, "{}", s->finish_reason ? s->finish_reason : "stop");
    if (rc == 0 && s->include_usage) {
        rc = gd_xl_chunk_head(&s->ck, b);
        rc = rc ? rc : gd_buf_puts(b, "],");
        rc = rc ? rc
                : gd_xl_anth_put_usage(b, s->input_tokens, s->output_tokens, s->cache_read,
                                       s->cache_creation, NULL);
        rc = rc ? rc : gd_buf_puts(b, "}\n\n");
    }
    s->finished = 1;
    return rc ? rc : gd_buf_puts(b, "data: [DONE]\n\n");
}

static int on_error(struct gd_xl_anth_sse *s, const cJSON *ev, struct gd_buf *b)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(ev, "error");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    const char *type = cJSON_IsString(t) ? t->valuestring : "api_error";
    int rc = gd_buf_puts(b, "event: error\ndata: ");
    rc = rc ? rc
            : gd_gw_error_write(b, 500, cJSON_IsString(m) ? m->valuestring : "upstream error", type,
                                NULL, type);
    s->finished = 1;
    return rc ? rc : gd_buf_puts(b, "\n\ndata: [DONE]\n\n");
}

static int dispatch(struct gd_xl_anth_sse *s, const cJSON *ev, struct gd_buf *b)
{
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(ev, "type");
    if (!cJSON_IsString(tv))
        return GD_EPARSE;
    const char *t = tv->valuestring;
    if (strcmp(t, "error") == 0)
        return on_error(s, ev, b);
    if (strcmp(t, "message_start") == 0) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, "message");
        if (s->started || !cJSON_IsObject(m))
            return GD_EPARSE;
        s->started = 1;
        gd_xl_copy_str(s->ck.id, sizeof s->ck.id, cJSON_GetObjectItemCaseSensitive(m, "id"));
        gd_xl_copy_str(s->ck.model, sizeof s->ck.model,
                       cJSON_GetObjectItemCaseSensitive(m, "model"));
        take_usage(s, cJSON_GetObjectItemCaseSensitive(m, "usage"));
        gd_xl_chunks_build(&s->ck);
        return gd_xl_chunk(&s->ck, b, "{\"role\":\"assistant\",\"content\":\"\"}", NULL);
    }
    if (strcmp(t, "ping") == 0)
        return 0;
    if (!s->started)
        return GD_EPARSE;
    if (strcmp(t, "content_block_start") == 0)
        return on_block_start(s, ev, b);
    if (strcmp(t, "content_block_delta") == 0)
        return on_block_delta(s, ev, b);
    if (strcmp(t, "message_delta") == 0) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "delta");
        const cJSON *sr = cJSON_GetObjectItemCaseSensitive(d, "stop_reason");
        if (cJSON_IsString(sr))
            s->finish_reason = gd_xl_anth_finish_reason(sr->valuestring);
        take_usage(s, cJSON_GetObjectItemCaseSensitive(ev, "usage"));
        return 0;
    }
    if (strcmp(t, "message_stop") == 0)
        return on_stop(s, b);
    return 0; /* content_block_stop; event types added later are to be ignored */
}

int gd_xl_anth_sse_event(struct gd_xl_anth_sse *s, const char *data, size_t dlen,
                         struct gd_buf *out)
{
    if (s->finished)
        return 0; /* nothing follows [DONE] */
    if (!data || dlen == 0)
        return 0; /* a comment or an event without data */
    size_t mark = out->len;
    int rc = 0;
    if (fast_text_delta(s, data, dlen, out, &rc)) {
        if (rc != 0)
            out->len = mark;
        return rc;
    }
    cJSON *ev = cJSON_ParseWithLength(data, dlen);
    if (!ev)
        return GD_EPARSE;
    rc = dispatch(s, ev, out);
    cJSON_Delete(ev);
    if (rc != 0)
        out->len = mark;
    return rc;
}

int gd_xl_anth_sse_usage(const struct gd_xl_anth_sse *s, struct gd_gw_usage *u)
{
    int64_t in = s->input_tokens > 0 ? s->input_tokens : 0;
    int64_t cr = s->cache_read > 0 ? s->cache_read : 0;
    int64_t cc = s->cache_creation > 0 ? s->cache_creation : 0;
    u->prompt_tokens = s->input_tokens >= 0 ? in + cr + cc : -1;
    u->completion_tokens = s->output_tokens;
    u->total_tokens =
        s->input_tokens >= 0 && s->output_tokens >= 0 ? u->prompt_tokens + s->output_tokens : -1;
    return s->input_tokens >= 0;
}
