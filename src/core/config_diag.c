/* Configuration diagnostics: a capped list of positioned errors, and their formatting as
 * "FILE:LINE:COL: key 'k': message" (the shape compilers use, so editors can jump to it). */
#include "core/alloc.h"
#include "core/config.h"
#include "girder/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gd_config_diag_init(struct gd_config_diag *d, const char *file)
{
    memset(d, 0, sizeof *d);
    d->file = file;
}

void gd_config_diag_free(struct gd_config_diag *d)
{
    gd_free(d->errs);
    d->errs = NULL;
    d->n = d->cap = d->dropped = 0;
}

static void diag_vadd(struct gd_config_diag *d, int line, int col, const char *key,
                      const char *fmt, va_list ap)
{
    if (d->n >= GD_CONFIG_MAX_ERRORS) {
        d->dropped++;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct gd_config_error *e = gd_realloc(d->errs, cap * sizeof *e);
        if (!e) {
            d->dropped++;
            return;
        }
        d->errs = e;
        d->cap = cap;
    }
    struct gd_config_error *e = &d->errs[d->n++];
    e->line = line;
    e->col = col;
    snprintf(e->key, sizeof e->key, "%s", key ? key : "");
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

void gd_config_diag_add_at(struct gd_config_diag *d, int line, int col, const char *key,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, line, col, key, fmt, ap);
    va_end(ap);
}

void gd_config_diag_add(struct gd_config_diag *d, const struct gd_yaml_node *at, const char *key,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!key && at)
        key = at->path;
    diag_vadd(d, at ? at->line : 0, at ? at->col : 0, key, fmt, ap);
    va_end(ap);
}

int gd_config_error_format(const struct gd_config_diag *d, size_t i, struct gd_buf *out)
{
    if (i >= d->n)
        return GD_ERANGE;
    const struct gd_config_error *e = &d->errs[i];
    int rc = gd_buf_puts(out, d->file ? d->file : "<config>");
    if (rc == 0 && e->line > 0)
        rc = gd_buf_printf(out, ":%d:%d", e->line, e->col);
    if (rc == 0)
        rc = gd_buf_puts(out, ": ");
    if (rc == 0 && e->key[0])
        rc = gd_buf_printf(out, "key '%s': ", e->key);
    return rc ? rc : gd_buf_puts(out, e->msg);
}

/* Errors are collected in checking order; people read them in file order. Positionless
 * errors (unreadable file, out of memory) come first. Stable: insertion sort of indices. */
int gd_config_diag_format_all(const struct gd_config_diag *d, struct gd_buf *out)
{
    size_t order[GD_CONFIG_MAX_ERRORS];
    for (size_t i = 0; i < d->n; i++) {
        size_t j = i;
        const struct gd_config_error *e = &d->errs[i];
        while (j > 0) {
            const struct gd_config_error *p = &d->errs[order[j - 1]];
            if (p->line < e->line || (p->line == e->line && p->col <= e->col))
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    int rc = 0;
    for (size_t i = 0; i < d->n && rc == 0; i++) {
        rc = gd_config_error_format(d, order[i], out);
        if (rc == 0)
            rc = gd_buf_putc(out, '\n');
    }
    if (rc == 0 && d->dropped)
        rc = gd_buf_printf(out, "%s: %zu more error(s) not shown\n", d->file ? d->file : "<config>",
                           d->dropped);
    return rc;
}
