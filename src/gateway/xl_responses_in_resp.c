/* chat.completion -> Response object (inbound POST /v1/responses, see xl_responses_in.h).
 *
 *   id "chatcmpl-x"          -> "resp_chatcmpl-x" (items: "msg_chatcmpl-x", "fc_<call id>")
 *   message.content/refusal  -> a message item: output_text (annotations []) / refusal part
 *   message.tool_calls       -> function_call items (call_id, name, arguments verbatim)
 *   finish_reason length     -> status incomplete, incomplete_details.reason max_output_tokens
 *   finish_reason content_filter -> status incomplete, reason content_filter
 *   usage                    -> input/output/total tokens, cached and reasoning details
 * `output_text` is not a wire field: the SDKs compute it from the output items. */
#include "gateway/xl_responses_in.h"
#include "gateway/json_scan.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

int gd_xl_in_resp_put_usage(struct gd_buf *b, int64_t prompt, int64_t completion, int64_t total,
                            int64_t cached, int64_t reasoning)
{
    int64_t p = prompt > 0 ? prompt : 0, o = completion > 0 ? completion : 0;
    int64_t t = total >= p + o ? total : p + o;
    int rc = gd_buf_puts(b, "{\"input_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, p);
    rc = rc ? rc : gd_buf_puts(b, ",\"input_tokens_details\":{\"cached_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, cached > 0 ? cached : 0);
    rc = rc ? rc : gd_buf_puts(b, "},\"output_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, o);
    rc = rc ? rc : gd_buf_puts(b, ",\"output_tokens_details\":{\"reasoning_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, reasoning > 0 ? reasoning : 0);
    rc = rc ? rc : gd_buf_puts(b, "},\"total_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, t);
    return rc ? rc : gd_buf_puts(b, "}");
}

int gd_xl_in_resp_put_id(struct gd_buf *b, const char *prefix, const char *id)
{
    char v[160];
    snprintf(v, sizeof v, "%s%.120s", prefix, id);
    return gd_xl_put_str(b, v);
}

int gd_xl_in_resp_put_head(struct gd_buf *b, const char *id, int64_t created, const char *status,
                           const char *error, const char *why, const char *model)
{
    int rc = gd_buf_puts(b, "\"id\":");
    rc = rc ? rc : gd_xl_in_resp_put_id(b, "resp_", id);
    rc = rc ? rc : gd_buf_puts(b, ",\"object\":\"response\",\"created_at\":");
    rc = rc ? rc : gd_json_put_i64(b, created);
    rc = rc ? rc : gd_buf_puts(b, ",\"status\":");
    rc = rc ? rc : gd_xl_put_str(b, status);
    rc = rc ? rc : gd_buf_puts(b, ",\"error\":");
    if (error) {
        rc = rc ? rc : gd_buf_puts(b, "{\"code\":\"server_error\",\"message\":");
        rc = rc ? rc : gd_xl_put_str(b, error);
        rc = rc ? rc : gd_buf_puts(b, "}");
    } else {
        rc = rc ? rc : gd_buf_puts(b, "null");
    }
    rc = rc ? rc : gd_buf_puts(b, ",\"incomplete_details\":");
    if (why) {
        rc = rc ? rc : gd_buf_puts(b, "{\"reason\":");
        rc = rc ? rc : gd_xl_put_str(b, why);
        rc = rc ? rc : gd_buf_puts(b, "}");
    } else {
        rc = rc ? rc : gd_buf_puts(b, "null");
    }
    rc = rc ? rc : gd_buf_puts(b, ",\"model\":");
    rc = rc ? rc : gd_xl_put_str(b, model);
    return rc ? rc : gd_buf_puts(b, ",\"output\":[");
}

static int put_message_item(struct gd_buf *b, const char *id, const cJSON *msg, const char *status)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
    int rc = gd_buf_puts(b, "{\"id\":");
    rc = rc ? rc : gd_xl_in_resp_put_id(b, "msg_", id);
    rc = rc ? rc : gd_buf_puts(b, ",\"type\":\"message\",\"status\":");
    rc = rc ? rc : gd_xl_put_str(b, status);
    rc = rc ? rc : gd_buf_puts(b, ",\"role\":\"assistant\",\"content\":[");
    if (cJSON_IsString(refusal) && refusal->valuestring[0]) {
        rc = rc ? rc : gd_buf_puts(b, "{\"type\":\"refusal\",\"refusal\":");
        rc = rc ? rc : gd_xl_put_str(b, refusal->valuestring);
    } else {
        rc = rc ? rc : gd_buf_puts(b, "{\"type\":\"output_text\",\"text\":");
        rc = rc ? rc : gd_xl_put_str(b, cJSON_IsString(text) ? text->valuestring : "");
        rc = rc ? rc : gd_buf_puts(b, ",\"annotations\":[]");
    }
    return rc ? rc : gd_buf_puts(b, "}]}");
}

static int put_call_item(struct gd_buf *b, const cJSON *tc)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
    if (!cJSON_IsString(id) || !cJSON_IsString(name))
        return GD_EPARSE;
    int rc = gd_buf_puts(b, "{\"id\":");
    rc = rc ? rc : gd_xl_in_resp_put_id(b, "fc_", id->valuestring);
    rc = rc ? rc
            : gd_buf_puts(b, ",\"type\":\"function_call\",\"status\":\"completed\",\"call_id\":");
    rc = rc ? rc : gd_xl_put_str(b, id->valuestring);
    rc = rc ? rc : gd_buf_puts(b, ",\"name\":");
    rc = rc ? rc : gd_xl_put_str(b, name->valuestring);
    rc = rc ? rc : gd_buf_puts(b, ",\"arguments\":");
    rc = rc ? rc : gd_xl_put_str(b, cJSON_IsString(args) ? args->valuestring : "");
    return rc ? rc : gd_buf_puts(b, "}");
}

/* finish_reason -> the incomplete reason, NULL when the response completed. */
static const char *incomplete_reason(const cJSON *fr)
{
    if (!cJSON_IsString(fr))
        return NULL;
    if (strcmp(fr->valuestring, "length") == 0)
        return "max_output_tokens";
    if (strcmp(fr->valuestring, "content_filter") == 0)
        return "content_filter";
    return NULL;
}

static int put_response(const cJSON *r, int64_t now, struct gd_buf *b)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(r, "model");
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(r, "created");
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "usage");
    if (!cJSON_IsObject(msg))
        return GD_EPARSE;
    char rid[112];
    gd_xl_copy_str(rid, sizeof rid, id);
    if (!rid[0])
        memcpy(rid, "girder", 7);
    const char *why = incomplete_reason(cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"));
    const char *status = why ? "incomplete" : "completed";
    int64_t at = cJSON_IsNumber(created) && created->valuedouble > 0 && created->valuedouble < 9e15
                     ? (int64_t)created->valuedouble
                     : now;
    int rc = gd_buf_puts(b, "{");
    rc = rc ? rc
            : gd_xl_in_resp_put_head(b, rid, at, status, NULL, why,
                                     cJSON_IsString(model) ? model->valuestring : "");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    int n = 0, has_calls = cJSON_IsArray(calls) && calls->child;
    if ((cJSON_IsString(text) && text->valuestring[0]) ||
        (cJSON_IsString(refusal) && refusal->valuestring[0]) || !has_calls) {
        rc = rc ? rc : put_message_item(b, rid, msg, status);
        n++;
    }
    for (const cJSON *tc = has_calls ? calls->child : NULL; tc && rc == 0; tc = tc->next) {
        rc = n++ ? gd_buf_puts(b, ",") : 0;
        rc = rc ? rc : put_call_item(b, tc);
    }
    rc = rc ? rc : gd_buf_puts(b, "],\"parallel_tool_calls\":true,\"usage\":");
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details");
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens_details");
    rc = rc ? rc
            : gd_xl_in_resp_put_usage(
                  b, gd_xl_count(u, "prompt_tokens"), gd_xl_count(u, "completion_tokens"),
                  gd_xl_count(u, "total_tokens"), gd_xl_count(pd, "cached_tokens"),
                  gd_xl_count(cd, "reasoning_tokens"));
    return rc ? rc : gd_buf_puts(b, "}");
}

int gd_xl_in_resp_response(const char *body, size_t len, int64_t now, struct gd_buf *out)
{
    cJSON *r = cJSON_ParseWithLength(body, len);
    if (!r)
        return GD_EPARSE;
    size_t mark = out->len;
    int rc = put_response(r, now, out);
    cJSON_Delete(r);
    if (rc)
        out->len = mark;
    return rc;
}

int gd_xl_in_resp_native_usage(const char *json, size_t len, struct gd_gw_usage *u)
{
    u->prompt_tokens = u->completion_tokens = u->total_tokens = -1;
    cJSON *j = cJSON_ParseWithLength(json, len);
    const cJSON *us = cJSON_GetObjectItemCaseSensitive(j, "usage");
    if (!cJSON_IsObject(us))
        us = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "response"),
                                              "usage");
    int found = cJSON_IsObject(us) && gd_xl_count(us, "input_tokens") >= 0;
    if (found) {
        u->prompt_tokens = gd_xl_count(us, "input_tokens");
        u->completion_tokens = gd_xl_count(us, "output_tokens");
        u->total_tokens = gd_xl_count(us, "total_tokens");
    }
    cJSON_Delete(j);
    return found;
}
