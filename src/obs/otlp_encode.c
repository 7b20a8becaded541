/* OTLP trace export request in protobuf wire format (opentelemetry/proto/collector/trace/v1,
 * trace/v1, resource/v1, common/v1), written directly: the few messages girder sends do not
 * justify generated code. Nested messages are encoded into a scratch buffer first and then
 * appended with their length. Field numbers are the .proto files'. */
#include "core/buf.h"
#include "obs/pb.h"
#include "obs/trace.h"

#include <string.h>

/* KeyValue { key = 1; AnyValue value = 2 { string_value = 1; int_value = 3; double = 4 } } */
static int put_kv(struct gd_buf *b, unsigned field, const char *key, const struct gd_span_attr *a,
                  const char *str, size_t len, struct gd_buf *tmp)
{
    struct gd_buf val, kv;
    gd_buf_init(&val, tmp->max);
    gd_buf_init(&kv, tmp->max);
    int rc;
    if (!a || a->type == GD_SPAN_ATTR_STR) {
        rc = gd_pb_bytes(&val, 1, str, len);
    } else if (a->type == GD_SPAN_ATTR_INT) {
        rc = gd_pb_uint(&val, 3, (uint64_t)a->i);
    } else {
        uint64_t bits;
        memcpy(&bits, &a->d, sizeof bits);
        rc = gd_pb_fixed64(&val, 4, bits);
    }
    rc = rc ? rc : gd_pb_bytes(&kv, 1, key, strlen(key));
    rc = rc ? rc : gd_pb_bytes(&kv, 2, val.data, val.len);
    rc = rc ? rc : gd_pb_bytes(b, field, kv.data, kv.len);
    gd_buf_free(&val);
    gd_buf_free(&kv);
    return rc;
}

static int put_span(struct gd_buf *b, const struct gd_span *s, struct gd_buf *tmp)
{
    static const uint8_t zero[8];
    struct gd_buf m;
    gd_buf_init(&m, tmp->max);
    int rc = gd_pb_bytes(&m, 1, s->trace_id, 16);
    rc = rc ? rc : gd_pb_bytes(&m, 2, s->span_id, 8);
    if (!rc && s->state_len)
        rc = gd_pb_bytes(&m, 3, s->text + s->state_off, s->state_len);
    if (!rc && memcmp(s->parent_id, zero, 8))
        rc = gd_pb_bytes(&m, 4, s->parent_id, 8);
    rc = rc ? rc : gd_pb_bytes(&m, 5, s->text + s->name_off, s->name_len);
    rc = rc ? rc : gd_pb_uint(&m, 6, (uint64_t)s->kind);
    rc = rc ? rc : gd_pb_fixed64(&m, 7, s->start_unix_ns);
    rc = rc ? rc : gd_pb_fixed64(&m, 8, s->end_unix_ns);
    for (uint32_t i = 0; !rc && i < s->n_attrs; i++) {
        const struct gd_span_attr *a = &s->attrs[i];
        rc = put_kv(&m, 9, a->key, a, s->text + a->off, a->len, tmp);
    }
    if (!rc && s->status != GD_SPAN_UNSET) { /* Status { message = 2; code = 3 } */
        struct gd_buf st;
        gd_buf_init(&st, 64);
        rc = gd_pb_uint(&st, 3, (uint64_t)s->status);
        rc = rc ? rc : gd_pb_bytes(&m, 15, st.data, st.len);
        gd_buf_free(&st);
    }
    rc = rc ? rc : gd_pb_bytes(b, 2, m.data, m.len); /* ScopeSpans.spans = 2 */
    gd_buf_free(&m);
    return rc;
}

int gd_otlp_encode_traces(const struct gd_trace_config *c, const struct gd_span *const *spans,
                          size_t n, struct gd_buf *out)
{
    struct gd_buf tmp, res, scope, scopes, rs;
    gd_buf_init(&tmp, out->max);
    gd_buf_init(&res, out->max);
    gd_buf_init(&scope, 256);
    gd_buf_init(&scopes, out->max);
    gd_buf_init(&rs, out->max);
    const char *svc = c->service_name ? c->service_name : "girder";
    /* Resource { attributes = 1 } */
    int rc = put_kv(&res, 1, "service.name", NULL, svc, strlen(svc), &tmp);
    for (size_t i = 0; !rc && i < c->n_resource; i++)
        rc = put_kv(&res, 1, c->resource[i].key, NULL, c->resource[i].value,
                    strlen(c->resource[i].value), &tmp);
    /* ScopeSpans { scope = 1 { name = 1; version = 2 }; spans = 2 } */
    rc = rc ? rc : gd_pb_bytes(&scope, 1, "girder", 6);
    rc = rc ? rc : gd_pb_bytes(&scope, 2, GD_VERSION_STRING, strlen(GD_VERSION_STRING));
    rc = rc ? rc : gd_pb_bytes(&scopes, 1, scope.data, scope.len);
    for (size_t i = 0; !rc && i < n; i++)
        rc = put_span(&scopes, spans[i], &tmp);
    /* ResourceSpans { resource = 1; scope_spans = 2 }; the request's resource_spans = 1 */
    rc = rc ? rc : gd_pb_bytes(&rs, 1, res.data, res.len);
    rc = rc ? rc : gd_pb_bytes(&rs, 2, scopes.data, scopes.len);
    rc = rc ? rc : gd_pb_bytes(out, 1, rs.data, rs.len);
    gd_buf_free(&tmp);
    gd_buf_free(&res);
    gd_buf_free(&scope);
    gd_buf_free(&scopes);
    gd_buf_free(&rs);
    return rc;
}
