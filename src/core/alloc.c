#include "core/alloc.h"
#include "girder/error.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t n_allocs, n_frees, n_failures;
static _Atomic uint64_t fail_countdown; /* 0: never fail */

/* Returns 1 when the caller must pretend the allocation failed. */
static int should_fail(void)
{
    uint64_t c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &c, c - 1))
            return c == 1;
    }
    return 0;
}

static void *count(void *p)
{
    atomic_fetch_add_explicit(p ? &n_allocs : &n_failures, 1, memory_order_relaxed);
    return p;
}

void *gd_malloc(size_t n)
{
    if (should_fail())
        return count(NULL);
    return count(malloc(n ? n : 1));
}

void *gd_calloc(size_t count_, size_t size)
{
    size_t total;
    if (gd_size_mul(count_, size, &total) != 0 || should_fail())
        return count(NULL);
    return count(calloc(1, total ? total : 1));
}

void *gd_realloc(void *p, size_t n)
{
    if (should_fail())
        return count(NULL);
    void *q = realloc(p, n ? n : 1);
    if (!q || !p)
        count(q);
    return q;
}

void gd_free(void *p)
{
    if (!p)
        return;
    atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
    free(p);
}

char *gd_strndup(const char *s, size_t n)
{
    char *d = gd_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *gd_strdup(const char *s)
{
    return gd_strndup(s, strlen(s));
}

int gd_size_mul(size_t a, size_t b, size_t *out)
{
    if (__builtin_mul_overflow(a, b, out))
        return GD_ERANGE;
    return 0;
}

int gd_size_add(size_t a, size_t b, size_t *out)
{
    if (__builtin_add_overflow(a, b, out))
        return GD_ERANGE;
    return 0;
}

void gd_alloc_get_stats(struct gd_alloc_stats *out)
{
    out->allocs = atomic_load(&n_allocs);
    out->frees = atomic_load(&n_frees);
    out->failures = atomic_load(&n_failures);
}

void gd_alloc_fail_after(uint64_t n)
{
    atomic_store(&fail_countdown, n);
}
