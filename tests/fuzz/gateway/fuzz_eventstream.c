/* libFuzzer driver for the AWS event stream decoder (aws_eventstream.h), which reads the
 * bytes of Bedrock's ConverseStream answers. The first two input bytes pick two cut points;
 * the rest is the stream. Properties: no crash or leak (sanitizers); feeding the stream
 * whole, in two pieces at the first cut, in three at both cuts and one byte at a time gives
 * the same messages in the same order, the same outcome and the same error text. */
#include "gateway/aws_eventstream.h"
#include "core/buf.h"
#include "girder/error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Each message as its headers (name, type, value) and payload, length-prefixed. */
static int record(void *ud, const struct gd_aws_es_msg *m)
{
    struct gd_buf *b = ud;
    int rc = gd_buf_printf(b, "M%zu:", m->n_headers);
    for (size_t i = 0; i < m->n_headers && rc == 0; i++) {
        const struct gd_aws_es_header *h = &m->h[i];
        rc = gd_buf_printf(b, "%zu,%u,%zu:", h->name_len, h->type, h->value_len);
        rc = rc ? rc : gd_buf_append(b, h->name, h->name_len);
        rc = rc ? rc : gd_buf_append(b, h->value, h->value_len);
    }
    rc = rc ? rc : gd_buf_printf(b, "P%zu:", m->payload_len);
    return rc ? rc : gd_buf_append(b, m->payload, m->payload_len);
}

struct outcome {
    struct gd_buf msgs;
    int rc;
    char error[128];
};

static void run(const char *p, size_t n, const size_t *cuts, size_t ncuts, struct outcome *o)
{
    struct gd_aws_es d;
    gd_aws_es_init(&d, 4096);
    gd_buf_init(&o->msgs, 1 << 24);
    size_t at = 0;
    o->rc = 0;
    for (size_t i = 0; i <= ncuts && o->rc == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        o->rc = gd_aws_es_feed(&d, p + at, end - at, record, &o->msgs);
        at = end;
    }
    if (o->rc == 0)
        o->rc = gd_aws_es_finish(&d);
    memcpy(o->error, d.error, sizeof o->error);
    if (o->rc != 0 && o->rc != GD_EPARSE)
        abort(); /* nothing else can fail with this input */
    if ((o->rc == 0) != (d.error[0] == '\0'))
        abort();
    gd_aws_es_free(&d);
}

static void same(const struct outcome *a, const struct outcome *b)
{
    if (a->rc != b->rc || a->msgs.len != b->msgs.len ||
        (a->msgs.len && memcmp(a->msgs.data, b->msgs.data, a->msgs.len) != 0) ||
        strcmp(a->error, b->error) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > (1u << 16))
        return 0;
    const char *p = (const char *)data + 2;
    size_t n = size - 2;
    size_t c1 = n ? data[0] % (n + 1) : 0, c2 = n ? (data[0] + 7u * data[1]) % (n + 1) : 0;
    size_t two[1] = {c1}, three[2] = {c1 < c2 ? c1 : c2, c1 < c2 ? c2 : c1};
    struct outcome whole, split2, split3, bytes;
    run(p, n, NULL, 0, &whole);
    run(p, n, two, 1, &split2);
    run(p, n, three, 2, &split3);
    size_t *each = n ? malloc(n * sizeof *each) : NULL;
    for (size_t i = 0; i + 1 < n; i++)
        each[i] = i + 1;
    run(p, n, each, n ? n - 1 : 0, &bytes);
    free(each);
    same(&whole, &split2);
    same(&whole, &split3);
    same(&whole, &bytes);
    gd_buf_free(&whole.msgs);
    gd_buf_free(&split2.msgs);
    gd_buf_free(&split3.msgs);
    gd_buf_free(&bytes.msgs);
    return 0;
}
