/* Fast non-cryptographic 64-bit hashing (not for untrusted-key hash tables without
 * a per-process seed: use gd_hash_seeded with gd_hash_seed()). */
#ifndef GD_CORE_HASH_H
#define GD_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t gd_hash_seeded(const void *p, size_t n, uint64_t seed);
static inline uint64_t gd_hash(const void *p, size_t n)
{
    return gd_hash_seeded(p, n, 0x9E3779B97F4A7C15ull);
}
/* Random per-process seed (from getrandom), stable for the process lifetime. */
uint64_t gd_hash_seed(void);

#endif
