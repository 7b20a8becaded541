/* Unit tests of the block payload coders (archive_coder.h): round trips for every coder and
 * size, exact-size decoding of untrusted payloads, and the estimate's basic shape. */
#include "core/alloc.h"
#include "core/buf.h"
#include "girder/error.h"
#include "logmine/archive_coder.h"

#include <criterion/criterion.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Log-like text when text, else random bytes. */
static void fill(char *p, size_t n, int text)
{
    for (size_t i = 0; i < n; i++)
        p[i] = text ? (i % 61 == 60 ? '\n' : (char)('a' + next() % 4)) : (char)next();
}

Test(logarchive_coder, roundtrip_every_coder_and_size)
{
    static const size_t sizes[] = {0, 1, 2, 100, 4095, 70000, 300000};
    gd_larc_coder_ctx *c = gd_larc_coder_new();
    cr_assert_not_null(c);
    char *src = gd_malloc(300000);
    for (int text = 0; text < 2; text++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            fill(src, n, text);
            for (int coder = GD_LARC_STORED; coder <= GD_LARC_LZMA; coder++)
                for (int lw = 0; lw < 2; lw++) {
                    struct gd_buf out;
                    gd_buf_init(&out, (size_t)1 << 30);
                    cr_assert_eq(gd_larc_code(c, coder, 19, lw, src, n, &out), 0);
                    if (coder == GD_LARC_STORED)
                        cr_assert_eq(out.len, n);
                    if (text && n > 4095 && coder != GD_LARC_STORED)
                        cr_assert_lt(out.len, n / 2, "coder %d did not compress text", coder);
                    void *back = NULL;
                    cr_assert_eq(
                        gd_larc_decode(coder, out.data ? out.data : "", out.len, n, n, &back), 0,
                        "coder %d size %zu", coder, n);
                    cr_assert(n == 0 || memcmp(back, src, n) == 0);
                    gd_free(back);
                    gd_buf_free(&out);
                }
        }
    gd_free(src);
    gd_larc_coder_free(c);
}

/* A payload must decode to exactly the declared size using exactly its bytes. */
Test(logarchive_coder, untrusted_payloads)
{
    gd_larc_coder_ctx *c = gd_larc_coder_new();
    char src[5000];
    fill(src, sizeof src, 1);
    for (int coder = GD_LARC_ZSTD; coder <= GD_LARC_LZMA; coder++) {
        struct gd_buf out;
        gd_buf_init(&out, 1 << 20);
        cr_assert_eq(gd_larc_code(c, coder, 19, 0, src, sizeof src, &out), 0);
        void *back = NULL;
        cr_assert_eq(gd_larc_decode(coder, out.data, out.len, sizeof src - 1, 1 << 20, &back),
                     GD_EPARSE, "short size accepted");
        cr_assert_eq(gd_larc_decode(coder, out.data, out.len, sizeof src + 1, 1 << 20, &back),
                     GD_EPARSE, "long size accepted");
        cr_assert_eq(gd_larc_decode(coder, out.data, out.len - 1, sizeof src, 1 << 20, &back),
                     GD_EPARSE, "truncated payload accepted");
        cr_assert_eq(gd_buf_append(&out, "x", 1), 0);
        cr_assert_eq(gd_larc_decode(coder, out.data, out.len, sizeof src, 1 << 20, &back),
                     GD_EPARSE, "trailing byte accepted");
        cr_assert_eq(gd_larc_decode(coder, out.data, out.len - 1, sizeof src, 100, &back),
                     GD_EPARSE, "size above the cap accepted");
        for (size_t i = 0; i + 1 < out.len; i++) { /* bit flips: an error or the same size */
            out.data[i] ^= 0x10;
            if (gd_larc_decode(coder, out.data, out.len - 1, sizeof src, 1 << 20, &back) == 0)
                gd_free(back);
            out.data[i] ^= 0x10;
        }
        gd_buf_free(&out);
    }
    void *back = NULL;
    cr_assert_eq(gd_larc_decode(GD_LARC_STORED, "abc", 3, 2, 10, &back), GD_EPARSE);
    cr_assert_eq(gd_larc_decode(3, "abc", 3, 3, 10, &back), GD_EPARSE);
    gd_larc_coder_free(c);
}

Test(logarchive_coder, estimate_tracks_compressibility)
{
    gd_larc_coder_ctx *c = gd_larc_coder_new();
    char *src = gd_malloc(200000);
    fill(src, 200000, 0);
    size_t rnd = gd_larc_estimate(c, src, 200000);
    cr_assert_geq(rnd, 199000);
    fill(src, 200000, 1);
    size_t txt = gd_larc_estimate(c, src, 200000);
    struct gd_buf out;
    gd_buf_init(&out, 1 << 20);
    cr_assert_eq(gd_larc_code(c, GD_LARC_ZSTD, 19, 1, src, 200000, &out), 0);
    cr_assert(txt >= out.len && txt < 2 * out.len, "estimate %zu, zstd -19 %zu", txt, out.len);
    cr_assert_eq(gd_larc_estimate(c, src, 0) <= 16, 1);
    gd_buf_free(&out);
    gd_free(src);
    gd_larc_coder_free(c);
}
