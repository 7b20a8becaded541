/* The Redis limiter backend (see gov_limiter.h, docs/governance.md "Redis mode").
 *
 * Each loop thread has its own hiredis async connection (a loop slot), attached to the
 * loop by gov_redis_loop.c. acquire sends one EVALSHA of lua/gov_acquire.lua that checks
 * and reserves every party at once, and answers through ask->done; settle sends
 * lua/gov_settle.lua (fire and forget: a settle that cannot be sent is queued and
 * replayed after reconnecting; it is idempotent by reservation id).
 *
 * Failures (not connected, a timeout on the loop timer, an error reply) apply the
 * configured policy: fail-open decides with the local backend (its limits still hold per
 * instance), fail-closed answers GD_ECLOSED (503). An acquire that timed out may still
 * have reserved in Redis: its undo (a settle with zero usage) is sent when the late reply
 * says so, or queued when the connection died first.
 *
 * Metric: girder_gateway_gov_redis_events_total{event} (connected, connect_failed,
 * disconnected, timeout, error_reply, fail_open, fail_closed, settle_queued,
 * settle_dropped).
 *
 * Threading: a connection and its operations belong to one loop thread. */
#include "gateway/gov_limiter.h"
#include "gateway/gov_redis.h"
#include "core/alloc.h"
#include "core/log.h"
#include "gateway/gov_redis_loop.h"
#include "gateway/gov_window.h"
#include "girder/error.h"
#include "net/loop.h"
#include "obs/metrics.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>

extern const char gd_gov_lua_acquire[], gd_gov_lua_settle[]; /* generated from lua/ */

enum {
    MAX_INFLIGHT = 4096, /* acquires waiting for Redis per loop; more fail over at once */
    MAX_QUEUED = 10000,  /* settles waiting for a connection per loop */
    MAX_TIMEOUTS = 16,   /* acquires in a row without an answer in time: reconnect */
    BACKOFF_MIN_MS = 100,
    BACKOFF_MAX_MS = 5000,
    MAX_ARGS = 2 + 4 * GD_GOV_KIND_N + 5 + 5 * GD_GOV_KIND_N,
};

enum ev_id {
    EV_CONNECTED = 0,
    EV_CONNECT_FAILED,
    EV_DISCONNECTED,
    EV_TIMEOUT,
    EV_ERROR_REPLY,
    EV_FAIL_OPEN,
    EV_FAIL_CLOSED,
    EV_SETTLE_QUEUED,
    EV_SETTLE_DROPPED,
    EV_N
};
static const char *const ev_names[EV_N] = {"connected",   "connect_failed", "disconnected",
                                           "timeout",     "error_reply",    "fail_open",
                                           "fail_closed", "settle_queued",  "settle_dropped"};
static struct gd_counter *ev_ctr[EV_N];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char sha_acquire[41], sha_settle[41];
static char instance[17];
static atomic_uint_fast64_t rid_seq;

static void sha1_hex(const char *s, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void init_once(void)
{
    sha1_hex(gd_gov_lua_acquire, sha_acquire);
    sha1_hex(gd_gov_lua_settle, sha_settle);
    unsigned char r[8] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
        memcpy(r, &t, sizeof r);
    }
    for (int i = 0; i < 8; i++)
        snprintf(instance + 2 * i, 3, "%02x", r[i]);
    static const char *const l[] = {"event"};
    struct gd_metric_opts o = {"girder_gateway_gov_redis_events_total",
                               "Redis limiter events: connections, errors, fallbacks", l, 1, EV_N};
    struct gd_counter_vec *v = NULL;
    if (gd_metrics_counter(gd_metrics_default(), &o, &v) == 0)
        for (int i = 0; i < EV_N; i++) {
            const char *val[] = {ev_names[i]};
            ev_ctr[i] = gd_counter_vec_get(v, val);
        }
}

static void count(enum ev_id e)
{
    if (ev_ctr[e])
        gd_counter_inc(ev_ctr[e]);
}

struct queued {
    struct queued *next;
    char *cmd;
    int len;
};

struct rop;

/* One loop thread's connection. */
struct rconn {
    struct gd_loop *loop;
    struct gd_gov_redis_cfg srv; /* copies of the server fields (host, port, path, db, pw) */
    redisAsyncContext *ac;       /* NULL while down */
    int up;                      /* connected */
    int freeing;                 /* the loop is being freed: answer nothing */
    uint64_t backoff_ms;
    struct gd_timer retry, ctimeout;
    struct rop *ops; /* acquires in flight (and timed-out ones awaiting their reply) */
    size_t n_ops;
    int timeouts;               /* acquires in a row that timed out: a dead link is dropped */
    struct queued *q, **q_tail; /* settles to send once connected */
    size_t n_q;
};

struct rop {
    struct rop *prev, *next;
    struct rconn *c;
    struct gd_gov_ask *ask; /* NULL once answered without Redis (timed out) */
    struct gd_timer tmo;
    char *cmd, *undo; /* the EVALSHA, and the settle that gives its reservation back */
    int len, undo_len;
    int retried;              /* NOSCRIPT was answered once */
    gd_gov_redis_reply_fn fn; /* a plain command (gd_gov_redis_call); NULL once answered */
    void *ud;
};

static const int slot_key = 0;

static void conn_connect(struct rconn *c);

static char *dupz(const char *s)
{
    return s ? gd_strdup(s) : NULL;
}

static void srv_free(struct gd_gov_redis_cfg *s)
{
    gd_free(s->host);
    if (s->password) {
        volatile char *p = s->password;
        while (*p)
            *p++ = 0;
    }
    gd_free(s->password);
    gd_free(s->path);
    memset(s, 0, sizeof *s);
}

static int srv_copy(struct gd_gov_redis_cfg *d, const struct gd_gov_redis_cfg *s)
{
    memset(d, 0, sizeof *d);
    d->port = s->port;
    d->db = s->db;
    d->host = dupz(s->host);
    d->path = dupz(s->path);
    d->password = dupz(s->password);
    d->where = s->where; /* not owned: only read while s lives (logs at connect) */
    if ((s->host && !d->host) || (s->path && !d->path) || (s->password && !d->password)) {
        srv_free(d);
        return GD_ENOMEM;
    }
    return 0;
}

/* ---- the settle queue ---- */

static void queue_cmd(struct rconn *c, char *cmd, int len)
{
    struct queued *e = c->n_q < MAX_QUEUED ? gd_malloc(sizeof *e) : NULL;
    if (!e) {
        count(EV_SETTLE_DROPPED); /* its concurrency lease still expires */
        redisFreeCommand(cmd);
        return;
    }
    e->next = NULL;
    e->cmd = cmd;
    e->len = len;
    *c->q_tail = e;
    c->q_tail = &e->next;
    c->n_q++;
    count(EV_SETTLE_QUEUED);
}

static void on_settle_reply(redisAsyncContext *ac, void *r, void *ud);

/* Sends a formatted settle (owning cmd), or queues it while down. */
static void send_settle(struct rconn *c, char *cmd, int len)
{
    if (c->ac && redisAsyncFormattedCommand(c->ac, on_settle_reply, cmd, cmd, len) == REDIS_OK)
        return;
    queue_cmd(c, cmd, len);
}

static void on_settle_reply(redisAsyncContext *ac, void *r, void *ud)
{
    struct rconn *c = ac->data;
    redisReply *rep = r;
    char *cmd = ud;
    if (c->freeing) {
        redisFreeCommand(cmd);
        return;
    }
    if (rep && rep->type != REDIS_REPLY_ERROR) {
        redisFreeCommand(cmd);
        return;
    }
    if (rep && strncmp(rep->str, "NOSCRIPT", 8) != 0) { /* a script error: do not loop */
        count(EV_ERROR_REPLY);
        gd_logf(GD_LOG_WARN, "msg=\"redis settle failed\" error=\"%.200s\"", rep->str);
        redisFreeCommand(cmd);
        return;
    }
    if (rep && c->ac)
        redisAsyncCommand(c->ac, NULL, NULL, "SCRIPT LOAD %s", gd_gov_lua_settle);
    /* disconnected or the script was flushed: again once it is back (idempotent) */
    queue_cmd(c, cmd, (int)strlen(cmd));
}

static void replay(struct rconn *c)
{
    struct queued *e = c->q;
    c->q = NULL;
    c->q_tail = &c->q;
    c->n_q = 0;
    while (e) {
        struct queued *next = e->next;
        send_settle(c, e->cmd, e->len);
        gd_free(e);
        e = next;
    }
}

/* ---- connection ---- */

static void schedule_retry(struct rconn *c)
{
    if (c->freeing)
        return;
    uint64_t d = c->backoff_ms;
    c->backoff_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
    gd_timer_stop(c->loop, &c->ctimeout);
    if (gd_timer_start(c->loop, &c->retry, d) != 0)
        gd_logf(GD_LOG_ERROR, "msg=\"redis reconnect timer failed\"");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *c = ac->data;
    gd_timer_stop(c->loop, &c->ctimeout);
    if (status != REDIS_OK) { /* hiredis frees ac after this */
        if (c->ac == ac) {
            c->ac = NULL;
            count(EV_CONNECT_FAILED);
            gd_logf(GD_LOG_DEBUG, "msg=\"redis connect failed\" error=\"%s\"", ac->errstr);
            schedule_retry(c);
        }
        return;
    }
    c->up = 1;
    c->backoff_ms = BACKOFF_MIN_MS;
    count(EV_CONNECTED);
    gd_logf(GD_LOG_INFO, "msg=\"redis connected\" loop=%d", gd_loop_index(c->loop));
    replay(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rconn *c = ac->data;
    if (c->ac != ac)
        return;
    c->ac = NULL;
    c->up = 0;
    if (c->freeing)
        return;
    count(EV_DISCONNECTED);
    gd_logf(GD_LOG_WARN, "msg=\"redis disconnected\" loop=%d error=\"%s\"", gd_loop_index(c->loop),
            status == REDIS_OK ? "closed" : ac->errstr);
    schedule_retry(c);
}

static void on_setup_reply(redisAsyncContext *ac, void *r, void *ud)
{
    redisReply *rep = r;
    struct rconn *c = ac->data;
    if (!rep || rep->type != REDIS_REPLY_ERROR || c->freeing)
        return;
    count(EV_ERROR_REPLY);
    gd_logf(GD_LOG_ERROR, "msg=\"redis setup failed\" step=%s error=\"%.200s\"", (char *)ud,
            rep->str);
    if (strcmp((char *)ud, "script") != 0)
        redisAsyncDisconnect(ac); /* AUTH or SELECT refused: retried with backoff */
}

/* Drops the connection now (callbacks of its commands run with no reply) and retries. */
static void conn_drop(struct rconn *c, const char *why)
{
    redisAsyncContext *ac = c->ac;
    if (!ac)
        return;
    c->ac = NULL; /* on_disconnect then ignores it */
    c->up = 0;
    c->timeouts = 0;
    redisAsyncFree(ac);
    if (!c->freeing) {
        count(EV_DISCONNECTED);
        gd_logf(GD_LOG_WARN, "msg=\"redis connection dropped\" loop=%d reason=\"%s\"",
                gd_loop_index(c->loop), why);
        schedule_retry(c);
    }
}

static void on_ctimeout(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    struct rconn *c = ud;
    if (c->ac && !c->up) {
        count(EV_CONNECT_FAILED);
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        redisAsyncFree(ac);
        schedule_retry(c);
    }
}

static void on_retry(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    conn_connect(ud);
}

static void conn_connect(struct rconn *c)
{
    redisAsyncContext *ac = c->srv.path ? redisAsyncConnectUnix(c->srv.path)
                                        : redisAsyncConnect(c->srv.host, c->srv.port);
    if (!ac || ac->err || gd_redis_loop_attach(ac, c->loop) != 0) {
        count(EV_CONNECT_FAILED);
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(c);
        return;
    }
    ac->data = c;
    c->ac = ac;
    (void)redisEnableKeepAlive(&ac->c); /* notices a peer that vanished without a reset */
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* pipelined ahead of everything else on this connection */
    if (c->srv.password)
        redisAsyncCommand(ac, on_setup_reply, "auth", "AUTH %s", c->srv.password);
    if (c->srv.db)
        redisAsyncCommand(ac, on_setup_reply, "select", "SELECT %d", c->srv.db);
    redisAsyncCommand(ac, on_setup_reply, "script", "SCRIPT LOAD %s", gd_gov_lua_acquire);
    redisAsyncCommand(ac, on_setup_reply, "script", "SCRIPT LOAD %s", gd_gov_lua_settle);
    (void)gd_timer_start(c->loop, &c->ctimeout, 2000);
}

static void rconn_free(void *p)
{
    struct rconn *c = p;
    c->freeing = 1;
    gd_timer_stop(c->loop, &c->retry);
    gd_timer_stop(c->loop, &c->ctimeout);
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        redisAsyncFree(ac); /* every op callback runs (and frees its op) */
    }
    while (c->ops) { /* never sent */
        struct rop *op = c->ops;
        c->ops = op->next;
        gd_timer_stop(c->loop, &op->tmo);
        redisFreeCommand(op->cmd);
        redisFreeCommand(op->undo);
        gd_free(op);
    }
    for (struct queued *e = c->q, *n; e; e = n) {
        n = e->next;
        redisFreeCommand(e->cmd);
        gd_free(e);
    }
    srv_free(&c->srv);
    gd_free(c);
}

/* This loop's connection to cfg's server, made on first use (or when a reload changed
 * the server). NULL: out of memory. */
static struct rconn *conn_for(struct gd_loop *loop, const struct gd_gov_redis_cfg *cfg)
{
    struct rconn *c = gd_loop_slot_get(loop, &slot_key);
    if (c && gd_gov_redis_config_same_server(&c->srv, cfg))
        return c;
    if (c) { /* a reload pointed at another server: reconnect there */
        conn_drop(c, "server changed by a reload");
        gd_timer_stop(loop, &c->retry);
        srv_free(&c->srv);
        if (srv_copy(&c->srv, cfg) != 0)
            return NULL;
        c->backoff_ms = BACKOFF_MIN_MS;
        conn_connect(c);
        return c;
    }
    if (!(c = gd_calloc(1, sizeof *c)))
        return NULL;
    c->loop = loop;
    c->backoff_ms = BACKOFF_MIN_MS;
    c->q_tail = &c->q;
    gd_timer_init(&c->retry, on_retry, c);
    gd_timer_init(&c->ctimeout, on_ctimeout, c);
    if (srv_copy(&c->srv, cfg) != 0 || gd_loop_slot_set(loop, &slot_key, c, rconn_free) != 0) {
        srv_free(&c->srv);
        gd_free(c);
        return NULL;
    }
    gd_logf(GD_LOG_INFO, "msg=\"redis limiter\" server=\"%s\" loop=%d", cfg->where,
            gd_loop_index(loop));
    conn_connect(c);
    return c;
}

/* ---- commands ---- */

struct argv {
    const char *v[MAX_ARGS];
    size_t n;
    char buf[MAX_ARGS][GD_GOV_MAX_ID + GD_GOV_REDIS_MAX_PREFIX + 64];
};

static void arg(struct argv *a, const char *s)
{
    a->v[a->n++] = s;
}

static const char *argf(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *argf(struct argv *a, const char *fmt, ...)
{
    char *b = a->buf[a->n];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof a->buf[0], fmt, ap);
    va_end(ap);
    a->v[a->n++] = b;
    return b;
}

static const char kind_ch[GD_GOV_KIND_N] = {'k', 't', 'a'};

static void party_key(struct argv *a, const struct gd_gov_ask *k, int kind, const char *what)
{
    argf(a, "{%s}:%c:%s:%s", k->redis->key_prefix, kind_ch[kind], k->party[kind].id, what);
}

static void budget_key(struct argv *a, const struct gd_gov_ask *k, int kind)
{
    if (k->period[kind] == INT64_MIN)
        argf(a, "{%s}:%c:%s:b:total", k->redis->key_prefix, kind_ch[kind], k->party[kind].id);
    else
        argf(a, "{%s}:%c:%s:b:%lld", k->redis->key_prefix, kind_ch[kind], k->party[kind].id,
             (long long)k->period[kind]);
}

static int n_parties(const struct gd_gov_ask *k)
{
    int n = 0;
    for (int i = 0; i < GD_GOV_KIND_N; i++)
        n += k->party[i].st != NULL;
    return n;
}

static int format(struct argv *a, char **out)
{
    size_t lens[MAX_ARGS];
    for (size_t i = 0; i < a->n; i++)
        lens[i] = strlen(a->v[i]);
    long long n = redisFormatCommandArgv(out, (int)a->n, a->v, lens);
    return n < 0 ? -1 : (int)n;
}

/* EVALSHA of the acquire script for k (period[] and rid set). */
static int format_acquire(const struct gd_gov_ask *k, char **out)
{
    struct argv a;
    a.n = 0;
    arg(&a, "EVALSHA");
    arg(&a, sha_acquire);
    int n = n_parties(k);
    argf(&a, "%d", 1 + 4 * n);
    argf(&a, "{%s}:res:%s", k->redis->key_prefix, k->rid);
    for (int i = 0; i < GD_GOV_KIND_N; i++)
        if (k->party[i].st) {
            party_key(&a, k, i, "r");
            party_key(&a, k, i, "t");
            party_key(&a, k, i, "c");
            budget_key(&a, k, i);
        }
    arg(&a, k->rid);
    argf(&a, "%lld", (long long)k->tokens);
    argf(&a, "%.17g", k->cost_usd);
    argf(&a, "%llu", (unsigned long long)k->redis->lease_ms);
    argf(&a, "%d", n);
    for (int i = 0; i < GD_GOV_KIND_N; i++) {
        const struct gd_gov_scope_cfg *c = k->party[i].cfg;
        if (!k->party[i].st)
            continue;
        int64_t ttl = 0;
        if (c->budget.usd > 0 && k->period[i] != INT64_MIN) {
            int64_t s, e;
            gd_gov_period_bounds(c->budget.period, k->tz, k->now_s, &s, &e);
            ttl = e - k->now_s + 7 * 86400; /* readable a week after the period */
        }
        argf(&a, "%lld", (long long)c->limits.rpm);
        argf(&a, "%lld", (long long)c->limits.tpm);
        argf(&a, "%lld", (long long)c->limits.concurrent);
        argf(&a, "%.17g", c->budget.usd);
        argf(&a, "%lld", (long long)ttl);
    }
    return format(&a, out);
}

/* EVALSHA of the settle script: usage differs from the estimate by dtok and dcost. */
static int format_settle(const struct gd_gov_ask *k, int64_t dtok, double dcost, char **out)
{
    struct argv a;
    a.n = 0;
    arg(&a, "EVALSHA");
    arg(&a, sha_settle);
    int n = n_parties(k);
    argf(&a, "%d", 1 + 3 * n);
    argf(&a, "{%s}:res:%s", k->redis->key_prefix, k->rid);
    for (int i = 0; i < GD_GOV_KIND_N; i++)
        if (k->party[i].st) {
            party_key(&a, k, i, "t");
            party_key(&a, k, i, "c");
            budget_key(&a, k, i);
        }
    arg(&a, k->rid);
    argf(&a, "%lld", (long long)dtok);
    argf(&a, "%.17g", dcost);
    argf(&a, "%d", n);
    for (int i = 0; i < GD_GOV_KIND_N; i++)
        if (k->party[i].st) {
            arg(&a, k->party[i].cfg->limits.tpm ? "1" : "0");
            arg(&a, k->party[i].cfg->budget.usd > 0 ? "1" : "0");
        }
    return format(&a, out);
}

/* ---- verdicts ---- */

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

static int64_t int_at(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER
               ? (int64_t)r->element[i]->integer
               : 0;
}

/* The verdict of an acquire reply: 0, GD_EAGAIN, or GD_EIO (not what the script says). */
static int parse_verdict(const struct gd_gov_ask *k, const redisReply *r, struct gd_gov_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return GD_EIO;
    int kinds[GD_GOV_KIND_N], n = 0;
    for (int i = 0; i < GD_GOV_KIND_N; i++)
        if (k->party[i].st)
            kinds[n++] = i;
    if (int_at(r, 0) == 1) {
        uint64_t now = (uint64_t)int_at(r, 1);
        uint64_t reset = gd_gov_window_reset_after_add_ms(now);
        for (int j = 0; r->elements >= 2 + 2 * (size_t)n && j < n; j++) {
            const struct gd_gov_limits *l = &k->party[kinds[j]].cfg->limits;
            int64_t ru = int_at(r, 2 + 2 * (size_t)j), tu = int_at(r, 3 + 2 * (size_t)j);
            if (l->rpm)
                tighten(&v->requests, l->rpm, l->rpm - ru - 1, reset);
            if (l->tpm)
                tighten(&v->tokens, l->tpm, l->tpm - tu - k->tokens, reset);
        }
        return 0;
    }
    int64_t reason = int_at(r, 1), party = int_at(r, 2);
    if (r->elements < 7 || reason < GD_GOV_RPM || reason > GD_GOV_TOO_LARGE || party < 0 ||
        party >= n)
        return GD_EIO;
    /* the script's codes: 1 rpm, 2 tpm, 3 concurrent, 4 budget, 5 too large */
    v->reason = (enum gd_gov_reason)reason;
    v->by = (enum gd_gov_kind)kinds[party];
    v->retry_after_ms = (uint64_t)int_at(r, 3);
    v->limit = int_at(r, 4);
    v->used = int_at(r, 5);
    /* the headers show the quota that refused (so it is the tightest one), its reset when
     * the refused request would fit */
    if (v->reason == GD_GOV_RPM)
        tighten(&v->requests, v->limit, v->limit - v->used, v->retry_after_ms);
    else if (v->reason == GD_GOV_TPM || v->reason == GD_GOV_TOO_LARGE)
        tighten(&v->tokens, v->limit, v->limit - v->used, v->retry_after_ms);
    if (v->reason == GD_GOV_BUDGET) {
        const struct gd_gov_scope_cfg *c = k->party[v->by].cfg;
        int64_t s, e;
        gd_gov_period_bounds(c->budget.period, k->tz, k->now_s, &s, &e);
        v->retry_after_ms = e == INT64_MAX ? 0 : (uint64_t)(e - k->now_s) * 1000u;
        v->budget_usd = c->budget.usd;
        const redisReply *sp = r->element[6];
        v->spent_usd = sp->type == REDIS_REPLY_STRING ? strtod(sp->str, NULL) : 0;
    }
    return GD_EAGAIN;
}

/* Redis could not decide: the configured policy does. */
static int fail_over(struct gd_gov_ask *k, struct gd_gov_verdict *v)
{
    if (k->redis->failure == GD_GOV_FAIL_CLOSED) {
        count(EV_FAIL_CLOSED);
        memset(v, 0, sizeof *v);
        return GD_ECLOSED;
    }
    count(EV_FAIL_OPEN);
    k->local = 1;
    return gd_gov_local_ops.acquire(k, v);
}

static void op_free(struct rop *op)
{
    struct rconn *c = op->c;
    gd_timer_stop(c->loop, &op->tmo);
    if (op->prev)
        op->prev->next = op->next;
    else
        c->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    c->n_ops--;
    redisFreeCommand(op->cmd);
    if (op->undo)
        redisFreeCommand(op->undo);
    gd_free(op);
}

/* Answers the request (once) and forgets it. */
static void op_answer(struct rop *op, int rc)
{
    struct gd_gov_ask *k = op->ask;
    op->ask = NULL;
    gd_timer_stop(op->c->loop, &op->tmo);
    k->done(k, rc);
}

static void on_acquire_reply(redisAsyncContext *ac, void *r, void *ud)
{
    struct rop *op = ud;
    struct rconn *c = op->c;
    redisReply *rep = r;
    (void)ac;
    if (c->freeing) {
        op_free(op);
        return;
    }
    if (rep)
        c->timeouts = 0;
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0 &&
        !op->retried && c->ac) { /* the script cache was flushed: load it, send again */
        op->retried = 1;
        redisAsyncCommand(c->ac, NULL, NULL, "SCRIPT LOAD %s", gd_gov_lua_acquire);
        if (redisAsyncFormattedCommand(c->ac, on_acquire_reply, op, op->cmd, (size_t)op->len) ==
            REDIS_OK)
            return;
        rep = NULL;
    }
    if (!op->ask) { /* answered already (timed out): give back what Redis reserved */
        if (rep && rep->type == REDIS_REPLY_ARRAY && int_at(rep, 0) == 1) {
            send_settle(c, op->undo, op->undo_len);
            op->undo = NULL;
        } else if (!rep) { /* it may have run before the connection died */
            queue_cmd(c, op->undo, op->undo_len);
            op->undo = NULL;
        }
        op_free(op);
        return;
    }
    struct gd_gov_ask *k = op->ask;
    int rc;
    if (!rep) {
        rc = fail_over(k, k->v);
        queue_cmd(c, op->undo, op->undo_len); /* it may have reserved: undo once back */
        op->undo = NULL;
    } else if ((rc = parse_verdict(k, rep, k->v)) == GD_EIO) {
        count(EV_ERROR_REPLY);
        gd_logf(GD_LOG_WARN, "msg=\"redis acquire failed\" error=\"%.200s\"",
                rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        rc = fail_over(k, k->v);
    }
    k->at_ms = k->now_ms;
    op_answer(op, rc);
    op_free(op);
}

static void on_timeout(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    struct rop *op = ud;
    struct rconn *c = op->c;
    count(EV_TIMEOUT);
    struct gd_gov_ask *k = op->ask;
    int rc = fail_over(k, k->v);
    op_answer(op, rc); /* the op stays until its reply (or the disconnect) comes */
    /* a link that stopped answering (no reset seen) is replaced; a slow Redis that still
     * answers resets the count with each reply */
    if (++c->timeouts >= MAX_TIMEOUTS)
        conn_drop(c, "no answer in time");
}

static int redis_acquire(struct gd_gov_ask *k, struct gd_gov_verdict *v)
{
    pthread_once(&once, init_once);
    memset(v, 0, sizeof *v);
    k->v = v;
    k->local = 0;
    snprintf(k->rid, sizeof k->rid, "%s-%llx", instance,
             (unsigned long long)atomic_fetch_add(&rid_seq, 1));
    for (int i = 0; i < GD_GOV_KIND_N; i++) {
        const struct gd_gov_scope_cfg *c = k->party[i].cfg;
        int64_t s = INT64_MIN, e;
        if (k->party[i].st && c->budget.usd > 0)
            gd_gov_period_bounds(c->budget.period, k->tz, k->now_s, &s, &e);
        k->period[i] = s;
    }
    k->at_ms = k->now_ms;
    if (n_parties(k) == 0) {
        k->local = 1; /* nothing to count: the local backend does nothing either */
        return gd_gov_local_ops.acquire(k, v);
    }
    struct rconn *c = k->loop && k->done ? conn_for(k->loop, k->redis) : NULL;
    /* while connecting the command waits in hiredis' buffer (the timeout bounds it); while
     * down (between retries) the policy decides at once */
    if (!c || !c->ac || c->n_ops >= MAX_INFLIGHT)
        return fail_over(k, v);
    struct rop *op = gd_calloc(1, sizeof *op);
    if (!op)
        return fail_over(k, v);
    op->c = c;
    op->ask = k;
    gd_timer_init(&op->tmo, on_timeout, op);
    op->len = format_acquire(k, &op->cmd);
    op->undo_len = format_settle(k, -k->tokens, -k->cost_usd, &op->undo);
    if (op->len < 0 || op->undo_len < 0) {
        if (op->cmd)
            redisFreeCommand(op->cmd);
        if (op->undo)
            redisFreeCommand(op->undo);
        gd_free(op);
        return fail_over(k, v);
    }
    op->next = c->ops;
    if (c->ops)
        c->ops->prev = op;
    c->ops = op;
    c->n_ops++;
    if (redisAsyncFormattedCommand(c->ac, on_acquire_reply, op, op->cmd, (size_t)op->len) !=
        REDIS_OK) {
        op_free(op);
        return fail_over(k, v);
    }
    if (gd_timer_start(k->loop, &op->tmo, k->redis->timeout_ms) != 0) {
        op->ask = NULL; /* its reply (or the disconnect) frees it and undoes a reservation */
        return fail_over(k, v);
    }
    return GD_EINPROGRESS;
}

/* ---- plain commands (gov_redis.h) ---- */

static void on_call_reply(redisAsyncContext *ac, void *r, void *ud)
{
    struct rop *op = ud;
    redisReply *rep = r;
    (void)ac;
    if (op->c->freeing) {
        op_free(op);
        return;
    }
    if (rep)
        op->c->timeouts = 0;
    if (rep && rep->type == REDIS_REPLY_ERROR)
        count(EV_ERROR_REPLY);
    gd_gov_redis_reply_fn fn = op->fn;
    op->fn = NULL;
    if (fn)
        fn(op->ud, rep);
    op_free(op);
}

static void on_call_timeout(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    struct rop *op = ud;
    struct rconn *c = op->c;
    count(EV_TIMEOUT);
    gd_gov_redis_reply_fn fn = op->fn;
    op->fn = NULL; /* the op stays until its reply (or the disconnect) comes */
    fn(op->ud, NULL);
    if (++c->timeouts >= MAX_TIMEOUTS)
        conn_drop(c, "no answer in time");
}

int gd_gov_redis_call(struct gd_loop *loop, const struct gd_gov_redis_cfg *cfg, int argc,
                      const char **argv, const size_t *lens, gd_gov_redis_reply_fn fn, void *ud)
{
    pthread_once(&once, init_once);
    struct rconn *c = conn_for(loop, cfg);
    if (!c)
        return GD_ENOMEM;
    if (!c->ac || c->n_ops >= MAX_INFLIGHT)
        return GD_EIO;
    struct rop *op = gd_calloc(1, sizeof *op);
    if (!op)
        return GD_ENOMEM;
    op->c = c;
    op->fn = fn;
    op->ud = ud;
    gd_timer_init(&op->tmo, on_call_timeout, op);
    long long n = redisFormatCommandArgv(&op->cmd, argc, argv, lens);
    if (n < 0) {
        gd_free(op);
        return GD_ENOMEM;
    }
    op->len = (int)n;
    op->next = c->ops;
    if (c->ops)
        c->ops->prev = op;
    c->ops = op;
    c->n_ops++;
    if (redisAsyncFormattedCommand(c->ac, on_call_reply, op, op->cmd, (size_t)op->len) !=
        REDIS_OK) {
        op_free(op);
        return GD_EIO;
    }
    if (gd_timer_start(loop, &op->tmo, cfg->timeout_ms) != 0) {
        op->fn = NULL; /* its reply (or the disconnect) frees it */
        return GD_ENOMEM;
    }
    return 0;
}

static void redis_settle(const struct gd_gov_ask *k, const struct gd_gov_actual *x)
{
    if (k->local) {
        gd_gov_local_ops.settle(k, x);
        return;
    }
    struct rconn *c = k->loop ? conn_for(k->loop, k->redis) : NULL;
    char *cmd = NULL;
    int len = format_settle(k, x->tokens - k->tokens, x->cost_usd - k->cost_usd, &cmd);
    if (len < 0 || !c) {
        count(EV_SETTLE_DROPPED); /* out of memory: the lease gives the slot back */
        if (cmd)
            redisFreeCommand(cmd);
        return;
    }
    send_settle(c, cmd, len);
}

/* States, and the admin route's view, are the local backend's (this instance's). */
static int redis_get(enum gd_gov_kind kind, const char *id, struct gd_gov_state **out)
{
    return gd_gov_local_ops.state_get(kind, id, out);
}

static void redis_put(struct gd_gov_state *st)
{
    gd_gov_local_ops.state_put(st);
}

static void redis_read(struct gd_gov_state *st, const struct gd_gov_scope_cfg *cfg,
                       const struct gd_gov_tz *tz, uint64_t now_ms, int64_t now_s,
                       struct gd_gov_usage *out)
{
    gd_gov_local_ops.read(st, cfg, tz, now_ms, now_s, out);
}

const struct gd_gov_limiter_ops gd_gov_redis_ops = {
    .name = "redis",
    .state_get = redis_get,
    .state_put = redis_put,
    .acquire = redis_acquire,
    .settle = redis_settle,
    .read = redis_read,
};
