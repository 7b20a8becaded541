/* Internal: the gateway's shared run-time state for one loaded config — per alias the
 * deployments' router targets (weights, EWMA, in-flight counts, breakers) under a mutex,
 * cached metric children, and the /v1/models answer. Created by gd_gw_routes_register,
 * freed with the router. Lives as long as the config it was built from; a reload's new
 * runtime starts from the newest live one's routing state (breakers, latency EWMA,
 * retry-after cooling) for every alias/deployment pair the two share. */
#ifndef GD_GATEWAY_GW_RUNTIME_H
#define GD_GATEWAY_GW_RUNTIME_H

#include "core/buf.h"
#include "core/config.h"
#include "gateway/gw_config.h"
#include "gateway/gw_hc.h"
#include "gateway/plan.h"
#include "gateway/router.h"

#include <pthread.h>

struct gd_counter;
struct gd_gov;
struct gd_gauge;
struct gd_histogram;

enum gw_attempt_class {
    GW_AC_OK = 0,
    GW_AC_HTTP_4XX,
    GW_AC_HTTP_429,
    GW_AC_HTTP_5XX,
    GW_AC_CONNECT,
    GW_AC_TIMEOUT,
    GW_AC_BROKEN,
    GW_AC_N
};

struct gw_dep_rt {
    char *label;    /* "provider/model" (metric label, x-girder-deployment) */
    char *pool_key; /* provider identity for the per-loop connection pool */
    struct gw_hc_target *hc; /* girder's own client serves it; NULL: libcurl */
    struct gd_counter *attempts[GW_AC_N];
    struct gd_counter *prompt_tokens, *completion_tokens;
    struct gd_histogram *duration, *ttfb;
    struct gd_gauge *breaker_state;
};

struct gw_alias_rt {
    pthread_mutex_t mu;
    struct gd_gw_target *targets; /* [n_deployments], guarded by mu */
    struct gw_dep_rt *deps;
    struct gd_counter *retries, *fallbacks;
};

struct gd_ms_local;

struct gw_runtime {
    struct gd_config *cfg; /* reference */
    const struct gd_gw_config *gc;
    struct gw_alias_rt *aliases;
    long max_conn_per_loop; /* scratch: per provider, computed at creation */
    struct gd_buf models_json;
    struct gd_counter_vec *requests;          /* girder_gateway_requests_total{alias,status} */
    struct gd_gov *gov;                       /* governance (gov.h), NULL when not configured */
    const struct gd_ms_local *local;          /* the model server's models (gw_local.h) */
    struct gw_runtime *live_prev, *live_next; /* process-wide list of live runtimes */
};

int gw_runtime_new(const struct gd_config *cfg, struct gw_runtime **out);
void gw_runtime_free(void *rt);

/* Picks a deployment of alias not in tried and acquires it (breaker probe slot, in-flight
 * count); the outcome must be reported with gw_runtime_record. Returns the deployment index
 * (and *probe, the breaker token) or a negative value when none is available. */
int gw_runtime_pick(struct gw_runtime *rt, uint32_t alias, uint64_t tried, int *probe);

/* Reports an attempt: breaker, in-flight, retry-after cooling, EWMA and metrics. ttfb_ms < 0
 * when no byte arrived; duration_ms is the whole attempt. */
void gw_runtime_record(struct gw_runtime *rt, uint32_t alias, uint32_t dep, int probe,
                       const struct gd_gw_attempt_result *r, double ttfb_ms, double duration_ms);

/* Releases a deployment acquired by pick without judging it (client went away). */
void gw_runtime_cancel(struct gw_runtime *rt, uint32_t alias, uint32_t dep, int probe);

/* Adds usage tokens (negative values are ignored). */
void gw_runtime_add_tokens(struct gw_runtime *rt, uint32_t alias, uint32_t dep, int64_t prompt,
                           int64_t completion);

/* Counts a finished client request for alias (or "-" when unknown) with its status. */
void gw_runtime_count_request(struct gw_runtime *rt, const char *alias, int status);

uint64_t gw_now_ms(void);

#endif
