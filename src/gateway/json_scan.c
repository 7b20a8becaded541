/* Top-level field scanner and model splice over raw JSON bodies (see json_scan.h).
 *
 * jsmn is used header-only and in strict mode. A first pass tokenises into a small array
 * on the stack, which covers typical chat bodies; bigger bodies are counted first and
 * tokenised into a heap array capped by GD_GW_JSON_MAX_TOKENS. Only the top level is
 * walked: nested values are skipped by their token counts. */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "gateway/json_scan.h"
#include "core/alloc.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <string.h>

enum { STACK_TOKENS = 512 };

struct toks {
    jsmntok_t stack[STACK_TOKENS];
    jsmntok_t *t;
    int n;
};

/* Tokenises js into tk (tk->t points at the stack or at a heap array to gd_free). */
static int tokenize(const char *js, size_t len, struct toks *tk)
{
    jsmn_parser p;
    if (len > GD_GW_JSON_MAX_BYTES)
        return GD_ELIMIT;
    jsmn_init(&p);
    tk->t = tk->stack;
    int n = jsmn_parse(&p, js, len, tk->stack, STACK_TOKENS);
    if (n == JSMN_ERROR_NOMEM) {
        jsmn_init(&p);
        n = jsmn_parse(&p, js, len, NULL, 0);
        if (n < 0)
            return GD_EPARSE;
        if ((unsigned)n > GD_GW_JSON_MAX_TOKENS)
            return GD_ELIMIT;
        tk->t = gd_calloc((size_t)n, sizeof(jsmntok_t));
        if (!tk->t)
            return GD_ENOMEM;
        jsmn_init(&p);
        n = jsmn_parse(&p, js, len, tk->t, (unsigned)n);
    }
    if (n < 1)
        return GD_EPARSE;
    tk->n = n;
    return 0;
}

static void toks_free(struct toks *tk)
{
    if (tk->t != tk->stack)
        gd_free(tk->t);
}

/* Index of the token after the subtree rooted at i. */
static int skip(const jsmntok_t *t, int n, int i)
{
    int pending = 1;
    while (pending > 0 && i < n) {
        pending += t[i].size - 1;
        i++;
    }
    return i;
}

static int key_is(const char *js, const jsmntok_t *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == JSMN_STRING && (size_t)(k->end - k->start) == n &&
           memcmp(js + k->start, name, n) == 0;
}

static int is_true(const char *js, const jsmntok_t *v)
{
    return v->type == JSMN_PRIMITIVE && v->end - v->start == 4 &&
           memcmp(js + v->start, "true", 4) == 0;
}

static struct gd_gw_span span_of(const jsmntok_t *v)
{
    struct gd_gw_span s = {v->start, v->end - v->start};
    return s;
}

/* The root must be one object and nothing but whitespace may follow it. */
static int check_root(const struct toks *tk)
{
    if (tk->t[0].type != JSMN_OBJECT || skip(tk->t, tk->n, 0) != tk->n)
        return GD_EPARSE;
    return 0;
}

static int find_include_usage(const char *js, const jsmntok_t *t, int n, int obj)
{
    int i = obj + 1;
    for (int k = 0; k < t[obj].size && i + 1 < n; k++) {
        if (key_is(js, &t[i], "include_usage"))
            return is_true(js, &t[i + 1]);
        i = skip(t, n, i + 1);
    }
    return 0;
}

static int scan_fields(const char *js, const struct toks *tk, struct gd_gw_req_fields *f)
{
    const jsmntok_t *t = tk->t;
    int i = 1;
    for (int k = 0; k < t[0].size && i + 1 < tk->n; k++) {
        const jsmntok_t *key = &t[i], *v = &t[i + 1];
        if (key_is(js, key, "model")) {
            if (f->model_tok.off >= 0 || f->model_is_string == 0)
                return GD_EPARSE; /* duplicate "model" */
            f->model_is_string = v->type == JSMN_STRING;
            if (f->model_is_string) {
                f->model = span_of(v);
                f->model_tok.off = v->start - 1;
                f->model_tok.len = v->end - v->start + 2;
            }
        } else if (key_is(js, key, "stream")) {
            f->stream = is_true(js, v);
        } else if (key_is(js, key, "stream_options") && v->type == JSMN_OBJECT) {
            f->include_usage = find_include_usage(js, t, tk->n, i + 1);
        } else if (key_is(js, key, "user") && v->type == JSMN_STRING) {
            f->user = span_of(v);
        }
        i = skip(t, tk->n, i + 1);
    }
    return 0;
}

int gd_gw_scan_request(const char *body, size_t len, struct gd_gw_req_fields *out)
{
    struct toks tk;
    tk.t = tk.stack;
    memset(out, 0, sizeof *out);
    out->model.off = out->model_tok.off = out->user.off = -1;
    out->model_is_string = -1; /* -1: no "model" key seen yet */
    int rc = tokenize(body, len, &tk);
    if (rc == 0)
        rc = check_root(&tk);
    if (rc == 0)
        rc = scan_fields(body, &tk, out);
    if (out->model_is_string < 0)
        out->model_is_string = 0;
    toks_free(&tk);
    return rc;
}

int gd_gw_splice_model(const char *body, size_t len, const struct gd_gw_req_fields *f,
                       const char *new_model, size_t new_len, struct gd_buf *out)
{
    if (f->model_tok.off < 0 || (size_t)f->model_tok.off + (size_t)f->model_tok.len > len)
        return GD_EINVAL;
    size_t tail = (size_t)f->model_tok.off + (size_t)f->model_tok.len;
    int rc = gd_buf_reserve(out, len + new_len + 8);
    if (rc == 0)
        rc = gd_buf_append(out, body, (size_t)f->model_tok.off);
    if (rc == 0)
        rc = gd_json_put_str(out, new_model, new_len);
    if (rc == 0)
        rc = gd_buf_append(out, body + tail, len - tail);
    return rc;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return GD_EPARSE;
    }
    *out = v;
    return 0;
}

/* Writes code point cp as UTF-8 at dst[*o] (room checked by the caller: 4 bytes). */
static void put_utf8(char *dst, size_t *o, unsigned cp)
{
    if (cp < 0x80) {
        dst[(*o)++] = (char)cp;
    } else if (cp < 0x800) {
        dst[(*o)++] = (char)(0xC0 | (cp >> 6));
        dst[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        dst[(*o)++] = (char)(0xE0 | (cp >> 12));
        dst[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        dst[(*o)++] = (char)(0xF0 | (cp >> 18));
        dst[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        dst[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Decodes the \uXXXX escape (and a following low surrogate) at src[*i] ('u' position). */
static int unescape_u(const char *src, size_t n, size_t *i, unsigned *cp)
{
    if (*i + 5 > n || hex4(src + *i + 1, cp) != 0)
        return GD_EPARSE;
    *i += 5;
    if (*cp >= 0xD800 && *cp < 0xDC00) {
        unsigned lo;
        if (*i + 6 > n || src[*i] != '\\' || src[*i + 1] != 'u' || hex4(src + *i + 2, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF)
            return GD_EPARSE;
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
        *i += 6;
    } else if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
        return GD_EPARSE;
    }
    return 0;
}

int gd_gw_json_unescape(const char *src, size_t n, char *dst, size_t cap)
{
    size_t o = 0, i = 0;
    while (i < n) {
        if (o + 5 > cap)
            return GD_ELIMIT;
        char c = src[i];
        if (c != '\\') {
            dst[o++] = c;
            i++;
            continue;
        }
        if (++i >= n)
            return GD_EPARSE;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *p = src[i] ? strchr(from, src[i]) : NULL;
        if (p) {
            dst[o++] = to[p - from];
            i++;
        } else if (src[i] == 'u') {
            unsigned cp;
            if (unescape_u(src, n, &i, &cp) != 0)
                return GD_EPARSE;
            put_utf8(dst, &o, cp);
        } else {
            return GD_EPARSE;
        }
    }
    if (o + 1 > cap)
        return GD_ELIMIT;
    dst[o] = '\0';
    return (int)o;
}

static int64_t prim_i64(const char *js, const jsmntok_t *v)
{
    if (v->type != JSMN_PRIMITIVE)
        return -1;
    int64_t x = 0;
    for (int i = v->start; i < v->end; i++) {
        if (js[i] < '0' || js[i] > '9' || x > INT64_MAX / 10 - 10)
            return -1;
        x = x * 10 + (js[i] - '0');
    }
    return v->end > v->start ? x : -1;
}

static void read_usage(const char *js, const jsmntok_t *t, int n, int obj, struct gd_gw_usage *u)
{
    int i = obj + 1;
    for (int k = 0; k < t[obj].size && i + 1 < n; k++) {
        if (key_is(js, &t[i], "prompt_tokens"))
            u->prompt_tokens = prim_i64(js, &t[i + 1]);
        else if (key_is(js, &t[i], "completion_tokens"))
            u->completion_tokens = prim_i64(js, &t[i + 1]);
        else if (key_is(js, &t[i], "total_tokens"))
            u->total_tokens = prim_i64(js, &t[i + 1]);
        i = skip(t, n, i + 1);
    }
}

int gd_gw_scan_usage(const char *json, size_t len, struct gd_gw_usage *u)
{
    struct toks tk;
    tk.t = tk.stack;
    u->prompt_tokens = u->completion_tokens = u->total_tokens = -1;
    int rc = tokenize(json, len, &tk);
    if (rc == 0)
        rc = check_root(&tk);
    int found = 0, i = 1;
    for (int k = 0; rc == 0 && k < tk.t[0].size && i + 1 < tk.n; k++) {
        if (key_is(json, &tk.t[i], "usage") && tk.t[i + 1].type == JSMN_OBJECT) {
            read_usage(json, tk.t, tk.n, i + 1, u);
            found = 1;
        }
        i = skip(tk.t, tk.n, i + 1);
    }
    toks_free(&tk);
    return rc ? rc : found;
}
