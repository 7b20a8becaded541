/* The local response store (gw_cache.h): a chained hash table over the keys' first bytes
 * (they are SHA-256 digests: already uniform) and one LRU list, under one mutex. */
#include "gateway/gw_cache.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct entry {
    uint8_t key[GD_GW_CACHE_KEY_BYTES];
    uint64_t expires_ms;
    char ctype[64];
    struct entry *chain;         /* next in the bucket */
    struct entry *newer, *older; /* LRU list */
    size_t len;
    unsigned char body[];
};

struct gd_gw_cache {
    pthread_mutex_t mu;
    const struct gd_gw_cache_config *cc;
    struct entry **buckets;
    size_t n_buckets; /* a power of two */
    struct entry *newest, *oldest;
    struct gd_gw_cache_stats st;
};

static size_t cost(const struct entry *e)
{
    return sizeof *e + e->len;
}

static struct entry **slot(struct gd_gw_cache *c, const uint8_t *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    struct entry **at = &c->buckets[h & (c->n_buckets - 1)];
    while (*at && memcmp((*at)->key, key, GD_GW_CACHE_KEY_BYTES) != 0)
        at = &(*at)->chain;
    return at;
}

static void lru_unlink(struct gd_gw_cache *c, struct entry *e)
{
    *(e->newer ? &e->newer->older : &c->newest) = e->older;
    *(e->older ? &e->older->newer : &c->oldest) = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(struct gd_gw_cache *c, struct entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    *(c->newest ? &c->newest->newer : &c->oldest) = e;
    c->newest = e;
}

/* Removes the entry *at points to. */
static void drop(struct gd_gw_cache *c, struct entry **at)
{
    struct entry *e = *at;
    *at = e->chain;
    lru_unlink(c, e);
    c->st.entries--;
    c->st.bytes -= cost(e);
    gd_free(e);
}

struct gd_gw_cache *gd_gw_cache_new(const struct gd_gw_cache_config *cc)
{
    struct gd_gw_cache *c = gd_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cc = cc;
    /* one bucket per 4 KiB of capacity (answers are rarely smaller), at least 64 */
    c->n_buckets = 64;
    while (c->n_buckets < cc->max_bytes / 4096 && c->n_buckets < ((size_t)1 << 22))
        c->n_buckets <<= 1;
    if (!(c->buckets = gd_calloc(c->n_buckets, sizeof *c->buckets))) {
        gd_free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void gd_gw_cache_free(struct gd_gw_cache *c)
{
    if (!c)
        return;
    for (struct entry *e = c->oldest, *next; e; e = next) {
        next = e->newer;
        gd_free(e);
    }
    pthread_mutex_destroy(&c->mu);
    gd_free(c->buckets);
    gd_free(c);
}

int gd_gw_cache_get(struct gd_gw_cache *c, const uint8_t key[GD_GW_CACHE_KEY_BYTES],
                    uint64_t now_ms, struct gd_buf *body, char *ctype, size_t ctype_len)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    struct entry **at = slot(c, key), *e = *at;
    if (e && e->expires_ms <= now_ms) {
        drop(c, at);
    } else if (e) {
        lru_unlink(c, e);
        lru_push(c, e);
        snprintf(ctype, ctype_len, "%s", e->ctype);
        rc = gd_buf_append(body, e->body, e->len);
        rc = rc ? rc : 1;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int gd_gw_cache_put(struct gd_gw_cache *c, const uint8_t key[GD_GW_CACHE_KEY_BYTES],
                    uint64_t now_ms, const char *ctype, const void *body, size_t len,
                    uint64_t *evicted)
{
    *evicted = 0;
    if (len > c->cc->max_entry_bytes || strlen(ctype) >= sizeof((struct entry *)0)->ctype)
        return GD_ELIMIT;
    struct entry *e = gd_malloc(sizeof *e + len);
    if (!e)
        return GD_ENOMEM;
    memcpy(e->key, key, GD_GW_CACHE_KEY_BYTES);
    e->expires_ms = now_ms + c->cc->ttl_ms;
    snprintf(e->ctype, sizeof e->ctype, "%s", ctype);
    e->len = len;
    memcpy(e->body, body, len);
    pthread_mutex_lock(&c->mu);
    struct entry **at = slot(c, key);
    if (*at)
        drop(c, at);
    while (c->oldest && c->st.bytes + cost(e) > c->cc->max_bytes) {
        drop(c, slot(c, c->oldest->key));
        c->st.evictions++;
        (*evicted)++;
    }
    at = slot(c, key);
    e->chain = NULL;
    *at = e;
    lru_push(c, e);
    c->st.entries++;
    c->st.bytes += cost(e);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void gd_gw_cache_stats(struct gd_gw_cache *c, struct gd_gw_cache_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}
