/* Chunked body decoder: valid bodies with extensions and trailers, every malformed
 * framing, size overflow and caps, and in-place decoding with the input split at every
 * byte boundary. */
#include "girder/error.h"
#include "net/http_parser.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Decodes the whole input in place the way the server does it: the buffer grows as bytes
 * "arrive" split at `split`, decoded bytes are kept at the front, an incomplete tail is
 * moved down behind them. Returns the decoder's final result; *out holds the body. */
static int decode_split(const char *in, size_t len, size_t split, uint64_t max_body, char *out,
                        size_t *out_len, size_t *consumed_total, int *status)
{
    struct gd_http_chunked c;
    gd_http_chunked_init(&c, max_body, 1024);
    char *buf = malloc(len + 1);
    size_t dec = 0, raw = 0, have = 0, fed = 0;
    int rc = 0;
    size_t step = split ? split : len;
    while (fed < len || step == 0) {
        size_t n = len - fed < step ? len - fed : step;
        memcpy(buf + have, in + fed, n);
        have += n, fed += n;
        size_t w, used;
        rc = gd_http_chunked_decode(&c, buf + dec, buf + raw, have - raw, &w, &used);
        dec += w;
        raw += used;
        if (rc != 0)
            break;
        memmove(buf + dec, buf + raw, have - raw); /* compact like the server */
        have -= raw - dec;
        *consumed_total = fed - (have - dec);
        raw = dec;
    }
    if (rc == 1)
        *consumed_total = fed - (have - raw);
    memcpy(out, buf, dec);
    *out_len = dec;
    *status = c.error_status;
    free(buf);
    return rc;
}

static void ok_body(const char *in, const char *want)
{
    size_t len = strlen(in);
    for (size_t split = 0; split <= len; split++) {
        char out[256];
        size_t n, consumed;
        int status;
        int rc = decode_split(in, len, split, 1 << 20, out, &n, &consumed, &status);
        cr_assert_eq(rc, 1, "split %zu: rc %d status %d", split, rc, status);
        cr_assert_eq(n, strlen(want), "split %zu", split);
        cr_assert(memcmp(out, want, n) == 0, "split %zu", split);
    }
}

static void bad_body(const char *in, size_t len, int want_status)
{
    for (size_t split = 0; split <= len; split++) {
        char out[512];
        size_t n, consumed;
        int status = 0;
        int rc = decode_split(in, len, split, 16, out, &n, &consumed, &status);
        cr_assert_lt(rc, 0, "split %zu accepted: %s", split, in);
        cr_assert_eq(status, want_status, "split %zu: %d for %s", split, status, in);
    }
}

Test(chunked, simple)
{
    ok_body("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
    ok_body("0\r\n\r\n", "");
    ok_body("A\r\n0123456789\r\n0\r\n\r\n", "0123456789");
    ok_body("000005\r\nhello\r\n0000\r\n\r\n", "hello");
}

Test(chunked, extensions_parsed_and_ignored)
{
    ok_body("5;a=b\r\nhello\r\n0\r\n\r\n", "hello");
    ok_body("5 ; a = b ;c\r\nhello\r\n0;x=\"q\\\"s; t\"\r\n\r\n", "hello");
    ok_body("5;name=\"va\tl\"\r\nhello\r\n0\r\n\r\n", "hello");
}

Test(chunked, trailers_validated_and_dropped)
{
    ok_body("5\r\nhello\r\n0\r\nX-Trailer: v\r\nY: z\r\n\r\n", "hello");
}

Test(chunked, stops_exactly_at_the_end)
{
    const char *in = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    char out[64];
    size_t n, consumed;
    int status;
    cr_assert_eq(decode_split(in, strlen(in), 0, 100, out, &n, &consumed, &status), 1);
    cr_assert_eq(consumed, strlen("3\r\nabc\r\n0\r\n\r\n"));
}

Test(chunked, malformed)
{
    const char *cases[] = {
        "x\r\nhello\r\n0\r\n\r\n",       /* not hex */
        "\r\nhello\r\n0\r\n\r\n",        /* empty size */
        "5\r\nhelloXX0\r\n\r\n",         /* no CRLF after data */
        "5\nhello\r\n0\r\n\r\n",         /* bare LF */
        "5\r\nhello\r\n0\n\r\n",         /* bare LF in last chunk */
        "5\rx\nhello\r\n0\r\n\r\n",      /* bare CR */
        "5 \r\nhello\r\n0\r\n\r\n",      /* trailing whitespace without extension */
        "-5\r\nhello\r\n0\r\n\r\n",      /* sign */
        "0x5\r\nhello\r\n0\r\n\r\n",     /* 0x prefix */
        "5;\r\nhello\r\n0\r\n\r\n",      /* empty extension name */
        "5;a=\r\nhello\r\n0\r\n\r\n",    /* empty extension value */
        "5;a=\"x\r\nhello\r\n0\r\n\r\n", /* unterminated quoted string */
        "5;a b\r\nhello\r\n0\r\n\r\n",   /* junk after extension */
        "0\r\nBad Trailer\r\n\r\n",      /* trailer without colon */
        "0\r\nX: a\x01\r\n\r\n",         /* control char in trailer */
        "5\r\nhello\r\n0\r\n\r",         /* never mind: incomplete, handled below */
    };
    for (size_t i = 0; i + 1 < sizeof cases / sizeof cases[0]; i++)
        bad_body(cases[i], strlen(cases[i]), 400);
}

Test(chunked, nul_in_framing)
{
    static const char in[] = "5\0\r\nhello\r\n0\r\n\r\n";
    bad_body(in, sizeof in - 1, 400);
}

Test(chunked, size_overflow_and_cap)
{
    bad_body("10000000000000000\r\n", strlen("10000000000000000\r\n"), 400);
    bad_body("ffffffffffffffff\r\n", strlen("ffffffffffffffff\r\n"), 413);
    bad_body("11\r\n", 4, 413); /* 17 > max 16 */
    bad_body("8\r\n01234567\r\n9\r\n", strlen("8\r\n01234567\r\n9\r\n"), 413);
}

Test(chunked, long_size_line_refused)
{
    size_t n = 5000;
    char *in = malloc(n);
    memset(in, ' ', n);
    memcpy(in, "5;a", 3);
    in[3] = '=';
    memset(in + 4, 'x', n - 4);
    struct gd_http_chunked c;
    gd_http_chunked_init(&c, 100, 100);
    size_t w, used;
    cr_assert_lt(gd_http_chunked_decode(&c, in, in, n, &w, &used), 0);
    cr_assert_eq(c.error_status, 400);
    free(in);
}

Test(chunked, incomplete_is_not_an_error)
{
    struct gd_http_chunked c;
    gd_http_chunked_init(&c, 100, 100);
    char buf[] = "5\r\nhel";
    size_t w, used;
    cr_assert_eq(gd_http_chunked_decode(&c, buf, buf, strlen(buf), &w, &used), 0);
    cr_assert_eq(w, 3);
    cr_assert_eq(used, strlen(buf));
}
