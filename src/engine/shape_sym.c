/* Symbolic dimension algebra (shape_sym.h). */
#include "engine/shape_sym.h"

#include <stdint.h>
#include <string.h>

#include "engine/tensor.h"

void gd__sym_init(struct gd_symtab *t)
{
    memset(t, 0, sizeof *t);
    t->next = -2;
}

int64_t gd__sym_fresh(struct gd_symtab *t)
{
    return t->next > INT64_MIN + 1 ? t->next-- : t->next;
}

int64_t gd__sym_named(struct gd_symtab *t, const char *name)
{
    for (int i = 0; i < t->n_names; i++)
        if (strcmp(t->names[i], name) == 0)
            return t->named[i];
    int64_t s = gd__sym_fresh(t);
    if (t->n_names < GD_SYM_MAX_NAMES) {
        t->names[t->n_names] = name;
        t->named[t->n_names++] = s;
    }
    return s;
}

int64_t gd__sym_arith(struct gd_symtab *t, char op, int64_t a, int64_t b)
{
    if (a == GD_SYM_NONE || b == GD_SYM_NONE)
        return GD_SYM_NONE;
    if (!gd__sym_is(a) && !gd__sym_is(b)) {
        switch (op) {
        case '+':
            return a > INT64_MAX - b ? GD_SYM_NONE : a + b;
        case '-':
            return a - b >= 0 ? a - b : GD_SYM_NONE;
        case '*':
            return b && a > INT64_MAX / b ? GD_SYM_NONE : a * b;
        default:
            return b > 0 ? a / b : GD_SYM_NONE;
        }
    }
    if ((op == '*' && b == 1) || (op == '+' && b == 0) || (op == '-' && b == 0) ||
        (op == '/' && b == 1))
        return a;
    if ((op == '*' && a == 1) || (op == '+' && a == 0))
        return b;
    if (op == '*' && (a == 0 || b == 0))
        return 0;
    if ((op == '*' || op == '+') && a > b) { /* commutative: one memo key per pair */
        int64_t s = a;
        a = b;
        b = s;
    }
    for (int i = 0; i < t->n_memo; i++)
        if (t->memo[i].op == op && t->memo[i].a == a && t->memo[i].b == b)
            return t->memo[i].r;
    int64_t r = gd__sym_fresh(t);
    if (t->n_memo < GD_SYM_MAX_MEMO)
        t->memo[t->n_memo++] = (struct gd_sym_memo){op, a, b, r};
    return r;
}

int64_t gd__sym_prod(struct gd_symtab *t, int n, const int64_t *d)
{
    int64_t p = 1;
    for (int i = 0; i < n && p != GD_SYM_NONE; i++)
        p = gd__sym_arith(t, '*', p, d[i]);
    return p;
}

int gd__sym_solve(struct gd_symtab *t, int nf, const int64_t *from, int n, int64_t *dims, int neg)
{
    int64_t f[GD_TENSOR_MAX_RANK], g[GD_TENSOR_MAX_RANK], kf = 1, kg = 1;
    int mf = 0, mg = 0;
    for (int i = 0; i < nf; i++)
        if (gd__sym_is(from[i]))
            f[mf++] = from[i];
        else if (__builtin_mul_overflow(kf, from[i], &kf))
            return -1;
    for (int i = 0; i < n; i++)
        if (i == neg)
            continue;
        else if (gd__sym_is(dims[i]))
            g[mg++] = dims[i];
        else if (__builtin_mul_overflow(kg, dims[i], &kg))
            return -1;
    for (int i = 0; i < mg; i++) { /* cancel the symbols both sides have */
        int j = 0;
        while (j < mf && f[j] != g[i])
            j++;
        if (j == mf)
            return -1;
        f[j] = f[--mf];
    }
    if (kg == 0 || kf % kg)
        return -1;
    dims[neg] = gd__sym_arith(t, '*', gd__sym_prod(t, mf, f), kf / kg);
    return dims[neg] == GD_SYM_NONE ? -1 : 0;
}

int gd__sym_bcast(struct gd_symtab *t, int na, const int64_t *a, int nb, const int64_t *b, int *no,
                  int64_t *o)
{
    int r = na > nb ? na : nb;
    int64_t res[GD_TENSOR_MAX_RANK];
    if (r > GD_TENSOR_MAX_RANK)
        return -1;
    for (int i = 0; i < r; i++) {
        int64_t x = i < r - na ? 1 : a[i - (r - na)], y = i < r - nb ? 1 : b[i - (r - nb)];
        if (x == y || y == 1)
            res[i] = x;
        else if (x == 1)
            res[i] = y;
        else if (gd__sym_is(x) && gd__sym_is(y))
            res[i] = gd__sym_fresh(t); /* max of two unrelated symbols: unknown */
        else if (gd__sym_is(x) || gd__sym_is(y))
            res[i] = gd__sym_is(x) ? y : x; /* the symbol must be 1 or the number */
        else
            return -1;
    }
    memcpy(o, res, sizeof(int64_t) * (size_t)r); /* o may alias a or b */
    *no = r;
    return 0;
}
