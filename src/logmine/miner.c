/* The template miner: a Drain-style fixed-depth parse tree, flattened into hash tables.
 *
 * Drain walks a tree: first level = token count, next (depth - 3) levels = the leading
 * tokens (variables as <*>), leaf = a list of clusters compared by similarity. Here every
 * node is an entry of one hash table keyed by the hash of its path, so a step down is a hash
 * lookup (exact token child, else the <*> child, as in Drain; a node with 100 children sends
 * new tokens to <*>). In the leaf, a template the line fits as is wins; otherwise the line
 * joins the most similar template when similarity >= sim (equal constant words over word
 * tokens; punctuation must agree; two different plain words veto the match) and the template
 * generalises where they differ; otherwise a new template is created. A template that was
 * vetoed only by one plain word becomes the new one's sibling; a family of word_limit
 * siblings merges into its oldest member (see family_add).
 *
 * Most lines of a log repeat a known shape exactly. A direct-mapped cache keyed by the
 * line's signature (its constant tokens and variable positions) remembers the cluster that
 * shape went to; a hit is verified token by token ("fits without change") and skips the
 * leaf scan. Everything is deterministic: hashes are unseeded, ids are dense in creation
 * order, scans go in id order. Memory is bounded by the number of templates. */
#include "logmine/miner.h"

#include "core/alloc.h"
#include "core/hash.h"
#include "girder/error.h"

#include <string.h>

#define CACHE_MAX ((size_t)1 << 16) /* entries; the cache starts small and grows */

void gd_logmine_opts_init(struct gd_logmine_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sim = 0.5;
    o->depth = 4;
    o->default_masks = 1;
    o->max_templates = 1000000;
    o->max_tokens = 512;
    o->word_limit = 4;
}

static int copy_opts(struct gd_logmine *m, const struct gd_logmine_opts *o)
{
    m->opts = *o;
    m->opts.masks = NULL;
    m->opts.n_masks = 0;
    if (o->n_masks) {
        m->masks = gd_calloc(o->n_masks, sizeof *m->masks);
        if (!m->masks)
            return GD_ENOMEM;
        for (size_t i = 0; i < o->n_masks; i++) {
            if (!(m->masks[i] = gd_strdup(o->masks[i])))
                return GD_ENOMEM;
            m->opts.n_masks++;
        }
        m->opts.masks = (const char *const *)m->masks;
    }
    return 0;
}

int gd_logmine_new(const struct gd_logmine_opts *o, gd_logmine **out, char *err, size_t err_len)
{
    int rc = GD_EINVAL;
    struct gd_logmine *m = NULL;
    if (!(o->sim >= 0 && o->sim <= 1) || o->depth < 3 || o->depth > 64 || o->max_tokens < 4 ||
        o->max_tokens > 65536 || o->max_templates < 1 || o->max_templates > (1u << 30))
        goto fail;
    rc = GD_ENOMEM;
    if (!(m = gd_calloc(1, sizeof *m)))
        goto fail;
    gd_arena_init(&m->arena, 1 << 16, 0);
    if ((rc = copy_opts(m, o)) != 0)
        goto fail;
    if ((rc = lm_masks_init(&m->mk, o->masks, o->n_masks, err, err_len)) != 0)
        goto fail;
    rc = GD_ENOMEM;
    m->toks = gd_calloc(o->max_tokens, sizeof *m->toks);
    m->out = gd_calloc(o->max_tokens, sizeof *m->out);
    m->cache_n = 256;
    m->cache = gd_calloc(m->cache_n, sizeof *m->cache);
    if (!m->toks || !m->out || !m->cache)
        goto fail;
    *out = m;
    return 0;
fail:
    gd_logmine_free(m);
    return rc;
}

void gd_logmine_free(gd_logmine *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->leaf_cap; i++)
        gd_free(m->leaves[i].ids);
    gd_free(m->leaves);
    gd_free(m->clusters);
    gd_free(m->toks);
    gd_free(m->out);
    gd_free(m->cache);
    gd_free(m->merged);
    for (size_t i = 0; i < m->opts.n_masks; i++)
        gd_free(m->masks[i]);
    gd_free(m->masks);
    lm_masks_free(&m->mk);
    gd_arena_free(&m->arena);
    gd_free(m);
}

/* ---- leaves: hash(token count, leading tokens) -> cluster ids ------------------------- */

static int leaf_grow(struct gd_logmine *m)
{
    size_t cap = m->leaf_cap ? m->leaf_cap * 2 : 256;
    struct lm_leaf *nl = gd_calloc(cap, sizeof *nl);
    if (!nl)
        return GD_ENOMEM;
    for (size_t i = 0; i < m->leaf_cap; i++) {
        if (!m->leaves[i].key)
            continue;
        size_t j = m->leaves[i].key & (cap - 1);
        while (nl[j].key)
            j = (j + 1) & (cap - 1);
        nl[j] = m->leaves[i];
    }
    gd_free(m->leaves);
    m->leaves = nl;
    m->leaf_cap = cap;
    return 0;
}

/* The leaf for key, created when create is set (NULL when absent or out of memory). */
static struct lm_leaf *leaf_get(struct gd_logmine *m, uint64_t key, int create)
{
    if (m->leaf_cap == 0 || (create && (m->leaf_n + 1) * 2 > m->leaf_cap)) {
        if (!create || leaf_grow(m) != 0)
            return NULL;
    }
    size_t j = key & (m->leaf_cap - 1);
    while (m->leaves[j].key && m->leaves[j].key != key)
        j = (j + 1) & (m->leaf_cap - 1);
    if (m->leaves[j].key)
        return &m->leaves[j];
    if (!create)
        return NULL;
    m->leaves[j].key = key;
    m->leaf_n++;
    return &m->leaves[j];
}

#define MAX_CHILDREN 100
#define WILD 0x5bd1e9955bd1e995ull

static uint64_t child_key(uint64_t parent, uint64_t tok, size_t level)
{
    uint64_t h = (parent ^ tok) * 0x9E3779B97F4A7C15ull;
    return (h ^ (h >> 31) ^ level) | 1; /* 0 marks an empty slot */
}

/* Walks Drain's tree: length node, then one node per leading token: the exact token's child
 * if it exists, else the <*> child. When creating, a new exact child is added while the
 * parent has fewer than MAX_CHILDREN children (variables always go to <*>). Returns the leaf,
 * or NULL (no such path when !create; out of memory when create). */
static struct lm_leaf *walk(struct gd_logmine *m, const struct lm_tok *t, size_t n, int create,
                            uint64_t *leaf_key)
{
    uint64_t key = child_key(0x243F6A8885A308D3ull, (uint64_t)n, 0);
    struct lm_leaf *node = leaf_get(m, key, create);
    size_t lead = m->opts.depth - 3; /* Drain: depth counts root, length and leaf */
    for (size_t i = 0; node && i < n && i < lead; i++) {
        uint64_t exact = child_key(key, t[i].var ? WILD : t[i].h, i + 1);
        uint64_t wild = child_key(key, WILD, i + 1);
        uint64_t next = t[i].var ? wild : exact;
        if (!t[i].var && !leaf_get(m, exact, 0)) {
            if (!create || node->nchild + 1 >= MAX_CHILDREN)
                next = wild;
        }
        if (create && !leaf_get(m, next, 0)) {
            node->nchild++;
            if (!leaf_get(m, next, 1))
                return NULL;
        }
        key = next;
        node = leaf_get(m, key, create);
    }
    if (leaf_key)
        *leaf_key = key;
    return node;
}

/* All listed templates of one token count, for the search across leaves (see search). */
static uint64_t len_key(size_t n)
{
    return child_key(0x452821E638D01377ull, (uint64_t)n, 0);
}

static void leaf_remove(struct lm_leaf *l, uint32_t id)
{
    uint32_t o = 0;
    for (uint32_t k = 0; l && k < l->n; k++)
        if (l->ids[k] != id)
            l->ids[o++] = l->ids[k];
    if (l)
        l->n = o;
}

static int leaf_push(struct lm_leaf *l, uint32_t id)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        uint32_t *ids = gd_realloc(l->ids, cap * sizeof *ids);
        if (!ids)
            return GD_ENOMEM;
        l->ids = ids;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return 0;
}

/* ---- clusters ------------------------------------------------------------------------- */

static inline int tok_eq(const struct lm_cluster *c, size_t i, const char *s,
                         const struct lm_tok *t)
{
    return c->h[i] == t->h && c->tok[i].len == t->len &&
           memcmp(c->tok[i].text, s + t->off, t->len) == 0;
}

/* Punctuation tokens ('=' ':' '(' ...) are structure, not words: they must agree for a line
 * to join a template, and they do not count in the similarity (otherwise two different
 * events with the same bracket layout look alike). */
static inline int is_punct_tok(const struct gd_logmine_ttoken *t)
{
    return !t->is_var && t->len == 1 && memchr("=:,;()[]{}\"'<>|.", t->text[0], 16) != NULL;
}

/* Letters only, or letters and one trailing digit ("eth0": a name, see the tokenizer). */
static int alpha_word(const char *p, size_t n)
{
    if (n >= 3 && p[n - 1] >= '0' && p[n - 1] <= '9')
        n--;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] | 0x20) < 'a' || ((unsigned char)p[i] | 0x20) > 'z')
            return 0;
    return n > 0;
}

/* Similarity as in Drain: constant tokens equal to the line's, over the word tokens.
 * Returns -1 when the punctuation does not agree, or (unless word_vars) when two different
 * purely alphabetic words meet at a position: "stored as bytes" / "stored as values",
 * "from NEW to INITED" / "from SETUP to RUNNING", "ret:true" / "ret:false" are different
 * events, not one event with a parameter. Values carry digits or symbols (numbers, ids,
 * hosts, paths) far more often than they are bare words. */
static double similarity(const struct gd_logmine *m, const struct lm_cluster *c, const char *s,
                         const struct lm_tok *t, double *relaxed, uint32_t *vpos)
{
    size_t same = 0, words = 0;
    int veto = 0;
    *relaxed = -1;
    for (size_t i = 0; i < c->ntok; i++) {
        int eq = !c->tok[i].is_var && !t[i].var && tok_eq(c, i, s, &t[i]);
        if (is_punct_tok(&c->tok[i])) {
            if (!eq)
                return -1;
            continue;
        }
        if (!eq && !c->tok[i].is_var && !t[i].var && alpha_word(c->tok[i].text, c->tok[i].len) &&
            alpha_word(s + t[i].off, t[i].len)) {
            veto++;
            *vpos = (uint32_t)i;
        }
        words++;
        same += (size_t)eq;
    }
    *relaxed = words ? (double)same / (double)words : 1.0;
    if (veto != 1)
        *vpos = UINT32_MAX; /* word families vary in one position only */
    return veto && !m->opts.word_vars ? -1 : *relaxed;
}

/* Does the line fit the template without changing it? */
static int fits(const struct lm_cluster *c, const char *s, const struct lm_tok *t)
{
    for (size_t i = 0; i < c->ntok; i++)
        if (!c->tok[i].is_var && (t[i].var || !tok_eq(c, i, s, &t[i])))
            return 0;
    return 1;
}

static int render(struct gd_logmine *m, struct lm_cluster *c)
{
    size_t n = 1;
    for (size_t i = 0; i < c->ntok; i++)
        n += (c->tok[i].is_var ? 3 : c->tok[i].len) + 1;
    char *p = gd_arena_alloc(&m->arena, n);
    if (!p)
        return GD_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < c->ntok; i++) {
        if (c->tok[i].space_before && o)
            p[o++] = ' ';
        memcpy(p + o, c->tok[i].text, c->tok[i].len);
        o += c->tok[i].len;
    }
    p[o] = '\0';
    c->text = p;
    c->text_len = o;
    return 0;
}

int lm_cluster_create(struct gd_logmine *m, uint32_t id, const char *s, const struct lm_tok *t,
                      size_t n, uint64_t count, int listed)
{
    if (id != m->ncl + 1 || m->ncl >= m->opts.max_templates)
        return GD_ELIMIT;
    if (m->ncl == m->clcap) {
        size_t cap = m->clcap ? m->clcap * 2 : 64;
        struct lm_cluster *nc = gd_realloc(m->clusters, cap * sizeof *nc);
        if (!nc)
            return GD_ENOMEM;
        m->clusters = nc;
        m->clcap = cap;
    }
    struct lm_cluster *c = &m->clusters[m->ncl];
    memset(c, 0, sizeof *c);
    c->ntok = (uint32_t)n;
    c->count = count;
    c->fam_n = 1;
    c->tok = gd_arena_calloc(&m->arena, n ? n : 1, sizeof *c->tok);
    c->h = gd_arena_calloc(&m->arena, n ? n : 1, sizeof *c->h);
    if (!c->tok || !c->h)
        return GD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        c->tok[i].is_var = t[i].var;
        c->tok[i].space_before = t[i].sp;
        c->h[i] = t[i].h;
        c->tok[i].len = t[i].var ? 3 : t[i].len;
        c->tok[i].text = t[i].var ? "<*>" : gd_arena_strndup(&m->arena, s + t[i].off, t[i].len);
        if (!c->tok[i].text)
            return GD_ENOMEM;
    }
    if (render(m, c) != 0)
        return GD_ENOMEM;
    struct lm_leaf *l = walk(m, t, n, 1, &c->leaf);
    if (!l || (listed && leaf_push(l, id) != 0))
        return GD_ENOMEM;
    if (listed && m->opts.depth > 3 && (!(l = leaf_get(m, len_key(n), 1)) || leaf_push(l, id) != 0))
        return GD_ENOMEM;
    m->ncl++;
    return 0;
}

/* Turns the template's constants that differ from the line into <*>. Returns 1 if changed. */
static int generalise(struct gd_logmine *m, struct lm_cluster *c, const char *s,
                      const struct lm_tok *t, int *changed)
{
    *changed = 0;
    for (size_t i = 0; i < c->ntok; i++) {
        if (!c->tok[i].is_var && (t[i].var || !tok_eq(c, i, s, &t[i]))) {
            c->tok[i].is_var = 1;
            c->tok[i].text = "<*>";
            c->tok[i].len = 3;
            c->h[i] = 0;
            *changed = 1;
        }
    }
    return *changed ? render(m, c) : 0;
}

static uint64_t signature(const struct lm_tok *t, size_t n)
{
    uint64_t h = 0x243F6A8885A308D3ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (t[i].var ? 0x13198A2E03707344ull : t[i].h)) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

/* Finds the cluster for the line: cache, then the leaf scan. 0 when none qualifies. */
/* Resolves merged templates to the template that absorbed them. */
static uint32_t canon(const struct gd_logmine *m, uint32_t id)
{
    while (id && m->clusters[id - 1].alias)
        id = m->clusters[id - 1].alias;
    return id;
}

/* Drain's tree takes the leading tokens as constants, so events whose first words vary
 * ("DSDT (v001 ...)", "FADT (v001 ...)", user names first) land in different leaves and never
 * meet. Before a line starts a new template, the other leaves' templates of its length are
 * checked, conservatively: one that the line fits as is (a template whose leading word became
 * <*> by a family merge) takes it; otherwise one that differs from the line in exactly one
 * plain word, at a leading position, becomes its word-family sibling, so such words become
 * <*> by the same rule as everywhere else. Bounded: only on a miss, and skipped when that
 * length has more than ACROSS_MAX templates. */
#define ACROSS_MAX 4096

static uint32_t across_leaves(struct gd_logmine *m, const char *s, const struct lm_tok *t, size_t n,
                              uint64_t key, int *fit, uint32_t *sibling, uint32_t *spos)
{
    struct lm_leaf *ll = m->opts.depth > 3 ? leaf_get(m, len_key(n), 0) : NULL;
    if (!ll || ll->n > ACROSS_MAX)
        return 0;
    uint32_t sib = 0, pos = UINT32_MAX;
    for (uint32_t k = 0; k < ll->n; k++) {
        struct lm_cluster *c = &m->clusters[ll->ids[k] - 1];
        if (c->leaf == key || c->ntok != n)
            continue; /* scanned already */
        if (fits(c, s, t)) {
            *fit = 1;
            return ll->ids[k];
        }
        double rel;
        uint32_t vpos = UINT32_MAX;
        if (!sib && !*sibling && similarity(m, c, s, t, &rel, &vpos) < 0 && rel >= m->opts.sim &&
            vpos < m->opts.depth - 3 && vpos < n)
            sib = ll->ids[k], pos = vpos;
    }
    if (sib) {
        *sibling = sib;
        *spos = pos;
    }
    return 0;
}

/* Finds the cluster for the line: cache, then the leaf scan. 0 when none qualifies; then
 * *sibling is the template the line would have joined but for differing words (or 0). */
static uint32_t search(struct gd_logmine *m, const char *s, const struct lm_tok *t, size_t n,
                       uint64_t sig, int *fit, uint32_t *sibling, uint32_t *spos)
{
    struct lm_cache_ent *ce = &m->cache[sig & (m->cache_n - 1)];
    *sibling = 0;
    if (ce->sig == sig && ce->id) {
        uint32_t id = canon(m, ce->id);
        struct lm_cluster *c = &m->clusters[id - 1];
        if (c->ntok == n && fits(c, s, t)) {
            *fit = 1;
            return id;
        }
    }
    *fit = 0;
    uint64_t key = 0;
    struct lm_leaf *l = walk(m, t, n, 0, &key);
    uint32_t best = 0, best_rel = 0;
    double best_sim = -1, best_rsim = -1;
    for (uint32_t k = 0; l && k < l->n; k++) {
        struct lm_cluster *c = &m->clusters[l->ids[k] - 1];
        if (c->ntok != n)
            continue;        /* 64-bit leaf-key collision */
        if (fits(c, s, t)) { /* the oldest template that fits as is wins (as the cache does) */
            *fit = 1;
            return l->ids[k];
        }
        double rel;
        uint32_t vpos = UINT32_MAX;
        double sm = similarity(m, c, s, t, &rel, &vpos);
        if (sm > best_sim) {
            best_sim = sm;
            best = l->ids[k];
        }
        if (rel > best_rsim) {
            best_rsim = rel;
            best_rel = l->ids[k];
            *spos = vpos;
        }
    }
    if (best && best_sim >= m->opts.sim)
        return best;
    if (best_rel && best_rsim >= m->opts.sim && *spos != UINT32_MAX)
        *sibling = best_rel;
    return across_leaves(m, s, t, n, key, fit, sibling, spos);
}

static uint32_t fam_root(struct gd_logmine *m, uint32_t id)
{
    while (m->clusters[id - 1].fam)
        id = m->clusters[id - 1].fam;
    return id;
}

/* Word families. A line that differs from a template only in words (and would otherwise have
 * joined it) starts a new template, a sibling of that one. Once a family has word_limit
 * members, the words at those positions are evidently values (user names, host names, ...):
 * the family merges into its oldest template, which generalises where the members differ;
 * the others become aliases of it (their ids resolve to it from then on). */
static int family_add(struct gd_logmine *m, uint32_t id, uint32_t sibling, uint32_t pos)
{
    uint32_t root = fam_root(m, sibling);
    struct lm_cluster *r = &m->clusters[root - 1], *nc = &m->clusters[id - 1];
    if (r->fam_pos == 0)
        r->fam_pos = pos + 1;
    else if (r->fam_pos != pos + 1)
        return 0;   /* a family varies in one position */
    nc->fam = root; /* join the family's member list */
    nc->next = r->next;
    r->next = id;
    if (++r->fam_n < m->opts.word_limit || m->opts.word_limit == 0)
        return 0;
    if (r->fam_n > m->merged_cap) { /* room to report every member (before changing anything) */
        uint32_t *nm = gd_realloc(m->merged, r->fam_n * sizeof *nm);
        if (!nm)
            return GD_ENOMEM;
        m->merged = nm;
        m->merged_cap = r->fam_n;
    }
    int changed = 0;
    for (uint32_t mid = r->next; mid; mid = m->clusters[mid - 1].next) {
        struct lm_cluster *c = &m->clusters[mid - 1];
        if (c->alias || c->ntok != r->ntok)
            continue;
        leaf_remove(leaf_get(m, c->leaf, 0), mid); /* the merged template leaves its leaf */
        leaf_remove(leaf_get(m, len_key(c->ntok), 0), mid);
        for (uint32_t i = 0; i < r->ntok; i++) {
            if (r->tok[i].is_var ||
                (!c->tok[i].is_var && c->h[i] == r->h[i] && c->tok[i].len == r->tok[i].len &&
                 memcmp(c->tok[i].text, r->tok[i].text, r->tok[i].len) == 0))
                continue;
            r->tok[i] = (struct gd_logmine_ttoken){"<*>", 3, 1, r->tok[i].space_before};
            r->h[i] = 0;
            changed = 1;
        }
        c->alias = root;
        if (mid != id && m->n_merged < m->merged_cap) { /* the new id was never handed out */
            size_t k = m->n_merged++;
            for (; k && m->merged[k - 1] > mid; k--) /* ascending (the list is newest first) */
                m->merged[k] = m->merged[k - 1];
            m->merged[k] = mid;
        }
    }
    m->merges++;
    return changed ? render(m, r) : 0;
}

static void fill_out(struct gd_logmine *m, const struct lm_cluster *c, uint32_t id,
                     const struct lm_tok *t, size_t n, struct gd_logmine_match *out)
{
    for (size_t i = 0; i < n; i++) {
        m->out[i].off = t[i].off;
        m->out[i].len = t[i].len;
        m->out[i].is_var = c->tok[i].is_var;
        m->out[i].space_before = t[i].sp;
    }
    out->template_id = id;
    out->n_tokens = (uint32_t)n;
    out->tokens = m->out;
}

static int tokenize(struct gd_logmine *m, const char *s, size_t len)
{
    if (len >= GD_LOGMINE_MAX_LINE)
        len = GD_LOGMINE_MAX_LINE - 1;
    return lm_tokenize(&m->mk, m->opts.default_masks, s, len, m->toks, m->opts.max_tokens);
}

int gd_logmine_add(gd_logmine *m, const char *s, size_t len, struct gd_logmine_match *out)
{
    int n = tokenize(m, s, len), fit, changed = 0, rc;
    if (n < 0)
        return n;
    uint64_t sig = signature(m->toks, (size_t)n);
    uint32_t sibling, spos;
    uint32_t id = search(m, s, m->toks, (size_t)n, sig, &fit, &sibling, &spos);
    memset(out, 0, sizeof *out);
    m->n_merged = 0;
    if (id == 0) {
        id = m->ncl + 1;
        if ((rc = lm_cluster_create(m, id, s, m->toks, (size_t)n, 0, 1)) != 0)
            return rc;
        out->created = 1;
        uint64_t merges = m->merges;
        if (sibling && (rc = family_add(m, id, sibling, spos)) != 0)
            return rc;
        id = canon(m, id); /* the new template may have been merged at once */
        out->updated = m->merges != merges;
    } else if (!fit) {
        if ((rc = generalise(m, &m->clusters[id - 1], s, m->toks, &changed)) != 0)
            return rc;
        out->updated = (uint8_t)changed;
    }
    struct lm_cluster *c = &m->clusters[id - 1];
    c->count++;
    if (out->created && m->ncl * 4 > m->cache_n && m->cache_n < CACHE_MAX) {
        struct lm_cache_ent *nc = gd_calloc(m->cache_n * 2, sizeof *nc); /* grow, start empty */
        if (nc) {
            gd_free(m->cache);
            m->cache = nc;
            m->cache_n *= 2;
        }
    }
    m->cache[sig & (m->cache_n - 1)] = (struct lm_cache_ent){sig, id};
    fill_out(m, c, id, m->toks, (size_t)n, out);
    out->n_merged = (uint32_t)m->n_merged;
    out->merged = m->merged;
    return 0;
}

int gd_logmine_lookup(gd_logmine *m, const char *s, size_t len, struct gd_logmine_match *out)
{
    int n = tokenize(m, s, len), fit;
    uint32_t sibling, spos;
    if (n < 0)
        return n;
    uint32_t id =
        search(m, s, m->toks, (size_t)n, signature(m->toks, (size_t)n), &fit, &sibling, &spos);
    if (id == 0)
        return GD_ENOENT;
    memset(out, 0, sizeof *out);
    fill_out(m, &m->clusters[id - 1], id, m->toks, (size_t)n, out);
    return 0;
}

int gd_logmine_extract(gd_logmine *m, uint32_t id, const char *s, size_t len,
                       struct gd_logmine_match *out)
{
    if (id == 0 || id > m->ncl)
        return GD_ENOENT;
    id = canon(m, id);
    int n = tokenize(m, s, len);
    if (n < 0)
        return n;
    struct lm_cluster *c = &m->clusters[id - 1];
    if ((size_t)n != c->ntok || !fits(c, s, m->toks))
        return GD_EINVAL;
    memset(out, 0, sizeof *out);
    fill_out(m, c, id, m->toks, (size_t)n, out);
    return 0;
}

uint32_t gd_logmine_count(const gd_logmine *m)
{
    return (uint32_t)m->ncl;
}

uint32_t gd_logmine_resolve(const gd_logmine *m, uint32_t id)
{
    return id == 0 || id > m->ncl ? 0 : canon(m, id);
}

int gd_logmine_template(gd_logmine *m, uint32_t id, struct gd_logmine_template *out)
{
    if (id == 0 || id > m->ncl)
        return GD_ENOENT;
    const struct lm_cluster *c = &m->clusters[canon(m, id) - 1];
    out->id = id;
    out->merged_into = canon(m, id) == id ? 0 : canon(m, id);
    out->count = m->clusters[id - 1].count;
    out->n_tokens = c->ntok;
    out->tokens = c->tok;
    out->text = c->text;
    out->text_len = c->text_len;
    return 0;
}
