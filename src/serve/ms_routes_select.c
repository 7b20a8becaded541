/* Model server routes: which model version a request goes to (ms_routes_internal.h). */
#include "core/clock.h"
#include "serve/ms_routes_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- /v2/models/{m}[/versions/{v}][/ready|/infer] ---- */

/* Next '/'-separated segment of *p (advanced past it); n == 0 at the end. */
static struct gd_slice next_segment(struct gd_slice *p)
{
    struct gd_slice s = {p->p, 0};
    while (s.n < p->n && p->p[s.n] != '/')
        s.n++;
    size_t skip = s.n < p->n ? s.n + 1 : s.n;
    p->p += skip;
    p->n -= skip;
    return s;
}

static int seg_is(struct gd_slice s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static int parse_model_path(struct gd_slice path, struct model_path *mp)
{
    static const char prefix[] = "/v2/models/";
    if (path.n < sizeof prefix - 1)
        return -1;
    struct gd_slice rest = {path.p + sizeof prefix - 1, path.n - (sizeof prefix - 1)};
    memset(mp, 0, sizeof *mp);
    mp->name = next_segment(&rest);
    if (mp->name.n == 0)
        return -1;
    struct gd_slice s = next_segment(&rest);
    if (seg_is(s, "versions")) {
        mp->version = next_segment(&rest);
        if (mp->version.n == 0)
            return -1;
        s = next_segment(&rest);
    }
    if (s.n == 0)
        mp->act = ACT_META;
    else if (seg_is(s, "ready"))
        mp->act = ACT_READY;
    else if (seg_is(s, "infer"))
        mp->act = ACT_INFER;
    else
        return -1;
    return rest.n == 0 ? 0 : -1;
}

struct ms_group *gd__ms_group_named(struct ms_routes *r, const char *name, size_t n)
{
    for (size_t i = 0; i < r->n_groups; i++) {
        const char *gn = r->groups[i].cfg->name;
        if (strlen(gn) == n && memcmp(gn, name, n) == 0)
            return &r->groups[i];
    }
    return NULL;
}

static struct ms_model_view *version_of(struct ms_group *g, const char *v, size_t n)
{
    for (size_t i = 0; i < g->cfg->n; i++)
        if (strlen(g->views[i].version) == n && memcmp(g->views[i].version, v, n) == 0)
            return &g->views[i];
    return NULL;
}

/* 0..99, per loop thread (xorshift64*): the canary's dice. */
static unsigned roll_percent(void)
{
    static _Thread_local uint64_t s;
    if (!s)
        s = gd_mono_ns() ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ull;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return (unsigned)(((s * 0x2545f4914f6cdd1dull) >> 33) % 100);
}

/* The version an unversioned request goes to: with `canary` (and roll) its share to the
 * canary version, the rest to the newest other version that is ready (else the newest). */
struct ms_model_view *gd__ms_pick_version(const struct ms_routes *r, struct ms_group *g, int roll)
{
    const struct gd_ms_group_cfg *c = g->cfg;
    struct ms_model_view *canary = NULL, *primary = NULL, *newest = NULL;
    char why[8];
    for (size_t i = c->n; i-- > 0;) {
        struct ms_model_view *v = &g->views[i];
        if (c->canary_percent && gd_ms_model_cfg(v->model)->version == c->canary_version) {
            canary = v;
            continue;
        }
        newest = newest ? newest : v;
        if (!primary && gd__ms_view_ready(r, v, why, sizeof why))
            primary = v;
    }
    if (canary && (!newest || (roll && roll_percent() < c->canary_percent)))
        return canary;
    return primary ? primary : newest;
}

/* The model a path names, or NULL after answering 404. */
struct ms_model_view *gd__ms_resolve(struct gd_http_exchange *x, struct ms_routes *r,
                                     struct model_path *mp)
{
    const struct gd_http_request *req = gd_http_exchange_request(x);
    if (parse_model_path(req->path, mp) != 0) {
        gd__ms_respond_error(x, 404, "no such route: %.*s",
                             (int)(req->path.n > 200 ? 200 : req->path.n), req->path.p);
        return NULL;
    }
    int nn = (int)(mp->name.n > 200 ? 200 : mp->name.n);
    struct ms_group *g = gd__ms_group_named(r, mp->name.p, mp->name.n);
    if (!g) {
        gd__ms_respond_error(x, 404, "unknown model '%.*s'", nn, mp->name.p);
        return NULL;
    }
    /* a version from the path, else from the header, else the group's choice */
    const struct gd_slice *hv = gd_http_request_header(req, "x-girder-model-version");
    struct gd_slice want = mp->version.n ? mp->version : hv ? *hv : (struct gd_slice){0};
    struct ms_model_view *v =
        want.n ? version_of(g, want.p, want.n) : gd__ms_pick_version(r, g, mp->act == ACT_INFER);
    if (!v) {
        gd__ms_respond_error(x, 404, "model '%.*s' has no version '%.*s'", nn, mp->name.p,
                             (int)(want.n > 40 ? 40 : want.n), want.p);
        return NULL;
    }
    gd_http_log_field_str(x, "model", gd_ms_model_cfg(v->model)->name);
    gd_http_log_field_str(x, "model_version", v->version);
    return v;
}
