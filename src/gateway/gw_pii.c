/* The PII policy on the request path (gw_pii.h). */
#include "gateway/gw_pii.h"
#include "gateway/gov_config.h"
#include "gateway/gw_req.h"
#include "gateway/pii_json.h"
#include "core/alloc.h"
#include "core/json_write.h"
#include "girder/error.h"
#include "obs/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const int scanner_slot = 0;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct gd_counter_vec *detections; /* girder_gateway_pii_detections_total */

static void init_metrics(void)
{
    static const char *const labels[] = {"category", "action"};
    gd_metrics_counter(gd_metrics_default(),
                       &(struct gd_metric_opts){"girder_gateway_pii_detections_total",
                                                "PII and secrets found in client requests, by "
                                                "category and the action taken",
                                                labels, 2, 0},
                       &detections);
}

/* Counts what was found of cats and remembers it for the request's log line and span. */
static void count(struct gw_req *req, const unsigned counts[GD_PII_NCAT], uint32_t cats,
                  enum gd_pii_action a)
{
    for (int c = 0; c < GD_PII_NCAT; c++)
        if (counts[c] && (cats >> c & 1)) {
            const char *v[] = {gd_pii_cat_name((enum gd_pii_cat)c), gd_pii_action_name(a)};
            gd_counter_add(gd_counter_vec_get(detections, v), counts[c]);
            req->pii_found |= 1u << c;
            req->pii_acted |= (uint8_t)(1u << a);
        }
}

void gw_pii_log_fields(struct gw_req *req)
{
    if (!req->pii_found)
        return;
    char acts[64] = "", cats[512] = "";
    for (int a = GD_PII_ACT_LOG; a <= GD_PII_ACT_BLOCK; a++)
        if (req->pii_acted >> a & 1)
            snprintf(acts + strlen(acts), sizeof acts - strlen(acts), "%s%s", acts[0] ? "," : "",
                     gd_pii_action_name((enum gd_pii_action)a));
    for (int c = 0; c < GD_PII_NCAT; c++)
        if (req->pii_found >> c & 1)
            snprintf(cats + strlen(cats), sizeof cats - strlen(cats), "%s%s", cats[0] ? "," : "",
                     gd_pii_cat_name((enum gd_pii_cat)c));
    gd_http_log_field_str(req->x, "pii", acts);
    gd_http_log_field_str(req->x, "pii_categories", cats);
}

/* The alias's policy, else the tenant's, else governance's; NULL: none. */
static const struct gd_gov_pii_cfg *policy(const struct gw_req *req)
{
    const struct gd_gov_config *c = req->rt->gc->gov;
    if (!c || !req->gov)
        return NULL;
    uint32_t a = req->plan.chain[0], t = req->gov->tenant;
    if (a < c->n_aliases && c->aliases[a].has_pii)
        return &c->aliases[a].pii;
    if (t != GD_GOV_NONE && t < c->n_tenants && c->tenants[t].has_pii)
        return &c->tenants[t].pii;
    return c->has_pii ? &c->pii : NULL;
}

static void scanner_free(void *s)
{
    gd_pii_scanner_free(s);
}

static struct gd_pii_scanner *scanner(struct gd_loop *loop)
{
    struct gd_pii_scanner *s = gd_loop_slot_get(loop, &scanner_slot);
    if (s || !(s = gd_pii_scanner_new()))
        return s;
    if (gd_loop_slot_set(loop, &scanner_slot, s, scanner_free) != 0) {
        gd_pii_scanner_free(s);
        return NULL;
    }
    return s;
}

/* One rewrite of req's current body into out; 0 or a refusal status with msg. */
static int rewrite(struct gw_req *req, struct gd_pii_scanner *s, uint32_t cats,
                   enum gd_pii_mode mode, struct gd_buf *out, unsigned counts[GD_PII_NCAT],
                   char *msg, size_t msglen)
{
    int rc =
        gd_pii_rewrite_json(s, req->cbody, req->cbody_len, cats, mode, req->pii_vault, out, counts);
    if (rc == 0)
        return 0;
    snprintf(msg, msglen, "%s",
             rc == GD_EPARSE   ? "the request body is not valid JSON, so it cannot be checked for "
                                 "personal data"
             : rc == GD_ELIMIT ? "the request holds more text or more personal data than girder "
                                 "checks in one request"
                               : "out of memory");
    return rc == GD_EPARSE ? 400 : rc == GD_ELIMIT ? 413 : 500;
}

int gw_pii_request(struct gw_req *req, char *msg, size_t msglen, const char **code)
{
    const struct gd_gov_pii_cfg *c = req->pii = policy(req);
    *code = NULL;
    if (!c)
        return 0;
    uint32_t block = gd_gov_pii_cats(c, GD_PII_ACT_BLOCK), log = gd_gov_pii_cats(c, GD_PII_ACT_LOG);
    uint32_t mask = gd_gov_pii_cats(c, GD_PII_ACT_MASK);
    uint32_t redact = gd_gov_pii_cats(c, GD_PII_ACT_REDACT);
    if (!(block | log | mask | redact))
        return 0;
    pthread_once(&once, init_metrics);
    struct gd_pii_scanner *s = scanner(req->loop);
    if (!s) {
        snprintf(msg, msglen, "out of memory");
        return 500;
    }
    unsigned counts[GD_PII_NCAT] = {0};
    size_t cap = 2 * req->cbody_len + 4096; /* placeholders are short, but never cut */
    struct gd_buf tmp;
    int st = 0;
    if (block | log) { /* find them, change nothing */
        gd_buf_init(&tmp, cap);
        st = rewrite(req, s, block | log, GD_PII_MODE_REDACT, &tmp, counts, msg, msglen);
        gd_buf_free(&tmp);
        count(req, counts, log, GD_PII_ACT_LOG);
        for (int k = 0; !st && k < GD_PII_NCAT; k++)
            if (counts[k] && (block >> k & 1)) {
                count(req, counts, block, GD_PII_ACT_BLOCK);
                snprintf(msg, msglen,
                         "the request contains personal data or a secret of category %s, which "
                         "this gateway's policy blocks",
                         gd_pii_cat_name((enum gd_pii_cat)k));
                *code = "pii_blocked";
                st = 400;
            }
    }
    const struct {
        uint32_t cats;
        enum gd_pii_mode mode;
        enum gd_pii_action act;
    } steps[] = {{mask, GD_PII_MODE_MASK, GD_PII_ACT_MASK},
                 {redact, GD_PII_MODE_REDACT, GD_PII_ACT_REDACT}};
    for (size_t i = 0; !st && i < 2; i++) {
        if (!steps[i].cats)
            continue;
        if (steps[i].mode == GD_PII_MODE_MASK && !req->pii_vault &&
            !(req->pii_vault = gd_malloc(sizeof *req->pii_vault))) {
            snprintf(msg, msglen, "out of memory");
            return 500;
        }
        if (steps[i].mode == GD_PII_MODE_MASK)
            gd_pii_vault_init(req->pii_vault);
        memset(counts, 0, sizeof counts);
        struct gd_buf *out = &req->pii_body[i];
        gd_buf_init(out, cap);
        st = rewrite(req, s, steps[i].cats, steps[i].mode, out, counts, msg, msglen);
        if (!st) {
            count(req, counts, steps[i].cats, steps[i].act);
            req->cbody = out->data ? out->data : "";
            req->cbody_len = out->len;
        }
    }
    return st;
}

int gw_pii_restore_json(struct gw_req *req, struct gd_buf *body)
{
    const struct gd_pii_vault *v = req->pii_vault;
    if (!req->pii || !req->pii->restore || !v || !v->n || !body->len)
        return 0;
    /* the placeholders sit inside JSON strings: their values go back escaped */
    struct gd_pii_vault esc;
    struct gd_buf q, out;
    gd_pii_vault_init(&esc);
    gd_buf_init(&out, body->max);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < v->n; i++) {
        gd_buf_init(&q, 8 * GD_PII_VALUE_MAX);
        rc = gd_json_put_str(&q, v->ent[i].value, v->ent[i].len);
        esc.ent[i] = v->ent[i];
        esc.ent[i].value = rc ? NULL : gd_strndup(q.data + 1, q.len - 2); /* without quotes */
        esc.ent[i].len = rc ? 0 : q.len - 2;
        esc.n = i + 1;
        rc = rc ? rc : esc.ent[i].value ? 0 : GD_ENOMEM;
        gd_buf_free(&q);
    }
    rc = rc ? rc : gd_pii_restore(&esc, body->data, body->len, &out);
    if (rc == 0) {
        gd_buf_free(body);
        *body = out;
    } else {
        gd_buf_free(&out);
    }
    gd_pii_vault_free(&esc);
    return rc;
}

void gw_pii_req_free(struct gw_req *req)
{
    if (req->pii_vault) {
        gd_pii_vault_free(req->pii_vault);
        gd_free(req->pii_vault);
    }
    gd_buf_free(&req->pii_body[0]);
    gd_buf_free(&req->pii_body[1]);
    gd_free(req->pii_sse);
    gd_buf_free(&req->pii_sse_out);
}
