/* Engine core unit tests: tensor helpers (float16, shapes, broadcasting), the thread pool,
 * the loader on well-formed and malformed models built in memory with protobuf-c, constant
 * folding, input checks and error messages. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "engine/model.h"
#include "engine/npy.h"
#include "engine/tensor.h"
#include "girder/engine.h"
#include "onnx.pb-c.h"

/* ---- tiny model builder ---- */

struct mb {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset, *opsets[1];
    Onnx__NodeProto nodes[8], *node_ptrs[8];
    char *node_in[8][4], *node_out[8][4];
    Onnx__ValueInfoProto vin[4], vout[4], *vin_p[4], *vout_p[4];
    Onnx__TypeProto types[8];
    Onnx__TypeProto__Tensor ttypes[8];
    Onnx__TensorShapeProto shapes[8];
    Onnx__TensorShapeProto__Dimension dims[8][4], *dim_p[8][4];
    Onnx__TensorProto inits[4], *init_p[4];
    int n_types;
};

static void mb_init(struct mb *b, int64_t ir, int64_t opset)
{
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->model);
    onnx__graph_proto__init(&b->graph);
    onnx__operator_set_id_proto__init(&b->opset);
    b->model.has_ir_version = ir > 0;
    b->model.ir_version = ir;
    b->opset.domain = "";
    b->opset.has_version = 1;
    b->opset.version = opset;
    b->opsets[0] = &b->opset;
    b->model.n_opset_import = 1;
    b->model.opset_import = b->opsets;
    b->model.graph = &b->graph;
    b->graph.node = b->node_ptrs;
    b->graph.input = b->vin_p;
    b->graph.output = b->vout_p;
    b->graph.initializer = b->init_p;
}

static void mb_value(struct mb *b, Onnx__ValueInfoProto *vi, const char *name, int dt, int rank,
                     const int64_t *dims)
{
    int t = b->n_types++;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(&b->types[t]);
    onnx__type_proto__tensor__init(&b->ttypes[t]);
    onnx__tensor_shape_proto__init(&b->shapes[t]);
    vi->name = (char *)name;
    vi->type = &b->types[t];
    b->types[t].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    b->types[t].tensor_type = &b->ttypes[t];
    b->ttypes[t].has_elem_type = 1;
    b->ttypes[t].elem_type = dt;
    b->ttypes[t].shape = &b->shapes[t];
    b->shapes[t].n_dim = (size_t)rank;
    b->shapes[t].dim = b->dim_p[t];
    for (int d = 0; d < rank; d++) {
        onnx__tensor_shape_proto__dimension__init(&b->dims[t][d]);
        b->dims[t][d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        b->dims[t][d].dim_value = dims[d];
        b->dim_p[t][d] = &b->dims[t][d];
    }
}

static void mb_input(struct mb *b, const char *name, int dt, int rank, const int64_t *dims)
{
    size_t i = b->graph.n_input++;
    mb_value(b, &b->vin[i], name, dt, rank, dims);
    b->vin_p[i] = &b->vin[i];
}

static void mb_output(struct mb *b, const char *name, int dt, int rank, const int64_t *dims)
{
    size_t i = b->graph.n_output++;
    mb_value(b, &b->vout[i], name, dt, rank, dims);
    b->vout_p[i] = &b->vout[i];
}

static void mb_node(struct mb *b, const char *op, const char *in, const char *out)
{
    size_t i = b->graph.n_node++;
    Onnx__NodeProto *n = &b->nodes[i];
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = "";
    b->node_in[i][0] = (char *)in;
    b->node_out[i][0] = (char *)out;
    n->n_input = in ? 1 : 0;
    n->input = b->node_in[i];
    n->n_output = 1;
    n->output = b->node_out[i];
    b->node_ptrs[i] = n;
}

static Onnx__TensorProto *mb_init_tensor(struct mb *b, const char *name, int dt, size_t rank,
                                         int64_t *dims, const void *raw, size_t rawlen)
{
    size_t i = b->graph.n_initializer++;
    Onnx__TensorProto *t = &b->inits[i];
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = dt;
    t->n_dims = rank;
    t->dims = dims;
    t->has_raw_data = raw != NULL;
    t->raw_data.data = (uint8_t *)raw;
    t->raw_data.len = rawlen;
    b->init_p[i] = t;
    return t;
}

/* Packs and loads; returns the load status, err holds the message. */
static int mb_load(struct mb *b, gd_engine_model **m, char *err, size_t errlen)
{
    size_t n = onnx__model_proto__get_packed_size(&b->model);
    uint8_t *buf = malloc(n + 1);
    onnx__model_proto__pack(&b->model, buf);
    int rc = gd_engine_load_memory(buf, n, NULL, m, err, errlen);
    free(buf);
    return rc;
}

static const int64_t d22[2] = {2, 2};

/* Subgraph pieces: an Identity node in -> out, a GRAPH attribute. */
static void identity_node(Onnx__NodeProto *n, char **in, char **out)
{
    onnx__node_proto__init(n);
    n->op_type = "Identity";
    n->n_input = 1;
    n->input = in;
    n->n_output = 1;
    n->output = out;
}

static void graph_attr(Onnx__AttributeProto *a, const char *name, Onnx__GraphProto *g)
{
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    a->g = g;
}

/* ---- tensor helpers ---- */

Test(engine_tensor, f16_roundtrip)
{
    cr_expect_eq(gd_f32_to_f16(1.0f), 0x3c00);
    cr_expect_eq(gd_f32_to_f16(-2.0f), 0xc000);
    cr_expect_eq(gd_f32_to_f16(65504.0f), 0x7bff);
    cr_expect_eq(gd_f32_to_f16(1e6f), 0x7c00);                    /* overflow -> inf */
    cr_expect_eq(gd_f16_to_f32(0x0001), 5.9604644775390625e-08f); /* smallest subnormal */
    cr_expect_eq(gd_f32_to_f16(5.9604644775390625e-08f), 0x0001);
    cr_expect(gd_f16_to_f32(0x7e00) != gd_f16_to_f32(0x7e00)); /* NaN */
    for (uint32_t h = 0; h < 0x7c00; h++) /* every finite positive half survives */
        cr_assert_eq(gd_f32_to_f16(gd_f16_to_f32((gd_f16)h)), h, "h=%#x", h);
    cr_expect_eq(gd_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie to even */
}

Test(engine_tensor, numel_checks)
{
    int64_t n, big[3] = {1 << 20, 1 << 20, 1 << 20}, neg[2] = {2, -1}, zero[2] = {0, 5};
    cr_expect_eq(gd_shape_numel(3, big, &n), GD_ERANGE);
    cr_expect_eq(gd_shape_numel(2, neg, &n), GD_EINVAL);
    cr_expect_eq(gd_shape_numel(2, zero, &n), 0);
    cr_expect_eq(n, 0);
    cr_expect_eq(gd_shape_numel(0, NULL, &n), 0);
    cr_expect_eq(n, 1);
    cr_expect_eq(gd_shape_numel(GD_TENSOR_MAX_RANK + 1, big, &n), GD_EINVAL);
}

Test(engine_tensor, broadcast)
{
    struct gd_tensor a = {0}, b = {0};
    int64_t da[2] = {2, 3}, db[1] = {3}, dc[1] = {4}, out[8];
    int rank;
    char err[128];
    gd_tensor_set_shape(&a, GD_DTYPE_FLOAT, 2, da);
    gd_tensor_set_shape(&b, GD_DTYPE_FLOAT, 1, db);
    const struct gd_tensor *ts[2] = {&a, &b};
    cr_assert_eq(gd_broadcast_shape(2, ts, &rank, out, err, sizeof err), 0);
    cr_expect_eq(rank, 2);
    cr_expect_eq(out[0], 2);
    cr_expect_eq(out[1], 3);
    struct gd_bcast it;
    cr_assert_eq(gd_bcast_init(&it, rank, out, 2, ts), 0);
    cr_expect_eq(it.same, 0);
    for (int64_t i = 0; i < 6; i++, gd_bcast_next(&it)) {
        cr_expect_eq(it.off[0], i);
        cr_expect_eq(it.off[1], i % 3);
    }
    gd_bcast_seek(&it, 4);
    cr_expect_eq(it.off[1], 1);
    gd_tensor_set_shape(&b, GD_DTYPE_FLOAT, 1, dc);
    cr_expect_eq(gd_broadcast_shape(2, ts, &rank, out, err, sizeof err), GD_EINVAL);
    cr_expect(strstr(err, "not broadcastable") != NULL, "%s", err);
}

Test(engine_tensor, axis_and_convert)
{
    int ax;
    cr_expect_eq(gd_axis_normalize(-1, 3, &ax), 0);
    cr_expect_eq(ax, 2);
    cr_expect_eq(gd_axis_normalize(3, 3, &ax), GD_EINVAL);
    struct gd_tensor t;
    int64_t d = 3;
    cr_assert_eq(gd_tensor_alloc(&t, GD_DTYPE_INT8, 1, &d), 0);
    gd_tensor_set_f64(&t, 0, 1e30); /* saturates through int64 without UB */
    gd_tensor_set_f64(&t, 1, -7.9);
    cr_expect_eq(gd_tensor_get_i64(&t, 1), -7);
    gd_tensor_release(&t);
}

/* ---- thread pool ---- */

static void add_range(void *ud, int64_t b, int64_t e)
{
    atomic_llong *sum = ud;
    for (int64_t i = b; i < e; i++)
        atomic_fetch_add(sum, i);
}

Test(engine_pool, parallel_for_covers_range)
{
    struct gd_pool *p = gd__pool_new(4);
    cr_assert_not_null(p);
    for (int64_t n = 1; n < 3000; n += 997) {
        atomic_llong sum = 0;
        gd__pool_run(p, n, 1, add_range, &sum);
        cr_expect_eq(sum, n * (n - 1) / 2, "n=%lld", (long long)n);
    }
    gd__pool_free(p);
}

/* ---- loader and session ---- */

Test(engine_load, identity_chain_runs_and_folds)
{
    struct mb b;
    char err[256] = "";
    gd_engine_model *m;
    float raw[4] = {1, 2, 3, 4};
    int64_t dims[2] = {2, 2};
    mb_init(&b, 8, 13);
    mb_input(&b, "x", 1, 2, d22);
    mb_output(&b, "y", 1, 2, d22);
    mb_output(&b, "k2", 1, 2, d22);
    mb_init_tensor(&b, "k", 1, 2, dims, raw, sizeof raw);
    mb_node(&b, "Identity", "t", "y"); /* out of order on purpose */
    mb_node(&b, "Identity", "x", "t");
    mb_node(&b, "Identity", "k", "k2"); /* constant: folded at load */
    cr_assert_eq(mb_load(&b, &m, err, sizeof err), 0, "%s", err);
    cr_expect_eq(gd_engine_num_nodes(m), 3);
    cr_expect_eq(gd_engine_num_exec_nodes(m), 2);
    gd_engine_session *s;
    cr_assert_eq(
        gd_engine_session_create(m, &(struct gd_engine_options){.threads = 2}, &s, err, sizeof err),
        0, "%s", err);
    /* t = Identity(x) has an inferred static shape: planned in the arena (64-byte aligned) */
    cr_expect_eq(gd_engine_session_planned_bytes(s), 64);
    float xin[4] = {5, 6, 7, 8};
    struct gd_tensor x = {0};
    gd_tensor_set_shape(&x, GD_DTYPE_FLOAT, 2, d22);
    x.data = xin;
    for (int r = 0; r < 3; r++) { /* repeated runs reuse buffers */
        cr_assert_eq(gd_engine_run(s, 1, (const char *[]){"x"}, &x, err, sizeof err), 0, "%s", err);
        const struct gd_tensor *y = gd_engine_output(s, 0), *k2 = gd_engine_output(s, 1);
        cr_assert_not_null(y);
        cr_expect_eq(((float *)y->data)[3], 8);
        cr_expect_eq(((float *)k2->data)[2], 3);
    }
    /* input checks */
    struct gd_tensor bad = x;
    bad.dtype = GD_DTYPE_INT32;
    cr_expect_eq(gd_engine_run(s, 1, (const char *[]){"x"}, &bad, err, sizeof err), GD_EINVAL);
    cr_expect(strstr(err, "dtype") != NULL, "%s", err);
    cr_expect_eq(gd_engine_run(s, 0, NULL, NULL, err, sizeof err), GD_EINVAL);
    cr_expect(strstr(err, "not provided") != NULL, "%s", err);
    cr_expect_eq(gd_engine_run(s, 1, (const char *[]){"nope"}, &x, err, sizeof err), GD_ENOENT);
    gd_engine_session_free(s);
    gd_engine_model_free(m);
}

static void expect_load_error(struct mb *b, int code, const char *needle)
{
    char err[256] = "";
    gd_engine_model *m = NULL;
    int rc = mb_load(b, &m, err, sizeof err);
    cr_expect_eq(rc, code, "rc=%d err=%s", rc, err);
    cr_expect(strstr(err, needle) != NULL, "'%s' not in '%s'", needle, err);
    cr_expect_null(m);
}

Test(engine_load, rejects_cycle)
{
    struct mb b;
    mb_init(&b, 8, 13);
    mb_output(&b, "a", 1, 2, d22);
    mb_node(&b, "Identity", "b", "a");
    mb_node(&b, "Identity", "a", "b");
    expect_load_error(&b, GD_EINVAL, "cycle");
}

Test(engine_load, rejects_dangling_input)
{
    struct mb b;
    mb_init(&b, 8, 13);
    mb_output(&b, "a", 1, 2, d22);
    mb_node(&b, "Identity", "ghost", "a");
    expect_load_error(&b, GD_EINVAL, "'ghost' is not defined");
}

Test(engine_load, rejects_duplicate_and_missing_output)
{
    struct mb b;
    mb_init(&b, 8, 13);
    mb_input(&b, "x", 1, 2, d22);
    mb_output(&b, "a", 1, 2, d22);
    mb_node(&b, "Identity", "x", "a");
    mb_node(&b, "Identity", "x", "a");
    expect_load_error(&b, GD_EINVAL, "defined twice");
    mb_init(&b, 8, 13);
    mb_input(&b, "x", 1, 2, d22);
    mb_output(&b, "zz", 1, 2, d22);
    expect_load_error(&b, GD_EINVAL, "never produced");
}

Test(engine_load, rejects_bad_tensors)
{
    struct mb b;
    float raw[4] = {0};
    int64_t huge[3] = {1 << 30, 1 << 30, 1 << 30}, neg[2] = {2, -2}, ok[2] = {2, 2};
    mb_init(&b, 8, 13);
    mb_output(&b, "k", 1, 2, d22);
    mb_init_tensor(&b, "k", 1, 3, huge, raw, sizeof raw);
    expect_load_error(&b, GD_ERANGE, "oversized");
    mb_init(&b, 8, 13);
    mb_output(&b, "k", 1, 2, d22);
    mb_init_tensor(&b, "k", 1, 2, neg, raw, sizeof raw);
    expect_load_error(&b, GD_EINVAL, "invalid");
    mb_init(&b, 8, 13);
    mb_output(&b, "k", 1, 2, d22);
    mb_init_tensor(&b, "k", 1, 2, ok, raw, 12); /* raw_data too short */
    expect_load_error(&b, GD_EINVAL, "raw_data is 12 bytes");
    mb_init(&b, 8, 13);
    mb_output(&b, "k", 1, 2, d22);
    mb_init_tensor(&b, "k", 99, 2, ok, raw, sizeof raw); /* unknown dtype */
    expect_load_error(&b, GD_ENOTSUP, "unsupported data type 99");
    mb_init(&b, 8, 13);
    mb_output(&b, "k", 1, 2, d22);
    mb_init_tensor(&b, "k", 1, 2, ok, NULL, 0); /* no data at all */
    expect_load_error(&b, GD_EINVAL, "has 0 values");
}

Test(engine_load, rejects_external_data_escape)
{
    struct mb b;
    int64_t ok[2] = {2, 2};
    Onnx__StringStringEntryProto kv;
    Onnx__StringStringEntryProto *kvp[1] = {&kv};
    onnx__string_string_entry_proto__init(&kv);
    kv.key = "location";
    kv.value = "../../etc/passwd";
    mb_init(&b, 8, 13);
    mb_output(&b, "k", 1, 2, d22);
    Onnx__TensorProto *t = mb_init_tensor(&b, "k", 1, 2, ok, NULL, 0);
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->n_external_data = 1;
    t->external_data = kvp;
    char err[256] = "";
    gd_engine_model *m = NULL;
    size_t n = onnx__model_proto__get_packed_size(&b.model);
    uint8_t *buf = malloc(n);
    onnx__model_proto__pack(&b.model, buf);
    cr_expect_eq(gd_engine_load_memory(buf, n, "/tmp", &m, err, sizeof err), GD_EINVAL);
    cr_expect(strstr(err, "not allowed") != NULL, "%s", err);
    free(buf);
}

Test(engine_load, rejects_bad_headers)
{
    struct mb b;
    mb_init(&b, 0, 13); /* no ir_version */
    mb_output(&b, "a", 1, 2, d22);
    expect_load_error(&b, GD_ENOTSUP, "ir_version");
    mb_init(&b, 8, 13);
    b.model.n_opset_import = 0;
    mb_output(&b, "a", 1, 2, d22);
    expect_load_error(&b, GD_EINVAL, "opset imports");
    mb_init(&b, 8, 13);
    mb_input(&b, "x", 1, 2, d22);
    mb_output(&b, "a", 1, 2, d22);
    mb_node(&b, "Identity", "x", "a");
    b.nodes[0].domain = "com.example";
    expect_load_error(&b, GD_EINVAL, "not imported");
}

Test(engine_load, truncations_never_crash)
{
    struct mb b;
    float raw[4] = {1, 2, 3, 4};
    int64_t dims[2] = {2, 2};
    mb_init(&b, 8, 13);
    mb_input(&b, "x", 1, 2, d22);
    mb_output(&b, "y", 1, 2, d22);
    mb_init_tensor(&b, "k", 1, 2, dims, raw, sizeof raw);
    mb_node(&b, "Identity", "x", "y");
    size_t n = onnx__model_proto__get_packed_size(&b.model);
    uint8_t *buf = malloc(n);
    onnx__model_proto__pack(&b.model, buf);
    int ok = 0;
    for (size_t len = 0; len <= n; len++) {
        gd_engine_model *m = NULL;
        char err[256];
        if (gd_engine_load_memory(buf, len, NULL, &m, err, sizeof err) == 0)
            ok++;
        gd_engine_model_free(m);
    }
    cr_expect_geq(ok, 1); /* the full model loads */
    free(buf);
}

Test(engine_load, unsupported_op_is_named)
{
    struct mb b;
    char err[256] = "";
    gd_engine_model *m;
    gd_engine_session *s = NULL;
    mb_init(&b, 8, 13);
    mb_input(&b, "x", 1, 2, d22);
    mb_output(&b, "y", 1, 2, d22);
    mb_node(&b, "NoSuchOp", "x", "y");
    b.nodes[0].name = "n7";
    cr_assert_eq(mb_load(&b, &m, err, sizeof err), 0, "%s", err);
    cr_expect_eq(gd_engine_session_create(m, NULL, &s, err, sizeof err), GD_ENOTSUP);
    cr_expect(strstr(err, "node 'n7' (NoSuchOp): unsupported op NoSuchOp") != NULL, "%s", err);
    gd_engine_model_free(m);
}

/* If whose branches read an outer value ("x") captured from the main graph. */
Test(engine_load, if_with_outer_capture)
{
    struct mb b;
    char err[256] = "";
    gd_engine_model *m;
    gd_engine_session *s;
    static const int64_t d1[1] = {1};
    mb_init(&b, 8, 13);
    mb_input(&b, "c", 9, 0, NULL);
    mb_input(&b, "x", 1, 2, d22);
    mb_output(&b, "y", 1, 2, d22);
    /* branches: then = Identity(x), else = Neg-free: Identity(k) with k a branch constant */
    Onnx__GraphProto br[2];
    Onnx__NodeProto bn[2], *bnp[2][1];
    Onnx__ValueInfoProto bo[2], *bop[2][1];
    char *bin[2][1] = {{"x"}, {"kk"}}, *bout[2][1] = {{"t_out"}, {"e_out"}};
    float kraw[4] = {9, 9, 9, 9};
    int64_t kd[2] = {2, 2};
    Onnx__TensorProto kt, *ktp[1] = {&kt};
    onnx__tensor_proto__init(&kt);
    kt.name = "kk";
    kt.has_data_type = 1;
    kt.data_type = 1;
    kt.n_dims = 2;
    kt.dims = kd;
    kt.has_raw_data = 1;
    kt.raw_data.data = (uint8_t *)kraw;
    kt.raw_data.len = sizeof kraw;
    for (int i = 0; i < 2; i++) {
        onnx__graph_proto__init(&br[i]);
        identity_node(&bn[i], bin[i], bout[i]);
        bnp[i][0] = &bn[i];
        br[i].n_node = 1;
        br[i].node = bnp[i];
        mb_value(&b, &bo[i], bout[i][0], 1, 2, d22);
        bop[i][0] = &bo[i];
        br[i].n_output = 1;
        br[i].output = bop[i];
    }
    br[1].n_initializer = 1;
    br[1].initializer = ktp;
    Onnx__AttributeProto at[2], *atp[2] = {&at[0], &at[1]};
    const char *an[2] = {"then_branch", "else_branch"};
    for (int i = 0; i < 2; i++)
        graph_attr(&at[i], an[i], &br[i]);
    mb_node(&b, "If", "c", "y");
    b.nodes[0].n_attribute = 2;
    b.nodes[0].attribute = atp;
    cr_assert_eq(mb_load(&b, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(gd_engine_session_create(m, NULL, &s, err, sizeof err), 0, "%s", err);
    float xin[4] = {1, 2, 3, 4};
    gd_bool cv;
    struct gd_tensor in[2] = {{0}, {0}};
    gd_tensor_set_shape(&in[0], GD_DTYPE_BOOL, 0, d1);
    in[0].data = &cv;
    gd_tensor_set_shape(&in[1], GD_DTYPE_FLOAT, 2, d22);
    in[1].data = xin;
    for (cv = 0; cv < 2; cv++) {
        cr_assert_eq(gd_engine_run(s, 2, (const char *[]){"c", "x"}, in, err, sizeof err), 0, "%s",
                     err);
        cr_expect_eq(((float *)gd_engine_output(s, 0)->data)[1], cv ? 2.0f : 9.0f);
    }
    gd_engine_session_free(s);
    gd_engine_model_free(m);
    /* an outer name nobody defines is still a dangling input */
    bin[0][0] = "nowhere";
    expect_load_error(&b, GD_EINVAL, "'nowhere' is not defined");
}

/* Loop(M, cond=true, v0) whose body passes cond and v through (2 nodes per iteration). M
 * and v0 are graph inputs, or initializers (M = m_init, v0 = 7) when m_init > 0. */
static int load_pass_through_loop(int64_t m_init, gd_engine_model **m, char *err, size_t errlen)
{
    static const int64_t d1[1] = {1};
    static const gd_bool yes = 1;
    struct mb b;
    mb_init(&b, 8, 13);
    static const float v0 = 7;
    if (m_init > 0) { /* all constants: a candidate for folding at load */
        mb_init_tensor(&b, "M", 7, 0, NULL, &m_init, sizeof m_init);
        mb_init_tensor(&b, "v0", 1, 1, (int64_t *)d1, &v0, sizeof v0);
    } else {
        mb_input(&b, "M", 7, 0, NULL);
        mb_input(&b, "v0", 1, 1, d1);
    }
    mb_init_tensor(&b, "cond", 9, 0, NULL, &yes, 1);
    mb_output(&b, "v", 1, 1, d1);
    Onnx__GraphProto body;
    Onnx__NodeProto bn[2], *bnp[2] = {&bn[0], &bn[1]};
    Onnx__ValueInfoProto bi[3], bo[2], *bip[3] = {&bi[0], &bi[1], &bi[2]},
                                       *bop[2] = {&bo[0], &bo[1]};
    char *bin[2][1] = {{"c"}, {"vin"}}, *bout[2][1] = {{"c_out"}, {"v_out"}};
    onnx__graph_proto__init(&body);
    for (int i = 0; i < 2; i++)
        identity_node(&bn[i], bin[i], bout[i]);
    mb_value(&b, &bi[0], "i", 7, 0, NULL);
    mb_value(&b, &bi[1], "c", 9, 0, NULL);
    mb_value(&b, &bi[2], "vin", 1, 1, d1);
    mb_value(&b, &bo[0], "c_out", 9, 0, NULL);
    mb_value(&b, &bo[1], "v_out", 1, 1, d1);
    body.n_node = 2;
    body.node = bnp;
    body.n_input = 3;
    body.input = bip;
    body.n_output = 2;
    body.output = bop;
    Onnx__AttributeProto at, *atp[1] = {&at};
    graph_attr(&at, "body", &body);
    mb_node(&b, "Loop", "M", "v");
    char *loop_in[3] = {"M", "cond", "v0"};
    b.nodes[0].n_input = 3;
    b.nodes[0].input = loop_in;
    b.nodes[0].n_attribute = 1;
    b.nodes[0].attribute = atp;
    return mb_load(&b, m, err, errlen);
}

static int run_loop_model(gd_engine_model *m, int64_t trips, uint64_t max_node_runs, char *err,
                          size_t errlen)
{
    static const int64_t d1[1] = {1};
    gd_engine_session *s;
    struct gd_engine_options o = {.max_node_runs = max_node_runs};
    cr_assert_eq(gd_engine_session_create(m, &o, &s, err, errlen), 0, "%s", err);
    float v0 = 7;
    struct gd_tensor in[2] = {{0}, {0}};
    gd_tensor_set_shape(&in[0], GD_DTYPE_INT64, 0, NULL);
    in[0].data = &trips;
    gd_tensor_set_shape(&in[1], GD_DTYPE_FLOAT, 1, d1);
    in[1].data = &v0;
    int n = gd_engine_num_inputs(m); /* 2, or 0 when the loop is all constants */
    int rc = gd_engine_run(s, n, (const char *[]){"M", "v0"}, in, err, errlen);
    if (rc == 0)
        cr_expect_eq(((float *)gd_engine_output(s, 0)->data)[0], 7.0f);
    gd_engine_session_free(s);
    return rc;
}

Test(engine_run, node_run_budget_bounds_loops)
{
    char err[256] = "";
    gd_engine_model *m;
    cr_assert_eq(load_pass_through_loop(0, &m, err, sizeof err), 0, "%s", err);
    /* 1 Loop + 2 body nodes per trip */
    cr_expect_eq(run_loop_model(m, 1000, 2001, err, sizeof err), 0, "%s", err);
    cr_expect_eq(run_loop_model(m, 1000, 2000, err, sizeof err), GD_ELIMIT);
    cr_expect(strstr(err, "max_node_runs") && strstr(err, "(Identity)"), "%s", err);
    gd_engine_model_free(m);
    /* a Loop of constants with a million trips is not folded at load: it is left to run
     * time, where the session's budget applies */
    cr_assert_eq(load_pass_through_loop(1000000, &m, err, sizeof err), 0, "%s", err);
    cr_expect_eq(run_loop_model(m, 0, 100, err, sizeof err), GD_ELIMIT, "%s", err);
    gd_engine_model_free(m);
}

Test(engine_npy, roundtrip_and_malformed)
{
    char path[] = "/tmp/gd_engine_npy_XXXXXX", err[256];
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    struct gd_tensor t, r;
    int64_t dims[3] = {2, 1, 3};
    cr_assert_eq(gd_tensor_alloc(&t, GD_DTYPE_INT64, 3, dims), 0);
    for (int i = 0; i < 6; i++)
        ((int64_t *)t.data)[i] = i * 1000000000000LL;
    cr_assert_eq(gd_npy_write_file(path, &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(gd_npy_read_file(path, &r, err, sizeof err), 0, "%s", err);
    cr_expect(gd_tensor_same_shape(&t, &r));
    cr_expect_eq(memcmp(t.data, r.data, t.nbytes), 0);
    gd_tensor_release(&r);
    gd_tensor_release(&t);
    unlink(path);
    static const char bad[] = "\x93NUMPY\x01\x00\x30\x00{'descr': '<f4', 'fortran_order': False, "
                              "'shape': (9, 9), }";
    cr_expect_neq(gd_npy_parse(bad, sizeof bad - 1, &r, err, sizeof err), 0);
    cr_expect_neq(gd_npy_parse("\x93NUMPY\x01\x00\xff\xff", 10, &r, err, sizeof err), 0);
}

/* A buffer handed to a smaller request keeps its real capacity in the cache: the next run's
 * big request finds it again (it used to be booked at the small size and reallocated, with
 * fresh pages, on every run). */
Test(engine_bufcache, reuse_keeps_capacity)
{
    struct gd_bufcache *c = gd__bufcache_new();
    cr_assert(c);
    for (int run = 0; run < 3; run++) {
        void *big = gd__bufcache_get(c, 1 << 20);
        cr_assert(big);
        gd__bufcache_put(c, big, 1 << 20);
        void *small = gd__bufcache_get(c, 600 << 10); /* fits the big one (waste < 2x) */
        cr_assert_eq(small, big, "run %d", run);
        gd__bufcache_put(c, small, 600 << 10);
        gd__bufcache_end_run(c);
        int fresh = 0;
        void *again = gd__bufcache_get_raw(c, 1 << 20, &fresh);
        cr_assert(!fresh && again == big, "run %d: the 1 MiB buffer was lost", run);
        gd__bufcache_put(c, again, 1 << 20);
        gd__bufcache_end_run(c);
    }
    gd__bufcache_free(c);
}

/* Runs whose sizes keep changing (a model server's batches) must not fill the cache with
 * buffers of every size: after each run it holds at most twice the largest run's need. */
Test(engine_bufcache, varying_runs_stay_bounded)
{
    struct gd_bufcache *c = gd__bufcache_new();
    cr_assert(c);
    size_t peak = 0;
    for (int run = 0; run < 200; run++) {
        size_t rows = 1 + (size_t)(run * 7 % 8), live = 0;
        void *p[4];
        for (int i = 0; i < 4; i++) {
            p[i] = gd__bufcache_get(c, rows * 1000 * (size_t)(i + 1));
            cr_assert(p[i]);
            live += rows * 1000 * (size_t)(i + 1);
        }
        if (live > peak)
            peak = live;
        for (int i = 0; i < 4; i++)
            gd__bufcache_put(c, p[i], rows * 1000 * (size_t)(i + 1));
        gd__bufcache_end_run(c);
        cr_assert_leq(gd__bufcache_bytes(c), 2 * peak, "run %d: %zu cached", run,
                      gd__bufcache_bytes(c));
    }
    /* the same shape again and again is served from the cache, not trimmed away */
    void *first = gd__bufcache_get(c, 8000);
    gd__bufcache_put(c, first, 8000);
    gd__bufcache_end_run(c);
    cr_assert_eq(gd__bufcache_get(c, 8000), first);
    gd__bufcache_put(c, first, 8000);
    gd__bufcache_free(c);
}
