/* OpenAI chat.completion.chunk data -> Anthropic's stream event sequence (inbound
 * /v1/messages, see xl_anthropic_in.h):
 *
 *   first chunk            -> message_start (usage zero: OpenAI reports it at the end), ping
 *   delta.content          -> content_block_start {text} once, content_block_delta text_delta
 *   delta.tool_calls[k]    -> (with an id) content_block_stop of the open block,
 *                             content_block_start {tool_use}; arguments -> input_json_delta
 *   finish_reason / usage  -> remembered
 *   [DONE]                 -> content_block_stop, message_delta {stop_reason, usage},
 *                             message_stop
 *   {"error":{...}}        -> error event
 * Text and argument fragments are copied verbatim. */
#include "gateway/xl_anthropic_in.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

void gd_xl_in_anth_sse_init(struct gd_xl_in_anth_sse *s)
{
    memset(s, 0, sizeof *s);
    s->block = -1;
    s->open_tool = -1;
    s->prompt = s->completion = s->cached = s->cache_creation = -1;
}

static int ev_head(struct gd_buf *b, const char *name)
{
    int rc = gd_buf_puts(b, "event: ");
    rc = rc ? rc : gd_buf_puts(b, name);
    rc = rc ? rc : gd_buf_puts(b, "\ndata: {\"type\":");
    return rc ? rc : gd_xl_put_str(b, name);
}

static int block_stop(struct gd_xl_in_anth_sse *s, struct gd_buf *b)
{
    if (s->block < 0)
        return 0;
    int rc = ev_head(b, "content_block_stop");
    rc = rc ? rc : gd_buf_puts(b, ",\"index\":");
    rc = rc ? rc : gd_json_put_i64(b, s->block);
    s->block = -1;
    s->open_tool = -1;
    return rc ? rc : gd_buf_puts(b, "}\n\n");
}

static int start(struct gd_xl_in_anth_sse *s, const cJSON *ch, struct gd_buf *b)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ch, "id");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(ch, "model");
    const char *i = cJSON_IsString(id) ? id->valuestring : "msg_girder";
    const char *m = cJSON_IsString(model) ? model->valuestring : "";
    snprintf(s->id, sizeof s->id, "%s", i);
    snprintf(s->model, sizeof s->model, "%s", m);
    s->started = 1;
    int rc = ev_head(b, "message_start");
    rc = rc ? rc : gd_buf_puts(b, ",\"message\":{\"id\":");
    rc = rc ? rc : gd_xl_put_str(b, s->id);
    rc = rc ? rc : gd_buf_puts(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    rc = rc ? rc : gd_xl_put_str(b, s->model);
    rc = rc ? rc
            : gd_buf_puts(b, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                             "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}\n\n"
                             "event: ping\ndata: {\"type\":\"ping\"}\n\n");
    return rc;
}

static int text_delta(struct gd_xl_in_anth_sse *s, const char *text, struct gd_buf *b)
{
    int rc = 0;
    if (s->block < 0 || !s->open_is_text) {
        rc = block_stop(s, b);
        s->block = s->n_blocks++;
        s->open_is_text = 1;
        rc = rc ? rc : ev_head(b, "content_block_start");
        rc = rc ? rc : gd_buf_puts(b, ",\"index\":");
        rc = rc ? rc : gd_json_put_i64(b, s->block);
        rc = rc ? rc : gd_buf_puts(b, ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    }
    rc = rc ? rc : ev_head(b, "content_block_delta");
    rc = rc ? rc : gd_buf_puts(b, ",\"index\":");
    rc = rc ? rc : gd_json_put_i64(b, s->block);
    rc = rc ? rc : gd_buf_puts(b, ",\"delta\":{\"type\":\"text_delta\",\"text\":");
    rc = rc ? rc : gd_xl_put_str(b, text);
    return rc ? rc : gd_buf_puts(b, "}}\n\n");
}

static int tool_delta(struct gd_xl_in_anth_sse *s, const cJSON *tc, struct gd_buf *b)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(tc, "index");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
    int idx = cJSON_IsNumber(k) ? (int)k->valuedouble : 0;
    int rc = 0;
    if (cJSON_IsString(id)) {
        if (!cJSON_IsString(name))
            return GD_EPARSE;
        rc = block_stop(s, b);
        s->block = s->n_blocks++;
        s->open_is_text = 0;
        s->open_tool = idx;
        rc = rc ? rc : ev_head(b, "content_block_start");
        rc = rc ? rc : gd_buf_puts(b, ",\"index\":");
        rc = rc ? rc : gd_json_put_i64(b, s->block);
        rc = rc ? rc : gd_buf_puts(b, ",\"content_block\":{\"type\":\"tool_use\",\"id\":");
        rc = rc ? rc : gd_xl_put_str(b, id->valuestring);
        rc = rc ? rc : gd_buf_puts(b, ",\"name\":");
        rc = rc ? rc : gd_xl_put_str(b, name->valuestring);
        rc = rc ? rc : gd_buf_puts(b, ",\"input\":{}}}\n\n");
    } else if (s->block < 0 || s->open_is_text || s->open_tool != idx) {
        return GD_EPARSE; /* arguments for a call that is not the open one */
    }
    if (rc == 0 && cJSON_IsString(args) && args->valuestring[0]) {
        rc = ev_head(b, "content_block_delta");
        rc = rc ? rc : gd_buf_puts(b, ",\"index\":");
        rc = rc ? rc : gd_json_put_i64(b, s->block);
        rc =
            rc ? rc : gd_buf_puts(b, ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":");
        rc = rc ? rc : gd_xl_put_str(b, args->valuestring);
        rc = rc ? rc : gd_buf_puts(b, "}}\n\n");
    }
    return rc;
}

static void take_usage(struct gd_xl_in_anth_sse *s, const cJSON *u)
{
    const cJSON *det = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details");
    const char *keys[] = {"prompt_tokens", "completion_tokens", "cached_tokens",
                          "cache_creation_tokens"};
    const cJSON *from[] = {u, u, det, det};
    int64_t *dst[] = {&s->prompt, &s->completion, &s->cached, &s->cache_creation};
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(from[i], keys[i]);
        if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e15)
            *dst[i] = (int64_t)v->valuedouble;
    }
}

static int chunk(struct gd_xl_in_anth_sse *s, const cJSON *ch, struct gd_buf *b)
{
    int rc = s->started ? 0 : start(s, ch, b);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(ch, "usage");
    if (cJSON_IsObject(u))
        take_usage(s, u);
    const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ch, "choices"), 0);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(c0, "delta");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(d, "content");
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(d, "tool_calls");
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
    if (rc == 0 && cJSON_IsString(text) && text->valuestring[0])
        rc = text_delta(s, text->valuestring, b);
    for (const cJSON *tc = cJSON_IsArray(calls) ? calls->child : NULL; tc && rc == 0; tc = tc->next)
        rc = tool_delta(s, tc, b);
    if (cJSON_IsString(fr))
        s->stop_reason = gd_xl_in_anth_stop_reason(fr->valuestring);
    return rc;
}

static int done(struct gd_xl_in_anth_sse *s, struct gd_buf *b)
{
    int rc = s->started ? 0 : start(s, NULL, b);
    rc = rc ? rc : block_stop(s, b);
    rc = rc ? rc : ev_head(b, "message_delta");
    rc = rc ? rc : gd_buf_puts(b, ",\"delta\":{\"stop_reason\":");
    rc = rc ? rc : gd_xl_put_str(b, s->stop_reason ? s->stop_reason : "end_turn");
    rc = rc ? rc : gd_buf_puts(b, ",\"stop_sequence\":null},\"usage\":");
    rc = rc ? rc
            : gd_xl_in_anth_put_usage(b, s->prompt, s->completion, s->cached, s->cache_creation);
    rc =
        rc ? rc : gd_buf_puts(b, "}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s->finished = 1;
    return rc;
}

int gd_xl_in_anth_sse_error(struct gd_xl_in_anth_sse *s, const char *message, struct gd_buf *out)
{
    int rc = gd_buf_puts(out, "event: error\ndata: ");
    rc = rc ? rc : gd_xl_in_anth_error_write(out, 500, message);
    s->finished = 1;
    return rc ? rc : gd_buf_puts(out, "\n\n");
}

int gd_xl_in_anth_sse_event(struct gd_xl_in_anth_sse *s, const char *data, size_t dlen,
                            struct gd_buf *out)
{
    if (s->finished || !data || dlen == 0)
        return 0;
    if (dlen == 6 && memcmp(data, "[DONE]", 6) == 0)
        return done(s, out);
    cJSON *ch = cJSON_ParseWithLength(data, dlen);
    if (!cJSON_IsObject(ch)) {
        cJSON_Delete(ch);
        return GD_EPARSE;
    }
    size_t mark = out->len;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(ch, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
    int rc =
        err ? gd_xl_in_anth_sse_error(s, cJSON_IsString(m) ? m->valuestring : "upstream error", out)
            : chunk(s, ch, out);
    cJSON_Delete(ch);
    if (rc)
        out->len = mark;
    return rc;
}
