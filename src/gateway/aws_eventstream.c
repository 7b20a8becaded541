/* AWS event stream decoder (see aws_eventstream.h). */
#include "gateway/aws_eventstream.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static uint32_t crc(const char *p, size_t n)
{
    return (uint32_t)crc32(0L, (const Bytef *)p, (uInt)n);
}

static int fail(char *why, size_t cap, const char *msg)
{
    if (cap)
        snprintf(why, cap, "%s", msg);
    return GD_EPARSE;
}

/* Checks the 12-byte prelude; *total receives the message length. */
static int check_prelude(const char *p, uint32_t max, uint32_t *total, char *why, size_t cap)
{
    uint32_t t = be32(p), hl = be32(p + 4);
    if (crc(p, 8) != be32(p + 8))
        return fail(why, cap, "event stream prelude CRC mismatch");
    if (t < GD_AWS_ES_MIN_MESSAGE)
        return fail(why, cap, "event stream message shorter than its prelude and CRC");
    if (t > max)
        return fail(why, cap, "event stream message over the size limit");
    if (hl > t - GD_AWS_ES_MIN_MESSAGE)
        return fail(why, cap, "event stream headers longer than the message");
    *total = t;
    return 0;
}

static size_t fixed_size(uint8_t type)
{
    static const size_t sz[] = {0, 0, 1, 2, 4, 8, 0, 0, 8, 16};
    return sz[type];
}

static int parse_headers(const char *p, size_t n, struct gd_aws_es_msg *m, char *why, size_t cap)
{
    size_t i = 0;
    m->n_headers = 0;
    while (i < n) {
        if (m->n_headers == GD_AWS_ES_MAX_HEADERS)
            return fail(why, cap, "event stream message has too many headers");
        struct gd_aws_es_header *h = &m->h[m->n_headers++];
        size_t nl = (unsigned char)p[i++];
        if (nl == 0 || nl + 1 > n - i)
            return fail(why, cap, "event stream header name empty or truncated");
        h->name = p + i;
        h->name_len = nl;
        i += nl;
        h->type = (uint8_t)p[i++];
        if (h->type > GD_AWS_ES_UUID)
            return fail(why, cap, "event stream header of unknown type");
        size_t vl = fixed_size(h->type);
        if (h->type == GD_AWS_ES_BYTES || h->type == GD_AWS_ES_STRING) {
            if (n - i < 2)
                return fail(why, cap, "event stream header value length truncated");
            vl = (size_t)((unsigned char)p[i] << 8 | (unsigned char)p[i + 1]);
            i += 2;
        }
        if (vl > n - i)
            return fail(why, cap, "event stream header value truncated");
        h->value = p + i;
        h->value_len = vl;
        i += vl;
    }
    return 0;
}

int gd_aws_es_parse(const char *p, size_t n, uint32_t max_message, struct gd_aws_es_msg *m,
                    char *why, size_t cap)
{
    uint32_t total;
    if (max_message == 0)
        max_message = GD_AWS_ES_MAX_MESSAGE;
    if (n < GD_AWS_ES_PRELUDE)
        return fail(why, cap, "event stream message truncated");
    int rc = check_prelude(p, max_message, &total, why, cap);
    if (rc)
        return rc;
    if (total != n)
        return fail(why, cap, "event stream message length does not match its bytes");
    if (crc(p, n - 4) != be32(p + n - 4))
        return fail(why, cap, "event stream message CRC mismatch");
    size_t hl = be32(p + 4);
    rc = parse_headers(p + GD_AWS_ES_PRELUDE, hl, m, why, cap);
    if (rc)
        return rc;
    m->payload = p + GD_AWS_ES_PRELUDE + hl;
    m->payload_len = n - GD_AWS_ES_MIN_MESSAGE - hl;
    return 0;
}

void gd_aws_es_init(struct gd_aws_es *d, uint32_t max_message)
{
    memset(d, 0, sizeof *d);
    d->max_message = max_message ? max_message : GD_AWS_ES_MAX_MESSAGE;
    gd_buf_init(&d->buf, d->max_message);
}

void gd_aws_es_free(struct gd_aws_es *d)
{
    gd_buf_free(&d->buf);
}

static int deliver(struct gd_aws_es *d, const char *p, size_t n, gd_aws_es_fn on_msg, void *ud)
{
    struct gd_aws_es_msg m;
    if (gd_aws_es_parse(p, n, d->max_message, &m, d->error, sizeof d->error) != 0) {
        d->failed = 1;
        return GD_EPARSE;
    }
    return on_msg(ud, &m);
}

/* The total length of the message starting at p (12 bytes there), or GD_EPARSE. */
static int message_len(struct gd_aws_es *d, const char *p, uint32_t *total)
{
    if (check_prelude(p, d->max_message, total, d->error, sizeof d->error) != 0) {
        d->failed = 1;
        return GD_EPARSE;
    }
    return 0;
}

/* Completes the buffered partial message from p[0..n); *used: bytes taken. */
static int fill_partial(struct gd_aws_es *d, const char *p, size_t n, size_t *used,
                        gd_aws_es_fn on_msg, void *ud)
{
    size_t take = 0;
    if (d->buf.len < GD_AWS_ES_PRELUDE) {
        take = GD_AWS_ES_PRELUDE - d->buf.len < n ? GD_AWS_ES_PRELUDE - d->buf.len : n;
        if (gd_buf_append(&d->buf, p, take))
            return GD_ENOMEM;
        *used = take;
        if (d->buf.len < GD_AWS_ES_PRELUDE)
            return 0;
    }
    uint32_t total;
    int rc = message_len(d, d->buf.data, &total);
    if (rc)
        return rc;
    size_t more = total - d->buf.len, avail = n - take;
    size_t k = more < avail ? more : avail;
    if (gd_buf_append(&d->buf, p + take, k))
        return GD_ENOMEM;
    *used = take + k;
    if (d->buf.len < total)
        return 0;
    rc = deliver(d, d->buf.data, d->buf.len, on_msg, ud);
    gd_buf_reset(&d->buf);
    return rc;
}

int gd_aws_es_feed(struct gd_aws_es *d, const char *p, size_t n, gd_aws_es_fn on_msg, void *ud)
{
    if (d->failed)
        return GD_EPARSE;
    while (n > 0) {
        if (d->buf.len > 0) {
            size_t used = 0;
            int rc = fill_partial(d, p, n, &used, on_msg, ud);
            if (rc)
                return rc;
            p += used;
            n -= used;
            continue;
        }
        uint32_t total = 0;
        if (n >= GD_AWS_ES_PRELUDE) {
            int rc = message_len(d, p, &total);
            if (rc)
                return rc;
        }
        if (n < GD_AWS_ES_PRELUDE || n < total) { /* keep the partial message */
            if (gd_buf_append(&d->buf, p, n))
                return GD_ENOMEM;
            return 0;
        }
        int rc = deliver(d, p, total, on_msg, ud); /* whole in this piece: no copy */
        if (rc)
            return rc;
        p += total;
        n -= total;
    }
    return 0;
}

int gd_aws_es_finish(struct gd_aws_es *d)
{
    if (d->failed)
        return GD_EPARSE;
    if (d->buf.len) {
        snprintf(d->error, sizeof d->error, "event stream ended inside a message");
        d->failed = 1;
        return GD_EPARSE;
    }
    return 0;
}

const char *gd_aws_es_header_str(const struct gd_aws_es_msg *m, const char *name, size_t *n)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < m->n_headers; i++) {
        const struct gd_aws_es_header *h = &m->h[i];
        if (h->name_len == nl && memcmp(h->name, name, nl) == 0 &&
            (h->type == GD_AWS_ES_STRING || h->type == GD_AWS_ES_BYTES)) {
            *n = h->value_len;
            return h->value;
        }
    }
    return NULL;
}
