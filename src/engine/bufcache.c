/* The memory planner's buffer cache. Values are allocated when their producer runs and
 * handed back here right after their last reader (liveness from graph.c), so later values
 * reuse those buffers instead of calling the allocator; across runs of a session the
 * cache converges to the set of buffers one run needs. A request takes the smallest cached
 * buffer that fits and wastes at most half of it. The cache is capped in entries and
 * bytes; beyond that buffers are simply freed. Not thread-safe (one per session). */
#include <string.h>

#include "core/alloc.h"
#include "engine/model.h"

#define CACHE_MAX_ENTRIES 256
#define CACHE_MAX_BYTES ((size_t)4 << 30)

struct entry {
    void *p;
    size_t size;
};

struct gd_bufcache {
    struct entry e[CACHE_MAX_ENTRIES];
    int n;
    size_t bytes;
};

struct gd_bufcache *gd__bufcache_new(void)
{
    return gd_calloc(1, sizeof(struct gd_bufcache));
}

void gd__bufcache_free(struct gd_bufcache *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++)
        gd_free(c->e[i].p);
    gd_free(c);
}

void *gd__bufcache_get(struct gd_bufcache *c, size_t bytes)
{
    int best = -1;
    for (int i = 0; c && i < c->n; i++)
        if (c->e[i].size >= bytes && c->e[i].size / 2 <= bytes &&
            (best < 0 || c->e[i].size < c->e[best].size))
            best = i;
    if (best < 0)
        return gd_calloc(1, bytes ? bytes : 1);
    void *p = c->e[best].p;
    c->bytes -= c->e[best].size;
    c->e[best] = c->e[--c->n];
    if (bytes)
        memset(p, 0, bytes);
    return p;
}

void gd__bufcache_put(struct gd_bufcache *c, void *p, size_t bytes)
{
    if (!p)
        return;
    if (!c || c->n == CACHE_MAX_ENTRIES || bytes > CACHE_MAX_BYTES - c->bytes || bytes == 0) {
        gd_free(p);
        return;
    }
    c->e[c->n++] = (struct entry){p, bytes};
    c->bytes += bytes;
}

void gd__slot_release(struct gd_bufcache *c, struct gd_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data && t->data) {
        if (t->dtype == GD_DTYPE_STRING || t->dtype == GD_DTYPE_SEQUENCE) {
            gd_tensor_release(t);
            return;
        }
        gd__bufcache_put(c, t->data, t->nbytes);
    }
    memset(t, 0, sizeof *t);
}
