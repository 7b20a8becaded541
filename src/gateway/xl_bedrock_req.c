/* OpenAI chat request -> Bedrock Converse request (see xl_bedrock.h).
 *
 * system/developer messages before the first turn become `system` [{text}]; user and
 * assistant turns become `messages` (consecutive turns of one role merged: Converse wants
 * them alternating, starting with a user turn); image parts with data: URLs become image
 * blocks with base64 bytes; assistant tool_calls become toolUse blocks and `tool` messages
 * toolResult blocks of a user turn. tools -> toolConfig.tools[].toolSpec, tool_choice ->
 * toolConfig.toolChoice; max_tokens, temperature, top_p, stop -> inferenceConfig. Every
 * top-level key is translated, accepted as a no-op value, or refused with a 400 naming it. */
#include "gateway/xl_bedrock.h"
#include "girder/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { MAX_STOP = 4, MAX_CALLS = 128 };

#define FAIL gd_xl_fail
#define ADD gd_xl_add
#define PUSH gd_xl_push

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int present(const cJSON *v)
{
    return v && !cJSON_IsNull(v);
}

/* {"text": text} appended to blocks (Converse refuses blank text blocks: "" is skipped). */
static int text_block(struct gd_xl_ctx *c, cJSON *blocks, const char *text)
{
    if (!text[0])
        return 0;
    cJSON *b = PUSH(c, blocks, cJSON_CreateObject());
    return b && ADD(c, b, "text", cJSON_CreateString(text)) ? 0 : GD_ENOMEM;
}

/* data:image/<fmt>;base64,<data> -> {"image":{"format":fmt,"source":{"bytes":data}}} */
static int image_block(struct gd_xl_ctx *c, const cJSON *part, const char *param, cJSON *blocks)
{
    static const char *const formats[] = {"png", "jpeg", "gif", "webp", NULL};
    const cJSON *iu = get(part, "image_url");
    const cJSON *url = cJSON_IsObject(iu) ? get(iu, "url") : iu;
    if (!cJSON_IsString(url))
        return FAIL(c, param, "%s.image_url.url must be a string", param);
    const char *u = url->valuestring, *semi = strstr(u, ";base64,");
    if (strncmp(u, "data:image/", 11) != 0 || !semi)
        return FAIL(c, param,
                    "%s.image_url.url: Bedrock deployments take images as data: URLs only "
                    "(data:image/<png|jpeg|gif|webp>;base64,<data>)",
                    param);
    size_t fn = (size_t)(semi - (u + 11));
    const char *fmt = NULL;
    for (int i = 0; formats[i] && !fmt; i++)
        if (strlen(formats[i]) == fn && memcmp(u + 11, formats[i], fn) == 0)
            fmt = formats[i];
    if (!fmt && fn == 3 && memcmp(u + 11, "jpg", 3) == 0)
        fmt = "jpeg";
    if (!fmt)
        return FAIL(c, param, "%s.image_url.url: Bedrock takes png, jpeg, gif or webp images",
                    param);
    if (!semi[8])
        return FAIL(c, param, "%s.image_url.url: the image data is empty", param);
    cJSON *b = PUSH(c, blocks, cJSON_CreateObject());
    cJSON *img = b ? ADD(c, b, "image", cJSON_CreateObject()) : NULL;
    cJSON *src = img && ADD(c, img, "format", cJSON_CreateString(fmt))
                     ? ADD(c, img, "source", cJSON_CreateObject())
                     : NULL;
    return src && ADD(c, src, "bytes", cJSON_CreateString(semi + 8)) ? 0 : GD_ENOMEM;
}

/* content (string or parts) -> content blocks; images only when allowed. */
static int content_blocks(struct gd_xl_ctx *c, const cJSON *content, const char *param, int images,
                          cJSON *blocks)
{
    char p[96];
    if (cJSON_IsString(content))
        return text_block(c, blocks, content->valuestring);
    if (!present(content))
        return 0;
    if (!cJSON_IsArray(content))
        return FAIL(c, param, "%s.content must be a string or an array of parts", param);
    int i = 0, rc = 0;
    for (const cJSON *part = content->child; part && rc == 0; part = part->next, i++) {
        snprintf(p, sizeof p, "%.60s.content[%d]", param, i);
        const cJSON *type = get(part, "type");
        const char *t = cJSON_IsString(type) ? type->valuestring : "";
        if (strcmp(t, "text") == 0) {
            const cJSON *text = get(part, "text");
            rc = cJSON_IsString(text) ? text_block(c, blocks, text->valuestring)
                                      : FAIL(c, p, "%s.text must be a string", p);
        } else if (strcmp(t, "image_url") == 0 && images) {
            rc = image_block(c, part, p, blocks);
        } else {
            rc = FAIL(c, p,
                      "%s: content part type '%.40s' is not supported by Bedrock "
                      "deployments%s",
                      p, t, images ? "" : " in this role");
        }
    }
    return rc;
}

/* The content of the last message when it has `role`, else of a new message of that role. */
static cJSON *turn(struct gd_xl_ctx *c, cJSON *msgs, const char *role)
{
    cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const cJSON *lr = last ? get(last, "role") : NULL;
    if (lr && strcmp(lr->valuestring, role) == 0)
        return cJSON_GetObjectItemCaseSensitive(last, "content");
    cJSON *m = PUSH(c, msgs, cJSON_CreateObject());
    if (!m || !ADD(c, m, "role", cJSON_CreateString(role)))
        return NULL;
    return ADD(c, m, "content", cJSON_CreateArray());
}

static int tool_use(struct gd_xl_ctx *c, const cJSON *tc, const char *p, cJSON *blocks)
{
    const cJSON *fn = get(tc, "function"), *id = get(tc, "id");
    const cJSON *name = get(fn, "name"), *args = get(fn, "arguments");
    if (!cJSON_IsString(id) || !cJSON_IsString(name) || !cJSON_IsString(args))
        return FAIL(c, p, "%s needs string id, function.name and function.arguments", p);
    cJSON *a = args->valuestring[0] ? cJSON_Parse(args->valuestring) : cJSON_CreateObject();
    if (!cJSON_IsObject(a)) {
        cJSON_Delete(a);
        return FAIL(c, p, "%s.function.arguments must be a JSON object", p);
    }
    cJSON *b = PUSH(c, blocks, cJSON_CreateObject());
    cJSON *u = b ? ADD(c, b, "toolUse", cJSON_CreateObject()) : NULL;
    if (!u) {
        cJSON_Delete(a);
        return GD_ENOMEM;
    }
    ADD(c, u, "toolUseId", cJSON_CreateString(id->valuestring));
    ADD(c, u, "name", cJSON_CreateString(name->valuestring));
    ADD(c, u, "input", a);
    return 0;
}

static int assistant_msg(struct gd_xl_ctx *c, const cJSON *m, const char *param, cJSON *msgs)
{
    char p[96];
    cJSON *blocks = turn(c, msgs, "assistant");
    if (!blocks)
        return GD_ENOMEM;
    int n0 = cJSON_GetArraySize(blocks);
    int rc = content_blocks(c, get(m, "content"), param, 0, blocks);
    const cJSON *calls = get(m, "tool_calls");
    if (rc == 0 && present(calls) && !cJSON_IsArray(calls))
        rc = FAIL(c, param, "%s.tool_calls must be an array", param);
    if (rc == 0 && cJSON_GetArraySize(calls) > MAX_CALLS)
        rc = FAIL(c, param, "%s: at most %d tool_calls per message", param, MAX_CALLS);
    int i = 0;
    for (const cJSON *tc = calls ? calls->child : NULL; tc && rc == 0; tc = tc->next, i++) {
        snprintf(p, sizeof p, "%.60s.tool_calls[%d]", param, i);
        rc = tool_use(c, tc, p, blocks);
    }
    if (rc == 0 && cJSON_GetArraySize(blocks) == n0)
        rc = FAIL(c, param, "%s: an assistant message needs content or tool_calls", param);
    return rc;
}

/* A tool message -> {"toolResult":{"toolUseId", "content":[{"text"}], "status":"success"}}
 * in a user turn. */
static int tool_msg(struct gd_xl_ctx *c, const cJSON *m, const char *param, cJSON *msgs)
{
    const cJSON *id = get(m, "tool_call_id");
    if (!cJSON_IsString(id) || !id->valuestring[0])
        return FAIL(c, param, "%s.tool_call_id must be a non-empty string", param);
    cJSON *inner = cJSON_CreateArray();
    if (!inner)
        return GD_ENOMEM;
    int rc = content_blocks(c, get(m, "content"), param, 0, inner);
    if (rc == 0 && cJSON_GetArraySize(inner) == 0)
        rc = text_block(c, inner, " "); /* an empty result: Converse wants one block */
    cJSON *blocks = rc == 0 ? turn(c, msgs, "user") : NULL;
    cJSON *b = blocks ? PUSH(c, blocks, cJSON_CreateObject()) : NULL;
    cJSON *tr = b ? ADD(c, b, "toolResult", cJSON_CreateObject()) : NULL;
    if (!tr) {
        cJSON_Delete(inner);
        return rc ? rc : GD_ENOMEM;
    }
    ADD(c, tr, "toolUseId", cJSON_CreateString(id->valuestring));
    ADD(c, tr, "content", inner);
    ADD(c, tr, "status", cJSON_CreateString("success"));
    return 0;
}

static int one_message(struct gd_xl_ctx *c, const cJSON *m, const char *p, cJSON *sys, cJSON *msgs)
{
    const cJSON *role = get(m, "role");
    const char *r = cJSON_IsString(role) ? role->valuestring : "";
    if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0) {
        if (cJSON_GetArraySize(msgs) > 0)
            return FAIL(c, p,
                        "%s: Bedrock deployments take system messages only before the first "
                        "user or assistant message",
                        p);
        return content_blocks(c, get(m, "content"), p, 0, sys);
    }
    if (strcmp(r, "user") == 0) {
        cJSON *blocks = turn(c, msgs, "user");
        return blocks ? content_blocks(c, get(m, "content"), p, 1, blocks) : GD_ENOMEM;
    }
    if (strcmp(r, "assistant") == 0) {
        if (cJSON_GetArraySize(msgs) == 0)
            return FAIL(c, p, "%s: Bedrock conversations must start with a user message", p);
        return assistant_msg(c, m, p, msgs);
    }
    if (strcmp(r, "tool") == 0)
        return tool_msg(c, m, p, msgs);
    return FAIL(c, p, "%s.role '%.32s' is not supported by Bedrock deployments", p, r);
}

static int messages(struct gd_xl_ctx *c, const cJSON *in, cJSON *req)
{
    char p[96];
    if (!cJSON_IsArray(in) || !in->child)
        return FAIL(c, "messages", "messages must be a non-empty array");
    cJSON *msgs = ADD(c, req, "messages", cJSON_CreateArray()), *sys = cJSON_CreateArray();
    if (!msgs || !sys) {
        cJSON_Delete(sys);
        return GD_ENOMEM;
    }
    int i = 0, rc = 0;
    for (const cJSON *m = in->child; m && rc == 0 && !c->oom; m = m->next, i++) {
        snprintf(p, sizeof p, "messages[%d]", i);
        rc = one_message(c, m, p, sys, msgs);
    }
    for (const cJSON *t = msgs->child; rc == 0 && t; t = t->next)
        if (cJSON_GetArraySize(get(t, "content")) == 0)
            rc = FAIL(c, "messages",
                      "messages: a turn with empty content cannot be sent to Bedrock "
                      "deployments");
    if (rc == 0 && cJSON_GetArraySize(msgs) == 0)
        rc = FAIL(c, "messages", "messages: Bedrock deployments need at least one user message");
    if (rc == 0 && cJSON_GetArraySize(sys) > 0)
        ADD(c, req, "system", sys);
    else
        cJSON_Delete(sys);
    return rc;
}

static int tools(struct gd_xl_ctx *c, const cJSON *in, cJSON *cfg)
{
    char p[64];
    if (!cJSON_IsArray(in))
        return FAIL(c, "tools", "tools must be an array");
    cJSON *arr = ADD(c, cfg, "tools", cJSON_CreateArray());
    int i = 0;
    for (const cJSON *t = in->child; t && arr; t = t->next, i++) {
        snprintf(p, sizeof p, "tools[%d]", i);
        const cJSON *type = get(t, "type"), *fn = get(t, "function"), *name = get(fn, "name");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "function") != 0 ||
            !cJSON_IsString(name) || !name->valuestring[0])
            return FAIL(c, p, "%s: expected {\"type\":\"function\",\"function\":{\"name\":...}}",
                        p);
        if (cJSON_IsTrue(get(fn, "strict")))
            return FAIL(c, p, "%s.function.strict is not supported by Bedrock deployments", p);
        const cJSON *desc = get(fn, "description"), *params = get(fn, "parameters");
        if (present(params) && !cJSON_IsObject(params))
            return FAIL(c, p, "%s.function.parameters must be an object", p);
        cJSON *o = PUSH(c, arr, cJSON_CreateObject());
        cJSON *spec = o ? ADD(c, o, "toolSpec", cJSON_CreateObject()) : NULL;
        if (!spec)
            return GD_ENOMEM;
        ADD(c, spec, "name", cJSON_CreateString(name->valuestring));
        if (cJSON_IsString(desc) && desc->valuestring[0])
            ADD(c, spec, "description", cJSON_CreateString(desc->valuestring));
        cJSON *schema = ADD(c, spec, "inputSchema", cJSON_CreateObject());
        cJSON *js = cJSON_IsObject(params) ? cJSON_Duplicate(params, 1)
                                           : cJSON_Parse("{\"type\":\"object\",\"properties\":{}}");
        if (!schema || !ADD(c, schema, "json", js))
            return GD_ENOMEM;
    }
    return 0;
}

static int tool_choice(struct gd_xl_ctx *c, const cJSON *tc, cJSON *cfg)
{
    const cJSON *name = NULL;
    const char *kind = NULL;
    if (cJSON_IsString(tc) && strcmp(tc->valuestring, "auto") == 0)
        kind = "auto";
    else if (cJSON_IsString(tc) && strcmp(tc->valuestring, "required") == 0)
        kind = "any";
    else if (cJSON_IsObject(tc) && cJSON_IsString(name = get(get(tc, "function"), "name")))
        kind = "tool";
    else if (cJSON_IsString(tc) && strcmp(tc->valuestring, "none") == 0)
        return FAIL(c, "tool_choice",
                    "tool_choice: none is not supported by Bedrock deployments (Converse has "
                    "auto, any and a named tool); leave the tools out instead");
    else
        return FAIL(c, "tool_choice",
                    "tool_choice must be auto, required or "
                    "{\"type\":\"function\",\"function\":{\"name\":...}}");
    if (!cfg)
        return FAIL(c, "tool_choice", "tool_choice needs tools");
    cJSON *ch = ADD(c, cfg, "toolChoice", cJSON_CreateObject());
    cJSON *k = ch ? ADD(c, ch, kind, cJSON_CreateObject()) : NULL;
    if (k && name)
        ADD(c, k, "name", cJSON_CreateString(name->valuestring));
    return k ? 0 : GD_ENOMEM;
}

static const char *const handled[] = {
    "model",  "messages", "max_tokens",  "max_completion_tokens", "stop", "temperature", "top_p",
    "stream", "tools",    "tool_choice", "stream_options",        "user", NULL};
static const char *const droppable[] = {"n",
                                        "logprobs",
                                        "top_logprobs",
                                        "logit_bias",
                                        "store",
                                        "metadata",
                                        "service_tier",
                                        "functions",
                                        "function_call",
                                        "modalities",
                                        "audio",
                                        "prediction",
                                        "reasoning_effort",
                                        "web_search_options",
                                        "seed",
                                        "presence_penalty",
                                        "frequency_penalty",
                                        "response_format",
                                        NULL};

static int check_keys(struct gd_xl_ctx *c, const cJSON *in)
{
    for (const cJSON *e = in->child; e; e = e->next) {
        if (gd_xl_in_list(handled, e->string))
            continue;
        if (strcmp(e->string, "parallel_tool_calls") == 0 && (cJSON_IsTrue(e) || cJSON_IsNull(e)))
            continue; /* Converse may answer several tool uses at once: what true asks for */
        if (strcmp(e->string, "parallel_tool_calls") == 0)
            return FAIL(c, e->string,
                        "parallel_tool_calls: false is not supported by Bedrock deployments "
                        "(they may answer several tool uses at once)");
        if (gd_xl_in_list(droppable, e->string) && gd_xl_is_default(e->string, e))
            continue;
        if (gd_xl_in_list(droppable, e->string))
            return FAIL(c, e->string,
                        "%s is not supported by Bedrock deployments (Converse has no "
                        "equivalent)",
                        e->string);
        return FAIL(c, e->string, "Unrecognized request argument supplied: %.64s", e->string);
    }
    return 0;
}

static int inference(struct gd_xl_ctx *c, const cJSON *in, cJSON *req)
{
    cJSON *inf = cJSON_CreateObject();
    if (!inf)
        return GD_ENOMEM;
    const char *mt =
        present(get(in, "max_completion_tokens")) ? "max_completion_tokens" : "max_tokens";
    int rc = gd_xl_number(c, get(in, mt), mt, 1, 1e9, 1, "Bedrock", inf, "maxTokens");
    rc = rc ? rc
            : gd_xl_number(c, get(in, "temperature"), "temperature", 0, 1, 0, "Bedrock", inf,
                           "temperature");
    rc = rc ? rc : gd_xl_number(c, get(in, "top_p"), "top_p", 0, 1, 0, "Bedrock", inf, "topP");
    rc = rc ? rc : gd_xl_stop(c, get(in, "stop"), MAX_STOP, 1, "Bedrock", inf, "stopSequences");
    if (rc == 0 && inf->child)
        ADD(c, req, "inferenceConfig", inf);
    else
        cJSON_Delete(inf);
    return rc;
}

static int translate(struct gd_xl_ctx *c, const cJSON *in, const char *model, cJSON *req)
{
    (void)model; /* named in the URL */
    if (!cJSON_IsObject(in))
        return FAIL(c, NULL, "the request body must be a JSON object");
    int rc = check_keys(c, in);
    rc = rc ? rc : messages(c, get(in, "messages"), req);
    const cJSON *t = get(in, "tools"), *tc = get(in, "tool_choice");
    cJSON *cfg = NULL;
    if (rc == 0 && present(t) && !(cJSON_IsArray(t) && !t->child)) {
        cfg = ADD(c, req, "toolConfig", cJSON_CreateObject());
        rc = cfg ? tools(c, t, cfg) : GD_ENOMEM;
    }
    if (rc == 0 && present(tc))
        rc = tool_choice(c, tc, cfg);
    return rc ? rc : inference(c, in, req);
}

int gd_xl_bedrock_request(const char *body, size_t len, const char *model, struct gd_buf *out,
                          struct gd_xl_err *err)
{
    return gd_xl_translate(body, len, model, translate, out, err);
}
