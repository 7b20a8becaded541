#include "core/arena.h"
#include "core/alloc.h"

#include <string.h>

struct gd_arena_block {
    struct gd_arena_block *next;
    size_t size, off;
    _Alignas(16) unsigned char mem[];
};

void gd_arena_init(struct gd_arena *a, size_t block_size, size_t max)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 4096;
    a->used = 0;
    a->max = max;
}

void gd_arena_free(struct gd_arena *a)
{
    struct gd_arena_block *b = a->head;
    while (b) {
        struct gd_arena_block *next = b->next;
        gd_free(b);
        b = next;
    }
    a->head = NULL;
    a->used = 0;
}

void *gd_arena_alloc(struct gd_arena *a, size_t n)
{
    size_t need;
    if (gd_size_add(n, 15, &need) != 0)
        return NULL;
    need &= ~(size_t)15;
    if (a->max && (need > a->max || a->used > a->max - need))
        return NULL;
    struct gd_arena_block *b = a->head;
    if (!b || b->size - b->off < need) {
        size_t size = need > a->block_size ? need : a->block_size, total;
        if (gd_size_add(sizeof *b, size, &total) != 0 || !(b = gd_malloc(total)))
            return NULL;
        b->size = size;
        b->off = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->mem + b->off;
    b->off += need;
    a->used += need;
    return p;
}

void *gd_arena_calloc(struct gd_arena *a, size_t count, size_t size)
{
    size_t n;
    if (gd_size_mul(count, size, &n) != 0)
        return NULL;
    void *p = gd_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *gd_arena_strndup(struct gd_arena *a, const char *s, size_t n)
{
    char *d = gd_arena_alloc(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}
