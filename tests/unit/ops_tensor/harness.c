/* One-node model builder and runner (see harness.h). */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "girder/engine.h"
#include "onnx.pb-c.h"

enum { MAXIO = 8, MAXATTR = 12 };

struct gd_tensor ot_tensor(enum gd_dtype dt, int rank, const int64_t *dims, const void *data)
{
    struct gd_tensor t = {0};
    gd_tensor_set_shape(&t, dt, rank, dims);
    t.data = (void *)data;
    return t;
}

static void set_attr(Onnx__AttributeProto *a, const struct ot_attr *s)
{
    onnx__attribute_proto__init(a);
    a->name = (char *)s->name;
    a->has_type = 1;
    switch (s->kind) {
    case 'i':
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1, a->i = s->i;
        break;
    case 'f':
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        a->has_f = 1, a->f = s->f;
        break;
    case 's':
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        a->has_s = 1, a->s.data = (uint8_t *)s->s, a->s.len = strlen(s->s);
        break;
    case 'I':
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        a->n_ints = (size_t)s->n, a->ints = (int64_t *)s->iv;
        break;
    case 'S':
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
        a->n_strings = (size_t)s->n;
        a->strings = gd_calloc((size_t)s->n + 1, sizeof *a->strings);
        for (int k = 0; a->strings && k < s->n; k++)
            a->strings[k].data = (uint8_t *)s->ss[k], a->strings[k].len = strlen(s->ss[k]);
        break;
    default:
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
        a->n_floats = (size_t)s->n, a->floats = (float *)s->fv;
    }
}

/* Serialises the one-node model into a gd_malloc'd buffer. */
static uint8_t *build_model(const char *op, int opset, int nin, const struct gd_tensor *ins,
                            int nattr, const struct ot_attr *attrs, int nout, size_t *len)
{
    static char *in_names[MAXIO] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"};
    static char *out_names[MAXIO] = {"o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7"};
    char *node_in[MAXIO];
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__NodeProto node, *nodes[1] = {&node};
    Onnx__OperatorSetIdProto ops, *opsp[1] = {&ops};
    Onnx__AttributeProto at[MAXATTR], *atp[MAXATTR];
    Onnx__ValueInfoProto vin[MAXIO], vout[MAXIO], *vinp[MAXIO], *voutp[MAXIO];
    Onnx__TypeProto ty[MAXIO];
    Onnx__TypeProto__Tensor tt[MAXIO];
    int ngin = 0;
    onnx__model_proto__init(&model);
    onnx__graph_proto__init(&graph);
    onnx__node_proto__init(&node);
    onnx__operator_set_id_proto__init(&ops);
    ops.domain = "", ops.has_version = 1, ops.version = opset;
    for (int k = 0; k < nin; k++) {
        node_in[k] = ins[k].dtype ? in_names[k] : "";
        if (!ins[k].dtype)
            continue;
        onnx__value_info_proto__init(&vin[ngin]);
        onnx__type_proto__init(&ty[ngin]);
        onnx__type_proto__tensor__init(&tt[ngin]);
        tt[ngin].has_elem_type = 1, tt[ngin].elem_type = (int32_t)ins[k].dtype;
        ty[ngin].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        ty[ngin].tensor_type = &tt[ngin];
        vin[ngin].name = in_names[k], vin[ngin].type = &ty[ngin];
        vinp[ngin] = &vin[ngin];
        ngin++;
    }
    for (int k = 0; k < nout; k++) {
        onnx__value_info_proto__init(&vout[k]);
        vout[k].name = out_names[k];
        voutp[k] = &vout[k];
    }
    for (int k = 0; k < nattr; k++) {
        set_attr(&at[k], &attrs[k]);
        atp[k] = &at[k];
    }
    node.op_type = (char *)op, node.name = "n0";
    node.n_input = (size_t)nin, node.input = node_in;
    node.n_output = (size_t)nout, node.output = out_names;
    node.n_attribute = (size_t)nattr, node.attribute = atp;
    graph.name = "g", graph.n_node = 1, graph.node = nodes;
    graph.n_input = (size_t)ngin, graph.input = vinp;
    graph.n_output = (size_t)nout, graph.output = voutp;
    model.has_ir_version = 1, model.ir_version = 8;
    model.n_opset_import = 1, model.opset_import = opsp;
    model.graph = &graph;
    *len = onnx__model_proto__get_packed_size(&model);
    uint8_t *buf = gd_malloc(*len ? *len : 1);
    if (buf)
        onnx__model_proto__pack(&model, buf);
    for (int k = 0; k < nattr; k++)
        gd_free(at[k].strings); /* only STRINGS attributes own an array */
    return buf;
}

int ot_run(const char *op, int opset, int nin, const struct gd_tensor *ins, int nattr,
           const struct ot_attr *attrs, int nout, struct gd_tensor *outs, char *err, size_t errlen)
{
    size_t len;
    gd_engine_model *m = NULL;
    gd_engine_session *s = NULL;
    const char *names[MAXIO];
    struct gd_tensor given[MAXIO];
    int rc = GD_EINVAL, n = 0;
    if (nin > MAXIO || nout > MAXIO || nattr > MAXATTR)
        return GD_EINVAL;
    uint8_t *buf = build_model(op, opset, nin, ins, nattr, attrs, nout, &len);
    if (!buf)
        return GD_ENOMEM;
    static const char *in_names[MAXIO] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"};
    for (int k = 0; k < nin; k++)
        if (ins[k].dtype)
            names[n] = in_names[k], given[n++] = ins[k];
    for (int k = 0; k < nout; k++)
        memset(&outs[k], 0, sizeof outs[k]);
    if ((rc = gd_engine_load_memory(buf, len, NULL, &m, err, errlen)))
        goto fail;
    if ((rc = gd_engine_session_create(m, &(struct gd_engine_options){.threads = 2}, &s, err,
                                       errlen)))
        goto fail;
    if ((rc = gd_engine_run(s, n, names, given, err, errlen)))
        goto fail;
    for (int k = 0; k < nout; k++) {
        const struct gd_tensor *o = gd_engine_output(s, k);
        if (!o || (rc = gd_tensor_copy(&outs[k], o))) {
            rc = rc ? rc : GD_EINVAL;
            goto fail;
        }
    }
    rc = 0;
fail:
    for (int k = 0; rc && k < nout; k++)
        gd_tensor_release(&outs[k]);
    gd_engine_session_free(s);
    gd_engine_model_free(m);
    gd_free(buf);
    return rc;
}
