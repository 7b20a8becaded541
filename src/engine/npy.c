/* NumPy .npy reader/writer. The header is a Python dict literal; this parser accepts the
 * form numpy writes ({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }) with keys
 * in any order and is strict about everything else. */
#include "engine/npy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/model.h"

static const struct {
    const char *descr;
    enum gd_dtype dt;
} descrs[] = {
    {"f2", GD_DTYPE_FLOAT16}, {"f4", GD_DTYPE_FLOAT},  {"f8", GD_DTYPE_DOUBLE},
    {"b1", GD_DTYPE_BOOL},    {"i1", GD_DTYPE_INT8},   {"u1", GD_DTYPE_UINT8},
    {"i2", GD_DTYPE_INT16},   {"u2", GD_DTYPE_UINT16}, {"i4", GD_DTYPE_INT32},
    {"u4", GD_DTYPE_UINT32},  {"i8", GD_DTYPE_INT64},  {"u8", GD_DTYPE_UINT64},
};

/* Finds 'key': in the header and returns a pointer just past the colon and spaces. */
static const char *find_key(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

static int parse_header(const char *h, enum gd_dtype *dt, int *rank, int64_t *dims, char *err,
                        size_t errlen)
{
    const char *p = find_key(h, "descr");
    if (!p || *p != '\'' || !(p[1] == '<' || p[1] == '|' || p[1] == '='))
        return gd__errf(err, errlen, GD_EPARSE, "npy: missing or big-endian descr");
    *dt = GD_DTYPE_UNDEFINED;
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
        if (strncmp(p + 2, descrs[i].descr, 2) == 0 && p[4] == '\'')
            *dt = descrs[i].dt;
    if (*dt == GD_DTYPE_UNDEFINED)
        return gd__errf(err, errlen, GD_ENOTSUP, "npy: unsupported descr %.8s", p);
    p = find_key(h, "fortran_order");
    if (!p || strncmp(p, "False", 5) != 0)
        return gd__errf(err, errlen, GD_ENOTSUP, "npy: only C-order arrays are supported");
    p = find_key(h, "shape");
    if (!p || *p != '(')
        return gd__errf(err, errlen, GD_EPARSE, "npy: missing shape");
    p++;
    *rank = 0;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        if (!isdigit((unsigned char)*p) || *rank == GD_TENSOR_MAX_RANK)
            return gd__errf(err, errlen, GD_EPARSE, "npy: bad shape");
        char *end;
        long long v = strtoll(p, &end, 10);
        if (v < 0 || v > GD_TENSOR_MAX_NUMEL)
            return gd__errf(err, errlen, GD_ERANGE, "npy: dimension out of range");
        dims[(*rank)++] = v;
        p = end;
        while (*p == 'L') /* Python 2 longs */
            p++;
    }
    return 0;
}

int gd_npy_parse(const void *data, size_t len, struct gd_tensor *out, char *err, size_t errlen)
{
    const unsigned char *b = data;
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return gd__errf(err, errlen, GD_EPARSE, "not an .npy file");
    size_t hlen, off;
    if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else if (b[6] == 2 || b[6] == 3) {
        if (len < 12)
            return gd__errf(err, errlen, GD_EPARSE, "npy: truncated header");
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    } else {
        return gd__errf(err, errlen, GD_ENOTSUP, "npy: format version %d", b[6]);
    }
    if (hlen > len - off || hlen > 65536)
        return gd__errf(err, errlen, GD_EPARSE, "npy: truncated header");
    char *h = gd_strndup((const char *)b + off, hlen);
    if (!h)
        return gd__errf(err, errlen, GD_ENOMEM, "out of memory");
    enum gd_dtype dt = GD_DTYPE_UNDEFINED;
    int rank = 0;
    int64_t dims[GD_TENSOR_MAX_RANK];
    int rc = parse_header(h, &dt, &rank, dims, err, errlen);
    gd_free(h);
    if (rc)
        return rc;
    off += hlen;
    struct gd_tensor t = {0};
    if ((rc = gd_tensor_set_shape(&t, dt, rank, dims)))
        return gd__errf(err, errlen, rc, "npy: shape too large");
    if (len - off != t.nbytes)
        return gd__errf(err, errlen, GD_EPARSE, "npy: %zu data bytes, shape needs %zu", len - off,
                        t.nbytes);
    if ((rc = gd_tensor_alloc(out, dt, rank, dims)))
        return gd__errf(err, errlen, rc, "npy: out of memory");
    if (t.nbytes)
        memcpy(out->data, b + off, t.nbytes);
    return 0;
}

int gd_npy_read_file(const char *path, struct gd_tensor *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return gd__errf(err, errlen, GD_ENOENT, "%s: cannot open", path);
    char *buf = NULL;
    int rc;
    long n;
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (4L << 30) || fseek(f, 0, SEEK_SET)) {
        rc = gd__errf(err, errlen, GD_EIO, "%s: cannot size file", path);
        goto fail;
    }
    if (!(buf = gd_malloc((size_t)n + 1))) {
        rc = gd__errf(err, errlen, GD_ENOMEM, "out of memory");
        goto fail;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        rc = gd__errf(err, errlen, GD_EIO, "%s: read failed", path);
        goto fail;
    }
    rc = gd_npy_parse(buf, (size_t)n, out, err, errlen);
fail:
    gd_free(buf);
    fclose(f);
    return rc;
}

int gd_npy_write_file(const char *path, const struct gd_tensor *t, char *err, size_t errlen)
{
    const char *d = NULL;
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
        if (descrs[i].dt == t->dtype)
            d = descrs[i].descr;
    if (!d)
        return gd__errf(err, errlen, GD_ENOTSUP, "npy: cannot write %s tensors",
                        gd_dtype_name(t->dtype));
    char h[512], shape[256] = "";
    size_t n = 0;
    for (int i = 0; i < t->rank; i++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, "%lld,%s", (long long)t->dims[i],
                              (i + 1 < t->rank) ? " " : "");
    if (t->rank > 1) /* numpy writes (2, 3) but (4,) */
        shape[n - 1] = 0;
    int hl = snprintf(h, sizeof h, "{'descr': '%c%s', 'fortran_order': False, 'shape': (%s), }",
                      d[0] == 'b' || d[1] == '1' ? '|' : '<', d, shape);
    int total = 10 + hl + 1, pad = (64 - total % 64) % 64; /* header ends on 64 bytes */
    memset(h + hl, ' ', (size_t)pad);
    h[hl + pad] = '\n';
    hl += pad + 1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return gd__errf(err, errlen, GD_EIO, "%s: cannot create", path);
    unsigned char pre[10] = {
        0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, (size_t)hl, f) == (size_t)hl &&
             (t->nbytes == 0 || fwrite(t->data, 1, t->nbytes, f) == t->nbytes);
    if (fclose(f) || !ok)
        return gd__errf(err, errlen, GD_EIO, "%s: write failed", path);
    return 0;
}
