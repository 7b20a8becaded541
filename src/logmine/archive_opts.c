/* The options recorded in an archive header, parsed back into gd_larc_opts (the writer's
 * record_opts is the other half): `schema` re-mines plain blocks with them. */
#include "logmine/archive.h"
#include "logmine/archive_block.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <stdlib.h>
#include <string.h>

int gd_larc_recorded_parse(const char *txt, size_t n, struct gd_larc_recorded *r)
{
    memset(r, 0, sizeof *r);
    r->o = gd_malloc(sizeof *r->o);
    r->buf = gd_malloc(n + 1);
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += txt[i] == '\n';
    r->masks = gd_calloc(lines, sizeof *r->masks);
    if (!r->o || !r->buf || !r->masks) {
        gd_larc_recorded_free(r);
        return GD_ENOMEM;
    }
    gd_larc_opts_init(r->o);
    if (n)
        memcpy(r->buf, txt, n);
    r->buf[n] = '\0';
    size_t nm = 0;
    for (char *p = r->buf, *end = r->buf + n; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl)
            *nl = '\0';
        if (strncmp(p, "format=", 7) == 0)
            r->o->format = p + 7;
        else if (strncmp(p, "mask=", 5) == 0)
            r->masks[nm++] = p + 5;
        else if (strncmp(p, "sim=", 4) == 0)
            r->o->mine.sim = strtod(p + 4, NULL);
        else if (strncmp(p, "depth=", 6) == 0)
            r->o->mine.depth = (unsigned)strtoul(p + 6, NULL, 10);
        else if (strcmp(p, "default_masks=0") == 0)
            r->o->mine.default_masks = 0;
        else if (strcmp(p, "miner=0") == 0)
            r->o->use_miner = 0;
        p = nl ? nl + 1 : end;
    }
    r->o->mine.masks = r->masks;
    r->o->mine.n_masks = nm;
    return 0;
}

void gd_larc_recorded_free(struct gd_larc_recorded *r)
{
    gd_free(r->o);
    gd_free(r->buf);
    gd_free(r->masks);
    memset(r, 0, sizeof *r);
}
