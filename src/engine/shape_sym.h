/* Symbolic dimensions for load-time shape inference (engine-internal).
 *
 * A served model leaves its batch axis open (dim_param "batch"), so a shape inference that
 * knows only numbers loses every shape after the first op and graph fusion (which needs
 * ranks and equal shapes) does nothing. Here a dimension is either a number (>= 0) or a
 * symbol (<= -2): equal symbols are equal sizes at run time. Symbols come from dim_param
 * names (one symbol per name: the session checks that inputs sharing a name agree), from
 * declared dims without a name (one fresh symbol each), and from arithmetic on symbols
 * (batch * seq is one symbol whatever node computes it: results are memoised).
 * -1 is never a dimension here: GD_SYM_NONE says "no answer". */
#ifndef GD_ENGINE_SHAPE_SYM_H
#define GD_ENGINE_SHAPE_SYM_H

#include <stdint.h>

#define GD_SYM_NONE (-1)
#define GD_SYM_MAX_NAMES 64
#define GD_SYM_MAX_MEMO 512

struct gd_symtab {
    int64_t next; /* next fresh symbol */
    int n_names;
    const char *names[GD_SYM_MAX_NAMES];
    int64_t named[GD_SYM_MAX_NAMES];
    int n_memo;
    struct gd_sym_memo {
        char op;
        int64_t a, b, r;
    } memo[GD_SYM_MAX_MEMO];
};

static inline int gd__sym_is(int64_t d)
{
    return d <= -2;
}

void gd__sym_init(struct gd_symtab *t);
/* The symbol for dim_param name (the same for every use of the name). */
int64_t gd__sym_named(struct gd_symtab *t, const char *name);
int64_t gd__sym_fresh(struct gd_symtab *t);
/* a op b for op in "+-*" and '/' (exact division; floor for numbers): numbers fold, 1 * x
 * and x + 0 are x, symbolic results are memoised. */
int64_t gd__sym_arith(struct gd_symtab *t, char op, int64_t a, int64_t b);
/* Product of dims d[0..n). */
int64_t gd__sym_prod(struct gd_symtab *t, int n, const int64_t *d);
/* dims[0..n) with one -1 at position neg resolved so the product equals that of
 * from[0..nf) (Reshape): symbols present on both sides cancel. 0 or -1 when unknown. */
int gd__sym_solve(struct gd_symtab *t, int nf, const int64_t *from, int n, int64_t *dims, int neg);
/* Multidirectional broadcast of two shapes (a symbol against 1 stays the symbol, against a
 * number n > 1 becomes n; o may be a or b). 0, or -1 when they cannot broadcast. */
int gd__sym_bcast(struct gd_symtab *t, int na, const int64_t *a, int nb, const int64_t *b, int *no,
                  int64_t *o);

#endif
