/* OpenAI chat.completion.chunk data -> the Responses API's stream events (inbound
 * /v1/responses, see xl_responses_in.h). Every event is "event: TYPE\ndata: {"type":TYPE,
 * "sequence_number":N,...}\n\n", N counting from 0:
 *
 *   first chunk          -> response.created, response.in_progress (status in_progress)
 *   delta.content        -> (once) response.output_item.added {message},
 *                           response.content_part.added {output_text}; then
 *                           response.output_text.delta per fragment
 *   delta.tool_calls[k]  -> (with an id) the open item is closed, output_item.added
 *                           {function_call}; arguments -> response.function_call_arguments.delta
 *   closing an item      -> output_text.done, content_part.done / function_call_arguments.done,
 *                           then response.output_item.done with the whole item
 *   finish_reason, usage -> remembered
 *   [DONE]               -> response.completed (or response.incomplete: length ->
 *                           max_output_tokens, content_filter) with every item and the usage
 *   {"error":{...}}      -> response.failed {error: {code: server_error, message}}
 * Fragments are copied verbatim; the final events repeat the whole text and arguments (the
 * SDKs take the last response object as the answer), so they are kept, capped. */
#include "gateway/xl_responses_in.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

void gd_xl_in_resp_sse_init(struct gd_xl_in_resp_sse *s, int64_t now)
{
    memset(s, 0, sizeof *s);
    s->created = now;
    s->open_tool = -1;
    s->prompt = s->completion = s->total = s->cached = s->reasoning = -1;
    gd_buf_init(&s->acc, GD_XL_RESP_MAX_STREAM_BYTES);
    gd_buf_init(&s->items, GD_XL_RESP_MAX_STREAM_BYTES);
}

void gd_xl_in_resp_sse_free(struct gd_xl_in_resp_sse *s)
{
    gd_buf_free(&s->acc);
    gd_buf_free(&s->items);
}

/* "event: TYPE\ndata: {"type":TYPE,"sequence_number":N" (the caller closes it). */
static int ev(struct gd_xl_in_resp_sse *s, struct gd_buf *b, const char *type)
{
    int rc = gd_buf_puts(b, "event: ");
    rc = rc ? rc : gd_buf_puts(b, type);
    rc = rc ? rc : gd_buf_puts(b, "\ndata: {\"type\":");
    rc = rc ? rc : gd_xl_put_str(b, type);
    rc = rc ? rc : gd_buf_puts(b, ",\"sequence_number\":");
    return rc ? rc : gd_json_put_i64(b, s->seq++);
}

/* ,"item_id":ID,"output_index":N of the open item. */
static int item_ref(struct gd_xl_in_resp_sse *s, struct gd_buf *b)
{
    int rc = gd_buf_puts(b, ",\"item_id\":");
    rc = rc ? rc
            : (s->open == 1 ? gd_xl_in_resp_put_id(b, "msg_", s->id)
                            : gd_xl_in_resp_put_id(b, "fc_", s->call_id));
    rc = rc ? rc : gd_buf_puts(b, ",\"output_index\":");
    return rc ? rc : gd_json_put_i64(b, s->n_items - 1);
}

static const char *incomplete_reason(const char *fr)
{
    if (fr && strcmp(fr, "length") == 0)
        return "max_output_tokens";
    if (fr && strcmp(fr, "content_filter") == 0)
        return "content_filter";
    return NULL;
}

/* The response object: status, the finished items (final: with the usage). */
static int put_response(struct gd_xl_in_resp_sse *s, struct gd_buf *b, const char *status,
                        const char *why, const char *error, int final)
{
    int rc = gd_buf_puts(b, ",\"response\":{");
    rc = rc ? rc : gd_xl_in_resp_put_head(b, s->id, s->created, status, error, why, s->model);
    rc = rc ? rc : gd_buf_append(b, s->items.data ? s->items.data : "", s->items.len);
    rc = rc ? rc : gd_buf_puts(b, "],\"parallel_tool_calls\":true,\"usage\":");
    if (final)
        rc = rc ? rc
                : gd_xl_in_resp_put_usage(b, s->prompt, s->completion, s->total, s->cached,
                                          s->reasoning);
    else
        rc = rc ? rc : gd_buf_puts(b, "null");
    return rc ? rc : gd_buf_puts(b, "}}\n\n");
}

static int start(struct gd_xl_in_resp_sse *s, const cJSON *ch, struct gd_buf *b)
{
    gd_xl_copy_str(s->id, sizeof s->id, cJSON_GetObjectItemCaseSensitive(ch, "id"));
    gd_xl_copy_str(s->model, sizeof s->model, cJSON_GetObjectItemCaseSensitive(ch, "model"));
    const cJSON *cr = cJSON_GetObjectItemCaseSensitive(ch, "created");
    if (cJSON_IsNumber(cr) && cr->valuedouble > 0 && cr->valuedouble < 9e15)
        s->created = (int64_t)cr->valuedouble;
    if (!s->id[0])
        memcpy(s->id, "girder", 7);
    s->started = 1;
    int rc = ev(s, b, "response.created");
    rc = rc ? rc : put_response(s, b, "in_progress", NULL, NULL, 0);
    rc = rc ? rc : ev(s, b, "response.in_progress");
    return rc ? rc : put_response(s, b, "in_progress", NULL, NULL, 0);
}

/* Writes the open item (status completed) to items, then its done events. */
static int close_item(struct gd_xl_in_resp_sse *s, struct gd_buf *b)
{
    if (!s->open)
        return 0;
    const char *acc = s->acc.data ? s->acc.data : "";
    size_t mark = s->items.len;
    struct gd_buf *it = &s->items;
    int rc = mark ? gd_buf_puts(it, ",") : 0;
    size_t from = it->len;
    rc = rc ? rc : gd_buf_puts(it, "{\"id\":");
    if (s->open == 1) {
        rc = rc ? rc : gd_xl_in_resp_put_id(it, "msg_", s->id);
        rc = rc ? rc
                : gd_buf_puts(it, ",\"type\":\"message\",\"status\":\"completed\",\"role\":"
                                  "\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":");
        rc = rc ? rc : gd_json_put_str(it, acc, s->acc.len);
        rc = rc ? rc : gd_buf_puts(it, ",\"annotations\":[]}]}");
        rc = rc ? rc : ev(s, b, "response.output_text.done");
        rc = rc ? rc : item_ref(s, b);
        rc = rc ? rc : gd_buf_puts(b, ",\"content_index\":0,\"text\":");
        rc = rc ? rc : gd_json_put_str(b, acc, s->acc.len);
        rc = rc ? rc : gd_buf_puts(b, ",\"logprobs\":[]}\n\n");
        rc = rc ? rc : ev(s, b, "response.content_part.done");
        rc = rc ? rc : item_ref(s, b);
        rc = rc ? rc
                : gd_buf_puts(b,
                              ",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":");
        rc = rc ? rc : gd_json_put_str(b, acc, s->acc.len);
        rc = rc ? rc : gd_buf_puts(b, ",\"annotations\":[]}}\n\n");
    } else {
        rc = rc ? rc : gd_xl_in_resp_put_id(it, "fc_", s->call_id);
        rc = rc ? rc
                : gd_buf_puts(it, ",\"type\":\"function_call\",\"status\":\"completed\","
                                  "\"call_id\":");
        rc = rc ? rc : gd_xl_put_str(it, s->call_id);
        rc = rc ? rc : gd_buf_puts(it, ",\"name\":");
        rc = rc ? rc : gd_xl_put_str(it, s->name);
        rc = rc ? rc : gd_buf_puts(it, ",\"arguments\":");
        rc = rc ? rc : gd_json_put_str(it, acc, s->acc.len);
        rc = rc ? rc : gd_buf_puts(it, "}");
        rc = rc ? rc : ev(s, b, "response.function_call_arguments.done");
        rc = rc ? rc : item_ref(s, b);
        rc = rc ? rc : gd_buf_puts(b, ",\"arguments\":");
        rc = rc ? rc : gd_json_put_str(b, acc, s->acc.len);
        rc = rc ? rc : gd_buf_puts(b, "}\n\n");
    }
    rc = rc ? rc : ev(s, b, "response.output_item.done");
    rc = rc ? rc : gd_buf_puts(b, ",\"output_index\":");
    rc = rc ? rc : gd_json_put_i64(b, s->n_items - 1);
    rc = rc ? rc : gd_buf_puts(b, ",\"item\":");
    rc = rc ? rc : gd_buf_append(b, it->data + from, it->len - from);
    rc = rc ? rc : gd_buf_puts(b, "}\n\n");
    if (rc)
        it->len = mark;
    s->open = 0;
    s->open_tool = -1;
    gd_buf_reset(&s->acc);
    return rc;
}

/* A new output item: the open one is closed first. */
static int open_item(struct gd_xl_in_resp_sse *s, struct gd_buf *b, int kind)
{
    int rc = close_item(s, b);
    if (rc)
        return rc;
    if (s->n_items >= GD_XL_RESP_MAX_OUTPUT)
        return GD_ELIMIT;
    s->n_items++;
    s->open = kind;
    rc = ev(s, b, "response.output_item.added");
    rc = rc ? rc : gd_buf_puts(b, ",\"output_index\":");
    rc = rc ? rc : gd_json_put_i64(b, s->n_items - 1);
    rc = rc ? rc : gd_buf_puts(b, ",\"item\":{\"id\":");
    if (kind == 1) {
        rc = rc ? rc : gd_xl_in_resp_put_id(b, "msg_", s->id);
        rc = rc ? rc
                : gd_buf_puts(b, ",\"type\":\"message\",\"status\":\"in_progress\",\"role\":"
                                 "\"assistant\",\"content\":[]}}\n\n");
        rc = rc ? rc : ev(s, b, "response.content_part.added");
        rc = rc ? rc : item_ref(s, b);
        return rc ? rc
                  : gd_buf_puts(b, ",\"content_index\":0,\"part\":{\"type\":\"output_text\","
                                   "\"text\":\"\",\"annotations\":[]}}\n\n");
    }
    rc = rc ? rc : gd_xl_in_resp_put_id(b, "fc_", s->call_id);
    rc = rc ? rc
            : gd_buf_puts(b, ",\"type\":\"function_call\",\"status\":\"in_progress\",\"call_id\":");
    rc = rc ? rc : gd_xl_put_str(b, s->call_id);
    rc = rc ? rc : gd_buf_puts(b, ",\"name\":");
    rc = rc ? rc : gd_xl_put_str(b, s->name);
    return rc ? rc : gd_buf_puts(b, ",\"arguments\":\"\"}}\n\n");
}

static int text_delta(struct gd_xl_in_resp_sse *s, const char *text, struct gd_buf *b)
{
    int rc = s->open == 1 ? 0 : open_item(s, b, 1);
    rc = rc ? rc : gd_buf_puts(&s->acc, text);
    rc = rc ? rc : ev(s, b, "response.output_text.delta");
    rc = rc ? rc : item_ref(s, b);
    rc = rc ? rc : gd_buf_puts(b, ",\"content_index\":0,\"delta\":");
    rc = rc ? rc : gd_xl_put_str(b, text);
    return rc ? rc : gd_buf_puts(b, ",\"logprobs\":[]}\n\n");
}

static int tool_delta(struct gd_xl_in_resp_sse *s, const cJSON *tc, struct gd_buf *b)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(tc, "index");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
    int idx =
        cJSON_IsNumber(k) && k->valuedouble >= 0 && k->valuedouble < 1e6 ? (int)k->valuedouble : 0;
    int rc = 0;
    if (cJSON_IsString(id)) {
        if (!cJSON_IsString(name))
            return GD_EPARSE;
        if ((rc = close_item(s, b)) != 0)
            return rc;
        gd_xl_copy_str(s->call_id, sizeof s->call_id, id);
        gd_xl_copy_str(s->name, sizeof s->name, name);
        rc = open_item(s, b, 2);
        s->open_tool = idx;
    } else if (s->open != 2 || s->open_tool != idx) {
        return GD_EPARSE; /* arguments for a call that is not the open one */
    }
    if (rc == 0 && cJSON_IsString(args) && args->valuestring[0]) {
        rc = gd_buf_puts(&s->acc, args->valuestring);
        rc = rc ? rc : ev(s, b, "response.function_call_arguments.delta");
        rc = rc ? rc : item_ref(s, b);
        rc = rc ? rc : gd_buf_puts(b, ",\"delta\":");
        rc = rc ? rc : gd_xl_put_str(b, args->valuestring);
        rc = rc ? rc : gd_buf_puts(b, "}\n\n");
    }
    return rc;
}

static void take_usage(struct gd_xl_in_resp_sse *s, const cJSON *u)
{
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details");
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens_details");
    const char *keys[] = {"prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens",
                          "reasoning_tokens"};
    const cJSON *from[] = {u, u, u, pd, cd};
    int64_t *dst[] = {&s->prompt, &s->completion, &s->total, &s->cached, &s->reasoning};
    for (int i = 0; i < 5; i++) {
        int64_t v = gd_xl_count(from[i], keys[i]);
        if (v >= 0)
            *dst[i] = v;
    }
}

static const char *finish_of(const char *fr)
{
    static const char *const known[] = {"stop", "length", "tool_calls", "content_filter",
                                        "function_call"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(fr, known[i]) == 0)
            return known[i];
    return "stop";
}

static int chunk(struct gd_xl_in_resp_sse *s, const cJSON *ch, struct gd_buf *b)
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
        s->finish_reason = finish_of(fr->valuestring);
    return rc;
}

static int done(struct gd_xl_in_resp_sse *s, struct gd_buf *b)
{
    int rc = s->started ? 0 : start(s, NULL, b);
    rc = rc ? rc : close_item(s, b);
    const char *why = incomplete_reason(s->finish_reason);
    rc = rc ? rc : ev(s, b, why ? "response.incomplete" : "response.completed");
    rc = rc ? rc : put_response(s, b, why ? "incomplete" : "completed", why, NULL, 1);
    s->finished = 1;
    return rc;
}

int gd_xl_in_resp_sse_error(struct gd_xl_in_resp_sse *s, const char *message, struct gd_buf *out)
{
    int rc = s->started ? 0 : start(s, NULL, out);
    rc = rc ? rc : ev(s, out, "response.failed");
    rc = rc ? rc : put_response(s, out, "failed", NULL, message, 0);
    s->finished = 1;
    return rc;
}

int gd_xl_in_resp_sse_event(struct gd_xl_in_resp_sse *s, const char *data, size_t dlen,
                            struct gd_buf *out)
{
    if (s->finished || !data || dlen == 0)
        return 0;
    size_t mark = out->len;
    int rc;
    if (dlen == 6 && memcmp(data, "[DONE]", 6) == 0) {
        rc = done(s, out);
    } else {
        cJSON *ch = cJSON_ParseWithLength(data, dlen);
        if (!cJSON_IsObject(ch)) {
            cJSON_Delete(ch);
            return GD_EPARSE;
        }
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(ch, "error");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
        rc = err ? gd_xl_in_resp_sse_error(s, cJSON_IsString(m) ? m->valuestring : "upstream error",
                                           out)
                 : chunk(s, ch, out);
        cJSON_Delete(ch);
    }
    if (rc)
        out->len = mark;
    return rc;
}
