/* Archive-level tests: lossless round trips on random and adversarial inputs (seeded, many
 * cases, bounded time), multi-block archives, corrupt and truncated archives, grep equal to
 * a naive fixed-string search, and the golden Loghub-2k files. */
#include "core/alloc.h"
#include "core/buf.h"
#include "girder/error.h"
#include "logmine/archive.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bsink(void *ud, const void *p, size_t n)
{
    return gd_buf_append(ud, p, n);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Compresses in[0..n) with o, writing in chunks of `chunk` bytes. */
static void compress(const struct gd_larc_opts *o, const char *in, size_t n, size_t chunk,
                     struct gd_buf *arc)
{
    gd_larc_writer *w = NULL;
    char err[256] = "";
    gd_buf_init(arc, (size_t)1 << 30);
    cr_assert_eq(gd_larc_writer_new(o, bsink, arc, &w, err, sizeof err), 0, "%s", err);
    for (size_t p = 0; p < n; p += chunk) {
        size_t k = n - p < chunk ? n - p : chunk;
        cr_assert_eq(gd_larc_writer_write(w, in + p, k), 0, "%s", gd_larc_writer_error(w));
    }
    cr_assert_eq(gd_larc_writer_finish(w, NULL), 0, "%s", gd_larc_writer_error(w));
    gd_larc_writer_free(w);
}

static void roundtrip(const struct gd_larc_opts *o, const char *in, size_t n, size_t chunk)
{
    struct gd_buf arc, back;
    compress(o, in, n, chunk, &arc);
    gd_buf_init(&back, (size_t)1 << 30);
    char err[256] = "";
    cr_assert_eq(gd_larc_decompress_mem(arc.data, arc.len, bsink, &back, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(back.len, n);
    cr_assert(n == 0 || memcmp(back.data, in, n) == 0, "round trip differs");
    gd_buf_free(&arc);
    gd_buf_free(&back);
}

static const char *const FMT = "<Date> <Time> <Level> <Component>: <Content>";

Test(logarchive_roundtrip, edge_cases)
{
    static const char *const cases[] = {"",          "\n",      "a",        "\n\n\n",
                                        "\r\n",      "a\nb",    "a\n\nb\n", "x\r\ny\r\n",
                                        "12 34\n56", "  \t \n", "\n1"};
    struct gd_larc_opts o;
    gd_larc_opts_init(&o);
    for (int fmt = 0; fmt < 2; fmt++) {
        o.format = fmt ? FMT : NULL;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            roundtrip(&o, cases[i], strlen(cases[i]), 1 + i);
        roundtrip(&o, "a\0b\n\0\n\xff\xfe\x80\n", 11, 3); /* NUL, invalid UTF-8 */
    }
}

/* Random inputs from several generators: uniform bytes, log-like lines (fields, numbers,
 * CR, empty lines, NULs, no final newline), with and without format and miner, and block
 * sizes small enough to split lines across blocks. */
static size_t gen(char *buf, size_t cap, int kind)
{
    size_t n = next() % cap;
    static const char *const words[] = {
        "INFO", "WARN", "block", "blk_-42",  "10.0.0.1:80", "size=",        "0x1f", "id",  ":",
        "=",    "[",    "]",     "/var/log", "2015-10-18",  "18:01:47,978", "-7",   "007", "ok"};
    size_t i = 0;
    while (i < n) {
        uint64_t r = next();
        if (kind == 0) {
            buf[i++] = (char)r;
            continue;
        }
        const char *wd = words[r % (sizeof words / sizeof words[0])];
        int sep = (int)(r >> 20) % 16;
        char tmp[64];
        int len = sep < 3 ? snprintf(tmp, sizeof tmp, "%llu",
                                     (unsigned long long)(r >> 30) % (sep ? 100000 : 10))
                          : snprintf(tmp, sizeof tmp, "%s", wd);
        for (int j = 0; j < len && i < n; j++)
            buf[i++] = tmp[j];
        if (i < n)
            buf[i++] = sep == 4 ? '\n' : sep == 5 ? '\r' : sep == 6 ? '\0' : sep == 7 ? '\t' : ' ';
        if (kind == 2 && sep == 8 && i + 30 < n) /* a header-shaped line start */
            i += (size_t)snprintf(buf + i, 31,
                                  "\n2015-10-18 18:0%d INFO a.b: ", (int)(r >> 50) % 10);
    }
    return n;
}

Test(logarchive_roundtrip, random_property)
{
    enum { CAP = 6000 };
    char *buf = gd_malloc(CAP);
    struct gd_larc_opts o;
    for (int iter = 0; iter < 400; iter++) {
        gd_larc_opts_init(&o);
        o.format = iter % 2 ? FMT : NULL;
        o.use_miner = iter % 3 != 0;
        o.level = 1 + iter % 5;
        o.block_bytes = iter % 4 == 0 ? 64 + (size_t)(next() % 2000) : GD_LARC_BLOCK_DEFAULT;
        size_t n = gen(buf, CAP, iter % 3);
        roundtrip(&o, buf, n, 1 + (size_t)(next() % 700));
    }
    gd_free(buf);
}

Test(logarchive_roundtrip, long_lines_and_many_blocks)
{
    size_t n = 300000;
    char *buf = gd_malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = i % 100000 == 99999 ? '\n' : (char)('a' + i % 7);
    struct gd_larc_opts o;
    gd_larc_opts_init(&o);
    o.block_bytes = 4096; /* lines of 100 kB are cut into pieces */
    roundtrip(&o, buf, n, 65536);
    gd_free(buf);
}

/* Offset of the first block's method byte: after "GLA" 2, the recorded options, comp_len. */
static size_t skip_varint(const uint8_t *p, size_t i, size_t *v)
{
    size_t x = 0;
    int sh = 0;
    for (; p[i] & 0x80; sh += 7)
        x |= (size_t)(p[i++] & 0x7f) << sh;
    *v = x | (size_t)p[i] << sh;
    return i + 1;
}

static size_t method_at(const struct gd_buf *arc)
{
    const uint8_t *p = (const uint8_t *)arc->data;
    size_t opts, clen, i = skip_varint(p, 4, &opts);
    return skip_varint(p, i + opts, &clen);
}

static void naive_grep(const char *in, size_t n, const char *pat, size_t pn, struct gd_buf *out);

static void corrupt_one(const char *in, const char *format, int want_plain);

/* Every truncation fails with a clear error; every single-byte corruption either fails or
 * (bytes that do not affect the output, such as recorded options) still decodes exactly.
 * Both block layouts: a tiny input is kept plain, 40 templated lines use columns. */
Test(logarchive_corrupt, truncation_and_bitflips)
{
    corrupt_one("2015-10-18 18:01:47 INFO a.b: started 12 workers\n"
                "2015-10-18 18:01:48 WARN a.b: slow disk /dev/sda 93%\n"
                "garbage line \x01\x02\n"
                "2015-10-18 18:01:49 INFO a.b: started 16 workers",
                FMT, 1);
    char in[4000];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(in + n, sizeof in - n,
                              "2015-10-18 18:01:%02d INFO a.b: started %d workers on /dev/sd%c\n",
                              i, (int)(next() % 100), "abc"[i % 3]);
    corrupt_one(in, NULL, 0);
}

static void corrupt_one(const char *in, const char *format, int want_plain)
{
    struct gd_larc_opts o;
    gd_larc_opts_init(&o);
    o.format = format;
    struct gd_buf arc, out;
    compress(&o, in, strlen(in), 4096, &arc);
    cr_assert_eq(((uint8_t)arc.data[method_at(&arc)] & 4) != 0, want_plain, "block layout");
    gd_buf_init(&out, 1 << 20);
    char err[256];
    for (size_t cut = 0; cut < arc.len; cut++) {
        gd_buf_reset(&out);
        err[0] = '\0';
        int rc = gd_larc_decompress_mem(arc.data, cut, bsink, &out, err, sizeof err);
        cr_assert_eq(rc, GD_EPARSE, "truncated at %zu accepted", cut);
        cr_assert(err[0] != '\0');
    }
    char *copy = gd_malloc(arc.len);
    for (size_t i = 0; i < arc.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, arc.data, arc.len);
            copy[i] ^= (char)(1 << bit);
            gd_buf_reset(&out);
            int rc = gd_larc_decompress_mem(copy, arc.len, bsink, &out, err, sizeof err);
            cr_assert(rc == GD_EPARSE ||
                          (rc == 0 && out.len == strlen(in) && memcmp(out.data, in, out.len) == 0),
                      "byte %zu bit %d: rc %d", i, bit, rc);
            gd_buf_reset(&out); /* grep and schema must not crash either */
            gd_larc_grep_mem(copy, arc.len, "1", 1, bsink, &out, NULL, err, sizeof err);
            gd_larc_schema_mem(copy, arc.len, bsink, &out, err, sizeof err);
        }
    gd_free(copy);
    gd_buf_free(&arc);
    gd_buf_free(&out);
    if (!want_plain)
        return;
    cr_assert_eq(gd_larc_decompress_mem("GLA\x01\x00junk", 8, bsink, &out, err, sizeof err),
                 GD_EPARSE);
    cr_assert(strstr(err, "version 1") != NULL, "old version not named: %s", err);
    cr_assert_eq(gd_larc_decompress_mem("xz", 2, bsink, &out, err, sizeof err), GD_EPARSE);
}

static void compress_stats(const struct gd_larc_opts *o, const char *in, size_t n,
                           struct gd_buf *arc, struct gd_larc_stats *st)
{
    gd_larc_writer *w = NULL;
    char err[256] = "";
    gd_buf_init(arc, (size_t)1 << 30);
    cr_assert_eq(gd_larc_writer_new(o, bsink, arc, &w, err, sizeof err), 0, "%s", err);
    cr_assert_eq(gd_larc_writer_write(w, in, n), 0);
    cr_assert_eq(gd_larc_writer_finish(w, st), 0, "%s", gd_larc_writer_error(w));
    gd_larc_writer_free(w);
}

/* Blocks where the column layout does not pay are kept plain, whatever the layout of the
 * neighbours; a forged method byte is rejected. */
Test(logarchive_plain, chosen_per_block)
{
    enum { PART = 60000 };
    char *in = gd_malloc(4 * PART);
    size_t n = 0;
    for (int part = 0; part < 4; part++) {
        size_t end = n + PART - 200;
        if (part % 2 == 0) /* random bytes: no coder helps */
            while (n < end)
                in[n++] = (char)next();
        else /* templated lines: the column layout wins */
            while (n < end)
                n += (size_t)snprintf(in + n, 200,
                                      "2015-10-18 18:01:%02u INFO dfs.DataNode: Received block "
                                      "blk_%llu of size %u from /10.250.%u.%u\n",
                                      (unsigned)(next() % 60),
                                      (unsigned long long)(next() % 100000000000ull),
                                      (unsigned)(next() % 67108864), (unsigned)(next() % 256),
                                      (unsigned)(next() % 256));
        in[n++] = '\n';
    }
    struct gd_larc_opts o;
    gd_larc_opts_init(&o);
    o.block_bytes = PART;
    struct gd_buf arc, back;
    struct gd_larc_stats st;
    compress_stats(&o, in, n, &arc, &st);
    cr_assert_geq(st.blocks, 4);
    cr_assert(st.plain_blocks >= 2 && st.plain_blocks < st.blocks, "%llu of %llu plain",
              (unsigned long long)st.plain_blocks, (unsigned long long)st.blocks);
    cr_assert_leq(arc.len, n + 64);
    gd_buf_init(&back, (size_t)1 << 30);
    char err[256] = "";
    cr_assert_eq(gd_larc_decompress_mem(arc.data, arc.len, bsink, &back, err, sizeof err), 0, "%s",
                 err);
    cr_assert(back.len == n && memcmp(back.data, in, n) == 0);
    static const char *const pats[] = {"", "INFO", "blk_1", "\x01", "a", "18:01:3"};
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        struct gd_buf got, want;
        struct gd_larc_grep_stats gs;
        gd_buf_init(&got, (size_t)1 << 30);
        naive_grep(in, n, pats[p], strlen(pats[p]), &want);
        cr_assert_eq(gd_larc_grep_mem(arc.data, arc.len, pats[p], strlen(pats[p]), bsink, &got, &gs,
                                      err, sizeof err),
                     0, "%s", err);
        cr_assert(got.len == want.len && memcmp(got.data, want.data, got.len) == 0, "grep %s",
                  pats[p]);
        cr_assert_eq(gs.plain_blocks, st.plain_blocks);
        gd_buf_free(&got);
        gd_buf_free(&want);
    }
    gd_buf_reset(&back); /* schema mines plain blocks too: the templates of every block */
    cr_assert_eq(gd_larc_schema_mem(arc.data, arc.len, bsink, &back, err, sizeof err), 0, "%s",
                 err);
    cr_assert(back.len > 0 && memmem(back.data, back.len, "Received block", 14));
    size_t m = method_at(&arc);
    cr_assert(((uint8_t)arc.data[m] & 4) != 0, "first block (random) should be plain");
    for (int bad = 0; bad < 16; bad++) {
        if (bad == 1 || bad == 2 || bad == 4 || bad == 5 || bad == 6)
            continue;
        char keep = arc.data[m];
        arc.data[m] = (char)bad;
        cr_assert_eq(gd_larc_decompress_mem(arc.data, arc.len, bsink, &back, err, sizeof err),
                     GD_EPARSE);
        arc.data[m] = keep;
    }
    gd_buf_free(&arc);
    gd_buf_free(&back);
    gd_free(in);
}

/* Small inputs try every plain coding, so an archive is never bigger than the best of them
 * plus the container (the corpus test checks the same against the zstd and xz CLIs). */
Test(logarchive_plain, small_inputs_bounded)
{
    char buf[3000];
    for (int iter = 0; iter < 60; iter++) {
        size_t n = gen(buf, sizeof buf, iter % 3);
        struct gd_larc_opts o;
        gd_larc_opts_init(&o);
        struct gd_buf arc;
        struct gd_larc_stats st;
        compress_stats(&o, buf, n, &arc, &st);
        cr_assert_leq(arc.len, n + 4 + 17 + 13 + 1, "%zu bytes -> %zu", n, arc.len);
        gd_buf_free(&arc);
    }
}

/* Lines of in containing pat, each followed by '\n' (what `grep -F -a` prints). */
static void naive_grep(const char *in, size_t n, const char *pat, size_t pn, struct gd_buf *out)
{
    gd_buf_init(out, (size_t)1 << 30);
    for (size_t p = 0; p < n;) {
        const char *nl = memchr(in + p, '\n', n - p);
        size_t e = nl ? (size_t)(nl - in) : n;
        if (pn == 0 || (e - p >= pn && memmem(in + p, e - p, pat, pn)))
            cr_assert_eq(gd_buf_append(out, in + p, e - p) | gd_buf_putc(out, '\n'), 0);
        p = e + 1;
    }
}

static void grep_check(const struct gd_buf *arc, const char *in, size_t n, const char *pat,
                       size_t pn)
{
    struct gd_buf got, want;
    gd_buf_init(&got, (size_t)1 << 30);
    naive_grep(in, n, pat, pn, &want);
    char err[256] = "";
    struct gd_larc_grep_stats st;
    cr_assert_eq(gd_larc_grep_mem(arc->data, arc->len, pat, pn, bsink, &got, &st, err, sizeof err),
                 0, "%s", err);
    cr_assert(got.len == want.len && (got.len == 0 || memcmp(got.data, want.data, got.len) == 0),
              "grep '%.*s': %zu bytes, want %zu", (int)pn, pat, got.len, want.len);
    gd_buf_free(&got);
    gd_buf_free(&want);
}

/* Patterns drawn from the input itself (inside values, across boundaries, whole lines) and
 * a few fixed ones, on random log-like inputs. */
Test(logarchive_grep, equals_naive_search)
{
    enum { CAP = 5000 };
    char *buf = gd_malloc(CAP);
    for (int iter = 0; iter < 150; iter++) {
        struct gd_larc_opts o;
        gd_larc_opts_init(&o);
        o.format = iter % 2 ? FMT : NULL;
        o.use_miner = iter % 3 != 0;
        size_t n = gen(buf, CAP, 1 + iter % 2);
        struct gd_buf arc;
        compress(&o, buf, n, 4096, &arc);
        for (int k = 0; k < 12 && n > 0; k++) {
            size_t at = (size_t)(next() % n), len = 1 + (size_t)(next() % 12);
            len = at + len > n ? n - at : len;
            const char *nl = memchr(buf + at, '\n', len);
            if (nl)
                len = (size_t)(nl - (buf + at));
            grep_check(&arc, buf, n, buf + at, len);
        }
        static const char *const fixed[] = {"", "INFO", "1", "-4", " 0", "blk_", ": ", "zz"};
        for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
            grep_check(&arc, buf, n, fixed[k], strlen(fixed[k]));
        gd_buf_free(&arc);
    }
    gd_free(buf);
    struct gd_buf arc, out;
    gd_buf_init(&out, 1024);
    struct gd_larc_opts o;
    gd_larc_opts_init(&o);
    compress(&o, "a\nb\n", 4, 4, &arc);
    cr_assert_eq(gd_larc_grep_mem(arc.data, arc.len, "a\nb", 3, bsink, &out, NULL, NULL, 0),
                 GD_EINVAL);
    gd_buf_free(&arc);
    gd_buf_free(&out);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct gd_buf b;
    gd_buf_init(&b, (size_t)1 << 30);
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        cr_assert_eq(gd_buf_append(&b, chunk, k), 0);
    fclose(f);
    *n = b.len;
    return b.data;
}

static long xz_size(const char *path)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "xz -9e -c '%s' 2>/dev/null | wc -c", path);
    FILE *p = popen(cmd, "r");
    long v = -1;
    if (p && fscanf(p, "%ld", &v) != 1)
        v = -1;
    if (p)
        pclose(p);
    return v > 0 ? v : -1;
}

/* One dataset of settings.tsv: name, format, masks (" ;; "-separated), sim, depth. */
static void golden_one(char *line)
{
    char *f[5] = {0};
    int k = 0;
    for (char *s = line; k < 5; k++) {
        f[k] = s;
        char *t = strchr(s, '\t');
        if (!t)
            break;
        *t = '\0';
        s = t + 1;
    }
    cr_assert(k >= 4, "bad settings line");
    const char *masks[8];
    size_t nm = 0;
    for (char *m = f[2]; m && *m && nm < 8;) {
        char *sep = strstr(m, " ;; ");
        if (sep)
            *sep = '\0';
        masks[nm++] = m;
        m = sep ? sep + 4 : NULL;
    }
    struct gd_larc_opts o;
    gd_larc_opts_init(&o);
    o.format = f[1];
    o.mine.masks = masks;
    o.mine.n_masks = nm;
    o.mine.sim = strtod(f[3], NULL);
    o.mine.depth = (unsigned)strtoul(f[4], NULL, 10);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s_2k.log", GD_LOGHUB_DIR, f[0], f[0]);
    size_t n = 0;
    char *in = slurp(path, &n);
    cr_assert_not_null(in, "%s", path);
    roundtrip(&o, in, n, 65536);
    struct gd_buf arc;
    compress(&o, in, n, 65536, &arc);
    long xz = xz_size(path);
    cr_log_info("%s: %zu -> %zu bytes (ratio %.2f), xz -9e %ld", f[0], n, arc.len,
                (double)n / (double)arc.len, xz);
    cr_expect(xz < 0 || (long)arc.len < xz, "%s: %zu bytes, xz -9e %ld", f[0], arc.len, xz);
    static const char *const pats[] = {"INFO", "error", "1", ": ", "00"};
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++)
        grep_check(&arc, in, n, pats[p], strlen(pats[p]));
    const char *mid = in + n / 2, *nl = memchr(mid, '\n', 9); /* a piece of some line */
    grep_check(&arc, in, n, mid, nl ? (size_t)(nl - mid) : 9);
    gd_buf_free(&arc);
    gd_free(in);
}

Test(logarchive_golden, loghub_2k, .timeout = 240)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/settings.tsv", GD_LOGHUB_DIR);
    size_t n = 0;
    char *tsv = slurp(path, &n);
    if (!tsv)
        cr_skip_test("Loghub-2k data not found at %s", GD_LOGHUB_DIR);
    int datasets = 0;
    for (char *line = tsv; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (line[0] != '#' && line[0] != '\0') {
            golden_one(line);
            datasets++;
        }
        line = nl ? nl + 1 : NULL;
    }
    cr_assert_eq(datasets, 10);
    gd_free(tsv);
}
