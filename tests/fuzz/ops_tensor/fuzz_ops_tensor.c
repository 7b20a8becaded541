/* libFuzzer driver for the tensor/shape/indexing op kernels (helper E's ops): the input
 * bytes choose an op, an opset, the inputs (dtype, shape and values, with indices, axes
 * and shape values in small ranges around the valid ones, floats including NaN and
 * infinities) and the attributes. Each case runs as a one-node model through the public
 * engine API (tests/unit/ops_tensor/harness.c). Any error code is fine; a crash, an
 * out-of-bounds access, a leak or undefined behaviour is a bug. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"

struct rd {
    const uint8_t *p;
    size_t n;
};

static unsigned u8(struct rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static int64_t small(struct rd *r) /* -4 .. 11 */
{
    return (int64_t)(u8(r) % 16) - 4;
}

struct opdesc {
    const char *op;
    int opset, nin, nout;
    const char *attrs; /* "name:kind" list, kind i=int I=ints f=float s=string */
};

/* Ops and the attributes the fuzzer may set. */
static const struct opdesc ops[] = {
    {"Reshape", 14, 2, 1, "allowzero:i"},
    {"Flatten", 13, 1, 1, "axis:i"},
    {"Squeeze", 13, 2, 1, ""},
    {"Squeeze", 11, 1, 1, "axes:I"},
    {"Unsqueeze", 13, 2, 1, ""},
    {"Shape", 15, 1, 1, "start:i end:i"},
    {"Size", 13, 1, 1, ""},
    {"Transpose", 13, 1, 1, "perm:I"},
    {"Expand", 13, 2, 1, ""},
    {"Tile", 13, 2, 1, ""},
    {"DepthToSpace", 13, 1, 1, "blocksize:i mode:s"},
    {"SpaceToDepth", 13, 1, 1, "blocksize:i"},
    {"Concat", 13, 3, 1, "axis:i"},
    {"Split", 13, 2, 3, "axis:i"},
    {"Split", 18, 1, 3, "axis:i num_outputs:i"},
    {"Trilu", 14, 2, 1, "upper:i"},
    {"Slice", 13, 5, 1, ""},
    {"Slice", 1, 1, 1, "starts:I ends:I axes:I"},
    {"ConstantOfShape", 13, 1, 1, ""},
    {"EyeLike", 13, 1, 1, "k:i dtype:i"},
    {"Range", 13, 3, 1, ""},
    {"Gather", 13, 2, 1, "axis:i"},
    {"GatherElements", 13, 2, 1, "axis:i"},
    {"GatherND", 13, 2, 1, "batch_dims:i"},
    {"Compress", 13, 2, 1, "axis:i"},
    {"NonZero", 13, 1, 1, ""},
    {"OneHot", 11, 3, 1, "axis:i"},
    {"ScatterElements", 16, 3, 1, "axis:i reduction:s"},
    {"ScatterND", 16, 3, 1, "reduction:s"},
    {"TopK", 11, 2, 2, "axis:i largest:i"},
    {"ReverseSequence", 10, 2, 1, "time_axis:i batch_axis:i"},
    {"Unique", 11, 1, 4, "axis:i sorted:i"},
    {"ReduceSum", 13, 2, 1, "keepdims:i noop_with_empty_axes:i"},
    {"ReduceLogSumExp", 13, 1, 1, "axes:I keepdims:i"},
    {"ReduceMax", 18, 2, 1, "keepdims:i"},
    {"ArgMax", 13, 1, 1, "axis:i keepdims:i select_last_index:i"},
    {"CumSum", 14, 2, 1, "exclusive:i reverse:i"},
    {"Cast", 13, 1, 1, "to:i"},
    {"CastLike", 15, 2, 1, ""},
    {"Pad", 18, 4, 1, "mode:s"},
    {"Pad", 2, 1, 1, "pads:I mode:s value:f"},
    {"Resize", 13, 4, 1,
     "mode:s coordinate_transformation_mode:s nearest_mode:s exclude_outside:i"},
    {"Upsample", 9, 2, 1, "mode:s"},
    {"NegativeLogLikelihoodLoss", 13, 3, 1, "reduction:s ignore_index:i"},
    {"SoftmaxCrossEntropyLoss", 13, 3, 2, "reduction:s ignore_index:i"},
    {"NonMaxSuppression", 11, 5, 1, "center_point_box:i"},
    {"QuantizeLinear", 13, 3, 1, "axis:i"},
    {"DequantizeLinear", 13, 3, 1, "axis:i"},
    {"DynamicQuantizeLinear", 11, 1, 3, ""},
    {"Det", 11, 1, 1, ""},
    {"HannWindow", 17, 1, 1, "periodic:i"},
    {"GridSample", 16, 2, 1, "mode:s padding_mode:s align_corners:i"},
    {"RoiAlign", 16, 3, 1, "output_height:i output_width:i sampling_ratio:i mode:s"},
    {"DFT", 17, 2, 1, "axis:i inverse:i onesided:i"},
    {"STFT", 17, 4, 1, "onesided:i"},
    {"MelWeightMatrix", 17, 5, 1, ""},
};

static const char *const strings[] = {"nearest",
                                      "linear",
                                      "cubic",
                                      "constant",
                                      "reflect",
                                      "edge",
                                      "wrap",
                                      "add",
                                      "mul",
                                      "max",
                                      "min",
                                      "none",
                                      "sum",
                                      "mean",
                                      "DCR",
                                      "CRD",
                                      "half_pixel",
                                      "align_corners",
                                      "asymmetric",
                                      "tf_crop_and_resize",
                                      "pytorch_half_pixel",
                                      "floor",
                                      "ceil",
                                      "round_prefer_ceil",
                                      "bilinear",
                                      "bicubic",
                                      "zeros",
                                      "border",
                                      "reflection",
                                      "avg",
                                      "bogus"};

static const float floats[] = {0, 0.5f, -1, 2.5f, 3, -0.25f, 1e-3f, 1, 2, NAN, INFINITY, -INFINITY};
static const enum gd_dtype dtypes[] = {GD_DTYPE_FLOAT,   GD_DTYPE_INT64, GD_DTYPE_INT32,
                                       GD_DTYPE_BOOL,    GD_DTYPE_UINT8, GD_DTYPE_INT8,
                                       GD_DTYPE_FLOAT16, GD_DTYPE_DOUBLE};

enum { MAXIN = 5, MAXEL = 256 };

struct case_data {
    struct gd_tensor in[MAXIN];
    uint64_t buf[MAXIN][MAXEL];
    struct ot_attr at[8];
    int64_t ints[8][4];
};

static void make_input(struct rd *r, struct gd_tensor *t, uint64_t *buf)
{
    unsigned sel = u8(r);
    if (sel % 11 == 10) { /* absent optional input */
        memset(t, 0, sizeof *t);
        return;
    }
    enum gd_dtype dt = dtypes[(sel >> 4) % 8];
    int rank = (int)(u8(r) % 5);
    int64_t dims[4], n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i] = u8(r) % 4;
    *t = ot_tensor(dt, rank, dims, buf);
    for (int64_t i = 0; i < n && i < MAXEL; i++) {
        double v = (u8(r) & 1) ? (double)small(r) : floats[u8(r) % 12];
        if (!gd_dtype_is_float(dt) && (v != v || v > 1e9 || v < -1e9))
            v = 1;
        gd_tensor_set_f64(t, i, v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rd r = {data, size};
    static struct case_data c;
    const struct opdesc *d = &ops[u8(&r) % (sizeof ops / sizeof ops[0])];
    memset(&c, 0, sizeof c);
    int nin = 1 + (int)(u8(&r) % d->nin), na = 0;
    for (int k = 0; k < nin; k++)
        make_input(&r, &c.in[k], c.buf[k]);
    if (!c.in[0].dtype) /* input 0 is never optional */
        c.in[0] = ot_tensor(GD_DTYPE_FLOAT, 1, (const int64_t[]){1}, c.buf[0]);
    char names[8][32];
    const char *a = d->attrs;
    while (*a && na < 8) {
        int len = 0;
        while (a[len] && a[len] != ':')
            len++;
        char kind = a[len + 1];
        memcpy(names[na], a, (size_t)len), names[na][len] = 0;
        a += len + 2;
        a += *a == ' ';
        if (!(u8(&r) & 1))
            continue; /* attribute left at its default */
        struct ot_attr *t = &c.at[na];
        t->name = names[na], t->kind = kind;
        if (kind == 'i')
            t->i = small(&r);
        else if (kind == 'f')
            t->f = floats[u8(&r) % 12];
        else if (kind == 's')
            t->s = strings[u8(&r) % (sizeof strings / sizeof strings[0])];
        else {
            t->n = (int)(u8(&r) % 5);
            for (int i = 0; i < t->n; i++)
                c.ints[na][i] = small(&r);
            t->iv = c.ints[na];
        }
        na++;
    }
    struct gd_tensor outs[4];
    char err[256];
    if (ot_run(d->op, d->opset, nin, c.in, na, c.at, d->nout, outs, err, sizeof err) == 0)
        for (int k = 0; k < d->nout; k++)
            gd_tensor_release(&outs[k]);
    return 0;
}
