/* GET /admin/governance (see gov.h): read-only state of every party for operators. The
 * admin key is compared by SHA-256 digest in constant time, like virtual keys; it is not a
 * virtual key (config check refuses one that is). */
#include "core/json_write.h"
#include "gateway/gov_internal.h"
#include "gateway/gov_keys.h"
#include "gateway/oai_error.h"
#include "core/clock.h"
#include "girder/error.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const period_names[] = {"total", "daily", "weekly", "monthly"};
enum { DEFAULT_LIMIT = 1000, MAX_LIMIT = 10000 };

int gd_gov_has_admin(const struct gd_gov *g)
{
    return g && g->c->has_admin_key;
}

static void respond_err(struct gd_http_exchange *x, int status, const char *msg, const char *code)
{
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    if (gd_gw_error_write(&b, status, msg, NULL, NULL, code) == 0)
        gd_http_respond(x, status, "application/json", b.data, b.len);
    else
        gd_http_respond_json_error(x, 500, "api_error", NULL, "out of memory");
    gd_buf_free(&b);
}

static int authorized(const struct gd_gov *g, const struct gd_http_request *hr)
{
    const struct gd_slice *auth = gd_http_request_header(hr, "authorization");
    const char *key;
    size_t n;
    unsigned char md[32];
    if (gd_gov_credential(auth ? auth->p : NULL, auth ? auth->n : 0, NULL, 0, &key, &n) != 1)
        return 0;
    gd_gov_sha256(key, n, md);
    return CRYPTO_memcmp(md, g->c->admin_sha256, 32) == 0;
}

static int put_time(struct gd_buf *b, int64_t t)
{
    char s[32];
    time_t tt = (time_t)t;
    struct tm tm;
    if (t == INT64_MIN || t == INT64_MAX || !gmtime_r(&tt, &tm))
        return gd_buf_puts(b, "null");
    strftime(s, sizeof s, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
    return gd_buf_puts(b, s);
}

static const struct gd_gov_scope_cfg *scope_of(const struct gd_gov *g, int k, size_t i)
{
    return k == GD_GOV_KEY      ? &g->c->keys[i].s
           : k == GD_GOV_TENANT ? &g->c->tenants[i]
                                : &g->c->aliases[i];
}

static int put_party(struct gd_buf *b, const struct gd_gov *g, int k, size_t i, uint64_t now_ms,
                     int64_t now_s)
{
    const struct gd_gov_scope_cfg *s = scope_of(g, k, i);
    struct gd_gov_usage u;
    g->ops->read(g->p[k][i].st, s, &g->c->tz, now_ms, now_s, &u);
    int rc = gd_buf_puts(b, "{\"kind\":\"");
    rc = rc ? rc : gd_buf_puts(b, gd_gov__kind_names[k]);
    rc = rc ? rc : gd_buf_puts(b, "\",\"id\":");
    rc = rc ? rc : gd_json_put_str(b, s->id, strlen(s->id));
    if (rc == 0 && k == GD_GOV_KEY && g->c->keys[i].tenant != GD_GOV_NONE) {
        const char *t = g->c->tenants[g->c->keys[i].tenant].id;
        rc = gd_buf_puts(b, ",\"tenant\":");
        rc = rc ? rc : gd_json_put_str(b, t, strlen(t));
    }
    rc = rc ? rc
            : gd_buf_printf(b,
                            ",\"limits\":{\"rpm\":%lld,\"tpm\":%lld,\"concurrent\":%lld},"
                            "\"usage\":{\"requests_1m\":%lld,\"tokens_1m\":%lld,"
                            "\"in_flight\":%lld}",
                            (long long)s->limits.rpm, (long long)s->limits.tpm,
                            (long long)s->limits.concurrent, (long long)u.requests_1m,
                            (long long)u.tokens_1m, (long long)u.in_flight);
    if (rc == 0 && s->budget.usd > 0) {
        rc = gd_buf_puts(b, ",\"budget\":{\"usd\":");
        rc = rc ? rc : gd_json_put_f64(b, s->budget.usd);
        rc = rc ? rc
                : gd_buf_printf(
                      b, ",\"period\":\"%s\",\"spent_usd\":", period_names[s->budget.period]);
        rc = rc ? rc : gd_json_put_f64(b, u.spent_usd);
        rc = rc ? rc : gd_buf_puts(b, ",\"period_start\":");
        rc = rc ? rc : put_time(b, u.period_start);
        rc = rc ? rc : gd_buf_puts(b, ",\"period_end\":");
        rc = rc ? rc : put_time(b, u.period_end);
        rc = rc ? rc : gd_buf_puts(b, "}");
    }
    return rc ? rc : gd_buf_puts(b, "}");
}

/* Query parameter as a bounded unsigned integer, or dflt. */
static long query_num(const struct gd_http_request *hr, const char *name, long dflt, long max)
{
    struct gd_slice v = gd_http_query_param(hr, name);
    char tmp[24];
    if (!v.p || v.n == 0 || v.n >= sizeof tmp)
        return dflt;
    memcpy(tmp, v.p, v.n);
    tmp[v.n] = '\0';
    char *end;
    long n = strtol(tmp, &end, 10);
    return *end || n < 0 ? dflt : n > max ? max : n;
}

static int matches(const struct gd_http_request *hr, const struct gd_gov *g, int k, size_t i)
{
    struct gd_slice kind = gd_http_query_param(hr, "kind"), id = gd_http_query_param(hr, "id");
    const char *sid = scope_of(g, k, i)->id;
    if (!g->p[k][i].st || !sid)
        return 0; /* an alias without limits has no state */
    if (kind.p && kind.n &&
        (strlen(gd_gov__kind_names[k]) != kind.n ||
         memcmp(kind.p, gd_gov__kind_names[k], kind.n) != 0))
        return 0;
    return !(id.p && id.n && (strlen(sid) != id.n || memcmp(sid, id.p, id.n) != 0));
}

void gd_gov_admin_handler(struct gd_http_exchange *x, void *ud)
{
    const struct gd_gov *g = ud;
    const struct gd_http_request *hr = gd_http_exchange_request(x);
    if (!authorized(g, hr)) {
        respond_err(x, 401, "This route needs the governance admin key.", "invalid_api_key");
        return;
    }
    long offset = query_num(hr, "offset", 0, 1L << 30),
         limit = query_num(hr, "limit", DEFAULT_LIMIT, MAX_LIMIT);
    uint64_t now_ms = gd_mono_ns() / 1000000u;
    int64_t now_s = (int64_t)(gd_wall_ns() / 1000000000u);
    struct gd_buf b;
    gd_buf_init(&b, 64u << 20);
    int rc = gd_buf_puts(&b, "{\"time_zone\":");
    rc = rc ? rc : gd_json_put_str(&b, g->c->tz.name, strlen(g->c->tz.name));
    rc = rc ? rc : gd_buf_puts(&b, ",\"parties\":[");
    long seen = 0, put = 0;
    for (int k = 0; rc == 0 && k < GD_GOV_KIND_N; k++)
        for (size_t i = 0; rc == 0 && i < g->n[k]; i++) {
            if (!matches(hr, g, k, i) || seen++ < offset || put >= limit)
                continue;
            rc = put++ ? gd_buf_puts(&b, ",") : 0;
            rc = rc ? rc : put_party(&b, g, k, i, now_ms, now_s);
        }
    rc = rc ? rc : gd_buf_printf(&b, "],\"total\":%ld,\"offset\":%ld}", seen, offset);
    if (rc == 0)
        gd_http_respond(x, 200, "application/json", b.data, b.len);
    else
        gd_http_respond_json_error(x, 500, "api_error", NULL, "out of memory");
    gd_buf_free(&b);
}
