/* Gemini GenerateContentResponse and error bodies -> OpenAI's (see xl_gemini.h). */
#include "gateway/xl_gemini.h"
#include "gateway/oai_error.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>

const char *gd_xl_gem_finish_reason(const char *r)
{
    static const char *const filtered[] = {"SAFETY",
                                           "RECITATION",
                                           "BLOCKLIST",
                                           "PROHIBITED_CONTENT",
                                           "SPII",
                                           "IMAGE_SAFETY",
                                           "IMAGE_PROHIBITED_CONTENT",
                                           NULL};
    if (!r || !r[0] || strcmp(r, "FINISH_REASON_UNSPECIFIED") == 0)
        return NULL;
    if (strcmp(r, "MAX_TOKENS") == 0)
        return "length";
    for (int i = 0; filtered[i]; i++)
        if (strcmp(r, filtered[i]) == 0)
            return "content_filter";
    /* promptFeedback.blockReason values (SAFETY, OTHER, BLOCKLIST, ...) are blocks too */
    return "stop"; /* STOP, LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, reasons added later */
}

int gd_xl_gem_put_usage(struct gd_buf *b, int64_t prompt, int64_t completion, int64_t total,
                        int64_t cached, struct gd_gw_usage *u)
{
    int64_t p = prompt > 0 ? prompt : 0, c = completion > 0 ? completion : 0;
    int64_t t = total >= p + c ? total : p + c;
    if (u) {
        u->prompt_tokens = p;
        u->completion_tokens = c;
        u->total_tokens = t;
    }
    int rc = gd_buf_puts(b, "\"usage\":{\"prompt_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, p);
    rc = rc ? rc : gd_buf_puts(b, ",\"completion_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, c);
    rc = rc ? rc : gd_buf_puts(b, ",\"total_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, t);
    rc = rc ? rc : gd_buf_puts(b, ",\"prompt_tokens_details\":{\"cached_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, cached > 0 ? cached : 0);
    return rc ? rc : gd_buf_puts(b, "}}");
}

/* completion = candidates + thoughts (thinking models bill both as output). */
static int64_t completion_tokens(const cJSON *um)
{
    int64_t c = gd_xl_count(um, "candidatesTokenCount"), t = gd_xl_count(um, "thoughtsTokenCount");
    return c < 0 && t < 0 ? -1 : (c > 0 ? c : 0) + (t > 0 ? t : 0);
}

/* A function call part -> ,{"id":..,"type":"function","function":{..}} (k-th call). */
static int put_call(struct gd_buf *b, const cJSON *fc, int k)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fc, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(fc, "args");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(fc, "id");
    if (!cJSON_IsString(name) || (args && !cJSON_IsObject(args)))
        return GD_EPARSE;
    char *a = args ? cJSON_PrintUnformatted(args) : NULL;
    if (args && !a)
        return GD_ENOMEM;
    char gen[32];
    snprintf(gen, sizeof gen, "call_%d", k);
    int rc = gd_buf_puts(b, k ? ",{\"id\":" : ",\"tool_calls\":[{\"id\":");
    rc = rc ? rc
            : gd_xl_put_str(b, cJSON_IsString(id) && id->valuestring[0] ? id->valuestring : gen);
    rc = rc ? rc : gd_buf_puts(b, ",\"type\":\"function\",\"function\":{\"name\":");
    rc = rc ? rc : gd_xl_put_str(b, name->valuestring);
    rc = rc ? rc : gd_buf_puts(b, ",\"arguments\":");
    rc = rc ? rc : gd_xl_put_str(b, a ? a : "{}");
    cJSON_free(a);
    return rc ? rc : gd_buf_puts(b, "}}");
}

/* The message of a candidate's content parts; *n_calls gets how many function calls. */
static int put_message(struct gd_buf *b, const cJSON *parts, int *n_calls)
{
    struct gd_buf text;
    gd_buf_init(&text, b->max);
    int rc = 0, n_text = 0, k = 0;
    if (parts && !cJSON_IsArray(parts))
        return GD_EPARSE;
    for (const cJSON *p = parts ? parts->child : NULL; p && rc == 0; p = p->next) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (cJSON_IsString(s) && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "thought"))) {
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
    for (const cJSON *p = parts ? parts->child : NULL; p && rc == 0; p = p->next) {
        const cJSON *fc = cJSON_GetObjectItemCaseSensitive(p, "functionCall");
        if (fc)
            rc = put_call(b, fc, k++);
    }
    if (rc == 0 && k)
        rc = gd_buf_puts(b, "]");
    *n_calls = k;
    return rc ? rc : gd_buf_puts(b, ",\"refusal\":null}");
}

static int put_completion(const cJSON *r, int64_t created, struct gd_buf *out,
                          struct gd_gw_usage *u)
{
    const cJSON *cands = cJSON_GetObjectItemCaseSensitive(r, "candidates");
    const cJSON *pf = cJSON_GetObjectItemCaseSensitive(r, "promptFeedback");
    const cJSON *block = cJSON_GetObjectItemCaseSensitive(pf, "blockReason");
    const cJSON *um = cJSON_GetObjectItemCaseSensitive(r, "usageMetadata");
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(r, "responseId");
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(r, "modelVersion");
    if (!cJSON_IsObject(r) || (cands && !cJSON_IsArray(cands)) ||
        (!cands && !cJSON_IsString(block)))
        return GD_EPARSE;
    const cJSON *c0 = cands ? cands->child : NULL;
    if (c0 && !cJSON_IsObject(c0))
        return GD_EPARSE;
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(c0, "finishReason");
    const char *reason = !c0 ? "content_filter" /* the prompt was blocked */
                             : gd_xl_gem_finish_reason(cJSON_IsString(fr) ? fr->valuestring : NULL);
    char id[128];
    snprintf(id, sizeof id, "chatcmpl-%.100s", cJSON_IsString(rid) ? rid->valuestring : "gemini");
    int n_calls = 0;
    int rc = gd_buf_puts(out, "{\"id\":");
    rc = rc ? rc : gd_xl_put_str(out, id);
    rc = rc ? rc : gd_buf_puts(out, ",\"object\":\"chat.completion\",\"created\":");
    rc = rc ? rc : gd_json_put_i64(out, created);
    rc = rc ? rc : gd_buf_puts(out, ",\"model\":");
    rc = rc ? rc : gd_xl_put_str(out, cJSON_IsString(mv) ? mv->valuestring : "");
    rc = rc ? rc : gd_buf_puts(out, ",\"choices\":[{\"index\":0,\"message\":");
    rc = rc ? rc
            : put_message(out,
                          cJSON_GetObjectItemCaseSensitive(
                              cJSON_GetObjectItemCaseSensitive(c0, "content"), "parts"),
                          &n_calls);
    if (n_calls && reason && strcmp(reason, "stop") == 0)
        reason = "tool_calls";
    rc = rc ? rc : gd_buf_puts(out, ",\"logprobs\":null,\"finish_reason\":");
    rc = rc ? rc : (reason ? gd_xl_put_str(out, reason) : gd_buf_puts(out, "null"));
    rc = rc ? rc : gd_buf_puts(out, "}],");
    rc = rc ? rc
            : gd_xl_gem_put_usage(out, gd_xl_count(um, "promptTokenCount"), completion_tokens(um),
                                  gd_xl_count(um, "totalTokenCount"),
                                  gd_xl_count(um, "cachedContentTokenCount"), u);
    return rc ? rc : gd_buf_puts(out, "}");
}

int gd_xl_gem_response(const char *body, size_t len, int64_t created, struct gd_buf *out,
                       struct gd_gw_usage *u)
{
    return gd_xl_answer(body, len, created, out, u, put_completion);
}

int gd_xl_gem_error(int status, const char *body, size_t len, struct gd_buf *out)
{
    char msg[160];
    cJSON *e = cJSON_ParseWithLength(body, len);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error");
    if (cJSON_IsArray(e)) /* some Google front ends wrap the error in a one-element array */
        err = cJSON_GetObjectItemCaseSensitive(e->child, "error");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(err, "status");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
    int rc;
    if (cJSON_IsString(m)) {
        rc = gd_gw_error_write(out, status, m->valuestring, NULL, NULL,
                               cJSON_IsString(st) ? st->valuestring : NULL);
    } else {
        snprintf(msg, sizeof msg, "the Gemini upstream answered HTTP %d without an error body",
                 status);
        rc = gd_gw_error_write(out, status, msg, NULL, NULL, NULL);
    }
    cJSON_Delete(e);
    return rc;
}
