/* OpenAI chat request -> Anthropic Messages request (see xl_anthropic.h).
 *
 * Leading system/developer messages become `system`; user and assistant turns become
 * messages (consecutive turns of the same role are merged, as the Messages API wants
 * strictly alternating roles); assistant tool_calls become tool_use blocks and `tool`
 * messages become tool_result blocks of a user turn; image parts become base64 or url
 * image sources. Every top-level key is either translated, accepted as a no-op value, or
 * refused with a 400 that names it. */
#include "gateway/xl_anthropic.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { MAX_STOP = 16, MAX_MEDIA_TYPE = 64 };

/* Appends the image part's source: data:<type>;base64,<data> or an http(s) URL. */
static int image_block(struct gd_xl_ctx *c, const cJSON *part, const char *param, cJSON *blocks)
{
    const cJSON *iu = cJSON_GetObjectItemCaseSensitive(part, "image_url");
    const cJSON *url = cJSON_IsObject(iu) ? cJSON_GetObjectItemCaseSensitive(iu, "url") : iu;
    if (!cJSON_IsString(url))
        return gd_xl_fail(c, param, "%s.image_url.url must be a string", param);
    const char *u = url->valuestring;
    cJSON *b = gd_xl_push(c, blocks, cJSON_CreateObject());
    cJSON *src = b ? gd_xl_add(c, b, "type", cJSON_CreateString("image")) : NULL;
    src = src ? gd_xl_add(c, b, "source", cJSON_CreateObject()) : NULL;
    if (!src)
        return GD_ENOMEM;
    if (strncmp(u, "data:", 5) == 0) {
        const char *semi = strstr(u, ";base64,");
        size_t tn = semi ? (size_t)(semi - (u + 5)) : 0;
        char mt[MAX_MEDIA_TYPE];
        if (!semi || tn == 0 || tn >= sizeof mt || memchr(u + 5, ',', tn))
            return gd_xl_fail(c, param,
                              "%s.image_url.url: expected data:<media type>;base64,<data>", param);
        memcpy(mt, u + 5, tn);
        mt[tn] = '\0';
        gd_xl_add(c, src, "type", cJSON_CreateString("base64"));
        gd_xl_add(c, src, "media_type", cJSON_CreateString(mt));
        gd_xl_add(c, src, "data", cJSON_CreateString(semi + 8));
        return 0;
    }
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        return gd_xl_fail(c, param, "%s.image_url.url: expected an http(s) or data: URL", param);
    gd_xl_add(c, src, "type", cJSON_CreateString("url"));
    gd_xl_add(c, src, "url", cJSON_CreateString(u));
    return 0;
}

/* content (string or parts) -> blocks appended to `blocks`; images only when allowed. */
static int content_blocks(struct gd_xl_ctx *c, const cJSON *content, const char *param, int images,
                          cJSON *blocks)
{
    char p[96];
    if (cJSON_IsString(content)) {
        if (content->valuestring[0])
            gd_xl_push(c, blocks, gd_xl_text(c, content->valuestring));
        return 0;
    }
    if (cJSON_IsNull(content) || !content)
        return 0;
    if (!cJSON_IsArray(content))
        return gd_xl_fail(c, param, "%s.content must be a string or an array of parts", param);
    int i = 0;
    for (const cJSON *part = content->child; part; part = part->next, i++) {
        snprintf(p, sizeof p, "%.60s.content[%d]", param, i);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const char *t = cJSON_IsString(type) ? type->valuestring : "";
        if (strcmp(t, "text") == 0) {
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
            if (!cJSON_IsString(text))
                return gd_xl_fail(c, p, "%s.text must be a string", p);
            gd_xl_push(c, blocks, gd_xl_text(c, text->valuestring));
        } else if (strcmp(t, "image_url") == 0 && images) {
            int rc = image_block(c, part, p, blocks);
            if (rc)
                return rc;
        } else {
            return gd_xl_fail(c, p,
                              "%s: content part type '%.40s' is not supported by Anthropic "
                              "deployments%s",
                              p, t, images ? "" : " in this role");
        }
    }
    return 0;
}

/* The last message when it has `role`, else a new message of that role (its content an
 * array), appended to msgs. */
static cJSON *turn(struct gd_xl_ctx *c, cJSON *msgs, const char *role)
{
    cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const cJSON *lr = last ? cJSON_GetObjectItemCaseSensitive(last, "role") : NULL;
    if (lr && strcmp(lr->valuestring, role) == 0)
        return cJSON_GetObjectItemCaseSensitive(last, "content");
    cJSON *m = gd_xl_push(c, msgs, cJSON_CreateObject());
    if (!m || !gd_xl_add(c, m, "role", cJSON_CreateString(role)))
        return NULL;
    return gd_xl_add(c, m, "content", cJSON_CreateArray());
}

static int assistant_msg(struct gd_xl_ctx *c, const cJSON *m, const char *param, cJSON *msgs)
{
    char p[96];
    cJSON *blocks = turn(c, msgs, "assistant");
    if (!blocks)
        return GD_ENOMEM;
    int rc = content_blocks(c, cJSON_GetObjectItemCaseSensitive(m, "content"), param, 0, blocks);
    if (rc)
        return rc;
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
    if (calls && !cJSON_IsNull(calls) && !cJSON_IsArray(calls))
        return gd_xl_fail(c, param, "%s.tool_calls must be an array", param);
    int i = 0;
    for (const cJSON *tc = calls ? calls->child : NULL; tc; tc = tc->next, i++) {
        snprintf(p, sizeof p, "%.60s.tool_calls[%d]", param, i);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        if (!cJSON_IsString(id) || !cJSON_IsString(name) || !cJSON_IsString(args))
            return gd_xl_fail(c, p, "%s needs string id, function.name and function.arguments", p);
        cJSON *input = args->valuestring[0] ? cJSON_Parse(args->valuestring) : cJSON_CreateObject();
        if (!cJSON_IsObject(input)) {
            cJSON_Delete(input);
            return gd_xl_fail(c, p, "%s.function.arguments must be a JSON object", p);
        }
        cJSON *b = gd_xl_push(c, blocks, cJSON_CreateObject());
        if (!b) {
            cJSON_Delete(input);
            return GD_ENOMEM;
        }
        gd_xl_add(c, b, "type", cJSON_CreateString("tool_use"));
        gd_xl_add(c, b, "id", cJSON_CreateString(id->valuestring));
        gd_xl_add(c, b, "name", cJSON_CreateString(name->valuestring));
        gd_xl_add(c, b, "input", input);
    }
    if (cJSON_GetArraySize(blocks) == 0)
        return gd_xl_fail(c, param, "%s: an assistant message needs content or tool_calls", param);
    return 0;
}

static int tool_msg(struct gd_xl_ctx *c, const cJSON *m, const char *param, cJSON *msgs)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id");
    if (!cJSON_IsString(id))
        return gd_xl_fail(c, param, "%s.tool_call_id must be a string", param);
    cJSON *blocks = turn(c, msgs, "user");
    cJSON *b = blocks ? gd_xl_push(c, blocks, cJSON_CreateObject()) : NULL;
    cJSON *inner = b ? cJSON_CreateArray() : NULL;
    if (!inner)
        return GD_ENOMEM;
    gd_xl_add(c, b, "type", cJSON_CreateString("tool_result"));
    gd_xl_add(c, b, "tool_use_id", cJSON_CreateString(id->valuestring));
    gd_xl_add(c, b, "content", inner);
    return content_blocks(c, cJSON_GetObjectItemCaseSensitive(m, "content"), param, 0, inner);
}

static int messages(struct gd_xl_ctx *c, const cJSON *in, cJSON *req)
{
    char p[96];
    if (!cJSON_IsArray(in) || !in->child)
        return gd_xl_fail(c, "messages", "messages must be a non-empty array");
    cJSON *sys = cJSON_CreateArray(), *msgs = gd_xl_add(c, req, "messages", cJSON_CreateArray());
    if (!sys || !msgs) {
        cJSON_Delete(sys);
        return GD_ENOMEM;
    }
    int i = 0, rc = 0;
    for (const cJSON *m = in->child; m && rc == 0 && !c->oom; m = m->next, i++) {
        snprintf(p, sizeof p, "messages[%d]", i);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const char *r = cJSON_IsString(role) ? role->valuestring : "";
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0) {
            if (cJSON_GetArraySize(msgs) > 0)
                rc = gd_xl_fail(c, p,
                                "%s: Anthropic deployments take system messages only before the "
                                "first user or assistant message",
                                p);
            else
                rc = content_blocks(c, content, p, 0, sys);
        } else if (strcmp(r, "user") == 0) {
            cJSON *blocks = turn(c, msgs, "user");
            rc = blocks ? content_blocks(c, content, p, 1, blocks) : GD_ENOMEM;
        } else if (strcmp(r, "assistant") == 0) {
            rc = assistant_msg(c, m, p, msgs);
        } else if (strcmp(r, "tool") == 0) {
            rc = tool_msg(c, m, p, msgs);
        } else {
            rc =
                gd_xl_fail(c, p, "%s.role '%.32s' is not supported by Anthropic deployments", p, r);
        }
    }
    if (rc == 0 && cJSON_GetArraySize(sys) > 0)
        gd_xl_add(c, req, "system", sys);
    else
        cJSON_Delete(sys);
    return rc;
}

static int tools(struct gd_xl_ctx *c, const cJSON *in, cJSON *req)
{
    char p[64];
    if (!cJSON_IsArray(in))
        return gd_xl_fail(c, "tools", "tools must be an array");
    cJSON *out = gd_xl_add(c, req, "tools", cJSON_CreateArray());
    int i = 0;
    for (const cJSON *t = in->child; t && out; t = t->next, i++) {
        snprintf(p, sizeof p, "tools[%d]", i);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "function") != 0 ||
            !cJSON_IsString(name))
            return gd_xl_fail(
                c, p, "%s: expected {\"type\":\"function\",\"function\":{\"name\":...}}", p);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fn, "strict")))
            return gd_xl_fail(c, p, "%s.function.strict is not supported by Anthropic deployments",
                              p);
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(fn, "description");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        cJSON *o = gd_xl_push(c, out, cJSON_CreateObject());
        if (!o)
            return GD_ENOMEM;
        gd_xl_add(c, o, "name", cJSON_CreateString(name->valuestring));
        if (cJSON_IsString(desc))
            gd_xl_add(c, o, "description", cJSON_CreateString(desc->valuestring));
        if (cJSON_IsObject(params))
            gd_xl_add(c, o, "input_schema", cJSON_Duplicate(params, 1));
        else if (!params || cJSON_IsNull(params))
            gd_xl_add(c, o, "input_schema", cJSON_Parse("{\"type\":\"object\",\"properties\":{}}"));
        else
            return gd_xl_fail(c, p, "%s.function.parameters must be an object", p);
    }
    return 0;
}

static int tool_choice(struct gd_xl_ctx *c, const cJSON *tc, const cJSON *parallel, cJSON *req)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return GD_ENOMEM;
    const char *type = "auto";
    const cJSON *name = NULL;
    if (cJSON_IsString(tc) && strcmp(tc->valuestring, "none") == 0)
        type = "none";
    else if (cJSON_IsString(tc) && strcmp(tc->valuestring, "required") == 0)
        type = "any";
    else if (cJSON_IsObject(tc)) {
        name = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tc, "function"),
                                                "name");
        if (!cJSON_IsString(name)) {
            cJSON_Delete(o);
            return gd_xl_fail(c, "tool_choice",
                              "tool_choice: expected {\"type\":\"function\","
                              "\"function\":{\"name\":...}}");
        }
        type = "tool";
    } else if (tc && !cJSON_IsNull(tc) &&
               !(cJSON_IsString(tc) && strcmp(tc->valuestring, "auto") == 0)) {
        cJSON_Delete(o);
        return gd_xl_fail(c, "tool_choice",
                          "tool_choice must be none, auto, required or a function");
    }
    gd_xl_add(c, o, "type", cJSON_CreateString(type));
    if (name)
        gd_xl_add(c, o, "name", cJSON_CreateString(name->valuestring));
    if (cJSON_IsFalse(parallel) && strcmp(type, "none") != 0)
        gd_xl_add(c, o, "disable_parallel_tool_use", cJSON_CreateTrue());
    gd_xl_add(c, req, "tool_choice", o);
    return 0;
}

static int max_tokens(struct gd_xl_ctx *c, const cJSON *in, cJSON *req)
{
    const char *key = "max_completion_tokens";
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, key);
    if (!v || cJSON_IsNull(v))
        v = cJSON_GetObjectItemCaseSensitive(in, key = "max_tokens");
    double n = GD_XL_ANTH_DEFAULT_MAX_TOKENS;
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9 ||
            floor(v->valuedouble) != v->valuedouble)
            return gd_xl_fail(c, key, "%s must be a positive integer", key);
        n = v->valuedouble;
    }
    gd_xl_add(c, req, "max_tokens", cJSON_CreateNumber(n));
    return 0;
}

/* Keys handled explicitly, keys dropped when they hold a default value, and everything
 * else (refused). */
static const char *const handled[] = {
    "model",          "messages",    "max_tokens",  "max_completion_tokens",
    "stop",           "temperature", "top_p",       "stream",
    "stream_options", "tools",       "tool_choice", "parallel_tool_calls",
    "user",           NULL};
static const char *const droppable[] = {"n",
                                        "logprobs",
                                        "top_logprobs",
                                        "presence_penalty",
                                        "frequency_penalty",
                                        "response_format",
                                        "logit_bias",
                                        "seed",
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
                                        NULL};

static int check_keys(struct gd_xl_ctx *c, const cJSON *in)
{
    for (const cJSON *e = in->child; e; e = e->next) {
        if (gd_xl_in_list(handled, e->string))
            continue;
        if (gd_xl_in_list(droppable, e->string) && gd_xl_is_default(e->string, e))
            continue;
        if (gd_xl_in_list(droppable, e->string))
            return gd_xl_fail(c, e->string,
                              "%s is not supported by Anthropic deployments (the "
                              "Messages API has no equivalent)",
                              e->string);
        return gd_xl_fail(c, e->string, "Unrecognized request argument supplied: %.64s", e->string);
    }
    return 0;
}

static int translate(struct gd_xl_ctx *c, const cJSON *in, const char *model, cJSON *req)
{
    if (!cJSON_IsObject(in))
        return gd_xl_fail(c, NULL, "the request body must be a JSON object");
    int rc = check_keys(c, in);
    if (rc)
        return rc;
    gd_xl_add(c, req, "model", cJSON_CreateString(model));
    rc = messages(c, cJSON_GetObjectItemCaseSensitive(in, "messages"), req);
    rc = rc ? rc : max_tokens(c, in, req);
    rc = rc ? rc
            : gd_xl_stop(c, cJSON_GetObjectItemCaseSensitive(in, "stop"), MAX_STOP, 0, "Anthropic",
                         req, "stop_sequences");
    rc = rc ? rc
            : gd_xl_number(c, cJSON_GetObjectItemCaseSensitive(in, "temperature"), "temperature", 0,
                           1, 0, "Anthropic", req, "temperature");
    rc = rc ? rc
            : gd_xl_number(c, cJSON_GetObjectItemCaseSensitive(in, "top_p"), "top_p", 0, 1, 0,
                           "Anthropic", req, "top_p");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(in, "tools");
    if (rc == 0 && t && !cJSON_IsNull(t))
        rc = tools(c, t, req);
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(in, "tool_choice");
    const cJSON *par = cJSON_GetObjectItemCaseSensitive(in, "parallel_tool_calls");
    if (rc == 0 && t && !cJSON_IsNull(t) && ((tc && !cJSON_IsNull(tc)) || cJSON_IsFalse(par)))
        rc = tool_choice(c, tc, par, req);
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(in, "user");
    if (rc == 0 && cJSON_IsString(user)) {
        cJSON *md = gd_xl_add(c, req, "metadata", cJSON_CreateObject());
        if (md)
            gd_xl_add(c, md, "user_id", cJSON_CreateString(user->valuestring));
    }
    if (rc == 0 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "stream")))
        gd_xl_add(c, req, "stream", cJSON_CreateTrue());
    return rc;
}

int gd_xl_anth_request(const char *body, size_t len, const char *model, struct gd_buf *out,
                       struct gd_xl_err *err)
{
    return gd_xl_translate(body, len, model, translate, out, err);
}
