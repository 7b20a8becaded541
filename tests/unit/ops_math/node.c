/* One-node model builder and runner for the ops_math tests (see node.h). */
#include "node.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "girder/engine.h"
#include "onnx.pb-c.h"

#define OM_MAX_IO 8
#define OM_MAX_ATTR 12

struct gd_tensor om_view(enum gd_dtype dt, int rank, const int64_t *dims, const void *data)
{
    struct gd_tensor t = {0};
    if (dt == GD_DTYPE_UNDEFINED)
        return t;
    gd_tensor_set_shape(&t, dt, rank, dims);
    t.data = (void *)data;
    t.owns_data = 0;
    return t;
}

/* Storage for every protobuf message of the model (all on the stack of om_run). */
struct om_model {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset, dopset, *opsets[2];
    Onnx__NodeProto node, *nodes[1];
    Onnx__AttributeProto attr[OM_MAX_ATTR], *attrs[OM_MAX_ATTR];
    Onnx__ValueInfoProto vi[2 * OM_MAX_IO], *ins[OM_MAX_IO], *outs[OM_MAX_IO];
    Onnx__TypeProto ty[2 * OM_MAX_IO];
    Onnx__TypeProto__Tensor tt[2 * OM_MAX_IO];
    char names[2 * OM_MAX_IO][8];
    char *in_names[OM_MAX_IO], *out_names[OM_MAX_IO];
};

static void om_value(struct om_model *m, int k, enum gd_dtype dt)
{
    m->vi[k] = (Onnx__ValueInfoProto)ONNX__VALUE_INFO_PROTO__INIT;
    m->ty[k] = (Onnx__TypeProto)ONNX__TYPE_PROTO__INIT;
    m->tt[k] = (Onnx__TypeProto__Tensor)ONNX__TYPE_PROTO__TENSOR__INIT;
    m->tt[k].has_elem_type = dt != GD_DTYPE_UNDEFINED;
    m->tt[k].elem_type = (int32_t)dt;
    m->ty[k].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    m->ty[k].tensor_type = &m->tt[k];
    m->vi[k].name = m->names[k];
    m->vi[k].type = &m->ty[k];
}

static void om_attrs(struct om_model *m, const struct om_node *nd)
{
    for (int i = 0; i < nd->nattr; i++) {
        const struct om_attr *a = &nd->attr[i];
        Onnx__AttributeProto *p = &m->attr[i];
        *p = (Onnx__AttributeProto)ONNX__ATTRIBUTE_PROTO__INIT;
        p->name = (char *)a->name;
        p->has_type = 1;
        switch (a->type) {
        case 'i':
            p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, p->has_i = 1, p->i = a->i;
            break;
        case 'f':
            p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, p->has_f = 1, p->f = a->f;
            break;
        case 's':
            p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, p->has_s = 1;
            p->s.data = (uint8_t *)a->s, p->s.len = strlen(a->s);
            break;
        case 'I':
            p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
            p->n_ints = (size_t)a->n, p->ints = (int64_t *)a->ints;
            break;
        default:
            p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
            p->n_floats = (size_t)a->n, p->floats = (float *)a->floats;
        }
        m->attrs[i] = p;
    }
}

/* Serialises the model for nd into a gd_malloc'd buffer. */
static uint8_t *om_build(struct om_model *m, const char *domain, const struct om_node *nd,
                         size_t *len)
{
    memset(m, 0, sizeof *m);
    int ngi = 0;
    for (int i = 0; i < nd->nin; i++) {
        snprintf(m->names[i], sizeof m->names[i], "x%d", i);
        m->in_names[i] = nd->in[i].dtype == GD_DTYPE_UNDEFINED ? "" : m->names[i];
        if (nd->in[i].dtype == GD_DTYPE_UNDEFINED)
            continue;
        om_value(m, i, nd->in[i].dtype);
        m->ins[ngi++] = &m->vi[i];
    }
    for (int i = 0; i < nd->nout; i++) {
        int k = OM_MAX_IO + i;
        snprintf(m->names[k], sizeof m->names[k], "y%d", i);
        m->out_names[i] = m->names[k];
        om_value(m, k, GD_DTYPE_UNDEFINED);
        m->outs[i] = &m->vi[k];
    }
    om_attrs(m, nd);
    m->node = (Onnx__NodeProto)ONNX__NODE_PROTO__INIT;
    m->node.op_type = (char *)nd->op;
    m->node.domain = (char *)(domain ? domain : "");
    m->node.name = "n0";
    m->node.n_input = (size_t)nd->nin, m->node.input = m->in_names;
    m->node.n_output = (size_t)nd->nout, m->node.output = m->out_names;
    m->node.n_attribute = (size_t)nd->nattr, m->node.attribute = m->attrs;
    m->nodes[0] = &m->node;
    m->graph = (Onnx__GraphProto)ONNX__GRAPH_PROTO__INIT;
    m->graph.name = "g";
    m->graph.n_node = 1, m->graph.node = m->nodes;
    m->graph.n_input = (size_t)ngi, m->graph.input = m->ins;
    m->graph.n_output = (size_t)nd->nout, m->graph.output = m->outs;
    m->opset = (Onnx__OperatorSetIdProto)ONNX__OPERATOR_SET_ID_PROTO__INIT;
    m->opset.domain = "", m->opset.has_version = 1, m->opset.version = nd->opset;
    m->opsets[0] = &m->opset;
    if (domain) { /* the op's domain at nd->opset, the default one at 17 */
        m->dopset = m->opset;
        m->dopset.domain = (char *)domain;
        m->opset.version = 17;
        m->opsets[1] = &m->dopset;
    }
    m->model = (Onnx__ModelProto)ONNX__MODEL_PROTO__INIT;
    m->model.has_ir_version = 1, m->model.ir_version = 8;
    m->model.n_opset_import = domain ? 2 : 1, m->model.opset_import = m->opsets;
    m->model.graph = &m->graph;
    *len = onnx__model_proto__get_packed_size(&m->model);
    uint8_t *buf = gd_malloc(*len ? *len : 1);
    if (buf)
        onnx__model_proto__pack(&m->model, buf);
    return buf;
}

int om_run(const struct om_node *nd, struct gd_tensor *out, char *err, size_t errlen)
{
    return om_run_in(NULL, nd, out, err, errlen);
}

int om_run_in(const char *domain, const struct om_node *nd, struct gd_tensor *out, char *err,
              size_t errlen)
{
    struct om_model m;
    const char *names[OM_MAX_IO];
    struct gd_tensor ins[OM_MAX_IO];
    gd_engine_model *model = NULL;
    gd_engine_session *s = NULL;
    size_t len;
    int rc = GD_EINVAL, n = 0;
    if (nd->nin > OM_MAX_IO || nd->nout > OM_MAX_IO || nd->nattr > OM_MAX_ATTR)
        return GD_EINVAL;
    uint8_t *buf = om_build(&m, domain, nd, &len);
    if (!buf)
        return GD_ENOMEM;
    for (int i = 0; i < nd->nin; i++)
        if (nd->in[i].dtype != GD_DTYPE_UNDEFINED)
            names[n] = m.names[i], ins[n++] = nd->in[i];
    struct gd_engine_options o = {.threads = nd->threads ? nd->threads : 1};
    if ((rc = gd_engine_load_memory(buf, len, NULL, &model, err, errlen)) ||
        (rc = gd_engine_session_create(model, &o, &s, err, errlen)) ||
        (rc = gd_engine_run(s, n, names, ins, err, errlen)))
        goto fail;
    for (int i = 0; i < nd->nout; i++) {
        const struct gd_tensor *y = gd_engine_output(s, i);
        if (!y || (rc = gd_tensor_copy(&out[i], y))) {
            rc = y ? rc : GD_EINVAL;
            goto fail;
        }
    }
fail:
    gd_engine_session_free(s);
    gd_engine_model_free(model);
    gd_free(buf);
    return rc;
}

double om_maxdiff_f32(const struct gd_tensor *got, const float *want, int64_t n)
{
    if (got->dtype != GD_DTYPE_FLOAT || got->numel != n)
        return INFINITY;
    double d = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = ((const float *)got->data)[i], e = fabs(g - want[i]);
        if (isnan(g) != isnan(want[i]))
            return INFINITY;
        d = e > d ? e : d;
    }
    return d;
}

double om_maxdiff_f64(const struct gd_tensor *got, const double *want, int64_t n)
{
    if (got->dtype != GD_DTYPE_DOUBLE || got->numel != n)
        return INFINITY;
    double d = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(((const double *)got->data)[i] - want[i]);
        d = e > d ? e : d;
    }
    return d;
}
