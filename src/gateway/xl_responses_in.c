/* OpenAI Responses requests -> OpenAI chat requests (inbound POST /v1/responses, see
 * xl_responses_in.h).
 *
 * `instructions` becomes the first (system) message; `input` is a string (one user turn) or
 * a list of items: messages (roles user, assistant, system, developer -> system; parts
 * input_text / output_text / input_image), function_call items (assistant tool_calls, runs
 * of them joined into one assistant message) and function_call_output items (tool
 * messages). Function tools are flattened into chat's nested form. What chat completions
 * have no equivalent for (state kept by the server, built-in tools, files, reasoning
 * items, ...) is refused with a 400 naming it. */
#include "gateway/xl_responses_in.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *type_of(const cJSON *b)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "type");
    return cJSON_IsString(t) ? t->valuestring : "";
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* A message's content joined as text (string or input_text/output_text parts). */
static int content_text(struct gd_xl_ctx *c, const cJSON *content, const char *where,
                        struct gd_buf *out)
{
    char w[128];
    if (cJSON_IsString(content))
        return gd_buf_puts(out, content->valuestring);
    if (!cJSON_IsArray(content))
        return gd_xl_fail(c, where, "%s.content must be a string or an array of parts", where);
    int i = 0;
    for (const cJSON *p = content->child; p; p = p->next, i++) {
        const char *t = type_of(p);
        const cJSON *s = get(p, "text");
        snprintf(w, sizeof w, "%.80s.content.%d", where, i);
        if ((strcmp(t, "input_text") != 0 && strcmp(t, "output_text") != 0) || !cJSON_IsString(s))
            return gd_xl_fail(c, w, "%s: only input_text and output_text parts are supported here",
                              w);
        if (gd_buf_puts(out, s->valuestring))
            return GD_ENOMEM;
    }
    return 0;
}

/* An input_image part -> an image_url part. */
static int image_part(struct gd_xl_ctx *c, const cJSON *p, const char *where, cJSON *parts)
{
    const cJSON *url = get(p, "image_url");
    const cJSON *detail = get(p, "detail");
    if (!cJSON_IsString(url))
        return gd_xl_fail(c, where,
                          "%s: input_image needs image_url (a URL or a base64 data URL); file_id "
                          "is not supported by girder's /v1/responses",
                          where);
    cJSON *o = gd_xl_push(c, parts, cJSON_CreateObject());
    cJSON *iu = o ? cJSON_CreateObject() : NULL;
    if (!iu)
        return GD_ENOMEM;
    gd_xl_add(c, o, "type", cJSON_CreateString("image_url"));
    gd_xl_add(c, iu, "url", cJSON_CreateString(url->valuestring));
    if (cJSON_IsString(detail))
        gd_xl_add(c, iu, "detail", cJSON_CreateString(detail->valuestring));
    gd_xl_add(c, o, "image_url", iu);
    return 0;
}

static int user_msg(struct gd_xl_ctx *c, const cJSON *content, const char *where, cJSON *msgs)
{
    char w[128];
    cJSON *m = gd_xl_push(c, msgs, cJSON_CreateObject());
    if (!m || !gd_xl_add(c, m, "role", cJSON_CreateString("user")))
        return GD_ENOMEM;
    if (cJSON_IsString(content))
        return gd_xl_add(c, m, "content", cJSON_CreateString(content->valuestring)) ? 0 : GD_ENOMEM;
    if (!cJSON_IsArray(content))
        return gd_xl_fail(c, where, "%s.content must be a string or an array of parts", where);
    cJSON *parts = gd_xl_add(c, m, "content", cJSON_CreateArray());
    int i = 0, rc = parts ? 0 : GD_ENOMEM;
    for (const cJSON *p = parts ? content->child : NULL; p && rc == 0; p = p->next, i++) {
        const char *t = type_of(p);
        const cJSON *s = get(p, "text");
        snprintf(w, sizeof w, "%.80s.content.%d", where, i);
        if ((strcmp(t, "input_text") == 0 || strcmp(t, "output_text") == 0) && cJSON_IsString(s))
            rc = gd_xl_push(c, parts, gd_xl_text(c, s->valuestring)) ? 0 : GD_ENOMEM;
        else if (strcmp(t, "input_image") == 0)
            rc = image_part(c, p, w, parts);
        else
            rc = gd_xl_fail(
                c, w, "%s: part type '%.40s' is not supported by girder's /v1/responses", w, t);
    }
    return rc;
}

static int text_msg(struct gd_xl_ctx *c, const char *role, const cJSON *content, const char *where,
                    cJSON *msgs)
{
    struct gd_buf t;
    gd_buf_init(&t, 64u << 20);
    int rc = content_text(c, content, where, &t);
    cJSON *m = rc == 0 ? gd_xl_push(c, msgs, cJSON_CreateObject()) : NULL;
    if (m) {
        gd_xl_add(c, m, "role", cJSON_CreateString(role));
        gd_xl_add(c, m, "content", cJSON_CreateString(t.data ? t.data : ""));
    }
    gd_buf_free(&t);
    return rc ? rc : m ? 0 : GD_ENOMEM;
}

/* The assistant message a function_call item joins: the last message when it is an
 * assistant one, else a new one with null content. */
static cJSON *assistant_for_call(struct gd_xl_ctx *c, cJSON *msgs)
{
    cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const cJSON *role = get(last, "role");
    if (cJSON_IsString(role) && strcmp(role->valuestring, "assistant") == 0)
        return last;
    cJSON *m = gd_xl_push(c, msgs, cJSON_CreateObject());
    if (m) {
        gd_xl_add(c, m, "role", cJSON_CreateString("assistant"));
        gd_xl_add(c, m, "content", cJSON_CreateNull());
    }
    return m;
}

static int function_call(struct gd_xl_ctx *c, const cJSON *it, const char *where, cJSON *msgs)
{
    const cJSON *id = get(it, "call_id"), *name = get(it, "name"), *args = get(it, "arguments");
    if (!cJSON_IsString(id) || !cJSON_IsString(name) || !cJSON_IsString(args))
        return gd_xl_fail(c, where, "%s: function_call needs string call_id, name and arguments",
                          where);
    cJSON *m = assistant_for_call(c, msgs);
    cJSON *calls = m ? cJSON_GetObjectItemCaseSensitive(m, "tool_calls") : NULL;
    if (m && !calls)
        calls = gd_xl_add(c, m, "tool_calls", cJSON_CreateArray());
    cJSON *tc = calls ? gd_xl_push(c, calls, cJSON_CreateObject()) : NULL;
    cJSON *fn = tc ? cJSON_CreateObject() : NULL;
    if (!fn)
        return GD_ENOMEM;
    gd_xl_add(c, tc, "id", cJSON_CreateString(id->valuestring));
    gd_xl_add(c, tc, "type", cJSON_CreateString("function"));
    gd_xl_add(c, fn, "name", cJSON_CreateString(name->valuestring));
    gd_xl_add(c, fn, "arguments", cJSON_CreateString(args->valuestring));
    gd_xl_add(c, tc, "function", fn);
    return 0;
}

static int function_output(struct gd_xl_ctx *c, const cJSON *it, const char *where, cJSON *msgs)
{
    const cJSON *id = get(it, "call_id"), *output = get(it, "output");
    if (!cJSON_IsString(id))
        return gd_xl_fail(c, where, "%s: function_call_output needs a string call_id", where);
    struct gd_buf t;
    gd_buf_init(&t, 64u << 20);
    int rc = output ? content_text(c, output, where, &t)
                    : gd_xl_fail(c, where, "%s: function_call_output needs an output", where);
    cJSON *m = rc == 0 ? gd_xl_push(c, msgs, cJSON_CreateObject()) : NULL;
    if (m) {
        gd_xl_add(c, m, "role", cJSON_CreateString("tool"));
        gd_xl_add(c, m, "tool_call_id", cJSON_CreateString(id->valuestring));
        gd_xl_add(c, m, "content", cJSON_CreateString(t.data ? t.data : ""));
    }
    gd_buf_free(&t);
    return rc ? rc : m ? 0 : GD_ENOMEM;
}

static int input_item(struct gd_xl_ctx *c, const cJSON *it, const char *where, cJSON *msgs)
{
    const char *t = type_of(it);
    const cJSON *role = get(it, "role");
    if (!cJSON_IsObject(it))
        return gd_xl_fail(c, where, "%s must be an object", where);
    if (strcmp(t, "function_call") == 0)
        return function_call(c, it, where, msgs);
    if (strcmp(t, "function_call_output") == 0)
        return function_output(c, it, where, msgs);
    if (t[0] && strcmp(t, "message") != 0)
        return gd_xl_fail(c, where,
                          "%s: item type '%.40s' is not supported by girder's /v1/responses "
                          "(it translates to chat completions)",
                          where, t);
    const char *r = cJSON_IsString(role) ? role->valuestring : "";
    const cJSON *content = get(it, "content");
    if (strcmp(r, "user") == 0)
        return user_msg(c, content, where, msgs);
    if (strcmp(r, "assistant") == 0)
        return text_msg(c, "assistant", content, where, msgs);
    if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0)
        return text_msg(c, "system", content, where, msgs);
    return gd_xl_fail(c, where, "%s.role: expected user, assistant, system or developer", where);
}

static int input(struct gd_xl_ctx *c, const cJSON *in, cJSON *msgs)
{
    char w[48];
    if (cJSON_IsString(in)) {
        cJSON *m = gd_xl_push(c, msgs, cJSON_CreateObject());
        if (m) {
            gd_xl_add(c, m, "role", cJSON_CreateString("user"));
            gd_xl_add(c, m, "content", cJSON_CreateString(in->valuestring));
        }
        return m ? 0 : GD_ENOMEM;
    }
    if (!cJSON_IsArray(in) || !in->child)
        return gd_xl_fail(c, "input", "input: a string or a non-empty array of items is required");
    if (cJSON_GetArraySize(in) > GD_XL_RESP_MAX_ITEMS)
        return gd_xl_fail(c, "input", "input: at most %d items", GD_XL_RESP_MAX_ITEMS);
    int i = 0, rc = 0;
    for (const cJSON *it = in->child; it && rc == 0; it = it->next, i++) {
        snprintf(w, sizeof w, "input.%d", i);
        rc = input_item(c, it, w, msgs);
    }
    return rc;
}

static int tools(struct gd_xl_ctx *c, const cJSON *in, cJSON *req)
{
    char w[48];
    if (!cJSON_IsArray(in))
        return gd_xl_fail(c, "tools", "tools must be an array");
    if (cJSON_GetArraySize(in) > GD_XL_RESP_MAX_ITEMS)
        return gd_xl_fail(c, "tools", "tools: at most %d tools", GD_XL_RESP_MAX_ITEMS);
    if (!in->child)
        return 0;
    cJSON *out = gd_xl_add(c, req, "tools", cJSON_CreateArray());
    int i = 0;
    for (const cJSON *t = in->child; t && out; t = t->next, i++) {
        snprintf(w, sizeof w, "tools.%d", i);
        const char *type = type_of(t);
        const cJSON *name = get(t, "name"), *desc = get(t, "description");
        const cJSON *params = get(t, "parameters"), *strict = get(t, "strict");
        if (strcmp(type, "function") != 0)
            return gd_xl_fail(c, w,
                              "%s: built-in tool '%.40s' is not supported by girder's "
                              "/v1/responses: only function tools translate to chat completions",
                              w, type);
        if (!cJSON_IsString(name) || (params && !cJSON_IsObject(params) && !cJSON_IsNull(params)))
            return gd_xl_fail(c, w, "%s: a function tool needs a name (and parameters an object)",
                              w);
        cJSON *o = gd_xl_push(c, out, cJSON_CreateObject());
        cJSON *fn = o ? cJSON_CreateObject() : NULL;
        if (!fn)
            return GD_ENOMEM;
        gd_xl_add(c, o, "type", cJSON_CreateString("function"));
        gd_xl_add(c, fn, "name", cJSON_CreateString(name->valuestring));
        if (cJSON_IsString(desc))
            gd_xl_add(c, fn, "description", cJSON_CreateString(desc->valuestring));
        if (cJSON_IsObject(params))
            gd_xl_add(c, fn, "parameters", cJSON_Duplicate(params, 1));
        if (cJSON_IsBool(strict))
            gd_xl_add(c, fn, "strict", cJSON_CreateBool(cJSON_IsTrue(strict)));
        gd_xl_add(c, o, "function", fn);
    }
    return 0;
}

static int tool_choice(struct gd_xl_ctx *c, const cJSON *tc, cJSON *req)
{
    const cJSON *name = get(tc, "name");
    if (cJSON_IsString(tc) &&
        (strcmp(tc->valuestring, "auto") == 0 || strcmp(tc->valuestring, "none") == 0 ||
         strcmp(tc->valuestring, "required") == 0)) {
        gd_xl_add(c, req, "tool_choice", cJSON_CreateString(tc->valuestring));
        return 0;
    }
    if (strcmp(type_of(tc), "function") != 0 || !cJSON_IsString(name))
        return gd_xl_fail(c, "tool_choice",
                          "tool_choice must be auto, none, required or {\"type\":\"function\","
                          "\"name\":...}");
    cJSON *o = gd_xl_add(c, req, "tool_choice", cJSON_CreateObject());
    cJSON *fn = o ? cJSON_CreateObject() : NULL;
    if (fn) {
        gd_xl_add(c, o, "type", cJSON_CreateString("function"));
        gd_xl_add(c, fn, "name", cJSON_CreateString(name->valuestring));
        gd_xl_add(c, o, "function", fn);
    }
    return 0;
}

/* text.format -> response_format (type text: nothing to send). */
static int text_format(struct gd_xl_ctx *c, const cJSON *text, cJSON *req)
{
    if (!text || cJSON_IsNull(text))
        return 0;
    if (!cJSON_IsObject(text))
        return gd_xl_fail(c, "text", "text must be an object");
    for (const cJSON *e = text->child; e; e = e->next)
        if (strcmp(e->string, "format") != 0)
            return gd_xl_fail(c, "text", "text.%.40s: not supported by girder's /v1/responses",
                              e->string);
    const cJSON *f = get(text, "format");
    const char *t = type_of(f);
    if (!f || strcmp(t, "text") == 0)
        return 0;
    cJSON *rf = gd_xl_add(c, req, "response_format", cJSON_CreateObject());
    if (!rf)
        return GD_ENOMEM;
    if (strcmp(t, "json_object") == 0) {
        gd_xl_add(c, rf, "type", cJSON_CreateString("json_object"));
        return 0;
    }
    const cJSON *name = get(f, "name"), *schema = get(f, "schema");
    if (strcmp(t, "json_schema") != 0 || !cJSON_IsString(name) || !cJSON_IsObject(schema))
        return gd_xl_fail(c, "text.format",
                          "text.format must be text, json_object or json_schema (with a name and "
                          "a schema object)");
    gd_xl_add(c, rf, "type", cJSON_CreateString("json_schema"));
    cJSON *js = gd_xl_add(c, rf, "json_schema", cJSON_CreateObject());
    if (!js)
        return GD_ENOMEM;
    gd_xl_add(c, js, "name", cJSON_CreateString(name->valuestring));
    const cJSON *desc = get(f, "description"), *strict = get(f, "strict");
    if (cJSON_IsString(desc))
        gd_xl_add(c, js, "description", cJSON_CreateString(desc->valuestring));
    gd_xl_add(c, js, "schema", cJSON_Duplicate(schema, 1));
    if (cJSON_IsBool(strict))
        gd_xl_add(c, js, "strict", cJSON_CreateBool(cJSON_IsTrue(strict)));
    return 0;
}

/* Parameters that are refused unless absent or null/false/empty, and why. */
static int stateful(struct gd_xl_ctx *c, const cJSON *in)
{
    static const char *const keys[] = {"previous_response_id", "conversation", "prompt"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const cJSON *v = get(in, keys[k]);
        if (v && !cJSON_IsNull(v))
            return gd_xl_fail(c, keys[k],
                              "%s: girder keeps no state (no stored responses, conversations "
                              "or prompts); send the whole conversation in input",
                              keys[k]);
    }
    const cJSON *bg = get(in, "background");
    if (bg && !cJSON_IsFalse(bg) && !cJSON_IsNull(bg))
        return gd_xl_fail(c, "background", "background: girder answers in the foreground only");
    const cJSON *inc = get(in, "include");
    if (inc && !cJSON_IsNull(inc) && !(cJSON_IsArray(inc) && !inc->child))
        return gd_xl_fail(c, "include", "include: not supported by girder's /v1/responses");
    const cJSON *tr = get(in, "truncation");
    if (tr && !cJSON_IsNull(tr) &&
        !(cJSON_IsString(tr) && strcmp(tr->valuestring, "disabled") == 0))
        return gd_xl_fail(c, "truncation", "truncation: only \"disabled\" is supported");
    const cJSON *st = get(in, "store");
    if (st && !cJSON_IsBool(st) && !cJSON_IsNull(st))
        return gd_xl_fail(c, "store", "store must be a boolean");
    return 0;
}

static const char *const known[] = {"model",
                                    "input",
                                    "instructions",
                                    "tools",
                                    "tool_choice",
                                    "stream",
                                    "temperature",
                                    "top_p",
                                    "max_output_tokens",
                                    "text",
                                    "metadata",
                                    "user",
                                    "store",
                                    "parallel_tool_calls",
                                    "previous_response_id",
                                    "conversation",
                                    "background",
                                    "include",
                                    "truncation",
                                    "prompt",
                                    NULL};

static int numbers(struct gd_xl_ctx *c, const cJSON *in, cJSON *req)
{
    static const char *const nums[] = {"temperature", "top_p"};
    static const double hi[] = {2, 1};
    for (int k = 0; k < 2; k++) {
        const cJSON *v = get(in, nums[k]);
        if (v && !cJSON_IsNull(v) &&
            (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > hi[k]))
            return gd_xl_fail(c, nums[k], "%s must be a number from 0 to %g", nums[k], hi[k]);
        if (cJSON_IsNumber(v))
            gd_xl_add(c, req, nums[k], cJSON_CreateNumber(v->valuedouble));
    }
    const cJSON *mt = get(in, "max_output_tokens");
    if (mt && !cJSON_IsNull(mt) &&
        (!cJSON_IsNumber(mt) || mt->valuedouble < 1 || mt->valuedouble > 1e9 ||
         floor(mt->valuedouble) != mt->valuedouble))
        return gd_xl_fail(c, "max_output_tokens", "max_output_tokens must be a positive integer");
    if (cJSON_IsNumber(mt))
        gd_xl_add(c, req, "max_tokens", cJSON_CreateNumber(mt->valuedouble));
    return 0;
}

static int translate(struct gd_xl_ctx *c, const cJSON *in, const char *unused, cJSON *req)
{
    (void)unused; /* the client names its alias in the body */
    if (!cJSON_IsObject(in))
        return gd_xl_fail(c, NULL, "the request body must be a JSON object");
    for (const cJSON *e = in->child; e; e = e->next)
        if (!gd_xl_in_list(known, e->string))
            return gd_xl_fail(c, e->string, "%.64s: not supported by girder's /v1/responses",
                              e->string);
    int rc = stateful(c, in);
    if (rc)
        return rc;
    const cJSON *model = get(in, "model"), *ins = get(in, "instructions");
    if (!cJSON_IsString(model))
        return gd_xl_fail(c, "model", "you must provide a model parameter");
    gd_xl_add(c, req, "model", cJSON_CreateString(model->valuestring));
    cJSON *msgs = gd_xl_add(c, req, "messages", cJSON_CreateArray());
    if (!msgs)
        return GD_ENOMEM;
    if (ins && !cJSON_IsNull(ins) && !cJSON_IsString(ins))
        return gd_xl_fail(c, "instructions", "instructions must be a string");
    if (cJSON_IsString(ins)) {
        cJSON *m = gd_xl_push(c, msgs, cJSON_CreateObject());
        if (m) {
            gd_xl_add(c, m, "role", cJSON_CreateString("system"));
            gd_xl_add(c, m, "content", cJSON_CreateString(ins->valuestring));
        }
    }
    if ((rc = input(c, get(in, "input"), msgs)) != 0 || (rc = numbers(c, in, req)) != 0)
        return rc;
    const cJSON *t = get(in, "tools"), *tc = get(in, "tool_choice");
    if (t && !cJSON_IsNull(t) && (rc = tools(c, t, req)) != 0)
        return rc;
    if (tc && !cJSON_IsNull(tc) && (rc = tool_choice(c, tc, req)) != 0)
        return rc;
    if (!cJSON_GetObjectItemCaseSensitive(req, "tools")) /* chat refuses it without tools */
        cJSON_DeleteItemFromObjectCaseSensitive(req, "tool_choice");
    const cJSON *ptc = get(in, "parallel_tool_calls");
    if (cJSON_IsBool(ptc) && get(req, "tools"))
        gd_xl_add(c, req, "parallel_tool_calls", cJSON_CreateBool(cJSON_IsTrue(ptc)));
    if ((rc = text_format(c, get(in, "text"), req)) != 0)
        return rc;
    const cJSON *user = get(in, "user"), *md = get(in, "metadata");
    if (user && !cJSON_IsNull(user) && !cJSON_IsString(user))
        return gd_xl_fail(c, "user", "user must be a string");
    if (cJSON_IsString(user))
        gd_xl_add(c, req, "user", cJSON_CreateString(user->valuestring));
    if (md && !cJSON_IsNull(md) && !cJSON_IsObject(md))
        return gd_xl_fail(c, "metadata", "metadata must be an object");
    const cJSON *stream = get(in, "stream");
    if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream))
        return gd_xl_fail(c, "stream", "stream must be a boolean");
    if (cJSON_IsTrue(stream)) {
        gd_xl_stream_with_usage(c, req);
    }
    return 0;
}

int gd_xl_in_resp_request(const char *body, size_t len, struct gd_buf *out, struct gd_xl_err *err)
{
    return gd_xl_translate(body, len, NULL, translate, out, err);
}
