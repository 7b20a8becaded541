/* Code generators for elementwise kernels (used by the unary, activation and binary
 * op families). Everything here is macros: per-dtype kernels are generated, not copied.
 *
 * Dtype lists with pass-through arguments: EW_FLT(M, args...) expands
 * M(args..., GD_DTYPE_ENUM, c_type, short) for float32 and float64; EW_SINT for int8..64,
 * EW_UINT for uint8..64. (The GD_DTYPE_FOREACH_* lists of tensor.h take no extra args.)
 *
 * EW_ROW2 generates a binary row kernel for gd_ew_bcast_rows: operands 0 = y, 1 = a,
 * 2 = b; job is a struct gd_ew_job. LDA/LDB convert a stored element to the compute type
 * CT, STO converts the result to the stored output type (EW_ID for none). */
#ifndef GD_ENGINE_KERNELS_EW_GEN_H
#define GD_ENGINE_KERNELS_EW_GEN_H

#include <stdint.h>

#include "engine/kernels/ew.h"
#include "engine/tensor.h"

#define EW_FLT(M, ...)                                                                             \
    M(__VA_ARGS__, GD_DTYPE_FLOAT, float, f32) M(__VA_ARGS__, GD_DTYPE_DOUBLE, double, f64)
#define EW_SINT(M, ...)                                                                            \
    M(__VA_ARGS__, GD_DTYPE_INT8, int8_t, i8)                                                      \
    M(__VA_ARGS__, GD_DTYPE_INT16, int16_t, i16)                                                   \
    M(__VA_ARGS__, GD_DTYPE_INT32, int32_t, i32)                                                   \
    M(__VA_ARGS__, GD_DTYPE_INT64, int64_t, i64)
#define EW_UINT(M, ...)                                                                            \
    M(__VA_ARGS__, GD_DTYPE_UINT8, uint8_t, u8)                                                    \
    M(__VA_ARGS__, GD_DTYPE_UINT16, uint16_t, u16)                                                 \
    M(__VA_ARGS__, GD_DTYPE_UINT32, uint32_t, u32)                                                 \
    M(__VA_ARGS__, GD_DTYPE_UINT64, uint64_t, u64)
#define EW_INT(M, ...) EW_SINT(M, __VA_ARGS__) EW_UINT(M, __VA_ARGS__)

#define EW_ID(x) (x)
#define EW_TOBOOL(x) ((gd_bool)((x) ? 1 : 0))
#define EW_F16LD(x) gd_f16_to_f32(x)
#define EW_F16ST(x) gd_f32_to_f16(x)

/* Number of dtype slots in a per-dtype kernel table. */
#define EW_NDT (GD_DTYPE_UINT64 + 1)

/* Data of one broadcast job: output and up to three inputs, plus op parameters. */
struct gd_ew_job {
    void *y;
    const void *a, *b, *c;
    const struct gd_tensor *ta, *tb; /* for kernels that convert through gd_tensor_get_f64 */
    struct gd_ew_args p;
};

#define EW_ROW2(FN, TA, TB, TO, CT, LDA, LDB, STO, EXPR)                                           \
    static void FN(void *ud, const int64_t *off, const int64_t *st, int64_t n)                     \
    {                                                                                              \
        const struct gd_ew_job *j = ud;                                                            \
        TO *y = (TO *)j->y + off[0];                                                               \
        const TA *A = (const TA *)j->a + off[1];                                                   \
        const TB *B = (const TB *)j->b + off[2];                                                   \
        int64_t sa = st[1], sb = st[2];                                                            \
        (void)j;                                                                                   \
        if (sa == 1 && sb == 1) {                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                      \
                CT a = LDA(A[i]), b = LDB(B[i]);                                                   \
                y[i] = STO(EXPR);                                                                  \
            }                                                                                      \
        } else if (sb == 0) {                                                                      \
            CT b = LDB(B[0]);                                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                CT a = LDA(A[i * sa]);                                                             \
                y[i] = STO(EXPR);                                                                  \
            }                                                                                      \
        } else if (sa == 0) {                                                                      \
            CT a = LDA(A[0]);                                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                CT b = LDB(B[i * sb]);                                                             \
                y[i] = STO(EXPR);                                                                  \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                CT a = LDA(A[i * sa]), b = LDB(B[i * sb]);                                         \
                y[i] = STO(EXPR);                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* Same-type row kernels (output of the input type, or bool with EW_TOBOOL). */
#define EW_ROW_SAME(NAME, TOKIND, EXPR, E, T, S)                                                   \
    EW_ROW2(NAME##_##S, T, T, TOKIND(T), T, EW_ID, EW_ID, TOKIND##_ST, EXPR)
#define EW_ROW_F16(NAME, TOKIND, EXPR)                                                             \
    EW_ROW2(NAME##_f16, gd_f16, gd_f16, TOKIND(gd_f16), float, EW_F16LD, EW_F16LD, TOKIND##_F16ST, \
            EXPR)
/* TOKIND: EW_SAME keeps the input type, EW_BOOL produces bool. */
#define EW_SAME(T) T
#define EW_SAME_ST(x) (x)
#define EW_SAME_F16ST(x) gd_f32_to_f16(x)
#define EW_BOOL(T) gd_bool
#define EW_BOOL_ST(x) EW_TOBOOL(x)
#define EW_BOOL_F16ST(x) EW_TOBOOL(x)

/* Table entry [E] = NAME_S for a per-dtype kernel table. */
#define EW_TAB(NAME, E, T, S) [E] = NAME##_##S,

/* EW_MAP1 generates a flat map kernel for gd_ew_parallel over a struct gd_ew_job:
 * y[i] = STO(EXPR) with `x` = LD(a[i]) of compute type CT; EXPR may use the op
 * parameters pa, pb, pc (job->p.a/b/c converted to CT) and the constants c0 = 0, c1 = 1
 * of type CT (so type-generic libm calls stay in float for float32). */
#define EW_MAP1(FN, TI, TO, CT, LD, STO, EXPR)                                                     \
    static void FN(void *ud, int64_t b, int64_t e)                                                 \
    {                                                                                              \
        const struct gd_ew_job *j = ud;                                                            \
        const TI *X = j->a;                                                                        \
        TO *Y = j->y;                                                                              \
        const CT pa = (CT)j->p.a, pb = (CT)j->p.b, pc = (CT)j->p.c, c0 = 0, c1 = 1;                \
        (void)pa;                                                                                  \
        (void)c0;                                                                                  \
        (void)c1;                                                                                  \
        (void)pb;                                                                                  \
        (void)pc;                                                                                  \
        for (int64_t i = b; i < e; i++) {                                                          \
            CT x = LD(X[i]);                                                                       \
            Y[i] = STO(EXPR);                                                                      \
        }                                                                                          \
    }
/* Float-family map kernels NAME_f32, NAME_f64, NAME_f16 (computed in float) and the
 * per-dtype table NAME_tab; TOKIND is EW_SAME or EW_BOOL as for EW_ROW_SAME. */
#define EW_MAP_FLOATS(NAME, TOKIND, EXPR)                                                          \
    EW_MAP1(NAME##_f32, float, TOKIND(float), float, EW_ID, TOKIND##_ST, EXPR)                     \
    EW_MAP1(NAME##_f64, double, TOKIND(double), double, EW_ID, TOKIND##_ST, EXPR)                  \
    EW_MAP1(NAME##_f16, gd_f16, TOKIND(gd_f16), float, EW_F16LD, TOKIND##_F16ST, EXPR)
#define EW_MAP_SAME(NAME, EXPR, E, T, S) EW_MAP1(NAME##_##S, T, T, T, EW_ID, EW_ID, EXPR)
#define EW_TAB_FLOATS(NAME)                                                                        \
    [GD_DTYPE_FLOAT] = NAME##_f32, [GD_DTYPE_DOUBLE] = NAME##_f64, [GD_DTYPE_FLOAT16] = NAME##_f16,

/* Runs tab[x->dtype] over input 0 into output 0 (x's shape; bool dtype when to_bool).
 * p may be NULL. Fails with GD_ENOTSUP for a dtype without kernel. */
int gd_ew_unary_run(struct gd_op_ctx *ctx, const gd_op_range_fn *tab, int to_bool,
                    const struct gd_ew_args *p);

#endif
