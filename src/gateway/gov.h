/* Gateway governance for one loaded config: who is calling (virtual keys), what they may
 * use (allowed aliases), and how much (RPM, TPM, concurrency, USD budgets per key, tenant
 * and alias), with OpenAI-style rate-limit headers and errors. docs/governance.md.
 *
 * Per request: gd_gov_authenticate (before the body is looked at: 401), gd_gov_admit once
 * the alias is known (403, 429), gd_gov_headers on the answer, gd_gov_settle when the real
 * usage is known (or the request ended without it). A ticket lives inside the request.
 *
 * Threading: struct gd_gov is shared by every loop thread (immutable, its states locked by
 * the backend); a ticket belongs to its request's loop thread. */
#ifndef GD_GATEWAY_GOV_H
#define GD_GATEWAY_GOV_H

#include "gateway/gov_limiter.h"
#include "net/http.h"

struct gd_gw_config;
struct gd_gov;
struct gd_gov_ticket;
struct gd_gov_refusal;
struct gd_gov_rkey;

/* What a pending verdict answers: the identity (a key looked up in Redis) or admission. */
enum gd_gov_phase { GD_GOV_PHASE_IDENTIFY = 1, GD_GOV_PHASE_ADMIT };

/* The verdict of an admission that gd_gov_admit left pending: rc 0 (admitted: settle
 * later) or -1 with r filled (403, 429, 503). Runs on the ticket's loop thread. */
typedef void (*gd_gov_verdict_fn)(struct gd_gov_ticket *t, int rc, const struct gd_gov_refusal *r,
                                  void *ud);

struct gd_gov_ticket {
    struct gd_gov *g;
    uint32_t key;            /* index into the config's keys, or GD_GOV_NONE (open gateway, JWT) */
    struct gd_gov_rkey *rk;  /* a key found in Redis (a reference), else NULL */
    enum gd_gov_phase phase; /* of the verdict pending or last given */
    uint32_t tenant;         /* the key's tenant or the JWT's, or GD_GOV_NONE */
    int jwt;                 /* authenticated by a JWT */
    uint32_t alias;
    int held;       /* acquire succeeded and settle has not run */
    int verdict_ok; /* v holds quotas to report */
    struct gd_gov_ask ask;
    struct gd_gov_verdict v;
    int64_t prompt_est;
    int64_t cached_tokens; /* from the answer's usage, -1 unknown */
    int cached_seen;
    gd_gov_verdict_fn on_verdict; /* set by gd_gov_ticket_async */
    void *ud;
};

struct gd_gov_refusal {
    int status;
    const char *type, *code;
    int retryable; /* 0: x-should-retry: false (an SDK must not retry it) */
    uint64_t retry_after_ms;
    char message[320];
};

/* Governance of gc (gc->gov), or *out = NULL when the config has none. 0 or GD_ENOMEM. */
int gd_gov_new(const struct gd_gw_config *gc, struct gd_gov **out);
void gd_gov_free(struct gd_gov *g);

/* Resets t for a new request on g (g may be NULL: every call below is then a no-op, as it
 * is for a NULL t). */
void gd_gov_ticket_init(struct gd_gov_ticket *t, struct gd_gov *g);
/* Drops what t holds (a key found in Redis); once the request is done with it. */
void gd_gov_ticket_release(struct gd_gov_ticket *t);
/* Lets gd_gov_admit wait for a remote limiter (Redis) on loop: it may then return 1 and
 * call fn later, on that loop thread (never from inside gd_gov_admit). */
void gd_gov_ticket_async(struct gd_gov_ticket *t, struct gd_loop *loop, gd_gov_verdict_fn fn,
                         void *ud);
/* Identifies the caller from hr's headers. 0, or -1 with r filled (401; 503 when keys are
 * looked up in Redis, it is unavailable and the policy is fail-closed), or 1: a key is
 * being looked up in Redis, the verdict function will say (phase GD_GOV_PHASE_IDENTIFY;
 * only with gd_gov_ticket_async, else such a key reads as unknown unless cached). */
int gd_gov_authenticate(struct gd_gov_ticket *t, const struct gd_http_request *hr,
                        struct gd_gov_refusal *r);
/* Checks the key may use alias, estimates the request's tokens from its body and takes
 * every limit. 0 (admitted: settle later), -1 with r filled (403, 429, 503 when the shared
 * limiter is unreachable under fail-closed), or 1: pending, the ticket's verdict function
 * will say (the ticket must stay alive until then). */
int gd_gov_admit(struct gd_gov_ticket *t, uint32_t alias, const char *body, size_t len,
                 struct gd_gov_refusal *r);
/* Sets the x-ratelimit-* headers (and nothing when no limit applies). Returns 1 when it set
 * any (the upstream's own x-ratelimit-* must then not be relayed), else 0. */
int gd_gov_headers(const struct gd_gov_ticket *t, struct gd_http_exchange *x);
/* Reads cached prompt tokens from a usage-bearing JSON document (response body or the SSE
 * chunk with usage) into the ticket. */
void gd_gov_note_usage_json(struct gd_gov_ticket *t, const char *json, size_t len);
/* Settles an admitted request once (later calls do nothing). model: the upstream model
 * that answered (price lookup), NULL when no answer. prompt/completion: the answer's
 * usage, -1 when unknown; then the estimate stands for the prompt when upstream_used (the
 * upstream got it), and est_completion for the completion. */
void gd_gov_settle(struct gd_gov_ticket *t, const char *model, int64_t prompt, int64_t completion,
                   int upstream_used, int64_t est_completion);
/* Whether the caller may see alias (GET /v1/models): 1 unless its key restricts aliases. */
int gd_gov_alias_visible(const struct gd_gov_ticket *t, uint32_t alias);
/* 1 unless the caller's key restricts aliases (then it sees only those). */
int gd_gov_sees_all(const struct gd_gov_ticket *t);
/* The /v1/models list for a key that restricts aliases, appended to out: returns 1; 0 when
 * the caller sees every alias (out untouched); GD_ENOMEM. */
int gd_gov_models_json(const struct gd_gov_ticket *t, struct gd_buf *out);
/* Access-log fields (key id, tenant, key tags); never the key. */
void gd_gov_log_fields(const struct gd_gov_ticket *t, struct gd_http_exchange *x);

/* Whether g has an admin key (GET /admin/governance is then registered). */
int gd_gov_has_admin(const struct gd_gov *g);
/* GET /admin/governance (gov_admin.c), ud = the struct gd_gov: every party's limits,
 * usage and budget as JSON, behind the admin key (Authorization: Bearer). Query:
 * kind=key|tenant|alias, id=<exact id>, offset (0), limit (1000, at most 10000). */
void gd_gov_admin_handler(struct gd_http_exchange *x, void *ud);

/* Token estimate of a request body before it goes upstream: ceil(bytes / 4) (OpenAI's rule
 * of thumb for English text; JSON syntax makes it an over-estimate, reconciled later). */
int64_t gd_gov_estimate_tokens(const char *body, size_t len);

#endif
