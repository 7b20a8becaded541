/* Prometheus text exposition -> remote-write WriteRequest (prometheus/prompb remote.proto and
 * types.proto), written directly with the shared wire-format writers (pb.h):
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   (ms since the epoch)
 *
 * The text is what gd_metrics_render produces (families, collectors, process metrics), so a
 * histogram arrives as its classic _bucket{le}/_sum/_count series. */
#include "girder/error.h"
#include "obs/pb.h"
#include "obs/remote_write.h"

#include <math.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

struct label {
    const char *name;
    size_t name_len;
    size_t val_off, val_len; /* in the line's scratch buffer (unescaped) */
    const char *ext_val;     /* an external label's value (not in scratch) */
};

static int name_start(char c)
{
    return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/* A quoted label value at *pp (after the '"'), unescaped into vals; *pp past the closing
 * quote. -1 when unterminated or with a bad escape. */
static int parse_value(const char **pp, const char *end, struct gd_buf *vals)
{
    const char *p = *pp;
    while (p < end && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            if (p == end)
                return -1;
            c = *p++;
            c = c == 'n' ? '\n' : c;
            if (c != '\n' && c != '\\' && c != '"')
                return -1;
        }
        if (gd_buf_putc(vals, c))
            return -1;
    }
    if (p == end)
        return -1;
    *pp = p + 1;
    return 0;
}

static int name_cmp(const struct label *a, const struct label *b)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* One sample line [p, end) into labels (__name__ first until sorted) and *value. Returns the
 * label count, or -1 when the line does not parse. */
static int parse_line(const char *p, const char *end, struct label *ls, struct gd_buf *vals,
                      double *value)
{
    const char *name = p;
    if (p == end || !name_start(*p))
        return -1;
    while (p < end && name_char(*p))
        p++;
    int n = 0;
    ls[n++] = (struct label){"__name__", 8, 0, 0, NULL};
    ls[0].ext_val = NULL;
    size_t name_len = (size_t)(p - name);
    if (gd_buf_append(vals, name, name_len))
        return -1;
    ls[0].val_len = name_len;
    if (p < end && *p == '{') {
        p++;
        while (p < end && *p != '}') {
            const char *ln = p;
            if (!name_start(*p) || *p == ':')
                return -1;
            while (p < end && name_char(*p) && *p != ':')
                p++;
            if (p + 1 >= end || *p != '=' || p[1] != '"' || n == GD_RW_MAX_LABELS)
                return -1;
            struct label *l = &ls[n++];
            *l = (struct label){ln, (size_t)(p - ln), vals->len, 0, NULL};
            p += 2;
            if (parse_value(&p, end, vals))
                return -1;
            l->val_len = vals->len - l->val_off;
            if (p < end && *p == ',')
                p++;
            else if (p < end && *p != '}')
                return -1;
        }
        if (p == end)
            return -1;
        p++;
    }
    if (p == end || (*p != ' ' && *p != '\t'))
        return -1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    char num[64];
    size_t k = 0;
    while (p < end && *p != ' ' && *p != '\t' && k < sizeof num - 1)
        num[k++] = *p++;
    num[k] = 0;
    if (!k)
        return -1;
    char *e;
    *value = !strcmp(num, "+Inf")   ? INFINITY
             : !strcmp(num, "-Inf") ? -INFINITY
             : !strcmp(num, "NaN")  ? NAN
                                    : strtod(num, &e);
    if (isfinite(*value) && (e == num || *e))
        return -1;
    for (int i = 1; i < n; i++) /* duplicate label names would be refused by the receiver */
        for (int j = 0; j < i; j++)
            if (!name_cmp(&ls[i], &ls[j]))
                return -1;
    return n;
}

static int put_series(struct gd_buf *out, struct label *ls, int n, const struct gd_buf *vals,
                      double value, int64_t ts_ms, struct gd_buf *ts, struct gd_buf *tmp)
{
    for (int i = 1; i < n; i++) /* insertion sort by name: at most GD_RW_MAX_LABELS */
        for (int j = i; j > 0 && name_cmp(&ls[j], &ls[j - 1]) < 0; j--) {
            struct label t = ls[j];
            ls[j] = ls[j - 1];
            ls[j - 1] = t;
        }
    gd_buf_reset(ts);
    int rc = 0;
    for (int i = 0; !rc && i < n; i++) {
        const char *v = ls[i].ext_val ? ls[i].ext_val : vals->data + ls[i].val_off;
        size_t vl = ls[i].ext_val ? strlen(ls[i].ext_val) : ls[i].val_len;
        gd_buf_reset(tmp);
        rc = gd_pb_bytes(tmp, 1, ls[i].name, ls[i].name_len);
        rc = rc ? rc : gd_pb_bytes(tmp, 2, v, vl);
        rc = rc ? rc : gd_pb_bytes(ts, 1, tmp->data, tmp->len);
    }
    gd_buf_reset(tmp);
    rc = rc ? rc : gd_pb_double(tmp, 1, value);
    rc = rc ? rc : gd_pb_uint(tmp, 2, (uint64_t)ts_ms);
    rc = rc ? rc : gd_pb_bytes(ts, 2, tmp->data, tmp->len);
    return rc ? rc : gd_pb_bytes(out, 1, ts->data, ts->len);
}

int gd_rw_encode(const char *text, size_t len, const struct gd_trace_attr_kv *ext, size_t n_ext,
                 int64_t ts_ms, struct gd_buf *out, size_t *n_series, size_t *n_skipped)
{
    struct label ls[GD_RW_MAX_LABELS];
    struct gd_buf vals, ts, tmp;
    gd_buf_init(&vals, 1 << 20);
    gd_buf_init(&ts, out->max);
    gd_buf_init(&tmp, out->max);
    *n_series = *n_skipped = 0;
    int rc = 0;
    for (const char *p = text, *end = text + len; !rc && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *line = p;
        p = nl ? nl + 1 : end;
        if (line == le || *line == '#')
            continue;
        gd_buf_reset(&vals);
        double value;
        int n = parse_line(line, le, ls, &vals, &value);
        for (size_t i = 0; n > 0 && i < n_ext; i++) {
            struct label e = {ext[i].key, strlen(ext[i].key), 0, 0, ext[i].value};
            int own = 0;
            for (int j = 0; j < n && !own; j++)
                own = !name_cmp(&e, &ls[j]);
            if (own)
                continue;
            if (n == GD_RW_MAX_LABELS) {
                n = -1;
                break;
            }
            ls[n++] = e;
        }
        if (n < 0) {
            (*n_skipped)++;
            continue;
        }
        rc = put_series(out, ls, n, &vals, value, ts_ms, &ts, &tmp);
        *n_series += !rc;
    }
    gd_buf_free(&vals);
    gd_buf_free(&ts);
    gd_buf_free(&tmp);
    return rc;
}

int gd_rw_snappy(const struct gd_buf *in, struct gd_buf *out)
{
    size_t cap = snappy_max_compressed_length(in->len);
    gd_buf_reset(out);
    int rc = gd_buf_reserve(out, cap);
    if (rc)
        return rc;
    size_t n = cap;
    if (snappy_compress(in->data, in->len, out->data, &n) != SNAPPY_OK)
        return GD_EIO;
    out->len = n;
    return 0;
}
