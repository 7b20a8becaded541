/* libFuzzer driver for the log parser: header formats (compiled from the input and fixed
 * ones), format matching, tokenizing with masks, mining, extract against final templates,
 * and the state loader on untrusted bytes plus a save/load round trip.
 * Input: byte 0 picks options; up to the first '\n' is a format; the rest are log lines. */
#include "girder/logmine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const fixed_formats[] = {
    "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>",
    "<Date> <Time>, <Level>   <Component>  <Content>",
    "<Level>\\s*\\|<Content>",
};

static void mine_lines(gd_logmine *m, struct gd_logfmt *f, const char *p, size_t n)
{
    struct gd_logmine_span spans[64];
    uint32_t ids[256];
    size_t offs[256], lens[256], nl = 0; /* offs: content addresses */
    while (n > 0 && nl < 256) {
        const char *e = memchr(p, '\n', n);
        size_t len = e ? (size_t)(e - p) : n;
        const char *c = p;
        size_t clen = len;
        if (f && gd_logfmt_match(f, p, len, spans) == 1 && gd_logfmt_content_field(f) >= 0) {
            struct gd_logmine_span s = spans[gd_logfmt_content_field(f)];
            if (s.off != GD_LOGMINE_ABSENT) {
                if (s.off > len || s.len > len - s.off)
                    abort(); /* spans must lie inside the line */
                c = p + s.off;
                clen = s.len;
            }
        }
        struct gd_logmine_match mt;
        if (gd_logmine_add(m, c, clen, &mt) == 0) {
            for (uint32_t i = 0; i < mt.n_tokens; i++)
                if (mt.tokens[i].off > clen || mt.tokens[i].len > clen - mt.tokens[i].off)
                    abort();
            ids[nl] = mt.template_id;
            offs[nl] = (size_t)c;
            lens[nl++] = clen;
        }
        if (!e)
            break;
        n -= len + 1;
        p = e + 1;
    }
    for (size_t i = 0; i < nl; i++) { /* second pass: every line fits its final template */
        struct gd_logmine_match mt;
        if (gd_logmine_extract(m, ids[i], (const char *)offs[i], lens[i], &mt) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(p, '\n', n);
    size_t flen = nl ? (size_t)(nl - p) : 0;
    struct gd_logfmt *f = NULL;
    if (sel & 1) {
        char *fmt = malloc(flen + 1);
        if (!fmt)
            return 0;
        memcpy(fmt, p, flen);
        fmt[flen] = '\0';
        if (gd_logfmt_compile(fmt, &f, NULL, 0) != 0)
            f = NULL;
        free(fmt);
    } else {
        (void)gd_logfmt_compile(fixed_formats[(sel >> 1) & 3], &f, NULL, 0);
    }
    if (nl) {
        p = nl + 1;
        n -= flen + 1;
    }
    struct gd_logmine_opts o;
    gd_logmine_opts_init(&o);
    const char *masks[] = {"blk_-?\\d+", "(\\d+\\.){3}\\d+(:\\d+)?"};
    o.masks = masks;
    o.n_masks = (sel & 8) ? 2 : 0;
    o.default_masks = !(sel & 16);
    o.word_vars = (sel & 32) != 0;
    o.sim = (sel & 64) ? 0.2 : 0.5;
    o.depth = (sel & 128) ? 6 : 4;
    o.max_tokens = 64;
    gd_logmine *m;
    if (gd_logmine_new(&o, &m, NULL, 0) != 0) {
        gd_logfmt_free(f);
        return 0;
    }
    mine_lines(m, f, p, n);
    char *state;
    size_t slen;
    if (gd_logmine_save_mem(m, &state, &slen) == 0) {
        gd_logmine *m2;
        if (gd_logmine_new(&o, &m2, NULL, 0) == 0) {
            if (gd_logmine_load_mem(m2, state, slen) != 0 ||
                gd_logmine_count(m2) != gd_logmine_count(m))
                abort(); /* a saved state always loads back */
            gd_logmine_free(m2);
        }
        gd_logmine_free_mem(state);
    }
    gd_logmine *m3;
    if (gd_logmine_new(&o, &m3, NULL, 0) == 0) { /* untrusted state bytes */
        (void)gd_logmine_load_mem(m3, (const char *)data, size);
        gd_logmine_free(m3);
    }
    gd_logmine_free(m);
    gd_logfmt_free(f);
    return 0;
}
