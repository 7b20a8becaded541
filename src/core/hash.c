#include "core/hash.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>

/* A 64-bit multiply-mix hash in the wyhash family: 8 bytes per step, good avalanche. */
static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

uint64_t gd_hash_seeded(const void *data, size_t n, uint64_t seed)
{
    const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
    const unsigned char *p = data;
    uint64_t h = seed ^ mix(seed ^ k0, n ^ k1);
    while (n >= 8) {
        h = mix(h ^ rd64(p) ^ k0, k1);
        p += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, n);
    return mix(h ^ tail ^ k1, k0 ^ n);
}

uint64_t gd_hash_seed(void)
{
    static _Atomic uint64_t seed;
    uint64_t s = atomic_load(&seed);
    if (s == 0) {
        if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s || s == 0)
            s = 0x2545F4914F6CDD1Dull;
        uint64_t expected = 0;
        if (!atomic_compare_exchange_strong(&seed, &expected, s))
            s = expected;
    }
    return s;
}
