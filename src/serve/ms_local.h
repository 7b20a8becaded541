/* The model server's local embedding models, offered in process to the gateway: a gateway
 * deployment whose provider has `type: local` is answered by this girder's `serving:`
 * models without an HTTP hop, so one alias can prefer a local model and fall back to a
 * remote provider (or the reverse) with the gateway's retries and breakers.
 *
 * gd_ms_routes_register provides it on the router as GD_MS_LOCAL_SERVICE
 * (gd_http_router_service); it lives as long as the router.
 *
 * Threading: find and each on any thread; embed and cancel on the caller's loop thread,
 * and done runs there. */
#ifndef GD_SERVE_MS_LOCAL_H
#define GD_SERVE_MS_LOCAL_H

#include "core/buf.h"
#include "net/loop.h"

#include <stddef.h>
#include <stdint.h>

#define GD_MS_LOCAL_SERVICE "serving.local-models"

/* The answer: OpenAI's embeddings response or error body, with its HTTP status. body is
 * valid during the call only. */
typedef void (*gd_ms_local_done_fn)(void *ud, int status, const char *body, size_t len);

struct gd_ms_local {
    void *self;
    /* 1 when name is a served model with an embedder (any version), else 0. */
    int (*find)(void *self, const char *name);
    /* Calls fn for every served model name (embedding: it has an embedder); stops at, and
     * returns, the first non-zero fn result. */
    int (*each)(void *self, int (*fn)(void *ud, const char *name, int embedding), void *ud);
    /* Queues the OpenAI embeddings request body (its "model" a local model) on loop: 0,
     * and done runs later on loop exactly once unless cancel(*call) ran first; or the HTTP
     * status of a refusal (400 bad input, 404 unknown model, 503 not ready or queue full,
     * 500) with OpenAI's error body appended to refusal (done never runs). start_ns
     * (CLOCK_MONOTONIC) starts the model's timeout. */
    int (*embed)(void *self, struct gd_loop *loop, const char *body, size_t len, uint64_t start_ns,
                 gd_ms_local_done_fn done, void *ud, void **call, struct gd_buf *refusal);
    /* The caller no longer waits: a queued job is not run, done is not called. */
    void (*cancel)(void *call);
};

#endif
