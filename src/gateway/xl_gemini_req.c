/* OpenAI chat request -> Gemini GenerateContentRequest (see xl_gemini.h).
 *
 * system/developer messages before the first turn become systemInstruction; user turns
 * become role "user" contents, assistant turns role "model" (consecutive turns of one role
 * are merged); image parts with data: URLs become inlineData; assistant tool_calls become
 * functionCall parts and `tool` messages functionResponse parts of a user turn, named after
 * the call their tool_call_id answers. Sampling parameters go to generationConfig. Every
 * top-level key is translated, accepted as a no-op value, or refused with a 400 naming it. */
#include "gateway/xl_gemini.h"
#include "girder/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { MAX_STOP = 5, MAX_MIME = 64, MAX_CALLS = 128 };

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

static cJSON *text_part(struct gd_xl_ctx *c, const char *text)
{
    cJSON *p = cJSON_CreateObject();
    if (!p) {
        c->oom = 1;
        return NULL;
    }
    ADD(c, p, "text", cJSON_CreateString(text));
    return p;
}

/* data:<mime>;base64,<data> -> {"inlineData":{"mimeType":..,"data":..}} */
static int image_part(struct gd_xl_ctx *c, const cJSON *part, const char *param, cJSON *parts)
{
    const cJSON *iu = get(part, "image_url");
    const cJSON *url = cJSON_IsObject(iu) ? get(iu, "url") : iu;
    if (!cJSON_IsString(url))
        return FAIL(c, param, "%s.image_url.url must be a string", param);
    const char *u = url->valuestring;
    if (strncmp(u, "data:", 5) != 0)
        return FAIL(c, param,
                    "%s.image_url.url: Gemini deployments take images as data: URLs only "
                    "(data:<media type>;base64,<data>)",
                    param);
    const char *semi = strstr(u, ";base64,");
    size_t tn = semi ? (size_t)(semi - (u + 5)) : 0;
    char mt[MAX_MIME];
    if (!semi || tn == 0 || tn >= sizeof mt || memchr(u + 5, ',', tn))
        return FAIL(c, param, "%s.image_url.url: expected data:<media type>;base64,<data>", param);
    memcpy(mt, u + 5, tn);
    mt[tn] = '\0';
    cJSON *p = PUSH(c, parts, cJSON_CreateObject());
    cJSON *d = p ? ADD(c, p, "inlineData", cJSON_CreateObject()) : NULL;
    if (!d)
        return GD_ENOMEM;
    ADD(c, d, "mimeType", cJSON_CreateString(mt));
    ADD(c, d, "data", cJSON_CreateString(semi + 8));
    return 0;
}

/* content (string or parts) -> parts appended to `parts`; images only when allowed. */
static int content_parts(struct gd_xl_ctx *c, const cJSON *content, const char *param, int images,
                         cJSON *parts)
{
    char p[96];
    if (cJSON_IsString(content)) {
        if (content->valuestring[0])
            PUSH(c, parts, text_part(c, content->valuestring));
        return 0;
    }
    if (!present(content))
        return 0;
    if (!cJSON_IsArray(content))
        return FAIL(c, param, "%s.content must be a string or an array of parts", param);
    int i = 0;
    for (const cJSON *part = content->child; part; part = part->next, i++) {
        snprintf(p, sizeof p, "%.60s.content[%d]", param, i);
        const cJSON *type = get(part, "type");
        const char *t = cJSON_IsString(type) ? type->valuestring : "";
        if (strcmp(t, "text") == 0) {
            const cJSON *text = get(part, "text");
            if (!cJSON_IsString(text))
                return FAIL(c, p, "%s.text must be a string", p);
            PUSH(c, parts, text_part(c, text->valuestring));
        } else if (strcmp(t, "image_url") == 0 && images) {
            int rc = image_part(c, part, p, parts);
            if (rc)
                return rc;
        } else {
            return FAIL(c, p,
                        "%s: content part type '%.40s' is not supported by Gemini deployments%s", p,
                        t, images ? "" : " in this role");
        }
    }
    return 0;
}

/* The parts of the last content when it has `role`, else of a new content of that role. */
static cJSON *turn(struct gd_xl_ctx *c, cJSON *contents, const char *role)
{
    cJSON *last = cJSON_GetArrayItem(contents, cJSON_GetArraySize(contents) - 1);
    const cJSON *lr = last ? get(last, "role") : NULL;
    if (lr && strcmp(lr->valuestring, role) == 0)
        return cJSON_GetObjectItemCaseSensitive(last, "parts");
    cJSON *m = PUSH(c, contents, cJSON_CreateObject());
    if (!m || !ADD(c, m, "role", cJSON_CreateString(role)))
        return NULL;
    return ADD(c, m, "parts", cJSON_CreateArray());
}

static int assistant_msg(struct gd_xl_ctx *c, const cJSON *m, const char *param, cJSON *contents)
{
    char p[96];
    cJSON *parts = turn(c, contents, "model");
    if (!parts)
        return GD_ENOMEM;
    int n0 = cJSON_GetArraySize(parts);
    int rc = content_parts(c, get(m, "content"), param, 0, parts);
    if (rc)
        return rc;
    const cJSON *calls = get(m, "tool_calls");
    if (present(calls) && !cJSON_IsArray(calls))
        return FAIL(c, param, "%s.tool_calls must be an array", param);
    if (cJSON_GetArraySize(calls) > MAX_CALLS)
        return FAIL(c, param, "%s: at most %d tool_calls per message", param, MAX_CALLS);
    int i = 0;
    for (const cJSON *tc = calls ? calls->child : NULL; tc; tc = tc->next, i++) {
        snprintf(p, sizeof p, "%.60s.tool_calls[%d]", param, i);
        const cJSON *fn = get(tc, "function");
        const cJSON *name = get(fn, "name");
        const cJSON *args = get(fn, "arguments");
        if (!cJSON_IsString(get(tc, "id")) || !cJSON_IsString(name) || !cJSON_IsString(args))
            return FAIL(c, p, "%s needs string id, function.name and function.arguments", p);
        cJSON *a = args->valuestring[0] ? cJSON_Parse(args->valuestring) : cJSON_CreateObject();
        if (!cJSON_IsObject(a)) {
            cJSON_Delete(a);
            return FAIL(c, p, "%s.function.arguments must be a JSON object", p);
        }
        cJSON *part = PUSH(c, parts, cJSON_CreateObject());
        cJSON *call = part ? ADD(c, part, "functionCall", cJSON_CreateObject()) : NULL;
        if (!call) {
            cJSON_Delete(a);
            return GD_ENOMEM;
        }
        ADD(c, call, "name", cJSON_CreateString(name->valuestring));
        ADD(c, call, "args", a);
    }
    if (cJSON_GetArraySize(parts) == n0)
        return FAIL(c, param, "%s: an assistant message needs content or tool_calls", param);
    return 0;
}

/* The function name of the tool call `id` among `calls` (the tool_calls of the last
 * assistant message that had some: Gemini takes function responses only right after the
 * calling turn), or NULL. At most MAX_CALLS compares. */
static const char *call_name(const cJSON *calls, const char *id)
{
    for (const cJSON *tc = calls ? calls->child : NULL; tc; tc = tc->next) {
        const cJSON *tid = get(tc, "id");
        const cJSON *name = get(get(tc, "function"), "name");
        if (cJSON_IsString(tid) && cJSON_IsString(name) && strcmp(tid->valuestring, id) == 0)
            return name->valuestring;
    }
    return NULL;
}

/* A tool message -> functionResponse{name, response}: content that is a JSON object goes as
 * is, any other text as {"content": text}. */
static int tool_msg(struct gd_xl_ctx *c, const cJSON *calls, const cJSON *m, const char *param,
                    cJSON *contents)
{
    const cJSON *id = get(m, "tool_call_id");
    if (!cJSON_IsString(id))
        return FAIL(c, param, "%s.tool_call_id must be a string", param);
    const char *name = call_name(calls, id->valuestring);
    if (!name)
        return FAIL(c, param,
                    "%s.tool_call_id '%.64s' names no tool call of the last assistant message "
                    "with tool_calls",
                    param, id->valuestring);
    const cJSON *content = get(m, "content");
    struct gd_buf text;
    gd_buf_init(&text, 64u << 20);
    int rc = 0;
    if (cJSON_IsString(content))
        rc = gd_buf_puts(&text, content->valuestring);
    else if (cJSON_IsArray(content))
        for (const cJSON *p = content->child; p && rc == 0; p = p->next) {
            const cJSON *t = get(p, "text");
            if (!cJSON_IsString(get(p, "type")) || strcmp(get(p, "type")->valuestring, "text") ||
                !cJSON_IsString(t))
                rc = FAIL(c, param, "%s.content: tool results must be text", param);
            else
                rc = gd_buf_puts(&text, t->valuestring);
        }
    else if (present(content))
        rc = FAIL(c, param, "%s.content must be a string or text parts", param);
    cJSON *resp = NULL;
    if (rc == 0) {
        resp = text.len ? cJSON_ParseWithLength(text.data, text.len) : NULL;
        if (!cJSON_IsObject(resp)) {
            cJSON_Delete(resp);
            resp = cJSON_CreateObject();
            if (resp)
                ADD(c, resp, "content", cJSON_CreateString(text.data ? text.data : ""));
        }
    }
    gd_buf_free(&text);
    if (rc)
        return rc;
    if (!resp)
        return GD_ENOMEM;
    cJSON *parts = turn(c, contents, "user");
    cJSON *part = parts ? PUSH(c, parts, cJSON_CreateObject()) : NULL;
    cJSON *fr = part ? ADD(c, part, "functionResponse", cJSON_CreateObject()) : NULL;
    if (!fr) {
        cJSON_Delete(resp);
        return GD_ENOMEM;
    }
    ADD(c, fr, "name", cJSON_CreateString(name));
    ADD(c, fr, "response", resp);
    return 0;
}

static int messages(struct gd_xl_ctx *c, const cJSON *in, cJSON *req)
{
    char p[96];
    if (!cJSON_IsArray(in) || !in->child)
        return FAIL(c, "messages", "messages must be a non-empty array");
    cJSON *sys = cJSON_CreateArray(), *contents = ADD(c, req, "contents", cJSON_CreateArray());
    if (!sys || !contents) {
        cJSON_Delete(sys);
        return GD_ENOMEM;
    }
    int i = 0, rc = 0;
    const cJSON *calls = NULL; /* tool_calls of the last assistant message with some */
    for (const cJSON *m = in->child; m && rc == 0 && !c->oom; m = m->next, i++) {
        snprintf(p, sizeof p, "messages[%d]", i);
        const cJSON *role = get(m, "role");
        const char *r = cJSON_IsString(role) ? role->valuestring : "";
        if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0) {
            if (cJSON_GetArraySize(contents) > 0)
                rc = FAIL(c, p,
                          "%s: Gemini deployments take system messages only before the first "
                          "user or assistant message",
                          p);
            else
                rc = content_parts(c, get(m, "content"), p, 0, sys);
        } else if (strcmp(r, "user") == 0) {
            cJSON *parts = turn(c, contents, "user");
            rc = parts ? content_parts(c, get(m, "content"), p, 1, parts) : GD_ENOMEM;
        } else if (strcmp(r, "assistant") == 0) {
            rc = assistant_msg(c, m, p, contents);
            const cJSON *tc = get(m, "tool_calls");
            if (cJSON_IsArray(tc) && tc->child)
                calls = tc;
        } else if (strcmp(r, "tool") == 0) {
            rc = tool_msg(c, calls, m, p, contents);
        } else {
            rc = FAIL(c, p, "%s.role '%.32s' is not supported by Gemini deployments", p, r);
        }
    }
    /* a turn whose text was all empty strings has no parts: Gemini refuses those */
    for (const cJSON *t = contents->child; rc == 0 && t; t = t->next)
        if (cJSON_GetArraySize(get(t, "parts")) == 0)
            rc = FAIL(c, "messages",
                      "messages: a turn with empty content cannot be sent to "
                      "Gemini deployments");
    if (rc == 0 && cJSON_GetArraySize(contents) == 0)
        rc = FAIL(c, "messages",
                  "messages: Gemini deployments need at least one user or "
                  "assistant message");
    if (rc == 0 && cJSON_GetArraySize(sys) > 0) {
        cJSON *si = ADD(c, req, "systemInstruction", cJSON_CreateObject());
        if (si)
            ADD(c, si, "parts", sys);
        else
            cJSON_Delete(sys);
    } else {
        cJSON_Delete(sys);
    }
    return rc;
}

static int tools(struct gd_xl_ctx *c, const cJSON *in, cJSON *req)
{
    char p[64];
    if (!cJSON_IsArray(in))
        return FAIL(c, "tools", "tools must be an array");
    if (!in->child)
        return 0;
    cJSON *t0 = PUSH(c, ADD(c, req, "tools", cJSON_CreateArray()), cJSON_CreateObject());
    cJSON *decls = t0 ? ADD(c, t0, "functionDeclarations", cJSON_CreateArray()) : NULL;
    int i = 0;
    for (const cJSON *t = in->child; t && decls; t = t->next, i++) {
        snprintf(p, sizeof p, "tools[%d]", i);
        const cJSON *type = get(t, "type"), *fn = get(t, "function"), *name = get(fn, "name");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "function") != 0 ||
            !cJSON_IsString(name))
            return FAIL(c, p, "%s: expected {\"type\":\"function\",\"function\":{\"name\":...}}",
                        p);
        if (cJSON_IsTrue(get(fn, "strict")))
            return FAIL(c, p, "%s.function.strict is not supported by Gemini deployments", p);
        const cJSON *desc = get(fn, "description"), *params = get(fn, "parameters");
        if (present(params) && !cJSON_IsObject(params))
            return FAIL(c, p, "%s.function.parameters must be an object", p);
        cJSON *o = PUSH(c, decls, cJSON_CreateObject());
        if (!o)
            return GD_ENOMEM;
        ADD(c, o, "name", cJSON_CreateString(name->valuestring));
        if (cJSON_IsString(desc))
            ADD(c, o, "description", cJSON_CreateString(desc->valuestring));
        /* an object schema without properties is an error for Gemini: leave it out */
        if (cJSON_IsObject(params) && cJSON_GetArraySize(get(params, "properties")) > 0)
            ADD(c, o, "parameters", cJSON_Duplicate(params, 1));
    }
    return 0;
}

static int tool_choice(struct gd_xl_ctx *c, const cJSON *tc, cJSON *req)
{
    const char *mode = NULL;
    const cJSON *name = NULL;
    if (cJSON_IsString(tc) && strcmp(tc->valuestring, "none") == 0)
        mode = "NONE";
    else if (cJSON_IsString(tc) && strcmp(tc->valuestring, "auto") == 0)
        mode = "AUTO";
    else if (cJSON_IsString(tc) && strcmp(tc->valuestring, "required") == 0)
        mode = "ANY";
    else if (cJSON_IsObject(tc) && cJSON_IsString(name = get(get(tc, "function"), "name")))
        mode = "ANY";
    else
        return FAIL(c, "tool_choice",
                    "tool_choice must be none, auto, required or "
                    "{\"type\":\"function\",\"function\":{\"name\":...}}");
    cJSON *cfg = ADD(c, req, "toolConfig", cJSON_CreateObject());
    cJSON *fc = cfg ? ADD(c, cfg, "functionCallingConfig", cJSON_CreateObject()) : NULL;
    if (!fc)
        return GD_ENOMEM;
    ADD(c, fc, "mode", cJSON_CreateString(mode));
    if (name)
        PUSH(c, ADD(c, fc, "allowedFunctionNames", cJSON_CreateArray()),
             cJSON_CreateString(name->valuestring));
    return 0;
}

static int response_format(struct gd_xl_ctx *c, const cJSON *rf, cJSON *gen)
{
    const cJSON *t = get(rf, "type");
    if (!present(rf) || (cJSON_IsString(t) && strcmp(t->valuestring, "text") == 0))
        return 0;
    if (cJSON_IsString(t) && strcmp(t->valuestring, "json_object") == 0) {
        ADD(c, gen, "responseMimeType", cJSON_CreateString("application/json"));
        return 0;
    }
    return FAIL(c, "response_format",
                "response_format must be {\"type\":\"text\"} or "
                "{\"type\":\"json_object\"} for Gemini deployments");
}

static const char *const handled[] = {
    "model",       "messages", "max_tokens",       "max_completion_tokens", "stop",
    "temperature", "top_p",    "stream",           "stream_options",        "tools",
    "tool_choice", "seed",     "presence_penalty", "frequency_penalty",     "response_format",
    "user",        NULL};
static const char *const droppable[] = {
    "n",        "logprobs",     "top_logprobs",     "logit_bias",         "store",
    "metadata", "service_tier", "functions",        "function_call",      "modalities",
    "audio",    "prediction",   "reasoning_effort", "web_search_options", "parallel_tool_calls",
    NULL};

static int check_keys(struct gd_xl_ctx *c, const cJSON *in)
{
    for (const cJSON *e = in->child; e; e = e->next) {
        if (gd_xl_in_list(handled, e->string))
            continue;
        if (strcmp(e->string, "parallel_tool_calls") == 0 && (cJSON_IsTrue(e) || cJSON_IsNull(e)))
            continue; /* Gemini may answer several calls at once: what true asks for */
        if (strcmp(e->string, "parallel_tool_calls") == 0)
            return FAIL(c, e->string,
                        "parallel_tool_calls: false is not supported by Gemini deployments "
                        "(they may answer several function calls at once)");
        if (gd_xl_in_list(droppable, e->string) && gd_xl_is_default(e->string, e))
            continue;
        if (gd_xl_in_list(droppable, e->string))
            return FAIL(c, e->string,
                        "%s is not supported by Gemini deployments (generateContent has no "
                        "equivalent)",
                        e->string);
        return FAIL(c, e->string, "Unrecognized request argument supplied: %.64s", e->string);
    }
    return 0;
}

static int max_tokens(struct gd_xl_ctx *c, const cJSON *in, cJSON *gen)
{
    const char *key = "max_completion_tokens";
    if (!present(get(in, key)))
        key = "max_tokens";
    return gd_xl_number(c, get(in, key), key, 1, 1e9, 1, "Gemini", gen, "maxOutputTokens");
}

static int translate(struct gd_xl_ctx *c, const cJSON *in, const char *model, cJSON *req)
{
    (void)model; /* named in the URL */
    if (!cJSON_IsObject(in))
        return FAIL(c, NULL, "the request body must be a JSON object");
    int rc = check_keys(c, in);
    rc = rc ? rc : messages(c, get(in, "messages"), req);
    const cJSON *t = get(in, "tools"), *tc = get(in, "tool_choice");
    if (rc == 0 && present(t))
        rc = tools(c, t, req);
    if (rc == 0 && present(tc))
        rc = tool_choice(c, tc, req);
    cJSON *gen = cJSON_CreateObject();
    if (!gen)
        return GD_ENOMEM;
    rc = rc ? rc : gd_xl_stop(c, get(in, "stop"), MAX_STOP, 0, "Gemini", gen, "stopSequences");
    rc = rc ? rc
            : gd_xl_number(c, get(in, "temperature"), "temperature", 0, 2, 0, "Gemini", gen,
                           "temperature");
    rc = rc ? rc : gd_xl_number(c, get(in, "top_p"), "top_p", 0, 1, 0, "Gemini", gen, "topP");
    rc = rc ? rc : max_tokens(c, in, gen);
    rc = rc ? rc
            : gd_xl_number(c, get(in, "seed"), "seed", -2147483648.0, 2147483647.0, 1, "Gemini",
                           gen, "seed");
    rc = rc ? rc
            : gd_xl_number(c, get(in, "presence_penalty"), "presence_penalty", -2, 2, 0, "Gemini",
                           gen, "presencePenalty");
    rc = rc ? rc
            : gd_xl_number(c, get(in, "frequency_penalty"), "frequency_penalty", -2, 2, 0, "Gemini",
                           gen, "frequencyPenalty");
    rc = rc ? rc : response_format(c, get(in, "response_format"), gen);
    if (rc == 0 && gen->child)
        ADD(c, req, "generationConfig", gen);
    else
        cJSON_Delete(gen);
    return rc;
}

int gd_xl_gem_request(const char *body, size_t len, const char *model, struct gd_buf *out,
                      struct gd_xl_err *err)
{
    return gd_xl_translate(body, len, model, translate, out, err);
}
