/* Router: exact before prefix, longest prefix, method matching (GET serves HEAD, "*"),
 * 404 vs 405 with Allow, duplicate and invalid registrations; query parameters. */
#include "girder/error.h"
#include "net/http_internal.h"

#include <criterion/criterion.h>
#include <string.h>

static void h1(struct gd_http_exchange *x, void *ud)
{
    (void)x, (void)ud;
}
static void h2(struct gd_http_exchange *x, void *ud)
{
    (void)x, (void)ud;
}

static struct gd_slice sl(const char *s)
{
    return (struct gd_slice){s, strlen(s)};
}

static int cleaned;
static void cleanup(void *p)
{
    cleaned += *(int *)p;
}

Test(router, matching_rules)
{
    struct gd_http_router *r;
    static int a = 1, b = 2, c = 3, d = 4;
    cr_assert_eq(gd_http_router_new(&r), 0);
    cr_assert_eq(gd_http_router_add(r, "GET", "/v1/models", GD_HTTP_MATCH_EXACT, h1, &a), 0);
    cr_assert_eq(gd_http_router_add(r, "POST", "/v1/", GD_HTTP_MATCH_PREFIX, h2, &b), 0);
    cr_assert_eq(gd_http_router_add(r, "POST", "/v1/chat/", GD_HTTP_MATCH_PREFIX, h2, &c), 0);
    cr_assert_eq(gd_http_router_add(r, "*", "/any", GD_HTTP_MATCH_EXACT, h1, &d), 0);
    cr_assert_eq(gd_http_router_add(r, "GET", "/v1/models", GD_HTTP_MATCH_EXACT, h1, &a),
                 GD_EEXIST);
    cr_assert_eq(gd_http_router_add(r, "get", "/x", GD_HTTP_MATCH_EXACT, h1, NULL), GD_EINVAL);
    cr_assert_eq(gd_http_router_add(r, "GET", "x", GD_HTTP_MATCH_EXACT, h1, NULL), GD_EINVAL);

    struct gd_http_route_hit hit;
    gd__http_route(r, sl("GET"), sl("/v1/models"), &hit);
    cr_assert_eq(hit.status, 0);
    cr_assert_eq(hit.ud, &a);
    cr_assert_str_eq(hit.label, "/v1/models");
    gd__http_route(r, sl("HEAD"), sl("/v1/models"), &hit);
    cr_assert_eq(hit.ud, &a);
    gd__http_route(r, sl("POST"), sl("/v1/chat/completions"), &hit);
    cr_assert_eq(hit.ud, &c); /* longest prefix */
    cr_assert_str_eq(hit.label, "/v1/chat/*");
    gd__http_route(r, sl("POST"), sl("/v1/models"), &hit);
    cr_assert_eq(hit.ud, &b); /* the method-matching prefix beats the exact GET route */
    gd__http_route(r, sl("DELETE"), sl("/v1/models"), &hit);
    cr_assert_eq(hit.status, 405);
    cr_assert(strstr(hit.allow, "GET") && strstr(hit.allow, "HEAD") && strstr(hit.allow, "POST"));
    gd__http_route(r, sl("PATCH"), sl("/any"), &hit);
    cr_assert_eq(hit.ud, &d);
    gd__http_route(r, sl("GET"), sl("/nothing"), &hit);
    cr_assert_eq(hit.status, 404);
    gd__http_route(r, sl("GET"), sl("/v1/models/x"), &hit);
    cr_assert_eq(hit.status, 405); /* only the POST prefix covers it */

    const char *m, *label;
    cr_assert_eq(gd_http_router_get(r, 0, &m, &label), 0);
    cr_assert_eq(gd_http_router_get(r, 4, &m, &label), GD_ENOENT);
    cleaned = 0;
    cr_assert_eq(gd_http_router_add_cleanup(r, cleanup, &a), 0);
    cr_assert_eq(gd_http_router_add_cleanup(r, cleanup, &d), 0);
    gd_http_router_free(r);
    cr_assert_eq(cleaned, 5);
}

Test(router, query_params)
{
    struct gd_http_request req;
    memset(&req, 0, sizeof req);
    req.query = sl("a=1&bb=two&flag&c=");
    struct gd_slice v = gd_http_query_param(&req, "bb");
    cr_assert_eq(v.n, 3);
    cr_assert(memcmp(v.p, "two", 3) == 0);
    v = gd_http_query_param(&req, "a");
    cr_assert_eq(v.n, 1);
    v = gd_http_query_param(&req, "flag");
    cr_assert_not_null(v.p);
    cr_assert_eq(v.n, 0);
    v = gd_http_query_param(&req, "c");
    cr_assert_not_null(v.p);
    cr_assert_null(gd_http_query_param(&req, "b").p);
    cr_assert_null(gd_http_query_param(&req, "zz").p);
}

Test(router, next_handler)
{
    struct gd_http_router *r;
    static int a = 1, b = 2;
    cr_assert_eq(gd_http_router_new(&r), 0);
    cr_assert_eq(gd_http_router_add_next(r, "POST", "/v1/embeddings", GD_HTTP_MATCH_EXACT, h2, &b),
                 GD_ENOENT);
    cr_assert_eq(gd_http_router_add(r, "POST", "/v1/embeddings", GD_HTTP_MATCH_EXACT, h1, &a), 0);
    cr_assert_eq(gd_http_router_add_next(r, "POST", "/v1/embeddings", GD_HTTP_MATCH_PREFIX, h2, &b),
                 GD_ENOENT); /* same path, other match */
    cr_assert_eq(gd_http_router_add_next(r, "POST", "/v1/embeddings", GD_HTTP_MATCH_EXACT, h2, &b),
                 0);
    cr_assert_eq(gd_http_router_add_next(r, "POST", "/v1/embeddings", GD_HTTP_MATCH_EXACT, h2, &b),
                 GD_EEXIST);
    struct gd_http_route_hit hit;
    gd__http_route(r, sl("POST"), sl("/v1/embeddings"), &hit);
    cr_assert_eq(hit.status, 0);
    cr_assert(hit.handler == h1 && hit.ud == &a);
    cr_assert(hit.next == h2 && hit.next_ud == &b);
    gd_http_router_free(r);
}
