/* Bump allocator for objects that die together (a request, a parsed config, a graph).
 * Memory comes in blocks from gd_malloc; gd_arena_free releases everything at once.
 * Total bytes are capped by `max` (0 = unlimited). Not thread-safe. */
#ifndef GD_CORE_ARENA_H
#define GD_CORE_ARENA_H

#include <stddef.h>

struct gd_arena_block;
struct gd_arena {
    struct gd_arena_block *head;
    size_t block_size; /* default size of new blocks */
    size_t used;       /* bytes handed out, for caps and stats */
    size_t max;
};

void gd_arena_init(struct gd_arena *a, size_t block_size, size_t max);
void gd_arena_free(struct gd_arena *a);
/* 16-byte aligned memory, or NULL (out of memory or over the cap). */
void *gd_arena_alloc(struct gd_arena *a, size_t n);
void *gd_arena_calloc(struct gd_arena *a, size_t count, size_t size);
char *gd_arena_strndup(struct gd_arena *a, const char *s, size_t n);

#endif
