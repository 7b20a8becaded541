/* Loss, NonMaxSuppression and quantization ops. */
#include "check.h"

Test(ops_tensor_misc, nll_and_sce)
{
    char err[256];
    /* input [2, 3] log-probabilities, targets 2 and ignored (-1), weights */
    struct gd_tensor y,
        in[3] = {ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(2, 3), OT_F32(-1, -2, -3, -4, -5, -6)),
                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(2, -1)),
                 ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(3), OT_F32(1, 1, 2))};
    struct ot_attr a[2] = {OT_I("ignore_index", -1), OT_S("reduction", "mean")};
    cr_assert_eq(ot_run("NegativeLogLikelihoodLoss", 13, 3, in, 2, a, 1, &y, err, sizeof err), 0,
                 "%s", err);
    ot_expect_f32(&y, OT_F32(3), 1); /* (3 * 2) / 2 */
    gd_tensor_release(&y);
    in[1] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(2), OT_I64(2, 3));
    cr_expect_eq(ot_run("NegativeLogLikelihoodLoss", 13, 3, in, 2, a, 1, &y, err, sizeof err),
                 GD_EINVAL);
    struct gd_tensor ys[2], s[2] = {ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(1, 2), OT_F32(0, 0)),
                                    ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(1))};
    cr_assert_eq(ot_run("SoftmaxCrossEntropyLoss", 13, 2, s, 0, NULL, 2, ys, err, sizeof err), 0,
                 "%s", err);
    ot_expect_f32(&ys[0], OT_F32(0.6931472f), 1);
    ot_expect_f32(&ys[1], OT_F32(-0.6931472f, -0.6931472f), 2);
    gd_tensor_release(&ys[0]), gd_tensor_release(&ys[1]);
}

Test(ops_tensor_misc, nms)
{
    char err[256];
    /* three boxes: 0 and 1 overlap heavily, 2 is apart; one class */
    struct gd_tensor y,
        in[4] = {ot_tensor(GD_DTYPE_FLOAT, 3, OT_DIMS(1, 3, 4),
                           OT_F32(0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 5, 5, 6, 6)),
                 ot_tensor(GD_DTYPE_FLOAT, 3, OT_DIMS(1, 1, 3), OT_F32(0.8f, 0.9f, 0.7f)),
                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(10)),
                 ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(1), OT_F32(0.5f))};
    cr_assert_eq(ot_run("NonMaxSuppression", 11, 4, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s",
                 err);
    ot_expect_shape(&y, GD_DTYPE_INT64, 2, OT_DIMS(2, 3));
    ot_expect_i64(&y, OT_I64(0, 0, 1, 0, 0, 2), 6);
    gd_tensor_release(&y);
    in[1] = ot_tensor(GD_DTYPE_FLOAT, 3, OT_DIMS(1, 1, 2), OT_F32(0.8f, 0.9f));
    cr_expect_eq(ot_run("NonMaxSuppression", 11, 4, in, 0, NULL, 1, &y, err, sizeof err),
                 GD_EINVAL);
}

Test(ops_tensor_misc, quantize_roundtrip)
{
    char err[256];
    struct gd_tensor q, d,
        in[3] = {ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(4), OT_F32(-1, 0.5f, 1.5f, 1000)),
                 ot_tensor(GD_DTYPE_FLOAT, 0, NULL, OT_F32(0.5f)),
                 ot_tensor(GD_DTYPE_INT8, 0, NULL, (const int8_t[]){1})};
    cr_assert_eq(ot_run("QuantizeLinear", 13, 3, in, 0, NULL, 1, &q, err, sizeof err), 0, "%s",
                 err);
    const int8_t *p = q.data;
    /* -2+1, 1+1, 3 (half to even: 1.5/0.5 = 3) + 1, saturated */
    cr_expect(p[0] == -1 && p[1] == 2 && p[2] == 4 && p[3] == 127, "%d %d %d %d", p[0], p[1], p[2],
              p[3]);
    struct gd_tensor dq[3] = {q, in[1], in[2]};
    cr_assert_eq(ot_run("DequantizeLinear", 13, 3, dq, 0, NULL, 1, &d, err, sizeof err), 0, "%s",
                 err);
    ot_expect_f32(&d, OT_F32(-1, 0.5f, 1.5f, 63), 4);
    gd_tensor_release(&q), gd_tensor_release(&d);
}

Test(ops_tensor_misc, det_window_gridsample)
{
    char err[256];
    struct gd_tensor y,
        x = ot_tensor(GD_DTYPE_FLOAT, 3, OT_DIMS(2, 2, 2), OT_F32(1, 2, 3, 4, 0, 1, 1, 0));
    cr_assert_eq(ot_run("Det", 11, 1, &x, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(-2, -1), 2);
    gd_tensor_release(&y);
    struct gd_tensor n = ot_tensor(GD_DTYPE_INT64, 0, NULL, OT_I64(4));
    cr_assert_eq(ot_run("HannWindow", 17, 1, &n, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(0, 0.5f, 1, 0.5f), 4);
    gd_tensor_release(&y);
    /* 2x2 image sampled at its centre and far outside (zeros padding) */
    struct gd_tensor in[2] = {
        ot_tensor(GD_DTYPE_FLOAT, 4, OT_DIMS(1, 1, 2, 2), OT_F32(1, 2, 3, 4)),
        ot_tensor(GD_DTYPE_FLOAT, 4, OT_DIMS(1, 1, 2, 2), OT_F32(0, 0, 5, 5))};
    cr_assert_eq(ot_run("GridSample", 16, 2, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(2.5f, 0), 2);
    gd_tensor_release(&y);
    struct ot_attr bad = OT_S("padding_mode", "mirror");
    cr_expect_eq(ot_run("GridSample", 16, 2, in, 1, &bad, 1, &y, err, sizeof err), GD_EINVAL);
}

Test(ops_tensor_misc, string_normalizer_tfidf)
{
    char err[256];
    const char *words[3] = {"The", "cat", "the"};
    struct gd_tensor y, x = ot_tensor(GD_DTYPE_STRING, 1, OT_DIMS(3), words);
    struct ot_attr a[2] = {OT_S("case_change_action", "UPPER"), OT_INTS("pool_int64s", 1)};
    struct ot_attr sw = {
        .name = "stopwords", .kind = 'S', .ss = (const char *const[]){"the"}, .n = 1};
    struct ot_attr at[2] = {a[0], sw};
    cr_assert_eq(ot_run("StringNormalizer", 10, 1, &x, 2, at, 1, &y, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(y.numel, 1);
    cr_expect_str_eq(((char **)y.data)[0], "CAT");
    gd_tensor_release(&y);
    struct gd_tensor ids = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(5), OT_I64(4, 5, 4, 5, 4));
    struct ot_attr tf[6] = {OT_I("min_gram_length", 1),
                            OT_I("max_gram_length", 2),
                            OT_S("mode", "TF"),
                            OT_INTS("ngram_counts", 0, 1),
                            OT_INTS("ngram_indexes", 1, 0),
                            OT_INTS("pool_int64s", 4, 4, 5)};
    cr_assert_eq(ot_run("TfIdfVectorizer", 9, 1, &ids, 6, tf, 1, &y, err, sizeof err), 0, "%s",
                 err);
    ot_expect_f32(&y, OT_F32(2, 3), 2); /* bigram (4,5) twice, unigram 4 three times */
    gd_tensor_release(&y);
}

Test(ops_tensor_misc, roialign_and_nan_coordinates)
{
    char err[256];
    /* 1x1x2x2 image, one roi covering it: average of bilinear samples */
    struct gd_tensor y,
        in[3] = {ot_tensor(GD_DTYPE_FLOAT, 4, OT_DIMS(1, 1, 2, 2), OT_F32(1, 2, 3, 4)),
                 ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(1, 4), OT_F32(0, 0, 2, 2)),
                 ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(0))};
    struct ot_attr a = OT_I("sampling_ratio", 2);
    cr_assert_eq(ot_run("RoiAlign", 16, 3, in, 1, &a, 1, &y, err, sizeof err), 0, "%s", err);
    ot_expect_f32(&y, OT_F32(2.5f), 1);
    gd_tensor_release(&y);
    in[1] = ot_tensor(GD_DTYPE_FLOAT, 2, OT_DIMS(1, 4), OT_F32(NAN, 0, INFINITY, -INFINITY));
    cr_assert_eq(ot_run("RoiAlign", 16, 3, in, 0, NULL, 1, &y, err, sizeof err), 0, "%s", err);
    gd_tensor_release(&y);
    in[2] = ot_tensor(GD_DTYPE_INT64, 1, OT_DIMS(1), OT_I64(1));
    cr_expect_eq(ot_run("RoiAlign", 16, 3, in, 0, NULL, 1, &y, err, sizeof err), GD_EINVAL);
    /* GridSample with NaN / huge coordinates reads zeros, never out of bounds */
    static const char *modes[3] = {"nearest", "bilinear", "bicubic"};
    struct gd_tensor g[2] = {
        in[0], ot_tensor(GD_DTYPE_FLOAT, 4, OT_DIMS(1, 1, 2, 2), OT_F32(NAN, 0, 1e30f, -1e30f))};
    for (int m = 0; m < 3; m++) {
        struct ot_attr ma = OT_S("mode", modes[m]);
        cr_assert_eq(ot_run("GridSample", 16, 2, g, 1, &ma, 1, &y, err, sizeof err), 0, "%s", err);
        ot_expect_f32(&y, OT_F32(0, 0), 2);
        gd_tensor_release(&y);
    }
}

Test(ops_tensor_misc, dynamic_quantize_non_finite)
{
    char err[256];
    struct gd_tensor ys[3], x = ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(3), OT_F32(-INFINITY, 1, NAN));
    cr_assert_eq(ot_run("DynamicQuantizeLinear", 11, 1, &x, 0, NULL, 3, ys, err, sizeof err), 0,
                 "%s", err);
    cr_expect_eq(ys[0].dtype, GD_DTYPE_UINT8);
    for (int i = 0; i < 3; i++)
        gd_tensor_release(&ys[i]);
    struct gd_tensor z = ot_tensor(GD_DTYPE_FLOAT, 1, OT_DIMS(2), OT_F32(-1, 2));
    cr_assert_eq(ot_run("DynamicQuantizeLinear", 11, 1, &z, 0, NULL, 3, ys, err, sizeof err), 0,
                 "%s", err);
    const uint8_t *q = ys[0].data;
    cr_expect(q[0] == 0 && q[1] == 255, "%d %d", q[0], q[1]);
    cr_expect_eq(*(const uint8_t *)ys[2].data, 85); /* round(1 / (3/255)) */
    for (int i = 0; i < 3; i++)
        gd_tensor_release(&ys[i]);
}

/* DFT then inverse DFT gives the signal back, on the FFT (8) and direct (6) paths. */
static void dft_roundtrip(int64_t n)
{
    char err[256];
    float sig[8] = {1, -2, 3.5f, 0, 4, 1, -1, 2};
    struct gd_tensor f, b, x = ot_tensor(GD_DTYPE_FLOAT, 3, OT_DIMS(1, n, 1), sig);
    struct ot_attr inv = OT_I("inverse", 1);
    cr_assert_eq(ot_run("DFT", 17, 1, &x, 0, NULL, 1, &f, err, sizeof err), 0, "%s", err);
    ot_expect_shape(&f, GD_DTYPE_FLOAT, 3, OT_DIMS(1, n, 2));
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += sig[i];
    cr_expect_float_eq(((float *)f.data)[0], sum, 1e-4f); /* DC bin */
    cr_assert_eq(ot_run("DFT", 17, 1, &f, 1, &inv, 1, &b, err, sizeof err), 0, "%s", err);
    for (int64_t i = 0; i < n; i++) {
        cr_expect_float_eq(((float *)b.data)[2 * i], sig[i], 1e-4f);
        cr_expect_float_eq(((float *)b.data)[2 * i + 1], 0, 1e-4f);
    }
    gd_tensor_release(&f), gd_tensor_release(&b);
}

Test(ops_tensor_misc, dft_roundtrip)
{
    dft_roundtrip(8);
    dft_roundtrip(6);
}
