/* The HTTP/1.1 server: connections, request routing and the response API (plain and
 * streaming) used by every module that serves HTTP (built-in routes, LLM gateway, model
 * serving).
 *
 * Model: each loop thread runs one struct gd_http_server on its own SO_REUSEPORT listener.
 * A connection reads a request head (strict parser, http_parser.h), then its whole body
 * (capped), then calls the route's handler with a struct gd_http_exchange. Pipelined
 * requests are parsed only after the previous response is finished, so responses are in
 * order by construction. A handler may answer at once or later (async) from the same loop
 * thread; until it answers the connection is not read (only a disconnect is watched for).
 *
 * Threading: the router and the site are shared read-only by all loop threads (handlers'
 * ud must be thread-safe, or keep per-thread state in loop slots, see loop.h). Everything
 * taking a struct gd_http_exchange must be called on that exchange's loop thread.
 *
 * Lifetime of an exchange: it is valid from the handler call until the handler's response
 * is complete (gd_http_respond / gd_http_respond_json_error / gd_http_stream_end returned)
 * or until its on_close callback returned (client gone, write timeout, server stopping),
 * whichever comes first. After that the handler must not touch it. */
#ifndef GD_NET_HTTP_H
#define GD_NET_HTTP_H

#include "core/trace_ctx.h"
#include "net/http_parser.h"
#include "net/loop.h"

#include <stddef.h>
#include <stdint.h>

struct gd_arena;
struct gd_http_exchange;
struct gd_http_router;
struct gd_buf;

/* ---- the request as handlers see it (all memory owned by the exchange) ---- */
struct gd_http_request {
    struct gd_slice method, target, path, query; /* query without '?' */
    int minor_version;                           /* 0 or 1 */
    const struct gd_http_header *headers;
    size_t n_headers;
    const char *body; /* fully received (and de-chunked) body, NOT NUL-terminated */
    size_t body_len;
    const char *request_id;      /* honoured X-Request-Id or a generated one, NUL-terminated */
    struct gd_traceparent trace; /* trace.valid == 0 when absent or malformed */
    uint64_t start_ns;           /* CLOCK_MONOTONIC when the head started arriving */
    const char *remote_addr;     /* "ip:port", NUL-terminated */
};

/* Case-insensitive lookup in the request's headers: value slice of the first match or NULL. */
const struct gd_slice *gd_http_request_header(const struct gd_http_request *r, const char *name);
/* Value of query parameter `name` (raw, not percent-decoded) or n == 0/p == NULL. */
struct gd_slice gd_http_query_param(const struct gd_http_request *r, const char *name);

/* ---- handlers and routing ---- */
typedef void (*gd_http_handler_fn)(struct gd_http_exchange *x, void *ud);

enum gd_http_match { GD_HTTP_MATCH_EXACT = 0, GD_HTTP_MATCH_PREFIX = 1 };

/* Routing table. Exact paths win over prefixes; the longest prefix wins among prefixes. A
 * path that matches with another method answers 405 with an Allow header; no match is a
 * 404. A "GET" route also serves HEAD (the body is suppressed by the server). The router
 * is built on one thread and immutable once handed to a site. Errors: GD_ENOMEM. */
int gd_http_router_new(struct gd_http_router **out);
/* Frees the router and runs its cleanups (last added first). NULL is a no-op. */
void gd_http_router_free(struct gd_http_router *r);
/* method: "GET", "POST", ... or "*" for any. path must start with '/'. The route label used
 * for metrics and the access log is `path` (exact) or `path*` (prefix) unless the handler
 * sets one. Errors: GD_EINVAL (bad method/path), GD_EEXIST (same method+path+match),
 * GD_ENOMEM. ud is not owned (see gd_http_router_add_cleanup). */
int gd_http_router_add(struct gd_http_router *r, const char *method, const char *path,
                       enum gd_http_match match, gd_http_handler_fn handler, void *ud);
/* A second handler for a route already added (same method, path and match), run when the
 * first hands an exchange on with gd_http_pass: how two modules share a path, e.g. the
 * gateway passes /v1/embeddings requests for a model it does not route to the model
 * server. Errors: GD_ENOENT (no such route), GD_EEXIST (it has one already), GD_EINVAL. */
int gd_http_router_add_next(struct gd_http_router *r, const char *method, const char *path,
                            enum gd_http_match match, gd_http_handler_fn handler, void *ud);
/* Registers fn(ptr) to run when the router is freed (after a config reload replaced it
 * and the last request using it finished, or at exit): how modules free their route state.
 * Errors: GD_ENOMEM (nothing registered: the caller still owns ptr). */
int gd_http_router_add_cleanup(struct gd_http_router *r, void (*fn)(void *), void *ptr);

/* Readiness of the modules behind a router (e.g. "every required model passes its
 * probe"): fn returns 1 when ready, else 0 with the reason in why. It may run on any loop
 * thread at any time while the router lives. Errors: GD_ELIMIT (more than 8). */
typedef int (*gd_http_ready_fn)(void *ud, char *why, size_t whylen);
int gd_http_router_add_ready_check(struct gd_http_router *r, gd_http_ready_fn fn, void *ud);
/* 1 when every check passes (in registration order); else 0, why from the first that
 * failed. NULL router: ready. */
int gd_http_router_ready(const struct gd_http_router *r, char *why, size_t whylen);

/* Objects one module offers the others behind the same router (the model server's local
 * models to the gateway): name is a static string, obj lives as long as the router (freed
 * by the provider's cleanup). Register before the router is handed to a site; read from
 * any thread after. Errors: GD_EEXIST (name taken), GD_ELIMIT (more than 8). */
int gd_http_router_provide(struct gd_http_router *r, const char *name, void *obj);
/* The object provided under name, or NULL (also for a NULL router). */
void *gd_http_router_service(const struct gd_http_router *r, const char *name);

/* Route i (registration order is not kept: exact routes first, then prefixes longest
 * first, i.e. match order): its method and label. Returns 0, or GD_ENOENT past the end.
 * For logging the routing table. */
int gd_http_router_get(const struct gd_http_router *r, size_t i, const char **method,
                       const char **label);

/* ---- the exchange ---- */
const struct gd_http_request *gd_http_exchange_request(const struct gd_http_exchange *x);
struct gd_loop *gd_http_exchange_loop(const struct gd_http_exchange *x);
/* Per-request arena, freed with the exchange: for handler allocations. */
struct gd_arena *gd_http_exchange_arena(struct gd_http_exchange *x);
void gd_http_exchange_set_user(struct gd_http_exchange *x, void *user);
void *gd_http_exchange_user(const struct gd_http_exchange *x);
/* The router's route ud the exchange was dispatched with. */
void *gd_http_exchange_route_ud(const struct gd_http_exchange *x);
/* The request's trace context (zeroed when it starts): tracing decides it the first time
 * a module asks, so the gateway's upstream spans and the request's server span agree. */
struct gd_trace_ctx *gd_http_exchange_trace(struct gd_http_exchange *x);
/* 1 when the exchange's route has a next handler (gd_http_router_add_next) not run yet. */
int gd_http_can_pass(const struct gd_http_exchange *x);
/* From inside the handler, before any response and after dropping whatever it attached
 * (on_close callback, user data): runs the route's next handler on x now, which then owns
 * the exchange. Errors: GD_ENOENT (no next handler: nothing happened). */
int gd_http_pass(struct gd_http_exchange *x);
/* Route label for metrics/access log (copied). Errors: GD_ENOMEM. */
int gd_http_set_route_label(struct gd_http_exchange *x, const char *label);
/* Extra access-log fields (copied; at most 16 per request). Never pass secrets. Errors:
 * GD_ELIMIT, GD_ENOMEM. */
int gd_http_log_field_str(struct gd_http_exchange *x, const char *key, const char *value);
int gd_http_log_field_i64(struct gd_http_exchange *x, const char *key, int64_t value);

/* Adds a response header (before respond/stream_begin). The server sets Date, Server,
 * Content-Length / Transfer-Encoding, Connection and X-Request-Id itself; setting those
 * is GD_EINVAL. name must be a token, value a field value (no control byte but HTAB:
 * no CR, LF, DEL, ...). Errors: GD_EINVAL,
 * GD_ESTATE (response already started), GD_ENOMEM. */
int gd_http_set_header(struct gd_http_exchange *x, const char *name, const char *value);

/* Sends a complete response (body copied; for HEAD only the headers go out; 204 and 304
 * carry no body). Unless it returns GD_EINVAL (status not in 200..599: nothing happened)
 * or GD_ESTATE (already responding), the exchange is finished when this returns. Errors
 * also: GD_ECLOSED (client gone: nothing sent), GD_ENOMEM. */
int gd_http_respond(struct gd_http_exchange *x, int status, const char *content_type,
                    const void *body, size_t len);
/* Appends {"error":{"message":message,"type":type,"code":code}} (code NULL -> null) and a
 * newline to b. 0 or GD_ENOMEM / GD_ELIMIT (b's cap). */
int gd_http_json_error_body(struct gd_buf *b, const char *type, const char *code,
                            const char *message);
/* gd_http_json_error_body's body with the given status. Same contract as gd_http_respond. */
int gd_http_respond_json_error(struct gd_http_exchange *x, int status, const char *type,
                               const char *code, const char *message);

/* Streaming: starts a response whose body is written piece by piece (HTTP/1.1: chunked
 * transfer coding; HTTP/1.0: no length, connection closes at the end). Use content_type
 * "text/event-stream" for SSE. Errors: GD_ESTATE, GD_ECLOSED, GD_ENOMEM, GD_EINVAL. */
int gd_http_stream_begin(struct gd_http_exchange *x, int status, const char *content_type);
/* Queues data (len 0 is a no-op) and tries to send it. Returns 0; or GD_EAGAIN when the
 * connection's output is above its high-water mark: the data WAS queued, stop producing
 * until the drain callback runs; or GD_ECLOSED when the client is gone (nothing queued;
 * on_close has been or is about to be called); GD_ESTATE when not streaming. */
int gd_http_stream_write(struct gd_http_exchange *x, const void *data, size_t len);
/* cb runs (on the loop thread) when output that was above the high-water mark has drained
 * below the low-water mark. Replaces any previous drain callback; NULL clears it. */
void gd_http_stream_on_drain(struct gd_http_exchange *x,
                             void (*cb)(struct gd_http_exchange *x, void *ud), void *ud);
/* Ends the stream (writes the last chunk); the exchange is finished when this returns.
 * Errors: GD_ESTATE, GD_ECLOSED. */
int gd_http_stream_end(struct gd_http_exchange *x);
/* cb runs once if the exchange ends before its response is complete: client disconnect,
 * write timeout, or server shutdown. The exchange is freed right after cb returns. */
void gd_http_on_close(struct gd_http_exchange *x, void (*cb)(struct gd_http_exchange *x, void *ud),
                      void *ud);

/* ---- server settings and the "site" (settings + router), swapped on config reload ---- */
struct gd_http_timeouts {
    uint32_t header_ms;    /* first byte of a request head -> head complete */
    uint32_t body_ms;      /* head complete -> body complete */
    uint32_t keepalive_ms; /* idle between requests on a kept-alive connection */
    uint32_t write_ms;     /* pending output making no progress */
};
#define GD_HTTP_DEFAULT_HEADER_MS 10000
#define GD_HTTP_DEFAULT_BODY_MS 30000
#define GD_HTTP_DEFAULT_KEEPALIVE_MS 60000
#define GD_HTTP_DEFAULT_WRITE_MS 30000

/* What the server reports when a request finishes (for metrics and the access log).
 * Pointers are valid only during the callback. */
struct gd_http_log_field {
    const char *key;
    const char *str; /* NULL for an integer field */
    int64_t i64;
};
struct gd_http_completion {
    const struct gd_http_request *req; /* NULL fields possible for a request that failed to
                                          parse: method/path then hold what was read, if any */
    const char *route;                 /* route label ("-" when none matched) */
    int status;
    uint64_t bytes_in, bytes_out;
    uint64_t duration_ns;
    int completed; /* 0 when the client went away before the response was complete */
    const struct gd_http_log_field *fields;
    size_t n_fields;
    struct gd_trace_ctx *trace; /* the request's trace context (maybe still undecided) */
};
struct gd_http_observer {
    void (*request_done)(void *ud, const struct gd_http_completion *c);
    void (*connections)(void *ud, int delta); /* +1 on accept, -1 on close */
    void *ud;
};

struct gd_http_settings {
    struct gd_http_limits limits;
    struct gd_http_timeouts timeouts;
    size_t out_high_water;  /* streaming pause threshold (default 256 KiB) */
    size_t max_connections; /* per thread, 0 = unlimited (bounded by RLIMIT_NOFILE) */
    struct gd_http_observer observer;
};
/* Fills zero fields with defaults. */
void gd_http_settings_fill_defaults(struct gd_http_settings *s);

/* A refcounted bundle of settings + router (+ an owner object such as the loaded config,
 * released with owner_free). Each request holds the site it started with, so a reload
 * never changes the rules under a running request. Refcounting is thread-safe. */
struct gd_http_site;
/* Takes ownership of router (freed with the site) and of owner (owner_free(owner) at the
 * end; may be NULL). On error nothing is taken. Errors: GD_ENOMEM. */
int gd_http_site_new(const struct gd_http_settings *s, struct gd_http_router *router, void *owner,
                     void (*owner_free)(void *), struct gd_http_site **out);
void gd_http_site_ref(struct gd_http_site *site);
void gd_http_site_unref(struct gd_http_site *site);
void *gd_http_site_owner(const struct gd_http_site *site);
/* The owner of the site the exchange was dispatched with (e.g. the config it runs under). */
void *gd_http_exchange_site_owner(const struct gd_http_exchange *x);
/* The router the exchange was dispatched with (alive as long as the exchange). */
const struct gd_http_router *gd_http_exchange_router(const struct gd_http_exchange *x);

/* ---- the server (one per loop thread) ---- */
struct gd_http_server;
/* Serves listen_fd (a nonblocking listening socket; the server closes it) on loop with
 * site (a reference is taken). Errors: GD_ENOMEM, GD_EIO. */
int gd_http_server_new(struct gd_loop *loop, int listen_fd, struct gd_http_site *site,
                       struct gd_http_server **out);
/* Replaces the site for requests that start from now on (loop thread). */
void gd_http_server_set_site(struct gd_http_server *srv, struct gd_http_site *site);
/* Graceful drain: closes the listener, closes idle connections, lets in-flight requests
 * finish (their responses carry Connection: close), then calls done(ud) once no connection
 * is left (possibly at once). Loop thread. */
void gd_http_server_drain(struct gd_http_server *srv, void (*done)(void *ud), void *ud);
size_t gd_http_server_connections(const struct gd_http_server *srv);
/* Closes every connection (in-flight exchanges get on_close) and frees. NULL is a no-op. */
void gd_http_server_free(struct gd_http_server *srv);

/* Reason phrase for a status code ("Unknown" when not known). */
const char *gd_http_reason(int status);

#endif
