/* The in-process limiter backend (see gov_limiter.h): exact on one instance.
 *
 * States live in a process-wide table keyed by (kind, id), reference-counted by the
 * configs that name them, so a reload carries every window, in-flight count and spend of
 * the parties it keeps. Each state has its own mutex; acquire locks a request's parties
 * in kind order (key, tenant, alias), which makes the all-or-nothing check race-free
 * without a global lock and cannot deadlock. */
#include "gateway/gov_limiter.h"
#include "core/alloc.h"
#include "core/hash.h"
#include "gateway/gov_window.h"
#include "girder/error.h"

#include <pthread.h>
#include <string.h>

struct gd_gov_state {
    struct gd_gov_state *next; /* table chain, under table_mu */
    long refs;                 /* under table_mu */
    enum gd_gov_kind kind;
    char *id;
    pthread_mutex_t mu; /* the rest */
    struct gd_gov_window rpm, tpm;
    int64_t inflight;
    enum gd_gov_period period;
    int64_t period_start, period_end;
    double spent, reserved;
};

enum { TABLE_SIZE = 4096 };
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static struct gd_gov_state *table[TABLE_SIZE];

static size_t slot_of(enum gd_gov_kind kind, const char *id)
{
    return (size_t)((gd_hash(id, strlen(id)) ^ (uint64_t)kind) % TABLE_SIZE);
}

static int local_get(enum gd_gov_kind kind, const char *id, struct gd_gov_state **out)
{
    size_t s = slot_of(kind, id);
    pthread_mutex_lock(&table_mu);
    struct gd_gov_state *st = table[s];
    while (st && (st->kind != kind || strcmp(st->id, id) != 0))
        st = st->next;
    if (!st && (st = gd_calloc(1, sizeof *st)) != NULL) {
        if (!(st->id = gd_strdup(id))) {
            gd_free(st);
            st = NULL;
        } else {
            st->kind = kind;
            pthread_mutex_init(&st->mu, NULL);
            gd_gov_window_init(&st->rpm);
            gd_gov_window_init(&st->tpm);
            st->period_end = INT64_MIN; /* computed on first use */
            st->next = table[s];
            table[s] = st;
        }
    }
    if (st)
        st->refs++;
    pthread_mutex_unlock(&table_mu);
    *out = st;
    return st ? 0 : GD_ENOMEM;
}

static void local_put(struct gd_gov_state *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&table_mu);
    if (--st->refs > 0) {
        pthread_mutex_unlock(&table_mu);
        return;
    }
    struct gd_gov_state **pp = &table[slot_of(st->kind, st->id)];
    while (*pp != st)
        pp = &(*pp)->next;
    *pp = st->next;
    pthread_mutex_unlock(&table_mu);
    pthread_mutex_destroy(&st->mu);
    gd_free(st->id);
    gd_free(st);
}

/* Starts a new budget period when now left the current one (or the period kind changed
 * with a reload). */
static void roll_period(struct gd_gov_state *st, const struct gd_gov_budget_cfg *b,
                        const struct gd_gov_tz *tz, int64_t now)
{
    if (st->period == b->period && now >= st->period_start && now < st->period_end)
        return;
    gd_gov_period_bounds(b->period, tz, now, &st->period_start, &st->period_end);
    st->period = b->period;
    st->spent = 0;
}

static void tighten(struct gd_gov_quota *q, int64_t limit, int64_t remaining, uint64_t reset)
{
    if (remaining < 0)
        remaining = 0;
    if (q->limit == 0 || remaining < q->remaining ||
        (remaining == q->remaining && reset > q->reset_ms)) {
        q->limit = limit;
        q->remaining = remaining;
        q->reset_ms = reset;
    }
}

static int refuse(struct gd_gov_verdict *v, enum gd_gov_reason r, enum gd_gov_kind by,
                  uint64_t wait, int64_t limit, int64_t used)
{
    v->reason = r;
    v->by = by;
    v->retry_after_ms = wait;
    v->limit = limit;
    v->used = used;
    return GD_EAGAIN;
}

/* Checks one party (locked); GD_EAGAIN with the verdict filled when a limit refuses.
 * used[0..1] receive the RPM/TPM windows' sums for reserve. */
static int check(struct gd_gov_state *st, const struct gd_gov_scope_cfg *c,
                 const struct gd_gov_ask *a, enum gd_gov_kind k, struct gd_gov_verdict *v,
                 int64_t *used_rt)
{
    const struct gd_gov_limits *l = &c->limits;
    if (l->concurrent && st->inflight >= l->concurrent)
        return refuse(v, GD_GOV_CONCURRENT, k, 1000, l->concurrent, st->inflight);
    if (l->rpm) {
        int64_t used = used_rt[0] = gd_gov_window_used(&st->rpm, a->now_ms);
        if (used + 1 > l->rpm)
            return refuse(v, GD_GOV_RPM, k, gd_gov_window_wait_ms(&st->rpm, a->now_ms, l->rpm, 1),
                          l->rpm, used);
    }
    if (l->tpm) {
        int64_t used = used_rt[1] = gd_gov_window_used(&st->tpm, a->now_ms);
        if (a->tokens > l->tpm)
            return refuse(v, GD_GOV_TOO_LARGE, k, 0, l->tpm, a->tokens);
        if (used + a->tokens > l->tpm)
            return refuse(v, GD_GOV_TPM, k,
                          gd_gov_window_wait_ms(&st->tpm, a->now_ms, l->tpm, a->tokens), l->tpm,
                          used);
    }
    if (c->budget.usd > 0) {
        roll_period(st, &c->budget, a->tz, a->now_s);
        if (st->spent + st->reserved >= c->budget.usd) {
            int64_t left = st->period_end == INT64_MAX ? 0 : st->period_end - a->now_s;
            refuse(v, GD_GOV_BUDGET, k, (uint64_t)left * 1000u, 0, 0);
            v->budget_usd = c->budget.usd;
            v->spent_usd = st->spent;
            return GD_EAGAIN;
        }
    }
    return 0;
}

/* Reserves one party (locked) and folds its quotas into the verdict. A window without a
 * limit is not kept (a reload that adds one starts it empty). */
static void reserve(struct gd_gov_state *st, const struct gd_gov_scope_cfg *c,
                    const struct gd_gov_ask *a, struct gd_gov_verdict *v, const int64_t *used)
{
    const struct gd_gov_limits *l = &c->limits;
    uint64_t reset = gd_gov_window_reset_after_add_ms(a->now_ms);
    st->inflight++;
    if (c->budget.usd > 0)
        st->reserved += a->cost_usd;
    if (l->rpm) {
        gd_gov_window_add(&st->rpm, a->now_ms, 1);
        tighten(&v->requests, l->rpm, l->rpm - used[0] - 1, reset);
    }
    if (l->tpm && a->tokens > 0) {
        gd_gov_window_add(&st->tpm, a->now_ms, a->tokens);
        tighten(&v->tokens, l->tpm, l->tpm - used[1] - a->tokens, reset);
    } else if (l->tpm) {
        tighten(&v->tokens, l->tpm, l->tpm - used[1], gd_gov_window_reset_ms(&st->tpm, a->now_ms));
    }
}

static int local_acquire(struct gd_gov_ask *a, struct gd_gov_verdict *v)
{
    memset(v, 0, sizeof *v);
    int k, rc = 0;
    int64_t used[GD_GOV_KIND_N][2] = {{0}};
    for (k = 0; k < GD_GOV_KIND_N; k++)
        if (a->party[k].st)
            pthread_mutex_lock(&a->party[k].st->mu);
    for (k = 0; rc == 0 && k < GD_GOV_KIND_N; k++)
        if (a->party[k].st)
            rc = check(a->party[k].st, a->party[k].cfg, a, (enum gd_gov_kind)k, v, used[k]);
    for (k = 0; rc == 0 && k < GD_GOV_KIND_N; k++)
        if (a->party[k].st)
            reserve(a->party[k].st, a->party[k].cfg, a, v, used[k]);
    /* a refusal still reports the quotas as they are, for the headers */
    for (k = 0; rc != 0 && k < GD_GOV_KIND_N; k++) {
        struct gd_gov_state *st = a->party[k].st;
        const struct gd_gov_limits *l = st ? &a->party[k].cfg->limits : NULL;
        if (l && l->rpm)
            tighten(&v->requests, l->rpm, l->rpm - gd_gov_window_used(&st->rpm, a->now_ms),
                    gd_gov_window_reset_ms(&st->rpm, a->now_ms));
        if (l && l->tpm)
            tighten(&v->tokens, l->tpm, l->tpm - gd_gov_window_used(&st->tpm, a->now_ms),
                    gd_gov_window_reset_ms(&st->tpm, a->now_ms));
    }
    for (k = GD_GOV_KIND_N - 1; k >= 0; k--)
        if (a->party[k].st)
            pthread_mutex_unlock(&a->party[k].st->mu);
    a->at_ms = a->now_ms;
    return rc;
}

static void local_settle(const struct gd_gov_ask *a, const struct gd_gov_actual *x)
{
    for (int k = 0; k < GD_GOV_KIND_N; k++) {
        struct gd_gov_state *st = a->party[k].st;
        if (!st)
            continue;
        const struct gd_gov_budget_cfg *b = &a->party[k].cfg->budget;
        pthread_mutex_lock(&st->mu);
        if (st->inflight > 0)
            st->inflight--;
        if (x->tokens != a->tokens && a->party[k].cfg->limits.tpm)
            gd_gov_window_adjust(&st->tpm, a->at_ms, x->now_ms, x->tokens - a->tokens);
        if (b->usd > 0) {
            st->reserved -= a->cost_usd;
            if (st->reserved < 1e-12)
                st->reserved = 0;
            roll_period(st, b, a->tz, x->now_s);
            st->spent += x->cost_usd;
        }
        pthread_mutex_unlock(&st->mu);
    }
}

static void local_read(struct gd_gov_state *st, const struct gd_gov_scope_cfg *cfg,
                       const struct gd_gov_tz *tz, uint64_t now_ms, int64_t now_s,
                       struct gd_gov_usage *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&st->mu);
    out->requests_1m = cfg->limits.rpm ? gd_gov_window_used(&st->rpm, now_ms) : 0;
    out->tokens_1m = cfg->limits.tpm ? gd_gov_window_used(&st->tpm, now_ms) : 0;
    out->in_flight = st->inflight;
    if (cfg->budget.usd > 0) {
        roll_period(st, &cfg->budget, tz, now_s);
        out->spent_usd = st->spent;
        out->period_start = st->period_start;
        out->period_end = st->period_end;
    }
    pthread_mutex_unlock(&st->mu);
}

double gd_gov_local_spent(struct gd_gov_state *st)
{
    pthread_mutex_lock(&st->mu);
    double s = st->spent;
    pthread_mutex_unlock(&st->mu);
    return s;
}

const struct gd_gov_limiter_ops gd_gov_local_ops = {
    .name = "local",
    .state_get = local_get,
    .state_put = local_put,
    .acquire = local_acquire,
    .settle = local_settle,
    .read = local_read,
};
