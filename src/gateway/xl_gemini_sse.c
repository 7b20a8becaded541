/* streamGenerateContent?alt=sse events -> OpenAI chat.completion.chunk events (xl_gemini.h).
 *
 * Every event is a whole GenerateContentResponse holding the next piece of the answer:
 *   first event             -> chunk with delta {role: assistant, content: ""}
 *   text parts              -> delta.content (thought parts are dropped)
 *   functionCall parts      -> tool_calls[k] {id call_<k>, type, name, the whole arguments}
 *   usageMetadata           -> remembered (the last one counts)
 *   finishReason            -> chunk with finish_reason (tool_calls when calls were made and
 *                              Gemini said STOP), usage chunk (include_usage), [DONE]
 *   promptFeedback.blockReason without candidates -> finish_reason content_filter, [DONE]
 *   {"error":{...}}         -> event: error, data: {"error":{...}}, [DONE]
 * Text is copied verbatim, so the client reassembles exactly what the upstream streamed.
 *
 * Hot path: most events are text chunks of one candidate. Those go through a scanner that
 * writes the chunks without a cJSON tree (xl_gemini_sse_fast.c); every chunk starts with a
 * head built once per stream; anything else takes the general path below. */
#include "gateway/xl_gemini.h"
#include "gateway/oai_error.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>

void gd_xl_gem_sse_init(struct gd_xl_gem_sse *s, int include_usage, int64_t created)
{
    memset(s, 0, sizeof *s);
    s->include_usage = include_usage;
    gd_xl_chunks_init(&s->ck, created);
    s->prompt = s->completion = s->total = s->cached = -1;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

int gd_xl_gem_sse_text(const struct gd_xl_gem_sse *s, struct gd_buf *b, const char *text, size_t n,
                       int raw)
{
    return gd_xl_chunk_text(&s->ck, b, text, n, raw);
}

static int tool_chunk(struct gd_xl_gem_sse *s, struct gd_buf *b, const cJSON *fc)
{
    const cJSON *name = get(fc, "name"), *args = get(fc, "args"), *id = get(fc, "id");
    if (!cJSON_IsString(name) || (args && !cJSON_IsObject(args)))
        return GD_EPARSE;
    if (s->n_tools >= GD_XL_GEM_MAX_TOOLS)
        return GD_ELIMIT;
    char *a = args ? cJSON_PrintUnformatted(args) : NULL;
    if (args && !a)
        return GD_ENOMEM;
    char gen[32];
    snprintf(gen, sizeof gen, "call_%d", s->n_tools);
    int rc = gd_xl_chunk_tool(&s->ck, b, s->n_tools,
                              cJSON_IsString(id) && id->valuestring[0] ? id->valuestring : gen,
                              name->valuestring, a ? a : "{}");
    cJSON_free(a);
    s->n_tools++;
    return rc;
}

void gd_xl_gem_sse_set_usage(struct gd_xl_gem_sse *s, int64_t prompt, int64_t c, int64_t t,
                             int64_t total, int64_t cached)
{
    s->prompt = prompt;
    s->completion = c < 0 && t < 0 ? -1 : (c > 0 ? c : 0) + (t > 0 ? t : 0);
    s->total = total;
    s->cached = cached;
}

static void take_usage(struct gd_xl_gem_sse *s, const cJSON *um)
{
    if (cJSON_IsObject(um))
        gd_xl_gem_sse_set_usage(
            s, gd_xl_count(um, "promptTokenCount"), gd_xl_count(um, "candidatesTokenCount"),
            gd_xl_count(um, "thoughtsTokenCount"), gd_xl_count(um, "totalTokenCount"),
            gd_xl_count(um, "cachedContentTokenCount"));
}

int gd_xl_gem_sse_finish(struct gd_xl_gem_sse *s, struct gd_buf *b, const char *fr)
{
    if (s->n_tools && strcmp(fr, "stop") == 0)
        fr = "tool_calls";
    int rc = gd_xl_chunk(&s->ck, b, "{}", fr);
    if (rc == 0 && s->include_usage) {
        rc = gd_xl_chunk_head(&s->ck, b);
        rc = rc ? rc : gd_buf_puts(b, "],");
        rc = rc ? rc : gd_xl_gem_put_usage(b, s->prompt, s->completion, s->total, s->cached, NULL);
        rc = rc ? rc : gd_buf_puts(b, "}\n\n");
    }
    s->finished = 1;
    return rc ? rc : gd_buf_puts(b, "data: [DONE]\n\n");
}

static int on_error(struct gd_xl_gem_sse *s, const cJSON *e, struct gd_buf *b)
{
    const cJSON *m = get(e, "message"), *st = get(e, "status"), *code = get(e, "code");
    int status = cJSON_IsNumber(code) && code->valuedouble >= 400 && code->valuedouble < 600
                     ? (int)code->valuedouble
                     : 500;
    int rc = gd_buf_puts(b, "event: error\ndata: ");
    rc = rc ? rc
            : gd_gw_error_write(b, status, cJSON_IsString(m) ? m->valuestring : "upstream error",
                                NULL, NULL, cJSON_IsString(st) ? st->valuestring : NULL);
    s->finished = 1;
    return rc ? rc : gd_buf_puts(b, "\n\ndata: [DONE]\n\n");
}

static int dispatch(struct gd_xl_gem_sse *s, const cJSON *ev, struct gd_buf *b)
{
    if (!cJSON_IsObject(ev))
        return GD_EPARSE;
    const cJSON *e = get(ev, "error");
    if (cJSON_IsObject(e))
        return on_error(s, e, b);
    const cJSON *cands = get(ev, "candidates");
    const cJSON *block = get(get(ev, "promptFeedback"), "blockReason");
    if (cands && !cJSON_IsArray(cands))
        return GD_EPARSE;
    const cJSON *c0 = cands ? cands->child : NULL;
    if (c0 && !cJSON_IsObject(c0))
        return GD_EPARSE;
    const cJSON *parts = get(get(c0, "content"), "parts");
    if (parts && !cJSON_IsArray(parts))
        return GD_EPARSE;
    int rc = 0;
    if (!s->started) {
        const cJSON *rid = get(ev, "responseId");
        snprintf(s->ck.id, sizeof s->ck.id, "chatcmpl-%.100s",
                 cJSON_IsString(rid) ? rid->valuestring : "gemini");
        gd_xl_copy_str(s->ck.model, sizeof s->ck.model, get(ev, "modelVersion"));
        s->started = 1;
        gd_xl_chunks_build(&s->ck);
        rc = gd_xl_chunk(&s->ck, b, "{\"role\":\"assistant\",\"content\":\"\"}", NULL);
    }
    take_usage(s, get(ev, "usageMetadata"));
    for (const cJSON *p = parts ? parts->child : NULL; p && rc == 0; p = p->next) {
        const cJSON *t = get(p, "text"), *fc = get(p, "functionCall");
        if (cJSON_IsString(t) && t->valuestring[0] && !cJSON_IsTrue(get(p, "thought")))
            rc = gd_xl_gem_sse_text(s, b, t->valuestring, strlen(t->valuestring), 0);
        else if (fc)
            rc = tool_chunk(s, b, fc);
    }
    if (rc)
        return rc;
    const cJSON *fr = get(c0, "finishReason");
    const char *reason = gd_xl_gem_finish_reason(cJSON_IsString(fr) ? fr->valuestring : NULL);
    if (reason)
        return gd_xl_gem_sse_finish(s, b, reason);
    if (!c0 && cJSON_IsString(block))
        return gd_xl_gem_sse_finish(s, b, "content_filter");
    return 0;
}

int gd_xl_gem_sse_event(struct gd_xl_gem_sse *s, const char *data, size_t dlen, struct gd_buf *out)
{
    int rc;
    if (s->finished || !data || dlen == 0)
        return 0;
    if (gd_xl_gem_sse_fast(s, data, dlen, out, &rc))
        return rc;
    return gd_xl_gem_sse_event_full(s, data, dlen, out);
}

int gd_xl_gem_sse_event_full(struct gd_xl_gem_sse *s, const char *data, size_t dlen,
                             struct gd_buf *out)
{
    if (s->finished || !data || dlen == 0)
        return 0; /* nothing follows [DONE]; a comment or an event without data */
    cJSON *ev = cJSON_ParseWithLength(data, dlen);
    if (!ev)
        return GD_EPARSE;
    size_t mark = out->len;
    struct gd_xl_gem_sse save = *s;
    int rc = dispatch(s, ev, out);
    cJSON_Delete(ev);
    if (rc != 0) {
        out->len = mark;
        *s = save; /* a failed event changes nothing */
    }
    return rc;
}

int gd_xl_gem_sse_usage(const struct gd_xl_gem_sse *s, struct gd_gw_usage *u)
{
    return gd_xl_stream_usage(s->prompt, s->completion, s->total, u);
}
