/* Anthropic Messages requests -> OpenAI chat requests, and OpenAI answers and errors back
 * (inbound POST /v1/messages, see xl_anthropic_in.h).
 *
 * `system` becomes the first (system) message; user turns keep their text and images
 * (base64 sources become data: URLs); tool_result blocks become `tool` messages placed
 * before the rest of their user turn; assistant tool_use blocks become tool_calls. What
 * has no OpenAI equivalent (top_k, thinking, documents, ...) is refused with a 400 naming
 * it. */
#include "gateway/xl_anthropic_in.h"
#include "core/json_write.h"
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

/* An image block -> an OpenAI image_url part. */
static int image_part(struct gd_xl_ctx *c, const cJSON *b, const char *where, cJSON *parts)
{
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(b, "source");
    const char *st = type_of(src);
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(src, "url");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(src, "media_type");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(src, "data");
    struct gd_buf u;
    gd_buf_init(&u, 64u << 20);
    int rc = 0;
    if (strcmp(st, "url") == 0 && cJSON_IsString(url))
        rc = gd_buf_puts(&u, url->valuestring);
    else if (strcmp(st, "base64") == 0 && cJSON_IsString(mt) && cJSON_IsString(data)) {
        rc = gd_buf_puts(&u, "data:");
        rc = rc ? rc : gd_buf_puts(&u, mt->valuestring);
        rc = rc ? rc : gd_buf_puts(&u, ";base64,");
        rc = rc ? rc : gd_buf_puts(&u, data->valuestring);
    } else {
        gd_buf_free(&u);
        return gd_xl_fail(c, where, "%s.source: expected a base64 or url image source", where);
    }
    cJSON *p = rc == 0 ? gd_xl_push(c, parts, cJSON_CreateObject()) : NULL;
    cJSON *iu = p ? cJSON_CreateObject() : NULL;
    if (iu) {
        gd_xl_add(c, p, "type", cJSON_CreateString("image_url"));
        gd_xl_add(c, iu, "url", cJSON_CreateString(u.data));
        gd_xl_add(c, p, "image_url", iu);
    }
    gd_buf_free(&u);
    return iu ? 0 : GD_ENOMEM;
}

/* Text of a tool_result's content (string or text blocks), joined. */
static int tool_result_text(struct gd_xl_ctx *c, const cJSON *content, const char *where,
                            struct gd_buf *out)
{
    if (!content || cJSON_IsString(content))
        return content ? gd_buf_puts(out, content->valuestring) : 0;
    if (!cJSON_IsArray(content))
        return gd_xl_fail(c, where, "%s.content must be a string or text blocks", where);
    for (const cJSON *b = content->child; b; b = b->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
        if (strcmp(type_of(b), "text") != 0 || !cJSON_IsString(t))
            return gd_xl_fail(
                c, where, "%s.content: only text blocks can be sent to OpenAI-form tools", where);
        if (gd_buf_puts(out, t->valuestring))
            return GD_ENOMEM;
    }
    return 0;
}

static int user_turn(struct gd_xl_ctx *c, const cJSON *content, const char *where, cJSON *msgs)
{
    char w[128];
    if (cJSON_IsString(content)) {
        cJSON *m = gd_xl_push(c, msgs, cJSON_CreateObject());
        if (m) {
            gd_xl_add(c, m, "role", cJSON_CreateString("user"));
            gd_xl_add(c, m, "content", cJSON_CreateString(content->valuestring));
        }
        return m ? 0 : GD_ENOMEM;
    }
    if (!cJSON_IsArray(content))
        return gd_xl_fail(c, where, "%s.content must be a string or an array of blocks", where);
    cJSON *parts = cJSON_CreateArray();
    if (!parts)
        return GD_ENOMEM;
    int i = 0, rc = 0;
    for (const cJSON *b = content->child; b && rc == 0; b = b->next, i++) {
        snprintf(w, sizeof w, "%.80s.content.%d", where, i);
        const char *t = type_of(b);
        if (strcmp(t, "text") == 0 && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(b, "text")))
            gd_xl_push(c, parts,
                       gd_xl_text(c, cJSON_GetObjectItemCaseSensitive(b, "text")->valuestring));
        else if (strcmp(t, "image") == 0)
            rc = image_part(c, b, w, parts);
        else if (strcmp(t, "tool_result") == 0) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "tool_use_id");
            struct gd_buf txt;
            gd_buf_init(&txt, 64u << 20);
            if (!cJSON_IsString(id))
                rc = gd_xl_fail(c, w, "%s.tool_use_id must be a string", w);
            rc = rc ? rc
                    : tool_result_text(c, cJSON_GetObjectItemCaseSensitive(b, "content"), w, &txt);
            cJSON *m = rc == 0 ? gd_xl_push(c, msgs, cJSON_CreateObject()) : NULL;
            if (m) {
                gd_xl_add(c, m, "role", cJSON_CreateString("tool"));
                gd_xl_add(c, m, "tool_call_id", cJSON_CreateString(id->valuestring));
                gd_xl_add(c, m, "content", cJSON_CreateString(txt.data ? txt.data : ""));
            }
            gd_buf_free(&txt);
        } else
            rc = gd_xl_fail(
                c, w, "%s: block type '%.40s' is not supported by girder's /v1/messages", w, t);
    }
    if (rc == 0 && cJSON_GetArraySize(parts) > 0) {
        cJSON *m = gd_xl_push(c, msgs, cJSON_CreateObject());
        if (m) {
            gd_xl_add(c, m, "role", cJSON_CreateString("user"));
            gd_xl_add(c, m, "content", parts);
            return 0;
        }
    }
    cJSON_Delete(parts);
    return rc;
}

static int assistant_turn(struct gd_xl_ctx *c, const cJSON *content, const char *where, cJSON *msgs)
{
    char w[128];
    cJSON *m = gd_xl_push(c, msgs, cJSON_CreateObject());
    if (!m || !gd_xl_add(c, m, "role", cJSON_CreateString("assistant")))
        return GD_ENOMEM;
    if (cJSON_IsString(content)) {
        gd_xl_add(c, m, "content", cJSON_CreateString(content->valuestring));
        return 0;
    }
    if (!cJSON_IsArray(content))
        return gd_xl_fail(c, where, "%s.content must be a string or an array of blocks", where);
    struct gd_buf text;
    gd_buf_init(&text, 64u << 20);
    cJSON *calls = NULL;
    int i = 0, rc = 0, n_text = 0;
    for (const cJSON *b = content->child; b && rc == 0; b = b->next, i++) {
        snprintf(w, sizeof w, "%.80s.content.%d", where, i);
        const char *t = type_of(b);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(b, "text");
        if (strcmp(t, "text") == 0 && cJSON_IsString(s)) {
            rc = gd_buf_puts(&text, s->valuestring);
            n_text++;
        } else if (strcmp(t, "tool_use") == 0) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
            const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
            if (!cJSON_IsString(id) || !cJSON_IsString(name) || !cJSON_IsObject(input)) {
                rc = gd_xl_fail(c, w, "%s: tool_use needs string id and name and an object input",
                                w);
                break;
            }
            if (!calls && !(calls = gd_xl_add(c, m, "tool_calls", cJSON_CreateArray())))
                break;
            char *args = cJSON_PrintUnformatted(input);
            cJSON *tc = args ? gd_xl_push(c, calls, cJSON_CreateObject()) : NULL;
            cJSON *fn = tc ? cJSON_CreateObject() : NULL;
            if (fn) {
                gd_xl_add(c, tc, "id", cJSON_CreateString(id->valuestring));
                gd_xl_add(c, tc, "type", cJSON_CreateString("function"));
                gd_xl_add(c, fn, "name", cJSON_CreateString(name->valuestring));
                gd_xl_add(c, fn, "arguments", cJSON_CreateString(args));
                gd_xl_add(c, tc, "function", fn);
            } else {
                c->oom = 1;
            }
            cJSON_free(args);
        } else if (strcmp(t, "thinking") != 0 && strcmp(t, "redacted_thinking") != 0) {
            rc = gd_xl_fail(
                c, w, "%s: block type '%.40s' is not supported by girder's /v1/messages", w, t);
        }
    }
    if (rc == 0 && (n_text || !calls))
        gd_xl_add(c, m, "content", cJSON_CreateString(text.data ? text.data : ""));
    else if (rc == 0)
        gd_xl_add(c, m, "content", cJSON_CreateNull());
    gd_buf_free(&text);
    return rc;
}

static int system_msg(struct gd_xl_ctx *c, const cJSON *sys, cJSON *msgs)
{
    struct gd_buf t;
    if (!sys || cJSON_IsNull(sys))
        return 0;
    gd_buf_init(&t, 64u << 20);
    int rc = 0;
    if (cJSON_IsString(sys))
        rc = gd_buf_puts(&t, sys->valuestring);
    else if (cJSON_IsArray(sys)) {
        for (const cJSON *b = sys->child; b && rc == 0; b = b->next) {
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(b, "text");
            if (strcmp(type_of(b), "text") != 0 || !cJSON_IsString(s))
                rc = gd_xl_fail(c, "system", "system: only text blocks are supported");
            else
                rc = gd_buf_puts(&t, s->valuestring);
            if (rc == 0 && b->next)
                rc = gd_buf_puts(&t, "\n\n");
        }
    } else {
        rc = gd_xl_fail(c, "system", "system must be a string or an array of text blocks");
    }
    cJSON *m = rc == 0 ? gd_xl_push(c, msgs, cJSON_CreateObject()) : NULL;
    if (m) {
        gd_xl_add(c, m, "role", cJSON_CreateString("system"));
        gd_xl_add(c, m, "content", cJSON_CreateString(t.data ? t.data : ""));
    }
    gd_buf_free(&t);
    return rc;
}

static int tools(struct gd_xl_ctx *c, const cJSON *in, cJSON *req)
{
    char w[48];
    if (!cJSON_IsArray(in))
        return gd_xl_fail(c, "tools", "tools must be an array");
    cJSON *out = gd_xl_add(c, req, "tools", cJSON_CreateArray());
    int i = 0;
    for (const cJSON *t = in->child; t && out; t = t->next, i++) {
        snprintf(w, sizeof w, "tools.%d", i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(t, "description");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
        if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "custom") == 0))
            return gd_xl_fail(c, w, "%s: only custom (client) tools are supported", w);
        if (!cJSON_IsString(name) || !cJSON_IsObject(schema))
            return gd_xl_fail(c, w, "%s: a tool needs a name and an input_schema object", w);
        cJSON *o = gd_xl_push(c, out, cJSON_CreateObject());
        cJSON *fn = o ? cJSON_CreateObject() : NULL;
        if (!fn)
            return GD_ENOMEM;
        gd_xl_add(c, o, "type", cJSON_CreateString("function"));
        gd_xl_add(c, fn, "name", cJSON_CreateString(name->valuestring));
        if (cJSON_IsString(desc))
            gd_xl_add(c, fn, "description", cJSON_CreateString(desc->valuestring));
        gd_xl_add(c, fn, "parameters", cJSON_Duplicate(schema, 1));
        gd_xl_add(c, o, "function", fn);
    }
    return 0;
}

static int tool_choice(struct gd_xl_ctx *c, const cJSON *tc, cJSON *req)
{
    const char *t = type_of(tc);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(tc, "name");
    if (strcmp(t, "auto") == 0 || strcmp(t, "none") == 0)
        gd_xl_add(c, req, "tool_choice", cJSON_CreateString(t));
    else if (strcmp(t, "any") == 0)
        gd_xl_add(c, req, "tool_choice", cJSON_CreateString("required"));
    else if (strcmp(t, "tool") == 0 && cJSON_IsString(name)) {
        cJSON *o = gd_xl_add(c, req, "tool_choice", cJSON_CreateObject());
        cJSON *fn = o ? cJSON_CreateObject() : NULL;
        if (fn) {
            gd_xl_add(c, o, "type", cJSON_CreateString("function"));
            gd_xl_add(c, fn, "name", cJSON_CreateString(name->valuestring));
            gd_xl_add(c, o, "function", fn);
        }
    } else {
        return gd_xl_fail(c, "tool_choice", "tool_choice.type must be auto, any, tool or none");
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tc, "disable_parallel_tool_use")))
        gd_xl_add(c, req, "parallel_tool_calls", cJSON_CreateFalse());
    return 0;
}

static const char *const known[] = {"model",          "messages",    "max_tokens", "system",
                                    "stop_sequences", "temperature", "top_p",      "stream",
                                    "tools",          "tool_choice", "metadata",   NULL};

static int translate(struct gd_xl_ctx *c, const cJSON *in, const char *unused, cJSON *req)
{
    (void)unused; /* the client names its alias in the body */
    char w[48];
    if (!cJSON_IsObject(in))
        return gd_xl_fail(c, NULL, "the request body must be a JSON object");
    for (const cJSON *e = in->child; e; e = e->next)
        if (!gd_xl_in_list(known, e->string))
            return gd_xl_fail(c, e->string, "%.64s: not supported by girder's /v1/messages",
                              e->string);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(in, "model");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(in, "max_tokens");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(in, "messages");
    if (!cJSON_IsString(model))
        return gd_xl_fail(c, "model", "model: Field required");
    if (!cJSON_IsNumber(mt) || mt->valuedouble < 1 || floor(mt->valuedouble) != mt->valuedouble)
        return gd_xl_fail(c, "max_tokens", "max_tokens: Field required (a positive integer)");
    if (!cJSON_IsArray(msgs) || !msgs->child)
        return gd_xl_fail(c, "messages", "messages: at least one message is required");
    gd_xl_add(c, req, "model", cJSON_CreateString(model->valuestring));
    cJSON *out = gd_xl_add(c, req, "messages", cJSON_CreateArray());
    int rc = out ? system_msg(c, cJSON_GetObjectItemCaseSensitive(in, "system"), out) : GD_ENOMEM;
    int i = 0;
    for (const cJSON *m = msgs->child; m && rc == 0; m = m->next, i++) {
        snprintf(w, sizeof w, "messages.%d", i);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        const char *r = cJSON_IsString(role) ? role->valuestring : "";
        if (strcmp(r, "user") == 0)
            rc = user_turn(c, content, w, out);
        else if (strcmp(r, "assistant") == 0)
            rc = assistant_turn(c, content, w, out);
        else
            rc = gd_xl_fail(c, w, "%s.role: expected user or assistant", w);
    }
    if (rc)
        return rc;
    gd_xl_add(c, req, "max_tokens", cJSON_CreateNumber(mt->valuedouble));
    const cJSON *ss = cJSON_GetObjectItemCaseSensitive(in, "stop_sequences");
    if (ss && !cJSON_IsArray(ss))
        return gd_xl_fail(c, "stop_sequences", "stop_sequences must be an array of strings");
    if (ss && ss->child)
        gd_xl_add(c, req, "stop", cJSON_Duplicate(ss, 1));
    static const char *const nums[] = {"temperature", "top_p"};
    for (int k = 0; k < 2; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, nums[k]);
        if (v && (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1))
            return gd_xl_fail(c, nums[k], "%s must be a number from 0 to 1", nums[k]);
        if (v)
            gd_xl_add(c, req, nums[k], cJSON_CreateNumber(v->valuedouble));
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(in, "tools");
    if (t && (rc = tools(c, t, req)) != 0)
        return rc;
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(in, "tool_choice");
    if (tc && t && (rc = tool_choice(c, tc, req)) != 0)
        return rc;
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(in, "metadata"), "user_id");
    if (cJSON_IsString(uid))
        gd_xl_add(c, req, "user", cJSON_CreateString(uid->valuestring));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "stream"))) {
        gd_xl_stream_with_usage(c, req);
    }
    return 0;
}

int gd_xl_in_anth_request(const char *body, size_t len, struct gd_buf *out, struct gd_xl_err *err)
{
    return gd_xl_translate(body, len, NULL, translate, out, err);
}

/* finish_reason -> stop_reason */
static const char *stop_reason(const char *fr)
{
    if (!fr)
        return NULL;
    if (strcmp(fr, "length") == 0)
        return "max_tokens";
    if (strcmp(fr, "tool_calls") == 0 || strcmp(fr, "function_call") == 0)
        return "tool_use";
    if (strcmp(fr, "content_filter") == 0)
        return "refusal";
    return "end_turn";
}

const char *gd_xl_in_anth_stop_reason(const char *finish_reason)
{
    return stop_reason(finish_reason);
}

int gd_xl_in_anth_put_usage(struct gd_buf *b, int64_t prompt, int64_t completion, int64_t cached,
                            int64_t creation)
{
    int64_t cr = cached > 0 ? cached : 0, cc = creation > 0 ? creation : 0;
    int64_t in = prompt > 0 ? prompt - cr - cc : 0;
    int rc = gd_buf_puts(b, "{\"input_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, in > 0 ? in : 0);
    rc = rc ? rc : gd_buf_puts(b, ",\"cache_creation_input_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, cc);
    rc = rc ? rc : gd_buf_puts(b, ",\"cache_read_input_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, cr);
    rc = rc ? rc : gd_buf_puts(b, ",\"output_tokens\":");
    rc = rc ? rc : gd_json_put_i64(b, completion > 0 ? completion : 0);
    return rc ? rc : gd_buf_puts(b, "}");
}

static int put_content(struct gd_buf *b, const cJSON *msg)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    int rc = gd_buf_puts(b, "["), n = 0;
    if (cJSON_IsString(text) && text->valuestring[0]) {
        rc = rc ? rc : gd_buf_puts(b, "{\"type\":\"text\",\"text\":");
        rc = rc ? rc : gd_xl_put_str(b, text->valuestring);
        rc = rc ? rc : gd_buf_puts(b, "}");
        n++;
    }
    for (const cJSON *tc = cJSON_IsArray(calls) ? calls->child : NULL; tc && rc == 0;
         tc = tc->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        if (!cJSON_IsString(id) || !cJSON_IsString(name) || !cJSON_IsString(args))
            return GD_EPARSE;
        cJSON *input = args->valuestring[0] ? cJSON_Parse(args->valuestring) : cJSON_CreateObject();
        char *s = cJSON_IsObject(input) ? cJSON_PrintUnformatted(input) : NULL;
        cJSON_Delete(input);
        if (!s)
            return GD_EPARSE; /* arguments that are not a JSON object have no tool_use form */
        rc = gd_buf_puts(b, n++ ? ",{\"type\":\"tool_use\",\"id\":"
                                : "{\"type\":\"tool_use\",\"id\":");
        rc = rc ? rc : gd_xl_put_str(b, id->valuestring);
        rc = rc ? rc : gd_buf_puts(b, ",\"name\":");
        rc = rc ? rc : gd_xl_put_str(b, name->valuestring);
        rc = rc ? rc : gd_buf_puts(b, ",\"input\":");
        rc = rc ? rc : gd_buf_puts(b, s);
        rc = rc ? rc : gd_buf_puts(b, "}");
        cJSON_free(s);
    }
    return rc ? rc : gd_buf_puts(b, "]");
}

static int put_message(const cJSON *r, struct gd_buf *b)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(r, "model");
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "usage");
    if (!cJSON_IsObject(msg))
        return GD_EPARSE;
    const char *sr = stop_reason(cJSON_IsString(fr) ? fr->valuestring : NULL);
    int rc = gd_buf_puts(b, "{\"id\":");
    rc = rc ? rc : gd_xl_put_str(b, cJSON_IsString(id) ? id->valuestring : "msg_girder");
    rc = rc ? rc : gd_buf_puts(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    rc = rc ? rc : gd_xl_put_str(b, cJSON_IsString(model) ? model->valuestring : "");
    rc = rc ? rc : gd_buf_puts(b, ",\"content\":");
    rc = rc ? rc : put_content(b, msg);
    rc = rc ? rc : gd_buf_puts(b, ",\"stop_reason\":");
    rc = rc ? rc : (sr ? gd_xl_put_str(b, sr) : gd_buf_puts(b, "null"));
    rc = rc ? rc : gd_buf_puts(b, ",\"stop_sequence\":null,\"usage\":");
    const cJSON *det = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details");
    rc = rc ? rc
            : gd_xl_in_anth_put_usage(
                  b, gd_xl_count(u, "prompt_tokens"), gd_xl_count(u, "completion_tokens"),
                  gd_xl_count(det, "cached_tokens"), gd_xl_count(det, "cache_creation_tokens"));
    return rc ? rc : gd_buf_puts(b, "}");
}

int gd_xl_in_anth_response(const char *body, size_t len, struct gd_buf *out)
{
    cJSON *r = cJSON_ParseWithLength(body, len);
    if (!r)
        return GD_EPARSE;
    size_t mark = out->len;
    int rc = put_message(r, out);
    cJSON_Delete(r);
    if (rc)
        out->len = mark;
    return rc;
}

const char *gd_xl_in_anth_error_type(int status)
{
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 529:
        return "overloaded_error";
    default:
        return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
    }
}

int gd_xl_in_anth_error_write(struct gd_buf *out, int status, const char *message)
{
    int rc = gd_buf_puts(out, "{\"type\":\"error\",\"error\":{\"type\":");
    rc = rc ? rc : gd_xl_put_str(out, gd_xl_in_anth_error_type(status));
    rc = rc ? rc : gd_buf_puts(out, ",\"message\":");
    rc = rc ? rc : gd_xl_put_str(out, message);
    return rc ? rc : gd_buf_puts(out, "}}");
}

int gd_xl_in_anth_error(int status, const char *body, size_t len, struct gd_buf *out)
{
    char msg[96];
    cJSON *e = cJSON_ParseWithLength(body, len);
    const cJSON *m =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "error"), "message");
    snprintf(msg, sizeof msg, "the upstream answered HTTP %d", status);
    int rc = gd_xl_in_anth_error_write(out, status, cJSON_IsString(m) ? m->valuestring : msg);
    cJSON_Delete(e);
    return rc;
}
