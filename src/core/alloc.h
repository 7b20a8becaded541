/* The one allocator every girder module uses, so that allocations can be counted
 * and made to fail on purpose in tests (allocation-failure torture).
 * Thread-safe. gd_free(NULL) is a no-op. */
#ifndef GD_CORE_ALLOC_H
#define GD_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *gd_malloc(size_t n);
void *gd_calloc(size_t count, size_t size); /* NULL on count*size overflow */
void *gd_realloc(void *p, size_t n);
void gd_free(void *p);
char *gd_strdup(const char *s);
char *gd_strndup(const char *s, size_t n);

/* Overflow-checked size arithmetic: return 0 and store the result, or GD_ERANGE. */
int gd_size_mul(size_t a, size_t b, size_t *out);
int gd_size_add(size_t a, size_t b, size_t *out);

struct gd_alloc_stats {
    uint64_t allocs;    /* successful allocations (malloc/calloc/realloc of NULL) */
    uint64_t frees;     /* gd_free of non-NULL pointers */
    uint64_t failures;  /* allocations that returned NULL */
};
void gd_alloc_get_stats(struct gd_alloc_stats *out);
/* Make the n-th allocation from now fail (n >= 1); 0 disables. For tests only. */
void gd_alloc_fail_after(uint64_t n);

#endif
