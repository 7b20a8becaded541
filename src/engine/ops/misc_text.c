/* Text preprocessing ops from classic ML pipelines: StringNormalizer (opset 10) and
 * TfIdfVectorizer (opset 9).
 *
 * StringNormalizer removes stopwords (compared case-insensitively unless
 * is_case_sensitive) and applies case_change_action (LOWER/UPPER/NONE). Case mapping is
 * ASCII only: the `locale` attribute is ignored. If every string is removed the output
 * holds one empty string, as the spec asks.
 * TfIdfVectorizer counts, per row, the n-grams (min..max_gram_length, each with up to
 * max_skip_count skipped items between elements; unigrams counted once per position) that
 * appear in the pool, and writes TF, IDF (weight when present) or TFIDF values at the
 * n-gram's ngram_indexes slot. */
#include <ctype.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/op.h"
#include "engine/ops/registry.h"
#include "engine/ops/tensor_util.h"

static int str_eq(const char *a, const char *b, int cs)
{
    if (cs)
        return strcmp(a, b) == 0;
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

static int strnorm_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    if (x->dtype != GD_DTYPE_STRING || x->rank < 1 || x->rank > 2 ||
        (x->rank == 2 && x->dims[0] != 1))
        return gd_op_fail(ctx, GD_EINVAL, "input must be strings of shape [C] or [1, C]");
    const char *const *stop;
    int nstop = gd_op_attr_strings(ctx, "stopwords", &stop);
    int cs = gd_op_attr_int(ctx, "is_case_sensitive", 0) != 0;
    const char *act = gd_op_attr_string(ctx, "case_change_action", "NONE");
    int mode = strcmp(act, "LOWER") == 0 ? 1 : strcmp(act, "UPPER") == 0 ? 2 : 0;
    if (!mode && strcmp(act, "NONE") != 0)
        return gd_op_fail(ctx, GD_EINVAL, "unknown case_change_action '%s'", act);
    char *const *s = x->data;
    int64_t *keep = gd_op_scratch(ctx, (size_t)(x->numel ? x->numel : 1) * sizeof *keep), n = 0;
    if (!keep)
        return GD_ENOMEM;
    for (int64_t i = 0; i < x->numel; i++) {
        int drop = 0;
        for (int k = 0; k < nstop && !drop; k++)
            drop = str_eq(s[i] ? s[i] : "", stop[k], cs);
        if (!drop)
            keep[n++] = i;
    }
    int64_t d[2] = {1, n ? n : 1};
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_STRING, x->rank, x->rank == 2 ? d : d + 1);
    if (!y)
        return GD_ENOMEM;
    char **out = y->data;
    for (int64_t j = 0; j < y->numel; j++) {
        if (!(out[j] = gd_strdup(n ? (s[keep[j]] ? s[keep[j]] : "") : "")))
            return gd_op_fail(ctx, GD_ENOMEM, "out of memory");
        for (char *c = out[j]; *c && mode; c++)
            *c = (char)(mode == 1 ? tolower((unsigned char)*c) : toupper((unsigned char)*c));
    }
    return 0;
}

/* Pool element k equals input element e. */
static int pool_eq(const struct gd_tensor *x, int64_t e, const int64_t *pi, const char *const *ps,
                   int64_t k)
{
    if (x->dtype == GD_DTYPE_STRING) {
        const char *v = ((char *const *)x->data)[e];
        return ps && strcmp(v ? v : "", ps[k]) == 0;
    }
    return pi && gd_tensor_get_i64(x, e) == pi[k];
}

struct tfidf {
    const struct gd_tensor *x;
    const int64_t *pi, *counts, *idx;
    const char *const *ps;
    int npool, ncounts, nidx;
};

/* Adds the n-gram starting at element e with stride step to cnt when it is in the pool. */
static void count_ngram(const struct tfidf *t, int64_t e, int64_t step, int n, double *cnt)
{
    if (n > t->ncounts)
        return;
    int64_t start = t->counts[n - 1], end = n < t->ncounts ? t->counts[n] : t->npool;
    int64_t base = 0; /* index of the first n-gram of this length in ngram order */
    for (int m = 1; m < n; m++) {
        int64_t s0 = t->counts[m - 1], s1 = m < t->ncounts ? t->counts[m] : t->npool;
        base += (s1 - s0) / m;
    }
    for (int64_t k = start, g = 0; k + n <= end; k += n, g++) {
        int ok = 1;
        for (int j = 0; j < n && ok; j++)
            ok = pool_eq(t->x, e + j * step, t->pi, t->ps, k + j);
        if (ok && base + g < t->nidx)
            cnt[t->idx[base + g]] += 1;
    }
}

static int tfidf_run(struct gd_op_ctx *ctx)
{
    int rc = 0;
    const struct gd_tensor *x = gd__ot_need(ctx, 0, &rc);
    if (!x)
        return rc;
    struct tfidf t = {.x = x};
    t.npool = x->dtype == GD_DTYPE_STRING ? gd_op_attr_strings(ctx, "pool_strings", &t.ps)
                                          : gd_op_attr_ints(ctx, "pool_int64s", &t.pi);
    t.ncounts = gd_op_attr_ints(ctx, "ngram_counts", &t.counts);
    t.nidx = gd_op_attr_ints(ctx, "ngram_indexes", &t.idx);
    const float *w;
    int nw = gd_op_attr_floats(ctx, "weights", &w);
    int64_t minn = gd_op_attr_int(ctx, "min_gram_length", 1),
            maxn = gd_op_attr_int(ctx, "max_gram_length", 1);
    int64_t skip = gd_op_attr_int(ctx, "max_skip_count", 0), width = 0;
    const char *mode = gd_op_attr_string(ctx, "mode", "TF");
    if (t.npool < 0 || t.ncounts < 1 || t.nidx < 0 || minn < 1 || maxn < minn || maxn > 64 ||
        skip < 0 || x->rank < 1 || x->rank > 2)
        return gd_op_fail(ctx, GD_EINVAL, "invalid pool / n-gram attributes or input rank");
    for (int i = 0; i < t.ncounts; i++)
        if (t.counts[i] < 0 || t.counts[i] > t.npool || (i && t.counts[i] < t.counts[i - 1]))
            return gd_op_fail(ctx, GD_EINVAL, "invalid ngram_counts");
    for (int i = 0; i < t.nidx; i++) {
        if (t.idx[i] < 0 || t.idx[i] >= GD_TENSOR_MAX_NUMEL)
            return gd_op_fail(ctx, GD_EINVAL, "invalid ngram_indexes");
        width = t.idx[i] + 1 > width ? t.idx[i] + 1 : width;
    }
    int64_t rows = x->rank == 2 ? x->dims[0] : 1, C = x->dims[x->rank - 1], d[2] = {rows, width};
    struct gd_tensor *y = gd_op_output(ctx, 0, GD_DTYPE_FLOAT, x->rank, x->rank == 2 ? d : d + 1);
    double *cnt = gd_op_scratch(ctx, (size_t)(width ? width : 1) * sizeof *cnt);
    if (!y || !cnt)
        return GD_ENOMEM;
    for (int64_t r = 0; r < rows; r++) {
        memset(cnt, 0, (size_t)(width ? width : 1) * sizeof *cnt);
        for (int64_t i = 0; i < C; i++)
            for (int64_t n = minn; n <= maxn; n++)
                for (int64_t s = 0; s <= (n == 1 ? 0 : skip); s++)
                    if (i + (n - 1) * (s + 1) < C)
                        count_ngram(&t, r * C + i, s + 1, (int)n, cnt);
        for (int64_t k = 0; k < width; k++) {
            double wk = nw > k ? w[k] : 1, v = cnt[k];
            v = strcmp(mode, "IDF") == 0     ? (v > 0 ? wk : 0)
                : strcmp(mode, "TFIDF") == 0 ? v * wk
                                             : v;
            ((float *)y->data)[r * width + k] = (float)v;
        }
    }
    return 0;
}

const struct gd_op_def gd_ops_text[] = {
    {"", "StringNormalizer", 10, 0, strnorm_run, 0},
    {"", "TfIdfVectorizer", 9, 0, tfidf_run, 0},
    {0},
};
