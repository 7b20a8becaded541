/* Routing table: a flat array scanned in order. Servers have tens of routes, where a
 * linear scan comparing lengths first beats any tree; exact routes are checked before
 * prefixes, and prefixes are kept sorted longest first so the first hit is the best. */
#include "core/alloc.h"
#include "girder/error.h"
#include "net/http_internal.h"

#include <string.h>

struct route {
    char method[16]; /* "*" for any */
    char *path;
    size_t path_len;
    enum gd_http_match match;
    gd_http_handler_fn handler;
    void *ud;
    gd_http_handler_fn next; /* gd_http_pass's handler, NULL: none */
    void *next_ud;
    char *label;
};

struct cleanup {
    void (*fn)(void *);
    void *ptr;
};

enum { MAX_READY_CHECKS = 8, MAX_SERVICES = 8 };

struct service {
    const char *name; /* static */
    void *obj;
};

struct ready_check {
    gd_http_ready_fn fn;
    void *ud;
};

struct gd_http_router {
    struct route *routes;
    size_t n, cap;
    struct cleanup *cleanups;
    size_t n_cleanups, cap_cleanups;
    struct ready_check ready[MAX_READY_CHECKS];
    size_t n_ready;
    struct service services[MAX_SERVICES];
    size_t n_services;
};

enum { MAX_ROUTES = 4096 };

int gd_http_router_new(struct gd_http_router **out)
{
    *out = gd_calloc(1, sizeof **out);
    return *out ? 0 : GD_ENOMEM;
}

void gd_http_router_free(struct gd_http_router *r)
{
    if (!r)
        return;
    for (size_t i = r->n_cleanups; i-- > 0;)
        r->cleanups[i].fn(r->cleanups[i].ptr);
    for (size_t i = 0; i < r->n; i++) {
        gd_free(r->routes[i].path);
        gd_free(r->routes[i].label);
    }
    gd_free(r->routes);
    gd_free(r->cleanups);
    gd_free(r);
}

static int valid_method(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n >= 16)
        return 0;
    if (strcmp(m, "*") == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (!((m[i] >= 'A' && m[i] <= 'Z') || m[i] == '-' || m[i] == '_'))
            return 0;
    return 1;
}

/* Keeps prefix routes after exact ones, longer prefixes first. */
static size_t insert_pos(const struct gd_http_router *r, enum gd_http_match match, size_t len)
{
    size_t i = 0;
    while (i < r->n && r->routes[i].match == GD_HTTP_MATCH_EXACT)
        i++;
    if (match == GD_HTTP_MATCH_EXACT)
        return i;
    while (i < r->n && r->routes[i].path_len >= len)
        i++;
    return i;
}

static int make_route(struct route *rt, const char *method, const char *path,
                      enum gd_http_match match, gd_http_handler_fn handler, void *ud)
{
    size_t n = strlen(path);
    memset(rt, 0, sizeof *rt);
    strcpy(rt->method, method);
    rt->path = gd_strdup(path);
    rt->label = gd_malloc(n + 2);
    if (!rt->path || !rt->label) {
        gd_free(rt->path);
        gd_free(rt->label);
        return GD_ENOMEM;
    }
    memcpy(rt->label, path, n);
    rt->label[n] = match == GD_HTTP_MATCH_PREFIX ? '*' : '\0';
    rt->label[n + 1] = '\0';
    rt->path_len = n;
    rt->match = match;
    rt->handler = handler;
    rt->ud = ud;
    return 0;
}

int gd_http_router_add(struct gd_http_router *r, const char *method, const char *path,
                       enum gd_http_match match, gd_http_handler_fn handler, void *ud)
{
    if (!method || !path || path[0] != '/' || !handler || !valid_method(method) ||
        (match != GD_HTTP_MATCH_EXACT && match != GD_HTTP_MATCH_PREFIX))
        return GD_EINVAL;
    for (size_t i = 0; i < r->n; i++)
        if (r->routes[i].match == match && strcmp(r->routes[i].path, path) == 0 &&
            strcmp(r->routes[i].method, method) == 0)
            return GD_EEXIST;
    if (r->n == MAX_ROUTES)
        return GD_ENOMEM;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct route *nr = gd_realloc(r->routes, cap * sizeof *nr);
        if (!nr)
            return GD_ENOMEM;
        r->routes = nr;
        r->cap = cap;
    }
    struct route rt;
    int rc = make_route(&rt, method, path, match, handler, ud);
    if (rc)
        return rc;
    size_t at = insert_pos(r, match, rt.path_len);
    memmove(&r->routes[at + 1], &r->routes[at], (r->n - at) * sizeof *r->routes);
    r->routes[at] = rt;
    r->n++;
    return 0;
}

int gd_http_router_add_next(struct gd_http_router *r, const char *method, const char *path,
                            enum gd_http_match match, gd_http_handler_fn handler, void *ud)
{
    if (!method || !path || !handler)
        return GD_EINVAL;
    for (size_t i = 0; i < r->n; i++) {
        struct route *rt = &r->routes[i];
        if (rt->match == match && strcmp(rt->path, path) == 0 && strcmp(rt->method, method) == 0) {
            if (rt->next)
                return GD_EEXIST;
            rt->next = handler;
            rt->next_ud = ud;
            return 0;
        }
    }
    return GD_ENOENT;
}

int gd_http_router_add_cleanup(struct gd_http_router *r, void (*fn)(void *), void *ptr)
{
    if (r->n_cleanups == r->cap_cleanups) {
        size_t cap = r->cap_cleanups ? r->cap_cleanups * 2 : 8;
        struct cleanup *nc = gd_realloc(r->cleanups, cap * sizeof *nc);
        if (!nc)
            return GD_ENOMEM;
        r->cleanups = nc;
        r->cap_cleanups = cap;
    }
    r->cleanups[r->n_cleanups++] = (struct cleanup){fn, ptr};
    return 0;
}

int gd_http_router_add_ready_check(struct gd_http_router *r, gd_http_ready_fn fn, void *ud)
{
    if (r->n_ready == MAX_READY_CHECKS)
        return GD_ELIMIT;
    r->ready[r->n_ready++] = (struct ready_check){fn, ud};
    return 0;
}

int gd_http_router_provide(struct gd_http_router *r, const char *name, void *obj)
{
    if (gd_http_router_service(r, name))
        return GD_EEXIST;
    if (r->n_services == MAX_SERVICES)
        return GD_ELIMIT;
    r->services[r->n_services++] = (struct service){name, obj};
    return 0;
}

void *gd_http_router_service(const struct gd_http_router *r, const char *name)
{
    for (size_t i = 0; r && i < r->n_services; i++)
        if (strcmp(r->services[i].name, name) == 0)
            return r->services[i].obj;
    return NULL;
}

int gd_http_router_ready(const struct gd_http_router *r, char *why, size_t whylen)
{
    for (size_t i = 0; r && i < r->n_ready; i++)
        if (!r->ready[i].fn(r->ready[i].ud, why, whylen))
            return 0;
    return 1;
}

static int method_matches(const struct route *rt, struct gd_slice m)
{
    if (rt->method[0] == '*')
        return 1;
    size_t n = strlen(rt->method);
    if (m.n == n && memcmp(m.p, rt->method, n) == 0)
        return 1;
    return m.n == 4 && memcmp(m.p, "HEAD", 4) == 0 && strcmp(rt->method, "GET") == 0;
}

static int path_matches(const struct route *rt, struct gd_slice path)
{
    if (rt->match == GD_HTTP_MATCH_EXACT)
        return path.n == rt->path_len && memcmp(path.p, rt->path, path.n) == 0;
    return path.n >= rt->path_len && memcmp(path.p, rt->path, rt->path_len) == 0;
}

static void add_allow(char *allow, size_t cap, const char *m)
{
    if (strstr(allow, m))
        return;
    size_t used = strlen(allow), need = strlen(m) + (used ? 2 : 0);
    if (used + need + 1 > cap)
        return;
    if (used)
        strcat(allow, ", ");
    strcat(allow, m);
}

void gd__http_route(const struct gd_http_router *r, struct gd_slice method, struct gd_slice path,
                    struct gd_http_route_hit *hit)
{
    memset(hit, 0, sizeof *hit);
    int path_seen = 0;
    for (size_t i = 0; r && i < r->n; i++) {
        const struct route *rt = &r->routes[i];
        if (!path_matches(rt, path))
            continue;
        if (method_matches(rt, method)) {
            hit->handler = rt->handler;
            hit->ud = rt->ud;
            hit->next = rt->next;
            hit->next_ud = rt->next_ud;
            hit->label = rt->label;
            return;
        }
        path_seen = 1;
        add_allow(hit->allow, sizeof hit->allow, rt->method);
        if (strcmp(rt->method, "GET") == 0)
            add_allow(hit->allow, sizeof hit->allow, "HEAD");
    }
    hit->status = path_seen ? 405 : 404;
}

int gd_http_router_get(const struct gd_http_router *r, size_t i, const char **method,
                       const char **label)
{
    if (i >= r->n)
        return GD_ENOENT;
    *method = r->routes[i].method;
    *label = r->routes[i].label;
    return 0;
}
