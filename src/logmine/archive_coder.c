/* Block payload coders: zstd (libzstd), LZMA (liblzma, raw LZMA1 without container or end
 * marker: xz's 60-odd bytes of headers, index and checks are what the block header already
 * has) and stored bytes, plus the writer's cheap size estimate. */
#include "logmine/archive_coder.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <lzma.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_useBlockSplitter (stable since zstd 1.5.1) */
#include <zstd.h>

#define WINDOW_LOG_MAX 27 /* what readers accept (zstd --long's default window) */

struct gd_larc_coder_ctx {
    ZSTD_CCtx *cc;
};

gd_larc_coder_ctx *gd_larc_coder_new(void)
{
    gd_larc_coder_ctx *c = gd_calloc(1, sizeof *c);
    if (c && !(c->cc = ZSTD_createCCtx())) {
        gd_free(c);
        c = NULL;
    }
    return c;
}

void gd_larc_coder_free(gd_larc_coder_ctx *c)
{
    if (!c)
        return;
    ZSTD_freeCCtx(c->cc);
    gd_free(c);
}

static unsigned window_log_for(size_t n)
{
    unsigned w = 10;
    while (w < WINDOW_LOG_MAX && ((size_t)1 << w) < n)
        w++;
    return w;
}

/* The LZMA1 options shared by encoder and decoder: preset 9e, dictionary = input size. */
static void lzma_opts(lzma_options_lzma *o, size_t n)
{
    lzma_lzma_preset(o, 9 | LZMA_PRESET_EXTREME);
    if (o->dict_size > n)
        o->dict_size = n < LZMA_DICT_SIZE_MIN ? LZMA_DICT_SIZE_MIN : (uint32_t)n;
    o->ext_flags = 0; /* no end-of-payload marker: the size is known */
    o->ext_size_low = (uint32_t)n;
    o->ext_size_high = (uint32_t)((uint64_t)n >> 32);
}

static int lzma_run(int enc, const void *src, size_t n, void *dst, size_t cap, size_t sz,
                    size_t *got)
{
    lzma_options_lzma o;
    lzma_opts(&o, sz);
    lzma_filter f[2] = {{LZMA_FILTER_LZMA1EXT, &o}, {LZMA_VLI_UNKNOWN, NULL}};
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_ret r = enc ? lzma_raw_encoder(&s, f) : lzma_raw_decoder(&s, f);
    if (r != LZMA_OK)
        return r == LZMA_MEM_ERROR ? GD_ENOMEM : GD_EINVAL;
    s.next_in = src;
    s.avail_in = n;
    s.next_out = dst;
    s.avail_out = cap;
    r = lzma_code(&s, LZMA_FINISH);
    *got = (size_t)s.total_out;
    int rc = r == LZMA_STREAM_END && s.avail_in == 0 ? 0
             : r == LZMA_MEM_ERROR                   ? GD_ENOMEM
             : enc && r == LZMA_OK                   ? GD_ELIMIT /* out of room */
                                                     : GD_EPARSE;
    lzma_end(&s);
    return rc;
}

static int zstd_code(gd_larc_coder_ctx *c, int level, int long_window, const void *src, size_t n,
                     struct gd_buf *out)
{
    /* zstd enables its block splitter (separate entropy statistics for the differently
     * shaped parts of a body: templates, varints, text) only for windows >= 128 KiB, and a
     * known small source shrinks the window below that: force it on, it is worth 1-5% on
     * 2k-line files. The size travels in the block header, so the frame omits it; no frame
     * checksum either (each block has a checksum of its output). */
    ZSTD_CCtx *cc = c->cc;
    ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
    size_t e = ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(e) && long_window && n > ((size_t)8 << 20))
        e = ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, (int)window_log_for(n));
    if (!ZSTD_isError(e) && long_window)
        e = ZSTD_CCtx_setParameter(cc, ZSTD_c_enableLongDistanceMatching, 1);
    if (!ZSTD_isError(e))
        e = ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 0);
    if (!ZSTD_isError(e))
        e = ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    if (!ZSTD_isError(e))
        e = ZSTD_CCtx_setParameter(cc, ZSTD_c_useBlockSplitter, ZSTD_ps_enable);
    size_t bound = ZSTD_compressBound(n);
    int rc = ZSTD_isError(e) ? GD_EINVAL : gd_buf_reserve(out, bound);
    if (rc)
        return rc;
    size_t k = ZSTD_compress2(cc, out->data + out->len, bound, n ? src : "", n);
    if (ZSTD_isError(k))
        return GD_EINVAL;
    out->len += k;
    return 0;
}

int gd_larc_code(gd_larc_coder_ctx *c, int coder, int level, int long_window, const void *src,
                 size_t n, struct gd_buf *out)
{
    if (coder == GD_LARC_STORED)
        return gd_buf_append(out, n ? src : "", n);
    if (coder == GD_LARC_ZSTD)
        return zstd_code(c, level, long_window, src, n, out);
    if (coder != GD_LARC_LZMA)
        return GD_EINVAL;
    size_t cap = n + n / 16 + 4096, got = 0; /* LZMA's worst case is ~n + n/64 + small */
    int rc = gd_buf_reserve(out, cap);
    if (rc == 0)
        rc = lzma_run(1, n ? src : "", n, out->data + out->len, cap, n, &got);
    if (rc == 0)
        out->len += got;
    return rc == GD_EPARSE ? GD_EINVAL : rc;
}

static int zstd_decode(const void *src, size_t n, void *dst, size_t sz)
{
    if (ZSTD_findFrameCompressedSize(src, n) != n)
        return GD_EPARSE;
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    if (!dc)
        return GD_ENOMEM;
    int rc = GD_EPARSE;
    if (!ZSTD_isError(ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, WINDOW_LOG_MAX))) {
        size_t got = ZSTD_decompressDCtx(dc, dst, sz, src, n);
        if (!ZSTD_isError(got) && got == sz)
            rc = 0;
    }
    ZSTD_freeDCtx(dc);
    return rc;
}

int gd_larc_decode(int coder, const void *src, size_t n, size_t sz, size_t max_sz, void **out)
{
    if (sz > max_sz || (coder == GD_LARC_STORED && n != sz) || coder < 0 || coder > GD_LARC_LZMA)
        return GD_EPARSE;
    void *dst = gd_malloc(sz ? sz : 1);
    if (!dst)
        return GD_ENOMEM;
    int rc = 0;
    size_t got = 0;
    if (coder == GD_LARC_STORED)
        memcpy(dst, n ? src : "", n);
    else if (coder == GD_LARC_ZSTD)
        rc = zstd_decode(src, n, dst, sz);
    else {
        rc = lzma_run(0, n ? src : "", n, dst, sz, sz, &got);
        rc = rc == 0 && got != sz ? GD_EPARSE : rc == GD_ELIMIT ? GD_EPARSE : rc;
    }
    if (rc) {
        gd_free(dst);
        return rc;
    }
    *out = dst;
    return 0;
}

size_t gd_larc_estimate(gd_larc_coder_ctx *c, const void *src, size_t n)
{
    /* lazy2 with 64 Ki-entry tables and two probes: measured on logs, source and binaries as
     * the cheapest setting whose size tracks the strong coders within a known band. */
    ZSTD_CCtx *cc = c->cc;
    ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
    const int p[][2] = {{ZSTD_c_strategy, ZSTD_lazy2}, {ZSTD_c_windowLog, 0},
                        {ZSTD_c_chainLog, 16},         {ZSTD_c_hashLog, 16},
                        {ZSTD_c_searchLog, 2},         {ZSTD_c_minMatch, 5},
                        {ZSTD_c_targetLength, 16},     {ZSTD_c_contentSizeFlag, 0}};
    size_t e = 0;
    for (size_t i = 0; i < sizeof p / sizeof p[0] && !ZSTD_isError(e); i++)
        e = ZSTD_CCtx_setParameter(cc, (ZSTD_cParameter)p[i][0],
                                   p[i][0] == ZSTD_c_windowLog ? (int)window_log_for(n) : p[i][1]);
    size_t bound = ZSTD_compressBound(n);
    void *dst = ZSTD_isError(e) ? NULL : gd_malloc(bound);
    size_t k = dst ? ZSTD_compress2(cc, dst, bound, n ? src : "", n) : 0;
    gd_free(dst);
    return !dst || ZSTD_isError(k) ? n : k; /* n: "no estimate", treated as incompressible */
}
