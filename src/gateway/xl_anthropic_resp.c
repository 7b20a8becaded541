/* Anthropic Messages response and error bodies -> OpenAI's (see xl_anthropic.h). */
#include "gateway/xl_anthropic.h"
#include "gateway/oai_error.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

const char *gd_xl_anth_finish_reason(const char *r)
{
    if (!r)
        return NULL;
    if (strcmp(r, "max_tokens") == 0)
        return "length";
    if (strcmp(r, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(r, "refusal") == 0)
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, pause_turn and reasons added later */
}

int gd_xl_anth_put_usage(struct gd_buf *b, int64_t in, int64_t out, int64_t cread, int64_t ccreate,
                         struct gd_gw_usage *u)
{
    int64_t prompt = (in > 0 ? in : 0) + (cread > 0 ? cread : 0) + (ccreate > 0 ? ccreate : 0);
    int64_t completion = out > 0 ? out : 0;
    if (u) {
        u->prompt_tokens = prompt;
        u->completion_tokens = completion;
        u->total_tokens = prompt + completion;
    }
    int rc = gd_buf_puts(b, "\"usage\":{\"prompt_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, prompt);
    rc = rc ? rc : gd_buf_puts(b, ",\"completion_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, completion);
    rc = rc ? rc : gd_buf_puts(b, ",\"total_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, prompt + completion);
    rc = rc ? rc : gd_buf_puts(b, ",\"prompt_tokens_details\":{\"cached_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, cread > 0 ? cread : 0);
    rc = rc ? rc : gd_buf_puts(b, ",\"cache_creation_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, ccreate > 0 ? ccreate : 0);
    return rc ? rc : gd_buf_puts(b, "}}");
}

static int put_message(struct gd_buf *b, const cJSON *content)
{
    struct gd_buf text;
    gd_buf_init(&text, b->max);
    int rc = 0, n_text = 0, n_tools = 0;
    for (const cJSON *blk = content ? content->child : NULL; blk && rc == 0; blk = blk->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(blk, "type");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(blk, "text");
        if (cJSON_IsString(t) && strcmp(t->valuestring, "text") == 0 && cJSON_IsString(s)) {
            rc = gd_buf_puts(&text, s->valuestring);
            n_text++;
        }
    }
    rc = rc ? rc : gd_buf_puts(b, "{\"role\":\"assistant\",\"content\":");
    if (rc == 0 && n_text)
        rc = gd_json_put_str(b, text.data ? text.data : "", text.len);
    else if (rc == 0)
        rc = gd_buf_puts(b, "null");
    gd_buf_free(&text);
    for (const cJSON *blk = content ? content->child : NULL; blk && rc == 0; blk = blk->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(blk, "type");
        if (!cJSON_IsString(t) || strcmp(t->valuestring, "tool_use") != 0)
            continue;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(blk, "id");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(blk, "name");
        const cJSON *input = cJSON_GetObjectItemCaseSensitive(blk, "input");
        if (!cJSON_IsString(id) || !cJSON_IsString(name) || !input)
            return GD_EPARSE;
        char *args = cJSON_PrintUnformatted(input);
        if (!args)
            return GD_ENOMEM;
        rc = gd_buf_puts(b, n_tools++ ? ",{\"id\":" : ",\"tool_calls\":[{\"id\":");
        rc = rc ? rc : gd_xl_put_str(b, id->valuestring);
        rc = rc ? rc : gd_buf_puts(b, ",\"type\":\"function\",\"function\":{\"name\":");
        rc = rc ? rc : gd_xl_put_str(b, name->valuestring);
        rc = rc ? rc : gd_buf_puts(b, ",\"arguments\":");
        rc = rc ? rc : gd_xl_put_str(b, args);
        rc = rc ? rc : gd_buf_puts(b, "}}");
        cJSON_free(args);
    }
    if (rc == 0 && n_tools)
        rc = gd_buf_puts(b, "]");
    return rc ? rc : gd_buf_puts(b, ",\"refusal\":null}");
}

static int put_completion(const cJSON *m, int64_t created, struct gd_buf *out,
                          struct gd_gw_usage *u)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(m, "model");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(m, "stop_reason");
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(m, "usage");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "message") != 0 || !cJSON_IsString(id) ||
        !cJSON_IsArray(content))
        return GD_EPARSE;
    const char *fr = gd_xl_anth_finish_reason(cJSON_IsString(sr) ? sr->valuestring : NULL);
    int rc = gd_buf_puts(out, "{\"id\":");
    rc = rc ? rc : gd_xl_put_str(out, id->valuestring);
    rc = rc ? rc : gd_buf_puts(out, ",\"object\":\"chat.completion\",\"created\":");
    rc = rc ? rc : gd_json_put_i64(out, created);
    rc = rc ? rc : gd_buf_puts(out, ",\"model\":");
    rc = rc ? rc : gd_xl_put_str(out, cJSON_IsString(model) ? model->valuestring : "");
    rc = rc ? rc : gd_buf_puts(out, ",\"choices\":[{\"index\":0,\"message\":");
    rc = rc ? rc : put_message(out, content);
    rc = rc ? rc : gd_buf_puts(out, ",\"logprobs\":null,\"finish_reason\":");
    rc = rc ? rc : (fr ? gd_xl_put_str(out, fr) : gd_buf_puts(out, "null"));
    rc = rc ? rc : gd_buf_puts(out, "}],");
    rc = rc ? rc
            : gd_xl_anth_put_usage(out, gd_xl_count(usage, "input_tokens"),
                                   gd_xl_count(usage, "output_tokens"),
                                   gd_xl_count(usage, "cache_read_input_tokens"),
                                   gd_xl_count(usage, "cache_creation_input_tokens"), u);
    return rc ? rc : gd_buf_puts(out, "}");
}

int gd_xl_anth_response(const char *body, size_t len, int64_t created, struct gd_buf *out,
                        struct gd_gw_usage *u)
{
    return gd_xl_answer(body, len, created, out, u, put_completion);
}

int gd_xl_anth_error(int status, const char *body, size_t len, struct gd_buf *out)
{
    char msg[160];
    cJSON *e = cJSON_ParseWithLength(body, len);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(err, "type");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
    int rc;
    if (cJSON_IsString(type) && cJSON_IsString(m)) {
        rc = gd_gw_error_write(out, status, m->valuestring, type->valuestring, NULL,
                               type->valuestring);
    } else {
        snprintf(msg, sizeof msg, "the Anthropic upstream answered HTTP %d without an error body",
                 status);
        rc = gd_gw_error_write(out, status, msg, NULL, NULL, NULL);
    }
    cJSON_Delete(e);
    return rc;
}
