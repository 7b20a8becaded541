/* libFuzzer driver for the log archive reader: decompress, grep and schema on arbitrary
 * bytes must return an error or a result, never crash, over-read or leak.
 * Inputs starting with 'B' skip the framing and zstd: the rest is a block body handed
 * straight to the body decoder and renderer, so mutations reach the column decoders (behind
 * zstd and the checksum they would rarely get that far). The seed corpus holds tiny valid
 * archives (*.gla) and their bodies (body_*). */
#include "core/buf.h"
#include "core/alloc.h"
#include "girder/error.h"
#include "logmine/archive.h"
#include "logmine/archive_block.h"

#include <string.h>

#include <stddef.h>
#include <stdint.h>

static int count_sink(void *ud, const void *p, size_t n)
{
    (void)p;
    *(size_t *)ud += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t out = 0;
    char err[128];
    if (size > 0 && data[0] == 'B') {
        void *body = gd_malloc(size);
        if (!body)
            return 0;
        memcpy(body, data + 1, size - 1);
        struct gd_larc_block b;
        if (gd_larc_block_decode(body, size - 1, &b, err, sizeof err) == 0) {
            struct gd_buf r;
            gd_buf_init(&r, GD_LARC_BLOCK_MAX + 1);
            gd_larc_block_render(&b, &r);
            gd_buf_free(&r);
        }
        gd_larc_block_free(&b);
        return 0;
    }
    gd_larc_decompress_mem(data, size, count_sink, &out, err, sizeof err);
    gd_larc_grep_mem(data, size, "1", 1, count_sink, &out, NULL, err, sizeof err);
    gd_larc_grep_mem(data, size, "a b", 3, count_sink, &out, NULL, err, sizeof err);
    gd_larc_schema_mem(data, size, count_sink, &out, err, sizeof err);
    return 0;
}
