/* The miner's internal layout, shared by miner.c and state.c. Not a public API. */
#ifndef GD_LOGMINE_MINER_H
#define GD_LOGMINE_MINER_H

#include "logmine/internal.h"

#include "core/arena.h"

struct lm_cluster {
    uint32_t ntok;
    uint64_t count;
    struct gd_logmine_ttoken *tok; /* arena */
    uint64_t *h;                   /* hash of each constant token (0 for <*>) */
    char *text;                    /* rendered template (arena; re-rendered on change) */
    size_t text_len;
    uint32_t alias;   /* merged into this template (0: none) */
    uint32_t fam;     /* word family: parent id (0: root) */
    uint32_t fam_n;   /* members of the family (valid at its root) */
    uint32_t fam_pos; /* 1 + the token position the family varies in (at its root; 0: none) */
    uint32_t next;    /* next member of the family (list from the root; 0: end) */
    uint64_t leaf;    /* key of the leaf that lists this template */
};

/* A node of the (hashed) parse tree; leaves hold cluster ids. */
struct lm_leaf {
    uint64_t key; /* hash of the path; 0 = empty slot */
    uint32_t *ids, n, cap;
    uint32_t nchild;
};

struct lm_cache_ent {
    uint64_t sig;
    uint32_t id;
};

struct gd_logmine {
    struct gd_logmine_opts opts; /* masks point into `masks` (owned copies) */
    char **masks;
    struct lm_masks mk;
    struct gd_arena arena;       /* template tokens and texts */
    struct lm_cluster *clusters; /* id - 1 */
    size_t ncl, clcap;
    struct lm_leaf *leaves; /* open addressing, power-of-two capacity */
    size_t leaf_n, leaf_cap;
    struct lm_cache_ent *cache; /* direct-mapped, cache_n (a power of two) entries */
    size_t cache_n;
    uint64_t merges;              /* word-family merges so far */
    uint32_t *merged;             /* ids aliased by the current add (match.merged) */
    size_t n_merged, merged_cap;
    struct lm_tok *toks;          /* scratch: the current line's tokens */
    struct gd_logmine_token *out; /* scratch: tokens handed out in matches */
};

/* Appends cluster `id` (must be count + 1) built from tokens t of content s; listed: put it
 * in its leaf (merged templates are not). */
int lm_cluster_create(struct gd_logmine *m, uint32_t id, const char *s, const struct lm_tok *t,
                      size_t n, uint64_t count, int listed);

#endif
