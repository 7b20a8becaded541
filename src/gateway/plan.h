/* Retry / fallback planning for one client request.
 *
 * A request walks a chain of aliases: the requested one, then its fallbacks (flattened
 * depth-first at config load, duplicates dropped). Within an alias it may make 1 + retries
 * attempts, preferring deployments it has not tried yet. After a failed attempt it goes on
 * only when the failure is retryable (connect failure, timeout before the first byte, 429,
 * 5xx) and no byte has reached the client yet; a non-retryable upstream answer (e.g. 400)
 * is relayed as the upstream sent it. When the chain is exhausted the client gets an
 * error whose status says what happened: 504 when the last failure was a timeout, 503 when
 * no deployment could be tried at all (every breaker open or cooling down after a 429) or
 * the last answer was a 429, else 502.
 *
 * Pure bookkeeping: choosing a deployment is delegated to a callback. Not thread-safe. */
#ifndef GD_GATEWAY_PLAN_H
#define GD_GATEWAY_PLAN_H

#include <stddef.h>
#include <stdint.h>

enum gd_gw_outcome {
    GD_GW_OUTCOME_OK = 0,  /* upstream answered 2xx/3xx */
    GD_GW_OUTCOME_HTTP,    /* upstream answered with `status` >= 400 */
    GD_GW_OUTCOME_CONNECT, /* DNS/connect/TLS failure, or reset before any byte */
    GD_GW_OUTCOME_FIRST_BYTE_TIMEOUT,
    GD_GW_OUTCOME_TIMEOUT, /* whole-request timeout after the first byte */
    GD_GW_OUTCOME_BROKEN,  /* transfer failed after the response started */
};

struct gd_gw_attempt_result {
    enum gd_gw_outcome outcome;
    int status;              /* upstream HTTP status when known, else 0 */
    uint32_t retry_after_ms; /* parsed retry-after, 0 when absent */
    int client_bytes_sent;   /* something already went to the client */
};

/* Whether the deployment's breaker should count this as a failure (connect failures,
 * timeouts, broken transfers and 5xx; a 4xx means the deployment itself is healthy). */
int gd_gw_outcome_is_failure(const struct gd_gw_attempt_result *r);
/* Whether another attempt may be made after r (ignoring budgets). */
int gd_gw_outcome_is_retryable(const struct gd_gw_attempt_result *r);

/* Picks a deployment of alias `alias` not in `tried` (bit mask); returns its index or a
 * negative value when none is available. */
typedef int (*gd_gw_pick_fn)(void *ud, uint32_t alias, uint64_t tried);

struct gd_gw_plan {
    const uint32_t *chain;   /* alias ids, chain[0] = requested alias (not owned) */
    const uint32_t *retries; /* retries per alias id (not owned) */
    size_t chain_len;
    size_t pos;             /* current alias in chain */
    uint32_t used_in_alias; /* attempts made in chain[pos] */
    uint64_t tried;         /* deployments tried in chain[pos] */
    uint32_t attempts;      /* all attempts so far */
    uint32_t fallbacks;     /* aliases moved to after the first */
    int have_last;
    struct gd_gw_attempt_result last;
    uint32_t retry_after_ms; /* smallest retry-after seen */
};

void gd_gw_plan_init(struct gd_gw_plan *p, const uint32_t *chain, size_t chain_len,
                     const uint32_t *retries);

/* Chooses the next attempt. Returns 0 with *alias and *dep set, or GD_ENOENT when the plan is
 * exhausted (see gd_gw_plan_error). */
int gd_gw_plan_next(struct gd_gw_plan *p, gd_gw_pick_fn pick, void *ud, uint32_t *alias,
                    uint32_t *dep);

/* Records the result of the attempt last returned by gd_gw_plan_next. Returns 1 when
 * another attempt should be planned, 0 when the result is final (relay it). */
int gd_gw_plan_record(struct gd_gw_plan *p, const struct gd_gw_attempt_result *r);

/* Status and OpenAI error code for an exhausted plan. */
void gd_gw_plan_error(const struct gd_gw_plan *p, int *status, const char **code,
                      const char **message);

#endif
