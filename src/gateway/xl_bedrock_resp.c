/* Bedrock Converse responses and error bodies -> OpenAI's (see xl_bedrock.h). */
#include "gateway/xl_bedrock.h"
#include "gateway/oai_error.h"
#include "gateway/xl_gemini.h" /* gd_xl_gem_put_usage: OpenAI's usage member */
#include "core/json_write.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>

const char *gd_xl_bedrock_finish_reason(const char *r)
{
    if (!r)
        return NULL;
    if (strcmp(r, "max_tokens") == 0 || strcmp(r, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(r, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(r, "guardrail_intervened") == 0 || strcmp(r, "content_filtered") == 0)
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, reasons added later */
}

const char *gd_xl_bedrock_exception_for(int status)
{
    switch (status) {
    case 400:
        return "ValidationException";
    case 403:
        return "AccessDeniedException";
    case 404:
        return "ResourceNotFoundException";
    case 408:
        return "ModelTimeoutException";
    case 424:
        return "ModelErrorException";
    case 429:
        return "ThrottlingException";
    case 503:
        return "ServiceUnavailableException";
    default:
        return status >= 500 ? "InternalServerException" : NULL;
    }
}

/* A toolUse block -> the k-th OpenAI tool call. */
static int put_call(struct gd_buf *b, const cJSON *tu, int k)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(tu, "name");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(tu, "toolUseId");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(tu, "input");
    if (!cJSON_IsString(name) || !cJSON_IsString(id))
        return GD_EPARSE;
    char *a = input ? cJSON_PrintUnformatted(input) : NULL;
    if (input && !a)
        return GD_ENOMEM;
    int rc = gd_buf_puts(b, k ? ",{\"id\":" : ",\"tool_calls\":[{\"id\":");
    rc = rc ? rc : gd_xl_put_str(b, id->valuestring);
    rc = rc ? rc : gd_buf_puts(b, ",\"type\":\"function\",\"function\":{\"name\":");
    rc = rc ? rc : gd_xl_put_str(b, name->valuestring);
    rc = rc ? rc : gd_buf_puts(b, ",\"arguments\":");
    rc = rc ? rc : gd_xl_put_str(b, a ? a : "{}");
    cJSON_free(a);
    return rc ? rc : gd_buf_puts(b, "}}");
}

/* The assistant message of output.message.content; text blocks joined, toolUse blocks as
 * tool_calls, other blocks (reasoningContent, ...) left out. */
static int put_message(struct gd_buf *b, const cJSON *content)
{
    struct gd_buf text;
    int rc = 0, n_text = 0, k = 0;
    if (!cJSON_IsArray(content))
        return GD_EPARSE;
    gd_buf_init(&text, b->max);
    for (const cJSON *p = content->child; p && rc == 0; p = p->next) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (cJSON_IsString(s)) {
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
    for (const cJSON *p = content->child; p && rc == 0; p = p->next) {
        const cJSON *tu = cJSON_GetObjectItemCaseSensitive(p, "toolUse");
        if (tu)
            rc = put_call(b, tu, k++);
    }
    if (rc == 0 && k)
        rc = gd_buf_puts(b, "]");
    return rc ? rc : gd_buf_puts(b, ",\"refusal\":null}");
}

static int put_completion(const cJSON *r, int64_t created, struct gd_buf *out,
                          struct gd_gw_usage *u)
{
    const cJSON *msg =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "output"), "message");
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(r, "stopReason");
    const cJSON *us = cJSON_GetObjectItemCaseSensitive(r, "usage");
    if (!cJSON_IsObject(r) || !cJSON_IsObject(msg) || !cJSON_IsString(sr))
        return GD_EPARSE;
    char id[64];
    snprintf(id, sizeof id, "chatcmpl-bedrock-%lld", (long long)created);
    int rc = gd_buf_puts(out, "{\"id\":");
    rc = rc ? rc : gd_xl_put_str(out, id);
    rc = rc ? rc : gd_buf_puts(out, ",\"object\":\"chat.completion\",\"created\":");
    rc = rc ? rc : gd_json_put_i64(out, created);
    rc = rc ? rc : gd_buf_puts(out, ",\"model\":\"\",\"choices\":[{\"index\":0,\"message\":");
    rc = rc ? rc : put_message(out, cJSON_GetObjectItemCaseSensitive(msg, "content"));
    rc = rc ? rc : gd_buf_puts(out, ",\"logprobs\":null,\"finish_reason\":");
    rc = rc ? rc : gd_xl_put_str(out, gd_xl_bedrock_finish_reason(sr->valuestring));
    rc = rc ? rc : gd_buf_puts(out, "}],");
    rc = rc ? rc
            : gd_xl_gem_put_usage(out, gd_xl_count(us, "inputTokens"),
                                  gd_xl_count(us, "outputTokens"), gd_xl_count(us, "totalTokens"),
                                  gd_xl_count(us, "cacheReadInputTokens"), u);
    return rc ? rc : gd_buf_puts(out, "}");
}

int gd_xl_bedrock_response(const char *body, size_t len, int64_t created, struct gd_buf *out,
                           struct gd_gw_usage *u)
{
    return gd_xl_answer(body, len, created, out, u, put_completion);
}

int gd_xl_bedrock_error(int status, const char *body, size_t len, struct gd_buf *out)
{
    char msg[160];
    cJSON *e = cJSON_ParseWithLength(body, len);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (!cJSON_IsString(m))
        m = cJSON_GetObjectItemCaseSensitive(e, "Message");
    const char *code = gd_xl_bedrock_exception_for(status);
    int rc;
    if (cJSON_IsString(m)) {
        rc = gd_gw_error_write(out, status, m->valuestring, NULL, NULL, code);
    } else {
        snprintf(msg, sizeof msg, "the Bedrock upstream answered HTTP %d without an error body",
                 status);
        rc = gd_gw_error_write(out, status, msg, NULL, NULL, code);
    }
    cJSON_Delete(e);
    return rc;
}
