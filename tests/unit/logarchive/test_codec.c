/* Unit tests of the log archive's byte codecs: varints, integer payloads and every column
 * representation, including the choice the encoder makes and corrupt inputs. */
#include "core/arena.h"
#include "girder/error.h"
#include "logmine/codec_column.h"
#include "logmine/codec_varint.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(logarchive_varint, roundtrip_and_bounds)
{
    static const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        cr_assert_eq(gd_codec_put_uvar(&b, vals[i]), 0);
    struct gd_codec_rd r;
    gd_codec_rd_init(&r, b.data, b.len);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        cr_assert_eq(gd_codec_get_uvar(&r), vals[i]);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(gd_codec_rd_left(&r), 0);
    gd_codec_get_uvar(&r); /* past the end */
    cr_assert_eq(r.err, GD_EPARSE);
    /* an 11-byte varint and a 10th byte > 1 are rejected */
    static const uint8_t bad[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    gd_codec_rd_init(&r, bad, sizeof bad);
    gd_codec_get_uvar(&r);
    cr_assert_eq(r.err, GD_EPARSE);
    gd_codec_rd_init(&r, bad, 3); /* truncated */
    gd_codec_get_uvar(&r);
    cr_assert_eq(r.err, GD_EPARSE);
    gd_codec_rd_init(&r, "\x05", 1);
    cr_assert_eq(gd_codec_get_count(&r, 4), 0);
    cr_assert_eq(r.err, GD_EPARSE);
    gd_codec_rd_init(&r, "ab", 2);
    cr_assert_null(gd_codec_get_raw(&r, 3));
    gd_buf_free(&b);
}

Test(logarchive_varint, zigzag)
{
    static const int64_t v[] = {0, -1, 1, -2, 2, INT64_MAX, INT64_MIN, -123456789};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_assert_eq(gd_codec_unzigzag(gd_codec_zigzag(v[i])), v[i]);
    cr_assert_eq(gd_codec_zigzag(-1), 1);
    cr_assert_eq(gd_codec_zigzag(1), 2);
}

/* Encodes ints, checks the mode byte written to META, decodes and compares. */
static void ints_case(const uint64_t *v, size_t n, int want_mode)
{
    struct gd_codec_out o;
    gd_codec_out_init(&o, 1 << 24);
    cr_assert_eq(gd_codec_ints_encode(&o, v, n), 0);
    cr_assert_eq((uint8_t)o.s[GD_CODEC_META].data[0], want_mode);
    struct gd_codec_in in;
    for (int s = 0; s < GD_CODEC_NSTREAMS; s++)
        gd_codec_rd_init(&in.s[s], o.s[s].data, o.s[s].len);
    uint64_t out[256];
    cr_assert_eq(gd_codec_ints_decode(&in, out, n), 0);
    cr_assert_eq(memcmp(out, v, n * sizeof *v), 0);
    /* truncating the payload must fail cleanly */
    if (o.s[GD_CODEC_NUM].len > 0) {
        for (int s = 0; s < GD_CODEC_NSTREAMS; s++)
            gd_codec_rd_init(&in.s[s], o.s[s].data, o.s[s].len - (s == GD_CODEC_NUM));
        cr_assert_eq(gd_codec_ints_decode(&in, out, n), GD_EPARSE);
    }
    gd_codec_out_free(&o);
}

Test(logarchive_ints, modes)
{
    uint64_t v[200];
    for (int i = 0; i < 200; i++)
        v[i] = 42;
    ints_case(v, 200, 0); /* constant */
    for (int i = 0; i < 200; i++)
        v[i] = (uint64_t)(i * 7919 % 1000);
    ints_case(v, 200, 1); /* plain: small values */
    for (int i = 0; i < 200; i++)
        v[i] = 1000000000ull + (uint64_t)i * 3;
    ints_case(v, 200, 2); /* delta: increasing */
    for (int i = 0; i < 200; i++)
        v[i] = 0x8000000000000000ull ^ ((uint64_t)i * 0x9E3779B97F4A7C15ull);
    ints_case(v, 200, 3);         /* fixed bytes: random 64-bit */
    for (int i = 0; i < 200; i++) /* few distinct multi-byte values: dictionary */
        v[i] = 1000 + (uint64_t)(i * 7 % 5) * 977;
    ints_case(v, 200, 4);
    uint64_t wrap[] = {UINT64_MAX, 0, UINT64_MAX, 1, 5};
    ints_case(wrap, 5, 2); /* wrapping deltas are tiny */
}

static struct gd_codec_str S(const char *s) {
    return (struct gd_codec_str){s, (uint32_t)strlen(s)};
}

/* Encodes a column, checks its kind, decodes it and compares every value. */
static void
column_case(const struct gd_codec_str *v, size_t n, int want_kind)
{
    struct gd_codec_out o;
    gd_codec_out_init(&o, 1 << 24);
    cr_assert_eq(gd_codec_column_encode(&o, v, n), 0);
    struct gd_codec_in in;
    for (int s = 0; s < GD_CODEC_NSTREAMS; s++)
        gd_codec_rd_init(&in.s[s], o.s[s].data, o.s[s].len);
    struct gd_arena a;
    gd_arena_init(&a, 4096, 0);
    struct gd_codec_column c;
    cr_assert_eq(gd_codec_column_decode(&in, n, &a, &c), 0);
    cr_assert_eq(c.kind, want_kind, "kind %d, want %d", c.kind, want_kind);
    for (int s = 0; s < GD_CODEC_NSTREAMS; s++)
        cr_assert_eq(gd_codec_rd_left(&in.s[s]), 0, "stream %d not consumed", s);
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < n; i++) {
        gd_buf_reset(&b);
        cr_assert_eq(gd_codec_column_append(&c, i, &b), 0);
        cr_assert(b.len == v[i].len && memcmp(b.data, v[i].p, b.len) == 0, "value %zu: '%s'", i,
                  b.data);
    }
    /* every truncation of every stream fails cleanly or decodes without over-reading */
    for (int s = 0; s < GD_CODEC_NSTREAMS; s++)
        for (size_t cut = 0; cut < o.s[s].len; cut++) {
            for (int k = 0; k < GD_CODEC_NSTREAMS; k++)
                gd_codec_rd_init(&in.s[k], o.s[k].data, k == s ? cut : o.s[k].len);
            struct gd_codec_column c2;
            int rc = gd_codec_column_decode(&in, n, &a, &c2);
            cr_assert(rc == GD_EPARSE || rc == 0);
        }
    gd_buf_free(&b);
    gd_arena_free(&a);
    gd_codec_out_free(&o);
}

Test(logarchive_column, representations)
{
    struct gd_codec_str same[] = {S("INFO"), S("INFO"), S("INFO")};
    column_case(same, 3, GD_CODEC_KIND_CONST);
    struct gd_codec_str dict[] = {S("INFO"),  S("WARN"), S("INFO"), S("INFO"), S("WARN"),
                                  S("ERROR"), S("INFO"), S("INFO"), S("WARN"), S("INFO")};
    column_case(dict, 10, GD_CODEC_KIND_DICT);
    struct gd_codec_str raw[] = {S("alpha"), S("bravo"), S("charlie"), S(""), S("x y")};
    column_case(raw, 5, GD_CODEC_KIND_RAW);
    struct gd_codec_str blk[] = {S("blk_-1608999687919862906"), S("blk_7503483334202473044"),
                                 S("blk_-9223372036854775807"), S("blk_0")};
    column_case(blk, 4, GD_CODEC_KIND_SPLIT); /* signed, incl. 19 digits */
    struct gd_codec_str ip[] = {S("10.251.43.21:50010"), S("10.250.7.244:50010"),
                                S("127.0.0.1:8080")};
    column_case(ip, 3, GD_CODEC_KIND_SPLIT);
    struct gd_codec_str tm[] = {S("203615"), S("203807"), S("000001"), S("235959")};
    column_case(tm, 4, GD_CODEC_KIND_SPLIT); /* fixed width with leading zeros */
    struct gd_codec_str clock[] = {S("17:41:44,747"), S("17:41:44,750"), S("17:42:01,003"),
                                   S("18:00:00,000"), S("23:59:59,999")};
    column_case(clock, 5, GD_CODEC_KIND_SPLIT); /* fixed runs grouped into one integer */
    struct gd_codec_str wide[] = {S("1234567890.1234567890.12"), S("0000000000.0000000000.00")};
    column_case(wide, 2, GD_CODEC_KIND_SPLIT); /* groups capped at 19 digits */
    struct gd_codec_str mixed[] = {S("id=007"), S("id=12"), S("id=0"),
                                   S("id=99999999999999999999")};
    column_case(mixed, 4, GD_CODEC_KIND_SPLIT); /* string sub-column (leading zeros, 20 digits) */
    struct gd_codec_str date[] = {S("2015-10-18"), S("2015-10-19"), S("2016-01-01")};
    column_case(date, 3, GD_CODEC_KIND_SPLIT); /* '-' after a digit is not a sign */
    struct gd_codec_str neg[] = {S("-0"), S("-5"), S("3")};
    column_case(neg, 3, GD_CODEC_KIND_SPLIT); /* "-0" is not canonical: string sub-column */
    struct gd_codec_str bin[] = {{"a\0b", 3}, {"\xff\xfe", 2}, {"\r", 1}, {"a\0b", 3}};
    column_case(bin, 4, GD_CODEC_KIND_RAW);
    struct gd_codec_str skel[] = {S("a1"), S("b2"), S("a3")}; /* skeletons differ */
    column_case(skel, 3, GD_CODEC_KIND_RAW);
    /* a few-valued varying piece among mostly distinct values: SPLIT with a piece column */
    struct gd_codec_str days[32];
    char dbuf[32][40];
    static const char *const dn[] = {"Mon Jun ", "Tue Jun ", "Wed Jul "};
    for (int i = 0; i < 32; i++) {
        snprintf(dbuf[i], sizeof dbuf[i], "%s%d %02d:%02d:%02d 2005", dn[i % 3], 1 + i % 28, i % 24,
                 (i * 7) % 60, (i * 13) % 60);
        days[i] = S(dbuf[i]);
    }
    column_case(days, 32, GD_CODEC_KIND_SPLIT);
}

Test(logarchive_column, corrupt_fixed_width_rejected)
{
    /* A FIXED sub-column value with more digits than its width must be rejected. */
    struct gd_codec_str tm[] = {S("12"), S("34")};
    struct gd_codec_out o;
    gd_codec_out_init(&o, 1 << 20);
    cr_assert_eq(gd_codec_column_encode(&o, tm, 2), 0);
    /* NUM holds the two values as one byte each: make one of them 3 digits */
    cr_assert_eq(o.s[GD_CODEC_NUM].len, 2);
    o.s[GD_CODEC_NUM].data[0] = 120;
    struct gd_codec_in in;
    for (int s = 0; s < GD_CODEC_NSTREAMS; s++)
        gd_codec_rd_init(&in.s[s], o.s[s].data, o.s[s].len);
    struct gd_arena a;
    gd_arena_init(&a, 4096, 0);
    struct gd_codec_column c;
    cr_assert_eq(gd_codec_column_decode(&in, 2, &a, &c), GD_EPARSE);
    gd_arena_free(&a);
    gd_codec_out_free(&o);
}

/* Property: random columns built from a small alphabet (digits, '-', separators, bytes)
 * round-trip whatever representation the encoder picks. */
Test(logarchive_column, random_property)
{
    static const char alpha[] = "0123456789--._:/ax\0\xff";
    uint64_t seed = 0x1234567;
    char pool[64][24];
    struct gd_codec_str v[64];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 1 + (size_t)(iter % 64);
        int template_len = 1 + iter % 12;
        for (size_t i = 0; i < n; i++) {
            int len = iter % 3 == 0 ? template_len : (int)((seed >> 33) % 20);
            for (int j = 0; j < len; j++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                int digits_only = iter % 2 && j % 3 != 2;
                pool[i][j] = digits_only ? (char)('0' + (seed >> 40) % 10)
                                         : alpha[(seed >> 40) % (sizeof alpha - 1)];
            }
            v[i] = (struct gd_codec_str){pool[i], (uint32_t)len};
        }
        struct gd_codec_out o;
        gd_codec_out_init(&o, 1 << 20);
        cr_assert_eq(gd_codec_column_encode(&o, v, n), 0);
        struct gd_codec_in in;
        for (int s = 0; s < GD_CODEC_NSTREAMS; s++)
            gd_codec_rd_init(&in.s[s], o.s[s].data, o.s[s].len);
        struct gd_arena a;
        gd_arena_init(&a, 4096, 0);
        struct gd_codec_column c;
        cr_assert_eq(gd_codec_column_decode(&in, n, &a, &c), 0, "iter %d", iter);
        struct gd_buf b;
        gd_buf_init(&b, 1 << 20);
        for (size_t i = 0; i < n; i++) {
            gd_buf_reset(&b);
            cr_assert_eq(gd_codec_column_append(&c, i, &b), 0);
            cr_assert(b.len == v[i].len && memcmp(b.data, v[i].p, b.len) == 0, "iter %d val %zu",
                      iter, i);
        }
        gd_buf_free(&b);
        gd_arena_free(&a);
        gd_codec_out_free(&o);
    }
}
