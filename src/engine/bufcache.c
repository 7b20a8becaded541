/* The memory planner's buffer cache. Values are allocated when their producer runs and
 * handed back here right after their last reader (liveness from graph.c), so later values
 * reuse those buffers instead of calling the allocator; across runs of a session the
 * cache converges to the set of buffers one run needs. A request takes the smallest cached
 * buffer that fits and wastes at most half of it. The cache is capped in entries and
 * bytes; beyond that buffers are simply freed. Runs of varying shapes (a model server's
 * batches of 1..N rows) would otherwise fill it with buffers of every size: at the end of
 * each run it keeps at most twice the most bytes one run ever held at once (the factor is
 * what best fit may waste), evicting first the buffers the run did not use, oldest first,
 * and the ones it used only beyond four times that peak.
 * Not thread-safe (one per session). */
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/model.h"

#define CACHE_MAX_ENTRIES 256
#define CACHE_MAX_BYTES ((size_t)4 << 30)

struct entry {
    void *p;
    size_t size;
    uint64_t stamp; /* when it was returned: eviction order */
};

struct gd_bufcache {
    struct entry e[CACHE_MAX_ENTRIES];
    int n;
    size_t bytes;     /* held in e[] */
    size_t out, peak; /* handed out during this run; the most of that in any run */
    uint64_t clock;
    uint64_t run_start; /* first stamp of the current run */
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
    int fresh = 0;
    void *p = gd__bufcache_get_raw(c, bytes, &fresh);
    if (p && bytes && !fresh)
        memset(p, 0, bytes);
    return p;
}

void *gd__bufcache_get_raw(struct gd_bufcache *c, size_t bytes, int *fresh)
{
    if (c) {
        c->out += bytes;
        if (c->out > c->peak)
            c->peak = c->out;
    }
    int best = -1;
    for (int i = 0; c && i < c->n; i++)
        if (c->e[i].size >= bytes && c->e[i].size / 2 <= bytes &&
            (best < 0 || c->e[i].size < c->e[best].size))
            best = i;
    *fresh = best < 0;
    if (best < 0)
        return gd_calloc(1, bytes ? bytes : 1);
    void *p = c->e[best].p;
    c->bytes -= c->e[best].size;
    c->e[best] = c->e[--c->n];
    return p;
}

void gd__bufcache_put(struct gd_bufcache *c, void *p, size_t bytes)
{
    if (!p)
        return;
    if (c)
        c->out -= bytes < c->out ? bytes : c->out;
    /* the buffer's real capacity, not the size its last user asked for: best fit hands a
     * buffer up to twice the request, and recording the request shrank the buffer in the
     * cache's books, so the next run's large request found nothing and faulted in fresh
     * pages (a 7.2 MB column buffer per run in ResNet-18) */
    size_t cap = malloc_usable_size(p);
    if (cap < bytes)
        cap = bytes;
    if (!c || c->n == CACHE_MAX_ENTRIES || cap > CACHE_MAX_BYTES - c->bytes || bytes == 0) {
        gd_free(p);
        return;
    }
    c->e[c->n++] = (struct entry){p, cap, ++c->clock};
    c->bytes += cap;
}

size_t gd__bufcache_bytes(const struct gd_bufcache *c)
{
    return c ? c->bytes : 0;
}

/* Frees the least recently returned buffer among those returned before `before` (stamp
 * order); 0 when there is none. */
static int evict_oldest(struct gd_bufcache *c, uint64_t before)
{
    int old = -1;
    for (int i = 0; i < c->n; i++)
        if (c->e[i].stamp < before && (old < 0 || c->e[i].stamp < c->e[old].stamp))
            old = i;
    if (old < 0)
        return 0;
    gd_free(c->e[old].p);
    c->bytes -= c->e[old].size;
    c->e[old] = c->e[--c->n];
    return 1;
}

void gd__bufcache_end_run(struct gd_bufcache *c)
{
    if (!c)
        return;
    c->out = 0; /* what is still out (the run's outputs) has left the session */
    size_t keep = c->peak > SIZE_MAX / 4 ? SIZE_MAX / 2 : 2 * c->peak;
    /* buffers this run did not touch go first; the ones it used are what the next run of
     * the same shapes needs (evicting them by age made the run's first big allocation
     * fault its pages in again on every run), so they go only past twice the limit */
    while (c->bytes > keep && evict_oldest(c, c->run_start))
        ;
    while (c->bytes > 2 * keep && evict_oldest(c, UINT64_MAX))
        ;
    c->run_start = c->clock + 1;
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
