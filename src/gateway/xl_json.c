/* JSON helpers shared by the provider translators (see xl_json.h). */
#include "gateway/xl_json.h"
#include "gateway/json_scan.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <string.h>

int gd_xl_fail(struct gd_xl_ctx *c, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->message, sizeof c->err->message, fmt, ap);
    va_end(ap);
    snprintf(c->err->param, sizeof c->err->param, "%s", param ? param : "");
    c->err->status = 400;
    return GD_EINVAL;
}

cJSON *gd_xl_add(struct gd_xl_ctx *c, cJSON *obj, const char *key, cJSON *v)
{
    if (!v || !cJSON_AddItemToObject(obj, key, v)) {
        cJSON_Delete(v);
        c->oom = 1;
        return NULL;
    }
    return v;
}

cJSON *gd_xl_push(struct gd_xl_ctx *c, cJSON *arr, cJSON *v)
{
    if (!v || !cJSON_AddItemToArray(arr, v)) {
        cJSON_Delete(v);
        c->oom = 1;
        return NULL;
    }
    return v;
}

cJSON *gd_xl_text(struct gd_xl_ctx *c, const char *text)
{
    cJSON *b = cJSON_CreateObject();
    if (!b) {
        c->oom = 1;
        return NULL;
    }
    gd_xl_add(c, b, "type", cJSON_CreateString("text"));
    gd_xl_add(c, b, "text", cJSON_CreateString(text));
    return b;
}

int gd_xl_finish(struct gd_xl_ctx *c, int rc, cJSON *j, struct gd_buf *out)
{
    if (rc == 0 && c->oom)
        rc = GD_ENOMEM;
    char *s = rc == 0 && j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (rc == 0)
        rc = s ? gd_buf_puts(out, s) : GD_ENOMEM;
    cJSON_free(s);
    return rc;
}

int gd_xl_put_str(struct gd_buf *b, const char *s)
{
    return gd_json_put_str(b, s, strlen(s));
}

int64_t gd_xl_count(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e15
               ? (int64_t)v->valuedouble
               : -1;
}

void gd_xl_copy_str(char *dst, size_t cap, const cJSON *v)
{
    const char *s = cJSON_IsString(v) ? v->valuestring : "";
    size_t n = strnlen(s, cap - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

int gd_xl_answer(const char *body, size_t len, int64_t created, struct gd_buf *out,
                 struct gd_gw_usage *u,
                 int (*put)(const cJSON *, int64_t, struct gd_buf *, struct gd_gw_usage *))
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!j)
        return GD_EPARSE;
    size_t mark = out->len;
    int rc = put(j, created, out, u);
    cJSON_Delete(j);
    if (rc != 0)
        out->len = mark;
    return rc;
}

/* Length of the strictly valid UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF), 0 when there is none. */
size_t gd_xl_utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t l = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (c > 0xf4 || l == 0 || l > n)
        return 0;
    for (size_t i = 1; i < l; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) || (c == 0xf0 && p[1] < 0x90) ||
        (c == 0xf4 && p[1] >= 0x90))
        return 0;
    return l;
}

/* End of the JSON string whose opening quote is at d[i-1]: the index of its closing quote,
 * or 0 when it holds anything but printable ASCII, valid UTF-8 and the two-character
 * escapes (a \u escape, a control byte, bad UTF-8: the general path decides). Copied as it
 * is, such a string decodes to the same text gd_json_put_str would write. */
size_t gd_xl_plain_string_end(const char *d, size_t n, size_t i)
{
    const unsigned char *u = (const unsigned char *)d;
    while (i < n && u[i] != '"') {
        if (u[i] == '\\') {
            if (i + 1 >= n || !memchr("\"\\/bfnrt", u[i + 1], 8))
                return 0;
            i += 2;
        } else if (u[i] < 0x20) {
            return 0;
        } else if (u[i] < 0x80) {
            i++;
        } else {
            size_t l = gd_xl_utf8_len(u + i, n - i);
            if (!l)
                return 0;
            i += l;
        }
    }
    return i < n ? i : 0;
}

int gd_xl_stream_usage(int64_t prompt, int64_t completion, int64_t total, struct gd_gw_usage *u)
{
    int64_t p = prompt > 0 ? prompt : 0, c = completion > 0 ? completion : 0;
    u->prompt_tokens = prompt;
    u->completion_tokens = completion;
    u->total_tokens = prompt >= 0 || completion >= 0 ? (total >= p + c ? total : p + c) : -1;
    return prompt >= 0;
}

int gd_xl_number(struct gd_xl_ctx *c, const cJSON *v, const char *param, double lo, double hi,
                 int integral, const char *provider, cJSON *out, const char *key)
{
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        (integral && floor(v->valuedouble) != v->valuedouble))
        return gd_xl_fail(c, param, "%s must be %s from %g to %g for %s deployments", param,
                          integral ? "an integer" : "a number", lo, hi, provider);
    gd_xl_add(c, out, key, cJSON_CreateNumber(v->valuedouble));
    return 0;
}

int gd_xl_stop(struct gd_xl_ctx *c, const cJSON *s, int max, int no_empty, const char *provider,
               cJSON *out, const char *key)
{
    if (!s || cJSON_IsNull(s))
        return 0;
    if (!cJSON_IsString(s) && (!cJSON_IsArray(s) || cJSON_GetArraySize(s) > max))
        return gd_xl_fail(c, "stop",
                          "stop must be a string or an array of at most %d strings for %s "
                          "deployments",
                          max, provider);
    cJSON *arr = gd_xl_add(c, out, key, cJSON_CreateArray());
    for (const cJSON *e = cJSON_IsString(s) ? s : s->child; e;
         e = cJSON_IsString(s) ? NULL : e->next) {
        if (!cJSON_IsString(e))
            return gd_xl_fail(c, "stop", "stop must be a string or an array of strings");
        if (no_empty && !e->valuestring[0])
            return gd_xl_fail(c, "stop", "stop sequences must not be empty for %s deployments",
                              provider);
        gd_xl_push(c, arr, cJSON_CreateString(e->valuestring));
    }
    return 0;
}

int gd_xl_is_default(const char *key, const cJSON *v)
{
    if (cJSON_IsNull(v) || cJSON_IsFalse(v))
        return 1;
    if (cJSON_IsNumber(v))
        return v->valuedouble == (strcmp(key, "n") == 0 ? 1.0 : 0.0);
    if ((cJSON_IsObject(v) || cJSON_IsArray(v)) && !v->child)
        return 1;
    if (strcmp(key, "response_format") == 0) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "type");
        return cJSON_IsString(t) && strcmp(t->valuestring, "text") == 0;
    }
    return 0;
}

int gd_xl_in_list(const char *const *l, const char *k)
{
    for (; *l; l++)
        if (strcmp(*l, k) == 0)
            return 1;
    return 0;
}

int gd_xl_translate(const char *body, size_t len, const char *model, gd_xl_translate_fn fn,
                    struct gd_buf *out, struct gd_xl_err *err)
{
    struct gd_xl_ctx c = {err, 0};
    err->status = 0;
    cJSON *in = cJSON_ParseWithLength(body, len);
    if (!in)
        return gd_xl_fail(&c, NULL, "We could not parse the JSON body of your request.");
    cJSON *req = cJSON_CreateObject();
    int rc = req ? fn(&c, in, model, req) : GD_ENOMEM;
    cJSON_Delete(in);
    return gd_xl_finish(&c, rc, req, out);
}

void gd_xl_stream_with_usage(struct gd_xl_ctx *c, cJSON *req)
{
    gd_xl_add(c, req, "stream", cJSON_CreateTrue());
    cJSON *so = gd_xl_add(c, req, "stream_options", cJSON_CreateObject());
    if (so)
        gd_xl_add(c, so, "include_usage", cJSON_CreateTrue());
}
