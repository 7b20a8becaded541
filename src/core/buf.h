/* Growable byte buffer with a hard cap. The buffer owns data; data is always
 * NUL-terminated (not counted in len) so it can be printed. Not thread-safe. */
#ifndef GD_CORE_BUF_H
#define GD_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct gd_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* appends that would grow len past max fail with GD_ELIMIT */
};

void gd_buf_init(struct gd_buf *b, size_t max);
void gd_buf_free(struct gd_buf *b);
void gd_buf_reset(struct gd_buf *b); /* len = 0, keeps memory */
int gd_buf_reserve(struct gd_buf *b, size_t extra);
int gd_buf_append(struct gd_buf *b, const void *p, size_t n);
int gd_buf_puts(struct gd_buf *b, const char *s);
int gd_buf_putc(struct gd_buf *b, char c);
int gd_buf_printf(struct gd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int gd_buf_vprintf(struct gd_buf *b, const char *fmt, va_list ap);
/* Drops the first n bytes (n <= len). */
void gd_buf_consume(struct gd_buf *b, size_t n);

#endif
