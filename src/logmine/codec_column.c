/* Typed column codec (see codec_column.h for the representations and streams).
 *
 * The encoder is a sequence of cheap tests over the values: all equal -> CONST; same digit
 * skeleton -> SPLIT with integer sub-columns; otherwise DICT or RAW by estimated size. The
 * estimates are on raw bytes before zstd, which is good enough to rank the options: zstd
 * then removes what repetition is left. */
#include "logmine/codec_column.h"
#include "core/alloc.h"
#include "core/hash.h"
#include "girder/error.h"

#include <string.h>

enum { INT_CONST = 0, INT_PLAIN = 1, INT_DELTA = 2, INT_BYTES = 3, INT_DICT = 4 };
#define INT_DICT_MAX 4096 /* distinct values worth a dictionary */
enum { SUB_STR = 0 };
#define COL_MAX_BYTES ((uint64_t)UINT32_MAX)

void gd_codec_out_init(struct gd_codec_out *o, size_t max_bytes)
{
    for (int i = 0; i < GD_CODEC_NSTREAMS; i++)
        gd_buf_init(&o->s[i], max_bytes);
}

void gd_codec_out_free(struct gd_codec_out *o)
{
    for (int i = 0; i < GD_CODEC_NSTREAMS; i++)
        gd_buf_free(&o->s[i]);
}

/* ---- integers ------------------------------------------------------------------------- */

static unsigned byte_width(uint64_t max)
{
    unsigned w = 1;
    while (w < 8 && (max >> (8 * w)) != 0)
        w++;
    return w;
}

static int ints_write(struct gd_buf *num, int mode, unsigned w, const uint64_t *v, size_t n)
{
    uint64_t prev = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (mode == INT_PLAIN) {
            rc = gd_codec_put_uvar(num, v[i]);
        } else if (mode == INT_DELTA) {
            rc = gd_codec_put_uvar(num, gd_codec_zigzag((int64_t)(v[i] - prev)));
            prev = v[i];
        } else {
            uint8_t b[8];
            for (unsigned j = 0; j < w; j++)
                b[j] = (uint8_t)(v[i] >> (8 * j));
            rc = gd_buf_append(num, b, w);
        }
    }
    return rc;
}

/* Distinct values of v (first-occurrence order) into dict and their indices into idx;
 * returns the count, or 0 when there are more than INT_DICT_MAX, or GD_ENOMEM. */
static long ints_dict(const uint64_t *v, size_t n, uint64_t *dict, uint64_t *idx)
{
    enum { CAP = 2 * INT_DICT_MAX * 2 };
    uint32_t *slots = gd_calloc(CAP, sizeof *slots);
    if (!slots)
        return GD_ENOMEM;
    long d = 0;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)((v[i] * 0x9E3779B97F4A7C15ull) >> 50) & (CAP - 1);
        while (slots[h] && dict[slots[h] - 1] != v[i])
            h = (h + 1) & (CAP - 1);
        if (!slots[h]) {
            if (d == INT_DICT_MAX) {
                d = 0;
                break;
            }
            dict[d] = v[i];
            slots[h] = (uint32_t)++d;
        }
        idx[i] = slots[h] - 1;
    }
    gd_free(slots);
    return d;
}

/* Raw-size estimate of a dictionary encoding: entries plus one index per value. */
static uint64_t dict_cost(const uint64_t *dict, long d, size_t n)
{
    uint64_t c = (uint64_t)n * gd_codec_uvar_len((uint64_t)(d - 1)) + 2;
    for (long e = 0; e < d; e++)
        c += gd_codec_uvar_len(dict[e]);
    return c;
}

int gd_codec_ints_encode(struct gd_codec_out *o, const uint64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t plain = 0, delta = 0, max = 0, prev = 0;
    int all_eq = 1;
    for (size_t i = 0; i < n; i++) {
        plain += gd_codec_uvar_len(v[i]);
        delta += gd_codec_uvar_len(gd_codec_zigzag((int64_t)(v[i] - prev)));
        prev = v[i];
        if (v[i] > max)
            max = v[i];
        all_eq &= v[i] == v[0];
    }
    struct gd_buf *meta = &o->s[GD_CODEC_META], *num = &o->s[GD_CODEC_NUM];
    if (all_eq) {
        int rc = gd_codec_put_uvar(meta, INT_CONST);
        return rc ? rc : gd_codec_put_uvar(num, v[0]);
    }
    unsigned w = byte_width(max);
    uint64_t bytes = (uint64_t)w * n, best = plain < delta ? plain : delta;
    best = bytes < best ? bytes : best;
    if (n >= 16 && w >= 2) { /* a dictionary can only pay off for multi-byte values */
        uint64_t *dict = gd_malloc((INT_DICT_MAX + n) * sizeof *dict);
        if (!dict)
            return GD_ENOMEM;
        uint64_t *idx = dict + INT_DICT_MAX;
        long d = ints_dict(v, n, dict, idx);
        int rc = d < 0 ? (int)d : 0;
        if (d > 0 && dict_cost(dict, d, n) < best) {
            rc = gd_codec_put_uvar(meta, INT_DICT);
            if (rc == 0)
                rc = gd_codec_put_uvar(meta, (uint64_t)d);
            if (rc == 0)
                rc = gd_codec_ints_encode(o, dict, (size_t)d);
            if (rc == 0)
                rc = gd_codec_ints_encode(o, idx, n);
            gd_free(dict);
            return rc;
        }
        gd_free(dict);
        if (rc)
            return rc;
    }
    int mode = INT_BYTES;
    if (plain < bytes && plain <= delta)
        mode = INT_PLAIN;
    else if (delta < bytes && delta < plain)
        mode = INT_DELTA;
    int rc = gd_codec_put_uvar(meta, (uint64_t)mode);
    if (rc == 0 && mode == INT_BYTES)
        rc = gd_codec_put_uvar(meta, w);
    return rc ? rc : ints_write(num, mode, w, v, n);
}

/* INT_DICT: d entries, then n indices < d. */
static int ints_dict_decode(struct gd_codec_in *in, uint64_t *v, size_t n)
{
    uint64_t d = gd_codec_get_count(&in->s[GD_CODEC_META], n < INT_DICT_MAX ? n : INT_DICT_MAX);
    if (in->s[GD_CODEC_META].err || d == 0)
        return GD_EPARSE;
    uint64_t *dict = gd_malloc((size_t)d * sizeof *dict);
    if (!dict)
        return GD_ENOMEM;
    int rc = gd_codec_ints_decode(in, dict, (size_t)d);
    if (rc == 0)
        rc = gd_codec_ints_decode(in, v, n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (v[i] >= d)
            rc = GD_EPARSE;
        else
            v[i] = dict[v[i]];
    }
    gd_free(dict);
    return rc;
}

int gd_codec_ints_decode(struct gd_codec_in *in, uint64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    struct gd_codec_rd *meta = &in->s[GD_CODEC_META], *num = &in->s[GD_CODEC_NUM];
    uint64_t mode = gd_codec_get_count(meta, INT_DICT), prev = 0;
    if (meta->err)
        return GD_EPARSE;
    if (mode == INT_DICT)
        return ints_dict_decode(in, v, n);
    if (mode == INT_CONST) {
        uint64_t c = gd_codec_get_uvar(num);
        for (size_t i = 0; i < n; i++)
            v[i] = c;
        return num->err ? GD_EPARSE : 0;
    }
    if (mode == INT_BYTES) {
        uint64_t w = gd_codec_get_count(meta, 8);
        if (meta->err || w == 0 || gd_codec_rd_left(num) / w < n)
            return GD_EPARSE;
        const uint8_t *p = gd_codec_get_raw(num, (size_t)w * n);
        for (size_t i = 0; i < n; i++, p += w) {
            uint64_t x = 0;
            for (unsigned j = 0; j < w; j++)
                x |= (uint64_t)p[j] << (8 * j);
            v[i] = x;
        }
        return 0;
    }
    if (gd_codec_rd_left(num) < n) /* every varint takes at least one byte */
        return GD_EPARSE;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = gd_codec_get_uvar(num);
        v[i] = mode == INT_PLAIN ? x : (prev += (uint64_t)gd_codec_unzigzag(x));
    }
    return num->err ? GD_EPARSE : 0;
}

/* ---- string columns ------------------------------------------------------------------- */

static int str_eq(const struct gd_codec_str *a, const struct gd_codec_str *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Dictionary of distinct values by first occurrence: ids[i] = entry of v[i], first[e] = index
 * of the first value equal to entry e. Returns the entry count or a negative GD_E*. */
static long build_dict(const struct gd_codec_str *v, size_t n, uint32_t *ids, uint32_t *first)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slots = gd_calloc(cap, sizeof *slots);
    if (!slots)
        return GD_ENOMEM;
    uint32_t d = 0;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)gd_hash(v[i].p, v[i].len) & (cap - 1);
        while (slots[h] && !str_eq(&v[first[slots[h] - 1]], &v[i]))
            h = (h + 1) & (cap - 1);
        if (!slots[h]) {
            first[d] = (uint32_t)i;
            slots[h] = ++d;
        }
        ids[i] = slots[h] - 1;
    }
    gd_free(slots);
    return (long)d;
}

static int put_strings(struct gd_codec_out *o, const struct gd_codec_str *v, const uint32_t *sel,
                       size_t n, uint64_t *tmp)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = v[sel ? sel[i] : i].len;
    int rc = gd_codec_ints_encode(o, tmp, n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct gd_codec_str *s = &v[sel ? sel[i] : i];
        rc = gd_buf_append(&o->s[GD_CODEC_STR], s->p, s->len);
    }
    return rc;
}

/* Writes a string column: CONST, DICT or RAW (kind byte first). */
static int strcol_encode(struct gd_codec_out *o, const struct gd_codec_str *v, size_t n)
{
    struct gd_buf *meta = &o->s[GD_CODEC_META];
    uint32_t *ids = gd_malloc(n * sizeof *ids), *first = gd_malloc(n * sizeof *first);
    uint64_t *tmp = gd_malloc(n * sizeof *tmp);
    int rc = GD_ENOMEM;
    if (!ids || !first || !tmp)
        goto fail;
    long d = build_dict(v, n, ids, first);
    if (d < 0) {
        rc = (int)d;
        goto fail;
    }
    uint64_t raw = 0, dict = 0;
    for (size_t i = 0; i < n; i++)
        raw += v[i].len + 1;
    for (long e = 0; e < d; e++)
        dict += v[first[e]].len + 1;
    dict += (uint64_t)n * (d <= 256 ? 1 : d <= 65536 ? 2 : 3);
    if (d == 1) {
        rc = gd_codec_put_uvar(meta, GD_CODEC_KIND_CONST);
        if (rc == 0)
            rc = gd_codec_put_uvar(meta, v[0].len);
        if (rc == 0)
            rc = gd_buf_append(&o->s[GD_CODEC_STR], v[0].p, v[0].len);
    } else if (dict < raw) {
        rc = gd_codec_put_uvar(meta, GD_CODEC_KIND_DICT);
        if (rc == 0)
            rc = gd_codec_put_uvar(meta, (uint64_t)d);
        if (rc == 0)
            rc = put_strings(o, v, first, (size_t)d, tmp);
        for (size_t i = 0; i < n && rc == 0; i++)
            tmp[i] = ids[i];
        if (rc == 0)
            rc = gd_codec_ints_encode(o, tmp, n);
    } else {
        rc = gd_codec_put_uvar(meta, GD_CODEC_KIND_RAW);
        if (rc == 0)
            rc = put_strings(o, v, NULL, n, tmp);
    }
fail:
    gd_free(ids);
    gd_free(first);
    gd_free(tmp);
    return rc;
}

/* Reads count lengths and the bytes they cover; fills off[0..count]. */
static int get_strings(struct gd_codec_in *in, size_t count, struct gd_arena *a, uint32_t **off,
                       const char **base)
{
    uint64_t *len = gd_malloc((count ? count : 1) * sizeof *len);
    *off = gd_arena_alloc(a, (count + 1) * sizeof **off);
    if (!len || !*off) {
        gd_free(len);
        return GD_ENOMEM;
    }
    int rc = gd_codec_ints_decode(in, len, count);
    uint64_t total = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        (*off)[i] = (uint32_t)total;
        total += len[i];
        if (len[i] > COL_MAX_BYTES || total > gd_codec_rd_left(&in->s[GD_CODEC_STR]))
            rc = GD_EPARSE;
    }
    gd_free(len);
    if (rc)
        return rc;
    (*off)[count] = (uint32_t)total;
    *base = (const char *)gd_codec_get_raw(&in->s[GD_CODEC_STR], (size_t)total);
    return 0;
}

static int strcol_decode(struct gd_codec_in *in, uint64_t kind, size_t n, struct gd_arena *a,
                         struct gd_codec_strcol *sc)
{
    struct gd_codec_rd *meta = &in->s[GD_CODEC_META];
    memset(sc, 0, sizeof *sc);
    sc->kind = (uint8_t)kind;
    sc->n = (uint32_t)n;
    if (kind == GD_CODEC_KIND_CONST) {
        uint64_t len = gd_codec_get_count(meta, gd_codec_rd_left(&in->s[GD_CODEC_STR]));
        sc->off = gd_arena_alloc(a, 2 * sizeof *sc->off);
        if (meta->err || !sc->off)
            return meta->err ? GD_EPARSE : GD_ENOMEM;
        sc->off[0] = 0;
        sc->off[1] = (uint32_t)len;
        sc->base = (const char *)gd_codec_get_raw(&in->s[GD_CODEC_STR], (size_t)len);
        sc->d = 1;
        return 0;
    }
    if (kind == GD_CODEC_KIND_RAW) {
        sc->d = (uint32_t)n;
        return get_strings(in, n, a, &sc->off, &sc->base);
    }
    if (kind != GD_CODEC_KIND_DICT)
        return GD_EPARSE;
    uint64_t d = gd_codec_get_count(meta, n);
    if (meta->err || d == 0)
        return GD_EPARSE;
    sc->d = (uint32_t)d;
    int rc = get_strings(in, (size_t)d, a, &sc->off, &sc->base);
    uint64_t *tmp = rc ? NULL : gd_malloc(n * sizeof *tmp);
    sc->idx = rc ? NULL : gd_arena_alloc(a, n * sizeof *sc->idx);
    if (rc == 0 && (!tmp || !sc->idx))
        rc = GD_ENOMEM;
    if (rc == 0)
        rc = gd_codec_ints_decode(in, tmp, n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (tmp[i] >= d)
            rc = GD_EPARSE;
        sc->idx[i] = (uint32_t)tmp[i];
    }
    gd_free(tmp);
    return rc;
}

/* ---- SPLIT: digit runs under a shared skeleton ----------------------------------------- */

struct run {
    uint32_t off, len;
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Digit runs of p (a '-' directly before a run is its sign unless it follows a letter or
 * digit, so "blk_-12" has run "-12" but "2015-10" has runs "2015" and "10"). Returns the run
 * count, or -1 when there are more than max. */
static int find_runs(const char *p, uint32_t len, struct run *r, int max)
{
    int k = 0;
    for (uint32_t i = 0; i < len;) {
        int sign =
            p[i] == '-' && i + 1 < len && is_digit(p[i + 1]) && (i == 0 || !is_alnum(p[i - 1]));
        if (!sign && !is_digit(p[i])) {
            i++;
            continue;
        }
        if (k == max)
            return -1;
        uint32_t s = i++;
        while (i < len && is_digit(p[i]))
            i++;
        r[k].off = s;
        r[k++].len = i - s;
    }
    return k;
}

/* Bit j set when piece j (the text before run j; piece k follows the last run) of b differs
 * from that of a. */
static uint32_t piece_diff(const struct gd_codec_str *a, const struct run *ra,
                           const struct gd_codec_str *b, const struct run *rb, int k)
{
    uint32_t pa = 0, pb = 0, mask = 0;
    for (int j = 0; j <= k; j++) {
        uint32_t ea = j < k ? ra[j].off : a->len, eb = j < k ? rb[j].off : b->len;
        if (ea - pa != eb - pb || memcmp(a->p + pa, b->p + pb, ea - pa) != 0)
            mask |= 1u << j;
        if (j < k) {
            pa = ra[j].off + ra[j].len;
            pb = rb[j].off + rb[j].len;
        }
    }
    return mask;
}

/* Classifies digit-run strings: FIXED (same width, no sign, <= 19 digits), SIGNED (canonical
 * decimal fitting int64) or 0 (keep them as strings); fills v for the integer kinds. */
static int classify_ints(const struct gd_codec_str *s, size_t n, uint64_t *v, uint8_t *width)
{
    int fixed = 1, sgn = 1;
    for (size_t i = 0; i < n && (fixed || sgn); i++) {
        const char *p = s[i].p;
        uint32_t len = s[i].len, neg = p[0] == '-', nd = len - neg;
        if (nd == 0 || nd > 19)
            return 0;
        if (neg || len != s[0].len)
            fixed = 0;
        if ((nd > 1 && p[neg] == '0') || (neg && p[1] == '0'))
            sgn = 0; /* leading zero or "-0": not canonical */
        uint64_t x = 0;
        for (uint32_t j = neg; j < len; j++)
            x = x * 10 + (uint64_t)(p[j] - '0'); /* <= 19 digits: no overflow */
        if (x > (uint64_t)INT64_MAX)
            sgn = 0;
        v[i] = neg ? gd_codec_zigzag(-(int64_t)x) : x;
    }
    if (fixed) {
        *width = (uint8_t)s[0].len;
        return GD_CODEC_INT_FIXED;
    }
    if (!sgn)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i].p[0] != '-')
            v[i] = gd_codec_zigzag((int64_t)v[i]);
    return GD_CODEC_INT_SIGNED;
}

/* Adjacent FIXED digit runs ("17:41:44,747", "2015-07-29") are written as one integer made
 * of their digits (174144747) while it fits 19 digits: consecutive values of such a
 * timestamp then differ by small deltas, where separate columns would each pay per value. */
struct fixed_group {
    uint8_t w[19];
    int g, digits;
    uint64_t *acc; /* n combined values */
};

static int group_flush(struct gd_codec_out *o, struct fixed_group *fg, size_t n)
{
    if (fg->g == 0)
        return 0;
    struct gd_buf *meta = &o->s[GD_CODEC_META];
    int rc = gd_codec_put_uvar(meta, fg->g == 1 ? GD_CODEC_INT_FIXED : GD_CODEC_INT_GROUP);
    if (rc == 0 && fg->g > 1)
        rc = gd_codec_put_uvar(meta, (uint64_t)fg->g);
    for (int i = 0; i < fg->g && rc == 0; i++)
        rc = gd_codec_put_uvar(meta, fg->w[i]);
    if (rc == 0)
        rc = gd_codec_ints_encode(o, fg->acc, n);
    fg->g = fg->digits = 0;
    return rc;
}

static int group_add(struct gd_codec_out *o, struct fixed_group *fg, const uint64_t *iv, size_t n,
                     uint8_t width)
{
    int rc = 0;
    if (fg->g > 0 && fg->digits + width > 19)
        rc = group_flush(o, fg, n);
    uint64_t scale = 1;
    for (unsigned i = 0; i < width; i++)
        scale *= 10;
    for (size_t i = 0; i < n && rc == 0; i++)
        fg->acc[i] = (fg->g ? fg->acc[i] * scale : 0) + iv[i];
    fg->w[fg->g++] = width;
    fg->digits += width;
    return rc;
}

static int split_write(struct gd_codec_out *o, const struct gd_codec_str *v, size_t n,
                       const struct run *runs, int k, uint32_t varies, struct gd_codec_str *tmp,
                       uint64_t *iv, uint64_t *acc)
{
    struct gd_buf *meta = &o->s[GD_CODEC_META];
    int rc = gd_codec_put_uvar(meta, GD_CODEC_KIND_SPLIT);
    if (rc == 0)
        rc = gd_codec_put_uvar(meta, (uint64_t)k);
    /* skeleton: all piece headers and constant bytes first, then the varying pieces */
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j <= k && rc == 0; j++) {
            if (pass == 1 && !(varies >> j & 1))
                continue;
            for (size_t i = 0; i < (pass ? n : 1); i++) {
                const struct run *r = &runs[i * (size_t)k];
                uint32_t st = j ? r[j - 1].off + r[j - 1].len : 0;
                uint32_t e = j < k ? r[j].off : v[i].len;
                tmp[i] = (struct gd_codec_str){v[i].p + st, e - st};
            }
            if (pass == 1)
                rc = strcol_encode(o, tmp, n);
            else if (varies >> j & 1)
                rc = gd_codec_put_uvar(meta, 0);
            else {
                rc = gd_codec_put_uvar(meta, (uint64_t)tmp[0].len + 1);
                if (rc == 0)
                    rc = gd_buf_append(&o->s[GD_CODEC_STR], tmp[0].p, tmp[0].len);
            }
        }
    struct fixed_group fg = {.acc = acc};
    for (int j = 0; j < k && rc == 0; j++) {
        for (size_t i = 0; i < n; i++) {
            const struct run *r = &runs[i * (size_t)k + (size_t)j];
            tmp[i].p = v[i].p + r->off;
            tmp[i].len = r->len;
        }
        uint8_t width = 0;
        int ik = classify_ints(tmp, n, iv, &width);
        if (ik == GD_CODEC_INT_FIXED) {
            rc = group_add(o, &fg, iv, n, width);
            continue;
        }
        rc = group_flush(o, &fg, n);
        if (rc == 0)
            rc = gd_codec_put_uvar(meta, (uint64_t)ik);
        if (rc == 0)
            rc = ik ? gd_codec_ints_encode(o, iv, n) : strcol_encode(o, tmp, n);
    }
    return rc ? rc : group_flush(o, &fg, n);
}

/* Has piece j of the values at most n / div distinct values? 1, 0 or GD_ENOMEM. */
static int piece_is_enum(const struct gd_codec_str *v, size_t n, const struct run *runs, int k,
                         int j, struct gd_codec_str *tmp, size_t div)
{
    for (size_t i = 0; i < n && runs; i++) { /* runs NULL: the whole values (already in tmp) */
        const struct run *r = &runs[i * (size_t)k];
        uint32_t st = j ? r[j - 1].off + r[j - 1].len : 0, e = j < k ? r[j].off : v[i].len;
        tmp[i] = (struct gd_codec_str){v[i].p + st, e - st};
    }
    uint32_t *ids = gd_malloc(n * sizeof *ids), *first = gd_malloc(n * sizeof *first);
    long d = ids && first ? build_dict(tmp, n, ids, first) : GD_ENOMEM;
    gd_free(ids);
    gd_free(first);
    return d < 0 ? (int)d : (size_t)d * div <= n;
}

/* Tries SPLIT; returns 1 when written, 0 when the values do not share a skeleton. */
static int try_split(struct gd_codec_out *o, const struct gd_codec_str *v, size_t n)
{
    struct run r0[GD_CODEC_MAX_RUNS];
    int k = find_runs(v[0].p, v[0].len, r0, GD_CODEC_MAX_RUNS);
    if (k <= 0)
        return 0;
    size_t nr;
    if (gd_size_mul(n, (size_t)k, &nr))
        return GD_ENOMEM;
    struct run *runs = gd_malloc(nr * sizeof *runs);
    struct gd_codec_str *tmp = gd_malloc(n * sizeof *tmp);
    uint64_t *iv = gd_malloc(n * sizeof *iv), *acc = gd_malloc(n * sizeof *acc);
    int rc = GD_ENOMEM;
    if (!runs || !tmp || !iv || !acc)
        goto fail;
    rc = 1;
    uint32_t varies = 0;
    for (size_t i = 0; i < n && rc == 1; i++) {
        struct run *ri = &runs[i * (size_t)k];
        if (find_runs(v[i].p, v[i].len, ri, k) != k)
            rc = 0;
        else
            varies |= piece_diff(&v[0], r0, &v[i], ri, k);
    }
    /* Varying pieces pay off when the digits are the structure ("Mon Jun <n> ..."); a column
     * whose text mostly varies is better off as plain strings. */
    /* Varying pieces pay off when they are few-valued while whole values are mostly distinct
     * ("Mon Jun <n> <n>:<n>:<n> <n>"); otherwise a dictionary of whole values wins. */
    if (rc == 1 && varies) {
        memcpy(tmp, v, n * sizeof *tmp);
        rc = piece_is_enum(tmp, n, NULL, 0, 0, tmp, 2);
        rc = rc < 0 ? rc : !rc;
    }
    for (int j = 0; j <= k && rc == 1 && varies; j++)
        if (varies >> j & 1)
            rc = piece_is_enum(v, n, runs, k, j, tmp, 8);
    if (rc == 1) {
        int w = split_write(o, v, n, runs, k, varies, tmp, iv, acc);
        rc = w ? w : 1;
    }
fail:
    gd_free(runs);
    gd_free(tmp);
    gd_free(iv);
    gd_free(acc);
    return rc;
}

int gd_codec_column_encode(struct gd_codec_out *o, const struct gd_codec_str *v, size_t n)
{
    int all_eq = 1;
    for (size_t i = 1; i < n && all_eq; i++)
        all_eq = str_eq(&v[0], &v[i]);
    if (!all_eq) {
        int rc = try_split(o, v, n);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    return strcol_encode(o, v, n);
}

/* Reads the widths of g FIXED runs and their combined integers, and splits them back into
 * g sub-columns (the combined value must have at most the sum of the widths in digits). */
static int fixed_group_decode(struct gd_codec_in *in, size_t n, struct gd_arena *a,
                              struct gd_codec_sub *subs, uint32_t g)
{
    struct gd_codec_rd *meta = &in->s[GD_CODEC_META];
    unsigned digits = 0;
    for (uint32_t i = 0; i < g; i++) {
        subs[i].int_kind = GD_CODEC_INT_FIXED;
        subs[i].width = (uint8_t)gd_codec_get_count(meta, 19);
        digits += subs[i].width;
        subs[i].v = gd_arena_alloc(a, n * sizeof *subs[i].v);
        if (!subs[i].v)
            return GD_ENOMEM;
        if (subs[i].width == 0)
            return GD_EPARSE;
    }
    if (meta->err || digits > 19)
        return GD_EPARSE;
    int rc = gd_codec_ints_decode(in, subs[0].v, n);
    uint64_t lim = 1;
    for (unsigned w = 0; w < digits; w++)
        lim *= 10;
    for (size_t r = 0; r < n && rc == 0; r++) {
        uint64_t x = subs[0].v[r];
        if (x >= lim)
            return GD_EPARSE;
        for (uint32_t i = g; i-- > 0;) {
            uint64_t scale = 1;
            for (unsigned w = 0; w < subs[i].width; w++)
                scale *= 10;
            subs[i].v[r] = x % scale;
            x /= scale;
        }
    }
    return rc;
}

static int split_decode(struct gd_codec_in *in, size_t n, struct gd_arena *a,
                        struct gd_codec_column *c)
{
    struct gd_codec_rd *meta = &in->s[GD_CODEC_META];
    uint64_t k = gd_codec_get_count(meta, GD_CODEC_MAX_RUNS);
    if (meta->err || k == 0)
        return GD_EPARSE;
    c->k = (uint32_t)k;
    c->poff = gd_arena_alloc(a, (k + 2) * sizeof *c->poff);
    c->pvar = gd_arena_calloc(a, k + 1, sizeof *c->pvar);
    c->subs = gd_arena_calloc(a, k, sizeof *c->subs);
    if (!c->poff || !c->subs || !c->pvar)
        return GD_ENOMEM;
    uint64_t total = 0;
    uint32_t varies = 0;
    for (uint64_t j = 0; j <= k; j++) { /* constant piece: length + 1; varying: 0 */
        c->poff[j] = (uint32_t)total;
        uint64_t len = gd_codec_get_count(meta, COL_MAX_BYTES);
        if (meta->err)
            return GD_EPARSE;
        varies |= (uint32_t)(len == 0) << j;
        total += len ? len - 1 : 0;
        if (total > gd_codec_rd_left(&in->s[GD_CODEC_STR]))
            return GD_EPARSE;
    }
    c->poff[k + 1] = (uint32_t)total;
    c->pbase = (const char *)gd_codec_get_raw(&in->s[GD_CODEC_STR], (size_t)total);
    if (!c->pbase)
        return GD_EPARSE;
    for (uint64_t j = 0; j <= k; j++) { /* then the varying pieces' string columns */
        if (!(varies >> j & 1))
            continue;
        uint64_t kind = gd_codec_get_count(meta, GD_CODEC_KIND_DICT);
        int rc = meta->err ? GD_EPARSE : strcol_decode(in, kind, n, a, &c->pvar[j]);
        if (rc)
            return rc;
    }
    for (uint64_t j = 0; j < k;) {
        uint64_t ik = gd_codec_get_count(meta, GD_CODEC_INT_GROUP);
        if (meta->err)
            return GD_EPARSE;
        int rc;
        if (ik == SUB_STR) {
            uint64_t kind = gd_codec_get_count(meta, GD_CODEC_KIND_DICT);
            rc = meta->err ? GD_EPARSE : strcol_decode(in, kind, n, a, &c->subs[j].sc);
            j++;
        } else if (ik == GD_CODEC_INT_SIGNED) {
            c->subs[j].int_kind = (uint8_t)ik;
            c->subs[j].v = gd_arena_alloc(a, n * sizeof *c->subs[j].v);
            rc = c->subs[j].v ? gd_codec_ints_decode(in, c->subs[j].v, n) : GD_ENOMEM;
            j++;
        } else {
            uint64_t g = ik == GD_CODEC_INT_FIXED ? 1 : gd_codec_get_count(meta, k - j);
            if (meta->err || g == 0 || (ik == GD_CODEC_INT_GROUP && g < 2))
                return GD_EPARSE;
            rc = fixed_group_decode(in, n, a, &c->subs[j], (uint32_t)g);
            j += g;
        }
        if (rc)
            return rc;
    }
    return 0;
}

int gd_codec_column_decode(struct gd_codec_in *in, size_t n, struct gd_arena *a,
                           struct gd_codec_column *out)
{
    memset(out, 0, sizeof *out);
    out->n = (uint32_t)n;
    uint64_t kind = gd_codec_get_count(&in->s[GD_CODEC_META], GD_CODEC_KIND_SPLIT);
    if (in->s[GD_CODEC_META].err || n == 0 || n > UINT32_MAX)
        return GD_EPARSE;
    out->kind = (uint8_t)kind;
    if (kind == GD_CODEC_KIND_SPLIT)
        return split_decode(in, n, a, out);
    return strcol_decode(in, kind, n, a, &out->sc);
}

size_t gd_codec_int_render(const struct gd_codec_sub *s, uint64_t v, char *dst)
{
    char tmp[24];
    size_t n = 0, neg = 0;
    uint64_t x = v;
    if (s->int_kind == GD_CODEC_INT_SIGNED) {
        int64_t sv = gd_codec_unzigzag(v);
        neg = sv < 0;
        x = neg ? (uint64_t)0 - (uint64_t)sv : (uint64_t)sv;
    }
    do {
        tmp[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    while (s->int_kind == GD_CODEC_INT_FIXED && n < s->width)
        tmp[n++] = '0';
    size_t len = 0;
    if (neg)
        dst[len++] = '-';
    while (n)
        dst[len++] = tmp[--n];
    return len;
}

int gd_codec_column_append(const struct gd_codec_column *c, size_t i, struct gd_buf *out)
{
    const char *p;
    size_t len;
    if (c->kind != GD_CODEC_KIND_SPLIT) {
        gd_codec_strcol_get(&c->sc, i, &p, &len);
        return gd_buf_append(out, p, len);
    }
    int rc = 0;
    for (uint32_t j = 0; j <= c->k && rc == 0; j++) {
        if (c->pvar[j].n) {
            gd_codec_strcol_get(&c->pvar[j], i, &p, &len);
            rc = gd_buf_append(out, p, len);
        } else {
            rc = gd_buf_append(out, c->pbase + c->poff[j], c->poff[j + 1] - c->poff[j]);
        }
        if (j == c->k || rc)
            break;
        const struct gd_codec_sub *s = &c->subs[j];
        if (s->int_kind) {
            char num[24];
            rc = gd_buf_append(out, num, gd_codec_int_render(s, s->v[i], num));
        } else {
            gd_codec_strcol_get(&s->sc, i, &p, &len);
            rc = gd_buf_append(out, p, len);
        }
    }
    return rc;
}
