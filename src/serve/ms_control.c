/* Explicit model control (see ms_control.h). A request changes the unloaded marks, asks
 * for a reload and keeps its exchange until the reload's outcome comes back: done runs on
 * the main thread and posts the answer to the exchange's loop. The pending request is
 * shared by the exchange (released when the client leaves or is answered) and the reload
 * (released once the answer ran, or when it could not be posted). */
#include "serve/ms_control.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json_write.h"
#include "core/reload.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { MAX_NAME = 256, MAX_UNLOADED = 4096 };

struct served {
    char *name;
    char *error; /* NULL: loaded */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char **unloaded; /* names, unordered */
static size_t n_unloaded;
static struct served *served; /* the newest successful build's models */
static size_t n_served;
static uint64_t builds;     /* runtime builds so far, successful or not */
static char *failure;       /* the newest failed build's error */
static uint64_t failure_at; /* its number in builds */

/* ---- state (mu held) ---- */

static ptrdiff_t find_unloaded(const char *name)
{
    for (size_t i = 0; i < n_unloaded; i++)
        if (!strcmp(unloaded[i], name))
            return (ptrdiff_t)i;
    return -1;
}

/* Sets or clears name's mark. Returns whether it was set before, or GD_E* (ENOMEM, ELIMIT). */
static int mark(const char *name, int set)
{
    ptrdiff_t i = find_unloaded(name);
    if (!set && i >= 0) {
        gd_free(unloaded[i]);
        unloaded[i] = unloaded[--n_unloaded];
    }
    if (!set || i >= 0)
        return i >= 0;
    if (n_unloaded == MAX_UNLOADED)
        return GD_ELIMIT;
    char **v = gd_realloc(unloaded, (n_unloaded + 1) * sizeof *v);
    if (!v)
        return GD_ENOMEM;
    unloaded = v;
    if (!(unloaded[n_unloaded] = gd_strdup(name)))
        return GD_ENOMEM;
    n_unloaded++;
    return 0;
}

static void served_free(struct served *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        gd_free(s[i].name);
        gd_free(s[i].error);
    }
    gd_free(s);
}

int gd_ms_control_unloaded(const char *name)
{
    pthread_mutex_lock(&mu);
    int r = find_unloaded(name) >= 0;
    pthread_mutex_unlock(&mu);
    return r;
}

int gd_ms_control_publish(const char *const *names, const char *const *errors, size_t n)
{
    struct served *s = gd_calloc(n ? n : 1, sizeof *s);
    for (size_t i = 0; s && i < n; i++)
        if (!(s[i].name = gd_strdup(names[i])) ||
            (errors[i] && !(s[i].error = gd_strdup(errors[i])))) {
            served_free(s, i + 1);
            s = NULL;
        }
    pthread_mutex_lock(&mu);
    builds++;
    if (s) {
        served_free(served, n_served);
        served = s;
        n_served = n;
    }
    pthread_mutex_unlock(&mu);
    return s ? 0 : GD_ENOMEM;
}

void gd_ms_control_build_failed(const char *err)
{
    char *copy = gd_strdup(err);
    pthread_mutex_lock(&mu);
    gd_free(failure);
    failure = copy;
    failure_at = ++builds;
    pthread_mutex_unlock(&mu);
}

/* ---- the request ---- */

struct pending {
    struct gd_http_exchange *x; /* NULL once the client left; loop thread only */
    struct gd_loop *loop;
    char name[MAX_NAME + 1];
    int load;
    int was_unloaded; /* the mark before this request, restored when the reload fails */
    uint64_t builds;  /* builds before the reload */
    int rc;           /* the reload's outcome */
    atomic_int refs;
};

static void pending_unref(struct pending *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        gd_free(p);
}

static void respond_error(struct gd_http_exchange *x, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void respond_error(struct gd_http_exchange *x, int status, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    if (gd_buf_puts(&b, "{\"error\":") || gd_json_put_str(&b, msg, strlen(msg)) ||
        gd_buf_putc(&b, '}'))
        gd_http_respond(x, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
    else
        gd_http_respond(x, status, "application/json", b.data, b.len);
    gd_buf_free(&b);
}

/* The answer, from the state the reload left (mu taken here). */
static void answer_now(struct pending *p)
{
    struct gd_http_exchange *x = p->x;
    const char *what = p->load ? "load" : "unload";
    pthread_mutex_lock(&mu);
    if (p->rc == GD_ECLOSED) { /* girder is stopping */
        (void)mark(p->name, p->was_unloaded);
        pthread_mutex_unlock(&mu);
        respond_error(x, 503, "failed to %s '%s': the server is shutting down", what, p->name);
        return;
    }
    if (p->rc) {
        (void)mark(p->name, p->was_unloaded); /* out of memory: the next reload applies it */
        char why[700];
        snprintf(why, sizeof why, "%s",
                 failure && failure_at > p->builds ? failure : "the config could not be reloaded");
        pthread_mutex_unlock(&mu);
        respond_error(x, 400, "failed to %s '%s': %s (the previous config keeps serving)", what,
                      p->name, why);
        return;
    }
    const struct served *s = NULL;
    for (size_t i = 0; i < n_served && !s; i++)
        s = !strcmp(served[i].name, p->name) ? &served[i] : NULL;
    char why[700] = "";
    if (s && s->error)
        snprintf(why, sizeof why, "%s", s->error);
    pthread_mutex_unlock(&mu);
    if (!s)
        respond_error(x, 404, "failed to %s '%s': no such model in the config or the repository",
                      what, p->name);
    else if (p->load && *why)
        respond_error(x, 400, "failed to load '%s': %s", p->name, why);
    else
        gd_http_respond(x, 200, "application/json", "", 0);
}

/* The exchange's loop: answer unless the client left. */
static void answer(struct gd_loop *loop, void *ud)
{
    (void)loop;
    struct pending *p = ud;
    if (p->x) {
        gd_http_on_close(p->x, NULL, NULL);
        answer_now(p);
        p->x = NULL;
        pending_unref(p); /* the exchange's reference */
    }
    pending_unref(p);
}

/* The main thread: the reload finished. */
static void reload_done(void *ud, int rc)
{
    struct pending *p = ud;
    p->rc = rc;
    if (gd_loop_post(p->loop, answer, p) != 0)
        pending_unref(p);
}

static void client_gone(struct gd_http_exchange *x, void *ud)
{
    (void)x;
    struct pending *p = ud;
    p->x = NULL;
    pending_unref(p);
}

/* {m}/load or {m}/unload after the route prefix: the name and which. 0, or -1. */
static int parse_path(const char *path, size_t n, struct pending *p)
{
    static const char prefix[] = "/v2/repository/models/";
    if (n < sizeof prefix - 1 || memcmp(path, prefix, sizeof prefix - 1))
        return -1;
    path += sizeof prefix - 1;
    n -= sizeof prefix - 1;
    const char *slash = memchr(path, '/', n);
    if (!slash || slash == path || (size_t)(slash - path) > MAX_NAME)
        return -1;
    size_t nl = (size_t)(slash - path), rest = n - nl - 1;
    if (rest == 4 && !memcmp(slash + 1, "load", 4))
        p->load = 1;
    else if (!(rest == 6 && !memcmp(slash + 1, "unload", 6)))
        return -1;
    memcpy(p->name, path, nl);
    p->name[nl] = 0;
    return memchr(p->name, 0, nl) ? -1 : 0;
}

/* The body: empty or {"parameters": {...}}. Triton's load parameters (a config override,
 * model files) are not supported; unload's unload_dependents has nothing to act on (no
 * girder model depends on another). 0, or -1 after answering 400. */
static int check_body(struct gd_http_exchange *x, const struct gd_http_request *req, int load)
{
    if (!req->body_len)
        return 0;
    cJSON *b = cJSON_ParseWithLength(req->body, req->body_len);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(b, "parameters");
    int rc = 0;
    if (!cJSON_IsObject(b) || (params && !cJSON_IsObject(params))) {
        respond_error(x, 400,
                      "the body must be empty or a JSON object with an object "
                      "\"parameters\"");
        rc = -1;
    }
    for (const cJSON *q = params ? params->child : NULL; !rc && q; q = q->next)
        if (load || strcmp(q->string, "unload_dependents") || !cJSON_IsBool(q)) {
            char name[128];
            snprintf(name, sizeof name, "%s", q->string);
            respond_error(x, 400, "unsupported %s parameter '%s'", load ? "load" : "unload", name);
            rc = -1;
        }
    cJSON_Delete(b);
    return rc;
}

void gd_ms_control_on_request(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    const struct gd_http_request *req = gd_http_exchange_request(x);
    struct pending *p = gd_calloc(1, sizeof *p);
    if (!p) {
        respond_error(x, 500, "out of memory");
        return;
    }
    if (parse_path(req->path.p, req->path.n, p) != 0) {
        gd_free(p);
        respond_error(x, 404, "not found: use /v2/repository/models/{model}/load or /unload");
        return;
    }
    gd_http_log_field_str(x, "model", p->name);
    if (check_body(x, req, p->load) != 0) {
        gd_free(p);
        return;
    }
    pthread_mutex_lock(&mu);
    int known = 0;
    for (size_t i = 0; i < n_served && !known; i++)
        known = !strcmp(served[i].name, p->name);
    int was = p->load || known ? mark(p->name, !p->load) : 0;
    p->builds = builds;
    pthread_mutex_unlock(&mu);
    if (!known && !p->load) {
        respond_error(x, 404, "failed to unload '%s': no such model", p->name);
        gd_free(p);
        return;
    }
    if (was < 0) {
        respond_error(x, was == GD_ELIMIT ? 400 : 500, "failed to %s '%s': %s",
                      p->load ? "load" : "unload", p->name,
                      was == GD_ELIMIT ? "too many unloaded models" : "out of memory");
        gd_free(p);
        return;
    }
    p->was_unloaded = was;
    p->x = x;
    p->loop = gd_http_exchange_loop(x);
    atomic_init(&p->refs, 2);
    gd_http_on_close(x, client_gone, p);
    int rc = gd_reload_request(reload_done, p);
    if (rc) { /* no reload will run: undo the mark and answer now */
        pthread_mutex_lock(&mu);
        (void)mark(p->name, was);
        pthread_mutex_unlock(&mu);
        gd_http_on_close(x, NULL, NULL);
        respond_error(x, rc == GD_ENOTSUP ? 501 : 500, "failed to %s '%s': %s",
                      p->load ? "load" : "unload", p->name,
                      rc == GD_ENOTSUP ? "this process cannot reload its config" : "out of memory");
        gd_free(p);
    }
}
