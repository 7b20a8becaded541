#include "core/buf.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>

void gd_buf_init(struct gd_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void gd_buf_free(struct gd_buf *b)
{
    gd_free(b->data);
    gd_buf_init(b, b->max);
}

void gd_buf_reset(struct gd_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int gd_buf_reserve(struct gd_buf *b, size_t extra)
{
    size_t need;
    if (gd_size_add(b->len, extra, &need) != 0 || need > b->max)
        return GD_ELIMIT;
    if (need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need + 1)
        cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
    char *d = gd_realloc(b->data, cap);
    if (!d)
        return GD_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int gd_buf_append(struct gd_buf *b, const void *p, size_t n)
{
    int rc = gd_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int gd_buf_puts(struct gd_buf *b, const char *s)
{
    return gd_buf_append(b, s, strlen(s));
}

int gd_buf_putc(struct gd_buf *b, char c)
{
    return gd_buf_append(b, &c, 1);
}

int gd_buf_vprintf(struct gd_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return GD_EINVAL;
    int rc = gd_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int gd_buf_printf(struct gd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = gd_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void gd_buf_consume(struct gd_buf *b, size_t n)
{
    if (n >= b->len) {
        gd_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}
