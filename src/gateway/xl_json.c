/* JSON helpers shared by the provider translators (see xl_json.h). */
#include "gateway/xl_json.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <stdarg.h>
#include <stdio.h>
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
