#include "gateway/sse.h"
#include "core/buf.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

struct sink {
    struct gd_buf raw;
    struct gd_buf datas; /* data values joined by '|' */
    int events;
    int stop_at;
};

static int on_event(void *ud, const char *raw, size_t n, const char *data, size_t dlen)
{
    struct sink *s = ud;
    gd_buf_append(&s->raw, raw, n);
    if (data) {
        gd_buf_append(&s->datas, data, dlen);
        gd_buf_putc(&s->datas, '|');
    }
    if (n == 1 && raw[0] == '\n' && !data)
        return 0; /* a lone LF of a split \r\n terminator, not an event */
    s->events++;
    return s->stop_at && s->events == s->stop_at ? GD_ECLOSED : 0;
}

static void sink_init(struct sink *s)
{
    memset(s, 0, sizeof *s);
    gd_buf_init(&s->raw, 1 << 20);
    gd_buf_init(&s->datas, 1 << 20);
}

static void sink_free(struct sink *s)
{
    gd_buf_free(&s->raw);
    gd_buf_free(&s->datas);
}

static const char *stream_lf =
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}],\"usage\":null}\n\n"
    "event: message\ndata: {\"a\":1}\ndata: {\"b\":2}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,"
    "\"total_tokens\":7}}\n\n"
    "data: [DONE]\n\n";

static void check_all_splits(const char *stream, int want_events, const char *want_datas)
{
    size_t n = strlen(stream);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b += (n / 13) + 1) {
            struct gd_gw_sse p;
            struct sink s;
            sink_init(&s);
            gd_gw_sse_init(&p, 4096);
            cr_assert_eq(gd_gw_sse_feed(&p, stream, a, on_event, &s), 0);
            cr_assert_eq(gd_gw_sse_feed(&p, stream + a, b - a, on_event, &s), 0);
            cr_assert_eq(gd_gw_sse_feed(&p, stream + b, n - b, on_event, &s), 0);
            cr_assert_eq(s.events, want_events, "split %zu/%zu", a, b);
            cr_assert_eq(s.raw.len, n, "split %zu/%zu", a, b);
            cr_assert(memcmp(s.raw.data, stream, n) == 0);
            cr_assert_str_eq(s.datas.data, want_datas);
            cr_assert_eq(p.done, 1);
            cr_assert_eq(p.have_usage, 1);
            cr_assert_eq(p.usage.prompt_tokens, 5);
            cr_assert_eq(p.usage.completion_tokens, 2);
            cr_assert_eq(gd_gw_sse_pending(&p), 0);
            gd_gw_sse_free(&p);
            sink_free(&s);
        }
    }
}

static const char *want_datas =
    "{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}],\"usage\":null}|{\"a\":1}\n{\"b\":2}|"
    "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,"
    "\"total_tokens\":7}}|[DONE]|";

Test(sse, lf_any_split)
{
    check_all_splits(stream_lf, 5, want_datas);
}

static void replace_lf(const char *in, const char *with, char *out)
{
    for (; *in; in++) {
        if (*in == '\n') {
            strcpy(out, with);
            out += strlen(with);
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
}

Test(sse, crlf_any_split)
{
    char buf[1024];
    replace_lf(stream_lf, "\r\n", buf);
    check_all_splits(buf, 5, want_datas);
}

Test(sse, cr_any_split)
{
    char buf[1024];
    replace_lf(stream_lf, "\r", buf);
    check_all_splits(buf, 5, want_datas);
}

Test(sse, byte_by_byte_and_incomplete_tail)
{
    const char *st = "data: one\n\ndata: tw";
    struct gd_gw_sse p;
    struct sink s;
    sink_init(&s);
    gd_gw_sse_init(&p, 4096);
    for (size_t i = 0; st[i]; i++)
        cr_assert_eq(gd_gw_sse_feed(&p, st + i, 1, on_event, &s), 0);
    cr_assert_eq(s.events, 1);
    cr_assert_eq(gd_gw_sse_pending(&p), strlen("data: tw"));
    cr_assert_eq(p.done, 0);
    gd_gw_sse_free(&p);
    sink_free(&s);
}

Test(sse, event_cap_and_stop)
{
    struct gd_gw_sse p;
    struct sink s;
    sink_init(&s);
    gd_gw_sse_init(&p, 16);
    cr_assert_eq(gd_gw_sse_feed(&p, "data: 0123456789abcdefghij", 26, on_event, &s), GD_ELIMIT);
    gd_gw_sse_free(&p);
    gd_gw_sse_init(&p, 64);
    s.stop_at = 1;
    cr_assert_eq(gd_gw_sse_feed(&p, "data: a\n\ndata: b\n\n", 18, on_event, &s), GD_ECLOSED);
    cr_assert_eq(s.events, 1);
    gd_gw_sse_free(&p);
    sink_free(&s);
}

/* Feeds one whole stream; returns whether the framer saw usage (then in *u). */
static int usage_of(const char *stream, struct gd_gw_usage *u)
{
    struct gd_gw_sse p;
    struct sink s;
    sink_init(&s);
    gd_gw_sse_init(&p, 4096);
    cr_assert_eq(gd_gw_sse_feed(&p, stream, strlen(stream), on_event, &s), 0);
    int have = p.have_usage;
    *u = p.usage;
    gd_gw_sse_free(&p);
    sink_free(&s);
    return have;
}

Test(sse, usage_key_anywhere_in_the_data)
{
    static const char *usage_in_content =
        "data: {\"choices\":[{\"delta\":{\"content\":\"usage\"}}],"
        "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n";
    const char *cases[] = {
        "data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n", /* first key */
        "data: {\"x\":\"g\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n",
        usage_in_content,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gd_gw_usage u;
        cr_assert_eq(usage_of(cases[i], &u), 1, "case %zu", i);
        cr_assert_eq(u.prompt_tokens, 3);
        cr_assert_eq(u.completion_tokens, 4);
    }
    /* "usag" cut short at the end of the data, a lone g: no usage, no overread */
    static const char *none[] = {"data: \"usag\n\n", "data: g\n\n", "data: {\"usage\n\n"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        struct gd_gw_usage u;
        cr_assert_eq(usage_of(none[i], &u), 0, "none %zu", i);
    }
}

/* An event ended by a bare \r with more bytes after it in the same read, and a next read that
 * starts with \n (ending an ordinary line): that \n is not the tail of a \r\n and must stay
 * in order after the pending bytes. Found by the fuzzer's whole-vs-pieces comparison. */
Test(sse, bare_cr_event_then_read_starting_with_lf)
{
    const char *pieces[] = {"data: x\r\rdata: y", "\n\n"};
    const char *whole = "data: x\r\rdata: y\n\n";
    struct gd_gw_sse p;
    struct sink s;
    sink_init(&s);
    gd_gw_sse_init(&p, 4096);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(gd_gw_sse_feed(&p, pieces[i], strlen(pieces[i]), on_event, &s), 0);
    cr_assert_eq(s.raw.len, strlen(whole));
    cr_assert(memcmp(s.raw.data, whole, s.raw.len) == 0, "bytes reordered: %s", s.raw.data);
    cr_assert_str_eq(s.datas.data, "x|y|");
    cr_assert_eq(s.events, 2);
    gd_gw_sse_free(&p);
    sink_free(&s);
}
