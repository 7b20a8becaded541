/* OpenAI embeddings <-> Gemini batchEmbedContents (see xl_gemini.h).
 *
 *   {"input": "a" | ["a","b"], "dimensions": d}
 *     -> {"requests":[{"model":"models/<m>","content":{"parts":[{"text":"a"}]},
 *                      "outputDimensionality":d}, ...]}
 *   {"embeddings":[{"values":[...]}, ...]}
 *     -> {"object":"list","data":[{"object":"embedding","index":i,"embedding":[...] or
 *        "<base64 of little-endian float32>"}],"model":<m>,"usage":{0, 0}}
 * Gemini reports no token counts for embeddings: usage is 0 (documented). */
#include "gateway/xl_gemini.h"
#include "core/base64.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define FAIL gd_xl_fail
#define ADD gd_xl_add
#define PUSH gd_xl_push

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* encoding_format of the client's request: 1 base64, 0 float, GD_EINVAL otherwise. */
static int want_base64(const cJSON *in)
{
    const cJSON *ef = get(in, "encoding_format");
    if (!ef || cJSON_IsNull(ef))
        return 0;
    if (cJSON_IsString(ef) && strcmp(ef->valuestring, "float") == 0)
        return 0;
    if (cJSON_IsString(ef) && strcmp(ef->valuestring, "base64") == 0)
        return 1;
    return GD_EINVAL;
}

static int one(struct gd_xl_ctx *c, cJSON *reqs, const char *mname, const cJSON *text,
               const cJSON *dims)
{
    cJSON *r = PUSH(c, reqs, cJSON_CreateObject());
    cJSON *content = r ? cJSON_CreateObject() : NULL;
    cJSON *parts = content ? cJSON_CreateArray() : NULL;
    cJSON *part = parts ? cJSON_CreateObject() : NULL;
    if (!part) {
        cJSON_Delete(content);
        cJSON_Delete(parts);
        c->oom = 1;
        return GD_ENOMEM;
    }
    ADD(c, r, "model", cJSON_CreateString(mname));
    ADD(c, part, "text", cJSON_CreateString(text->valuestring));
    PUSH(c, parts, part);
    ADD(c, content, "parts", parts);
    ADD(c, r, "content", content);
    if (dims)
        ADD(c, r, "outputDimensionality", cJSON_CreateNumber(dims->valuedouble));
    return 0;
}

static int translate(struct gd_xl_ctx *c, const cJSON *in, const char *model, cJSON *req)
{
    static const char *const known[] = {"model",      "input", "encoding_format",
                                        "dimensions", "user",  NULL};
    if (!cJSON_IsObject(in))
        return FAIL(c, NULL, "the request body must be a JSON object");
    for (const cJSON *e = in->child; e; e = e->next) {
        int k = 0;
        while (known[k] && strcmp(known[k], e->string) != 0)
            k++;
        if (!known[k])
            return FAIL(c, e->string, "Unrecognized request argument supplied: %.64s", e->string);
    }
    if (want_base64(in) < 0)
        return FAIL(c, "encoding_format", "encoding_format must be float or base64");
    const cJSON *dims = get(in, "dimensions");
    if (cJSON_IsNull(dims))
        dims = NULL;
    if (dims && (!cJSON_IsNumber(dims) || dims->valuedouble < 1 || dims->valuedouble > 65536 ||
                 floor(dims->valuedouble) != dims->valuedouble))
        return FAIL(c, "dimensions", "dimensions must be an integer from 1 to 65536");
    const cJSON *input = get(in, "input");
    char mname[320];
    snprintf(mname, sizeof mname, "models/%.300s", model);
    cJSON *reqs = ADD(c, req, "requests", cJSON_CreateArray());
    if (!reqs)
        return GD_ENOMEM;
    if (cJSON_IsString(input))
        return one(c, reqs, mname, input, dims);
    if (!cJSON_IsArray(input) || !input->child)
        return FAIL(c, "input", "input must be a string or a non-empty array of strings");
    if (cJSON_GetArraySize(input) > GD_XL_GEM_MAX_EMBED)
        return FAIL(c, "input", "input: Gemini deployments embed at most %d strings per request",
                    GD_XL_GEM_MAX_EMBED);
    for (const cJSON *s = input->child; s; s = s->next) {
        if (!cJSON_IsString(s))
            return FAIL(c, "input", "input: Gemini deployments take text only (not token arrays)");
        int rc = one(c, reqs, mname, s, dims);
        if (rc)
            return rc;
    }
    return 0;
}

int gd_xl_gem_embed_request(const char *body, size_t len, const char *model, struct gd_buf *out,
                            struct gd_xl_err *err)
{
    return gd_xl_translate(body, len, model, translate, out, err);
}

static int put_vector(struct gd_buf *b, const cJSON *values, int base64)
{
    if (!cJSON_IsArray(values))
        return GD_EPARSE;
    int rc = 0;
    if (base64) {
        float v[64];
        size_t n = 0;
        rc = gd_buf_putc(b, '"');
        struct gd_buf raw;
        gd_buf_init(&raw, b->max);
        for (const cJSON *x = values->child; x && rc == 0; x = x->next) {
            if (!cJSON_IsNumber(x) || !(fabs(x->valuedouble) <= FLT_MAX))
                rc = GD_EPARSE; /* not a float32 value: the cast would be undefined */
            else
                v[n++] = (float)x->valuedouble; /* little-endian hosts (x86-64, arm64) */
            if (rc == 0 && (n == 64 || !x->next)) {
                rc = gd_buf_append(&raw, v, n * sizeof v[0]);
                n = 0;
            }
        }
        rc = rc ? rc : gd_base64_encode(b, raw.data ? raw.data : "", raw.len);
        gd_buf_free(&raw);
        return rc ? rc : gd_buf_putc(b, '"');
    }
    rc = gd_buf_putc(b, '[');
    for (const cJSON *x = values->child; x && rc == 0; x = x->next) {
        if (!cJSON_IsNumber(x))
            return GD_EPARSE;
        if (x != values->child)
            rc = gd_buf_putc(b, ',');
        rc = rc ? rc : gd_json_put_f64(b, x->valuedouble);
    }
    return rc ? rc : gd_buf_putc(b, ']');
}

int gd_xl_gem_embed_response(const char *cbody, size_t clen, const char *body, size_t len,
                             const char *model, struct gd_buf *out, struct gd_gw_usage *u)
{
    cJSON *in = cJSON_ParseWithLength(cbody, clen);
    int base64 = want_base64(in) == 1;
    cJSON_Delete(in);
    cJSON *r = cJSON_ParseWithLength(body, len);
    const cJSON *embs = get(r, "embeddings");
    if (!cJSON_IsArray(embs)) {
        cJSON_Delete(r);
        return GD_EPARSE;
    }
    size_t mark = out->len;
    int rc = gd_buf_puts(out, "{\"object\":\"list\",\"data\":[");
    int i = 0;
    for (const cJSON *e = embs->child; e && rc == 0; e = e->next, i++) {
        rc = gd_buf_puts(out, i ? ",{\"object\":\"embedding\",\"index\":"
                                : "{\"object\":\"embedding\",\"index\":");
        rc = rc ? rc : gd_json_put_i64(out, i);
        rc = rc ? rc : gd_buf_puts(out, ",\"embedding\":");
        rc = rc ? rc : put_vector(out, get(e, "values"), base64);
        rc = rc ? rc : gd_buf_putc(out, '}');
    }
    rc = rc ? rc : gd_buf_puts(out, "],\"model\":");
    rc = rc ? rc : gd_xl_put_str(out, model);
    rc = rc ? rc : gd_buf_puts(out, ",\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}");
    cJSON_Delete(r);
    if (rc != 0)
        out->len = mark;
    else if (u)
        u->prompt_tokens = 0, u->completion_tokens = 0, u->total_tokens = 0;
    return rc;
}
