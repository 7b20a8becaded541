/* HTTP/1.1 head parser: the grammar, every smuggling vector the server must refuse, the
 * caps, pipelining and arbitrary splits of the input. */
#include "girder/error.h"
#include "net/http_parser.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct gd_http_limits lim;
static struct gd_http_head head;
static struct gd_http_header hdrs[128];

static void setup(void)
{
    memset(&lim, 0, sizeof lim);
    gd_http_limits_fill_defaults(&lim);
}

/* Parses s in one go; returns the consumed length, 0 or a negative error. */
static long parse(const char *s)
{
    size_t scan = 0;
    return gd_http_parse_head(s, strlen(s), &lim, &head, hdrs, &scan);
}

/* Expects s to be rejected with `status`. */
static void rejects(const char *s, int status)
{
    long r = parse(s);
    cr_assert_lt(r, 0, "accepted: %s", s);
    cr_assert_eq(head.error_status, status, "status %d (%s) for: %s", head.error_status, head.error,
                 s);
}

static int sl_eq(struct gd_slice s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

TestSuite(parser, .init = setup);

Test(parser, simple_get)
{
    const char *s = "GET /v1/models?x=1&y=2 HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc\r\n\r\n";
    cr_assert_eq(parse(s), (long)strlen(s));
    cr_assert(sl_eq(head.method, "GET"));
    cr_assert(sl_eq(head.path, "/v1/models"));
    cr_assert(sl_eq(head.query, "x=1&y=2"));
    cr_assert(sl_eq(head.target, "/v1/models?x=1&y=2"));
    cr_assert_eq(head.minor_version, 1);
    cr_assert_eq(head.n_headers, 2);
    cr_assert(sl_eq(head.request_id, "abc"));
    cr_assert(sl_eq(head.host, "a"));
    cr_assert_eq(head.body_kind, GD_HTTP_BODY_NONE);
}

Test(parser, header_values_trimmed_and_found)
{
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: \t v a l \t\r\n\r\n"), 0);
    const struct gd_http_header *h = gd_http_find_header(hdrs, head.n_headers, "x-a");
    cr_assert_not_null(h);
    cr_assert(sl_eq(h->value, "v a l"));
    cr_assert_null(gd_http_find_header(hdrs, head.n_headers, "x-b"));
}

Test(parser, incomplete_needs_more)
{
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n"), 0);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n\r"), 0);
    cr_assert_eq(parse("GET / HT"), 0);
}

Test(parser, http10_and_keepalive_flags)
{
    cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 0);
    cr_assert_eq(head.minor_version, 0);
    cr_assert(head.flags & GD_HTTP_F_CONN_KEEPALIVE);
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n"), 0);
    cr_assert(head.flags & GD_HTTP_F_CONN_CLOSE);
}

Test(parser, content_length_and_chunked)
{
    cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n"), 0);
    cr_assert_eq(head.body_kind, GD_HTTP_BODY_LENGTH);
    cr_assert_eq(head.content_length, 42);
    cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n"), 0);
    cr_assert_eq(head.body_kind, GD_HTTP_BODY_CHUNKED);
    cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), 0);
    cr_assert_eq(head.body_kind, GD_HTTP_BODY_NONE);
}

Test(parser, expect_continue)
{
    cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
                       "Content-Length: 1\r\n\r\n"),
                 0);
    cr_assert(head.flags & GD_HTTP_F_EXPECT_CONTINUE);
    cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n"), 0);
    cr_assert(head.flags & GD_HTTP_F_EXPECT_OTHER);
}

Test(parser, target_forms)
{
    cr_assert_gt(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    cr_assert(sl_eq(head.path, "*"));
    rejects("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    cr_assert_gt(parse("GET http://example.com/a/b?q=1 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    cr_assert(sl_eq(head.path, "/a/b"));
    cr_assert(sl_eq(head.query, "q=1"));
    cr_assert_gt(parse("GET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    cr_assert(sl_eq(head.path, "/"));
    rejects("CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

Test(parser, leading_empty_lines_skipped)
{
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    cr_assert_eq(parse(s), (long)strlen(s));
    cr_assert(sl_eq(head.method, "GET"));
    rejects("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

/* ---- smuggling vectors and malformed input ---- */

Test(parser, rejects_cl_and_te_together)
{
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            400);
}

Test(parser, rejects_duplicate_or_bad_content_length)
{
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400);
}

Test(parser, rejects_bad_transfer_encoding)
{
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 501);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", 400);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400);
    rejects("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

Test(parser, rejects_obs_fold)
{
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
}

Test(parser, rejects_bare_cr_and_bare_lf)
{
    rejects("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
    rejects("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

Test(parser, bare_lf_fails_early)
{
    size_t scan = 0;
    const char *s = "GET / HTTP/1.1\nHo";
    cr_assert_lt(gd_http_parse_head(s, strlen(s), &lim, &head, hdrs, &scan), 0);
}

Test(parser, rejects_nul_bytes)
{
    static const char s1[] = "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char s2[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    size_t scan = 0;
    cr_assert_lt(gd_http_parse_head(s1, sizeof s1 - 1, &lim, &head, hdrs, &scan), 0);
    cr_assert_eq(head.error_status, 400);
    scan = 0;
    cr_assert_lt(gd_http_parse_head(s2, sizeof s2 - 1, &lim, &head, hdrs, &scan), 0);
    cr_assert_eq(head.error_status, 400);
}

Test(parser, rejects_whitespace_before_colon)
{
    rejects("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX-A\t: 5\r\n\r\n", 400);
}

Test(parser, rejects_invalid_header_names_and_values)
{
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7f\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nX\x80: b\r\n\r\n", 400);
}

Test(parser, obs_text_allowed_in_values)
{
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9\r\n\r\n"), 0);
}

Test(parser, rejects_bad_request_lines)
{
    rejects("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
    rejects(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400);
    rejects("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
    rejects("GET / HTTP/11\r\nHost: a\r\n\r\n", 400);
    rejects("GET /\r\nHost: a\r\n\r\n", 400);
    rejects("GET relative HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

Test(parser, unsupported_versions_get_505)
{
    rejects("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    rejects("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505);
    rejects("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
}

Test(parser, host_rules)
{
    rejects("GET / HTTP/1.1\r\n\r\n", 400);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n"), 0);
}

Test(parser, caps)
{
    lim.max_target_bytes = 16;
    rejects("GET /0123456789abcdefg HTTP/1.1\r\nHost: a\r\n\r\n", 414);
    cr_assert_gt(parse("GET /0123456789abcde HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    /* a long target still arriving: 414 before the line ends */
    char big[400];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    size_t scan = 0;
    cr_assert_lt(gd_http_parse_head(big, sizeof big, &lim, &head, hdrs, &scan), 0);
    cr_assert_eq(head.error_status, 414);

    setup();
    lim.max_headers = 2;
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n"), 0);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 431);

    setup();
    lim.max_header_bytes = 64;
    rejects("GET / HTTP/1.1\r\nHost: a\r\nA: 0123456789012345678901234567890123456789\r\n\r\n",
            431);
    /* an unterminated huge header is refused once past the cap */
    char hb[200];
    memset(hb, 'x', sizeof hb);
    memcpy(hb, "GET / HTTP/1.1\r\nHost: a\r\nA: ", 28);
    scan = 0;
    cr_assert_lt(gd_http_parse_head(hb, sizeof hb, &lim, &head, hdrs, &scan), 0);
    cr_assert_eq(head.error_status, 431);

    setup();
    lim.max_body_bytes = 10;
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413);
    cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"), 0);
}

Test(parser, pipelined_requests_in_one_buffer)
{
    const char *s = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                    "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                    "GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t off = 0, len = strlen(s);
    const char *paths[] = {"/a", "/b", "/c"};
    for (int i = 0; i < 3; i++) {
        size_t scan = 0;
        long r = gd_http_parse_head(s + off, len - off, &lim, &head, hdrs, &scan);
        cr_assert_gt(r, 0);
        cr_assert(sl_eq(head.path, paths[i]));
        off += (size_t)r;
        if (head.body_kind == GD_HTTP_BODY_LENGTH)
            off += head.content_length;
    }
    cr_assert_eq(off, len);
}

/* Feeding the head one byte at a time (the buffer growing) gives the same result as all
 * at once, for valid and invalid inputs alike. */
static void same_when_split(const char *s, size_t len)
{
    size_t scan0 = 0;
    long whole = gd_http_parse_head(s, len, &lim, &head, hdrs, &scan0);
    int whole_status = head.error_status;
    for (size_t step = 1; step <= 7; step++) {
        size_t scan = 0;
        long r = 0;
        char *copy = malloc(len + 1);
        size_t have = 0;
        while (have < len) {
            size_t n = len - have < step ? len - have : step;
            memcpy(copy + have, s + have, n);
            have += n;
            r = gd_http_parse_head(copy, have, &lim, &head, hdrs, &scan);
            if (r != 0)
                break;
        }
        cr_assert_eq(r > 0, whole > 0, "step %zu: %ld vs %ld", step, r, whole);
        if (whole > 0)
            cr_assert_eq(r, whole);
        else if (whole < 0)
            cr_assert_eq(head.error_status, whole_status, "step %zu", step);
        free(copy);
    }
}

Test(parser, byte_by_byte_equivalence)
{
    const char *cases[] = {
        "GET /x?y HTTP/1.1\r\nHost: a\r\nA: b\r\n\r\n",
        "\r\nPOST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rB: c\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.1\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        same_when_split(cases[i], strlen(cases[i]));
}

Test(parser, traceparent_and_request_id)
{
    struct gd_traceparent tp;
    const char *ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    cr_assert_eq(gd_traceparent_parse(ok, strlen(ok), &tp), 0);
    cr_assert(tp.valid);
    cr_assert_str_eq(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    cr_assert_str_eq(tp.parent_id, "00f067aa0ba902b7");
    cr_assert_eq(tp.flags, 1);
    const char *bad[] = {
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_neq(gd_traceparent_parse(bad[i], strlen(bad[i]), &tp), 0, "%s", bad[i]);
        cr_assert_eq(tp.valid, 0);
    }
    const char *future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra";
    cr_assert_eq(gd_traceparent_parse(future, strlen(future), &tp), 0);
    cr_assert(gd_http_request_id_ok("abc-123_x.y:z", 13));
    cr_assert_not(gd_http_request_id_ok("a b", 3));
    cr_assert_not(gd_http_request_id_ok("", 0));
    cr_assert_not(gd_http_request_id_ok("a\"b", 3));
}
