/* The event stream decoder (aws_eventstream.h) on messages built here byte by byte, CRCs by
 * zlib: whole, split at every byte, several per piece, and each way a message can be bad. */
#include "gateway/aws_eventstream.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

struct msgbuf {
    unsigned char b[4096];
    size_t n;
};

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A string header (type 7) appended to hdr. */
static size_t str_header(unsigned char *hdr, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value), i = 0;
    hdr[i++] = (unsigned char)nl;
    memcpy(hdr + i, name, nl);
    i += nl;
    hdr[i++] = 7;
    hdr[i++] = (unsigned char)(vl >> 8);
    hdr[i++] = (unsigned char)vl;
    memcpy(hdr + i, value, vl);
    return i + vl;
}

/* The whole message for raw headers hdr[0..hn) and payload. */
static void build(struct msgbuf *m, const unsigned char *hdr, size_t hn, const char *payload)
{
    size_t pn = strlen(payload), total = 16 + hn + pn;
    put32(m->b, (uint32_t)total);
    put32(m->b + 4, (uint32_t)hn);
    put32(m->b + 8, (uint32_t)crc32(0, m->b, 8));
    memcpy(m->b + 12, hdr, hn);
    memcpy(m->b + 12 + hn, payload, pn);
    put32(m->b + total - 4, (uint32_t)crc32(0, m->b, (uInt)(total - 4)));
    m->n = total;
}

static void event(struct msgbuf *m, const char *type, const char *payload)
{
    unsigned char hdr[512];
    size_t hn = str_header(hdr, ":event-type", type);
    hn += str_header(hdr + hn, ":content-type", "application/json");
    hn += str_header(hdr + hn, ":message-type", "event");
    build(m, hdr, hn, payload);
}

/* What the callback saw: "type=payload;" per message. */
struct seen {
    char text[8192];
    size_t n;
    int count;
};

static int on_msg(void *ud, const struct gd_aws_es_msg *m)
{
    struct seen *s = ud;
    size_t tn = 0;
    const char *t = gd_aws_es_header_str(m, ":event-type", &tn);
    cr_assert_not_null(t);
    s->n += (size_t)snprintf(s->text + s->n, sizeof s->text - s->n, "%.*s=%.*s;", (int)tn, t,
                             (int)m->payload_len, m->payload);
    s->count++;
    return 0;
}

static int feed_split(const unsigned char *p, size_t n, size_t cut, struct seen *s)
{
    struct gd_aws_es d;
    gd_aws_es_init(&d, 0);
    memset(s, 0, sizeof *s);
    int rc = gd_aws_es_feed(&d, (const char *)p, cut, on_msg, s);
    rc = rc ? rc : gd_aws_es_feed(&d, (const char *)p + cut, n - cut, on_msg, s);
    rc = rc ? rc : gd_aws_es_finish(&d);
    gd_aws_es_free(&d);
    return rc;
}

Test(aws_es, one_message_headers_and_payload)
{
    struct msgbuf m;
    event(&m, "contentBlockDelta", "{\"delta\":{\"text\":\"Hi\"}}");
    struct gd_aws_es_msg msg;
    char why[128];
    cr_assert_eq(gd_aws_es_parse((const char *)m.b, m.n, 0, &msg, why, sizeof why), 0, "%s", why);
    cr_assert_eq(msg.n_headers, 3);
    size_t n;
    const char *v = gd_aws_es_header_str(&msg, ":message-type", &n);
    cr_assert(v && n == 5 && memcmp(v, "event", 5) == 0);
    cr_assert_null(gd_aws_es_header_str(&msg, ":exception-type", &n));
    cr_assert_eq(msg.payload_len, strlen("{\"delta\":{\"text\":\"Hi\"}}"));
}

Test(aws_es, every_split_gives_the_same_messages)
{
    unsigned char all[8192];
    size_t n = 0;
    const char *types[] = {"messageStart", "contentBlockDelta", "contentBlockDelta", "messageStop"};
    const char *payloads[] = {"{\"role\":\"assistant\"}", "{\"delta\":{\"text\":\"Hel\"}}",
                              "{\"delta\":{\"text\":\"lo\"}}", "{\"stopReason\":\"end_turn\"}"};
    for (int i = 0; i < 4; i++) {
        struct msgbuf m;
        event(&m, types[i], payloads[i]);
        memcpy(all + n, m.b, m.n);
        n += m.n;
    }
    struct seen whole, part;
    cr_assert_eq(feed_split(all, n, n, &whole), 0);
    cr_assert_eq(whole.count, 4);
    cr_assert_str_eq(whole.text, "messageStart={\"role\":\"assistant\"};"
                                 "contentBlockDelta={\"delta\":{\"text\":\"Hel\"}};"
                                 "contentBlockDelta={\"delta\":{\"text\":\"lo\"}};"
                                 "messageStop={\"stopReason\":\"end_turn\"};");
    for (size_t cut = 0; cut <= n; cut++) {
        cr_assert_eq(feed_split(all, n, cut, &part), 0, "cut %zu", cut);
        cr_assert_str_eq(part.text, whole.text, "cut %zu", cut);
    }
    /* one byte at a time */
    struct gd_aws_es d;
    gd_aws_es_init(&d, 0);
    memset(&part, 0, sizeof part);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(gd_aws_es_feed(&d, (const char *)all + i, 1, on_msg, &part), 0);
    cr_assert_eq(gd_aws_es_finish(&d), 0);
    cr_assert_str_eq(part.text, whole.text);
    gd_aws_es_free(&d);
}

static void refused(const unsigned char *p, size_t n, const char *why_part)
{
    struct gd_aws_es d;
    struct seen s = {0};
    gd_aws_es_init(&d, 1024);
    int rc = gd_aws_es_feed(&d, (const char *)p, n, on_msg, &s);
    if (rc == 0)
        rc = gd_aws_es_finish(&d);
    cr_assert_eq(rc, GD_EPARSE);
    cr_assert_not_null(strstr(d.error, why_part), "'%s' not in '%s'", why_part, d.error);
    cr_assert_eq(s.count, 0);
    /* a failed decoder stays failed */
    cr_assert_eq(gd_aws_es_feed(&d, "x", 1, on_msg, &s), GD_EPARSE);
    gd_aws_es_free(&d);
}

Test(aws_es, bad_crcs)
{
    struct msgbuf m;
    event(&m, "messageStop", "{}");
    m.b[9] ^= 1;
    refused(m.b, m.n, "prelude CRC");
    event(&m, "messageStop", "{}");
    m.b[m.n - 6] ^= 0x20; /* payload byte */
    refused(m.b, m.n, "message CRC");
    event(&m, "messageStop", "{}");
    m.b[m.n - 1] ^= 1;
    refused(m.b, m.n, "message CRC");
}

Test(aws_es, truncated)
{
    struct msgbuf m;
    event(&m, "messageStop", "{}");
    refused(m.b, m.n - 1, "ended inside a message");
    refused(m.b, 5, "ended inside a message");
}

/* Rejected from the prelude alone: the decoder does not wait for (or buffer) 1 MiB. */
Test(aws_es, oversized_and_bad_lengths)
{
    unsigned char p[12];
    put32(p, 1u << 20);
    put32(p + 4, 0);
    put32(p + 8, (uint32_t)crc32(0, p, 8));
    refused(p, 12, "size limit");
    put32(p, 15);
    put32(p + 8, (uint32_t)crc32(0, p, 8));
    refused(p, 12, "shorter than its prelude");
    put32(p, 40);
    put32(p + 4, 30);
    put32(p + 8, (uint32_t)crc32(0, p, 8));
    refused(p, 12, "headers longer");
}

Test(aws_es, bad_headers)
{
    struct msgbuf m;
    unsigned char h[1024];
    h[0] = 3;
    memcpy(h + 1, "abc", 3);
    h[4] = 10; /* no such type */
    build(&m, h, 5, "");
    refused(m.b, m.n, "unknown type");
    h[4] = 7; /* string, length 9 but 2 bytes left */
    h[5] = 0;
    h[6] = 9;
    h[7] = 'x';
    h[8] = 'y';
    build(&m, h, 9, "");
    refused(m.b, m.n, "value truncated");
    h[0] = 0; /* empty name */
    build(&m, h, 1, "");
    refused(m.b, m.n, "name empty");
    size_t hn = 0;
    for (int i = 0; i < GD_AWS_ES_MAX_HEADERS + 1; i++)
        hn += str_header(h + hn, "k", "v");
    build(&m, h, hn, "");
    refused(m.b, m.n, "too many headers");
}

Test(aws_es, every_header_type)
{
    unsigned char h[256];
    size_t i = 0;
    const unsigned char fixed[] = {0, 1, 2, 3, 4, 5, 8, 9};
    const size_t sizes[] = {0, 0, 1, 2, 4, 8, 8, 16};
    for (int t = 0; t < 8; t++) {
        h[i++] = 1;
        h[i++] = (unsigned char)('a' + t);
        h[i++] = fixed[t];
        memset(h + i, 0x5a, sizes[t]);
        i += sizes[t];
    }
    h[i++] = 1;
    h[i++] = 'z';
    h[i++] = 6; /* bytes */
    h[i++] = 0;
    h[i++] = 2;
    h[i++] = 0;
    h[i++] = 0xff;
    struct msgbuf m;
    build(&m, h, i, "p");
    struct gd_aws_es_msg msg;
    char why[128];
    cr_assert_eq(gd_aws_es_parse((const char *)m.b, m.n, 0, &msg, why, sizeof why), 0, "%s", why);
    cr_assert_eq(msg.n_headers, 9);
    for (int t = 0; t < 8; t++)
        cr_assert_eq(msg.h[t].value_len, sizes[t]);
    cr_assert_eq(msg.h[8].type, 6);
    cr_assert_eq(msg.h[8].value_len, 2);
    cr_assert_eq(msg.payload_len, 1);
}

static int stop_cb(void *ud, const struct gd_aws_es_msg *m)
{
    (void)m;
    ++*(int *)ud;
    return GD_ECLOSED;
}

Test(aws_es, callback_error_stops_the_feed)
{
    struct msgbuf m;
    unsigned char two[8192];
    event(&m, "messageStop", "{}");
    memcpy(two, m.b, m.n);
    memcpy(two + m.n, m.b, m.n);
    struct gd_aws_es d;
    int calls = 0;
    gd_aws_es_init(&d, 0);
    cr_assert_eq(gd_aws_es_feed(&d, (const char *)two, 2 * m.n, stop_cb, &calls), GD_ECLOSED);
    cr_assert_eq(calls, 1);
    gd_aws_es_free(&d);
}
