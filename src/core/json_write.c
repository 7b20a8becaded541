#include "core/json_write.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int gd_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0, l; i < n; i += l)
        if (!(l = utf8_seq_len(s + i, n - i)))
            return 0;
    return 1;
}

int gd_json_put_str(struct gd_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    int rc = gd_buf_putc(b, '"');
    size_t i = 0;
    while (rc == 0 && i < n) {
        size_t run = i; /* copy runs of plain bytes at once */
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            rc = gd_buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t l = utf8_seq_len(s + i, n - i);
            rc = l ? gd_buf_append(b, s + i, l) : gd_buf_puts(b, "\\ufffd");
            i += l ? l : 1;
            continue;
        }
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
        }
        rc = gd_buf_puts(b, esc);
        i++;
    }
    return rc ? rc : gd_buf_putc(b, '"');
}

int gd_json_put_key(struct gd_buf *b, const char *key, int *first)
{
    int rc = 0;
    if (!*first)
        rc = gd_buf_putc(b, ',');
    *first = 0;
    if (rc == 0)
        rc = gd_json_put_str(b, key, strlen(key));
    return rc ? rc : gd_buf_putc(b, ':');
}

int gd_json_put_i64(struct gd_buf *b, int64_t v)
{
    return gd_buf_printf(b, "%" PRId64, v);
}

int gd_json_put_u64(struct gd_buf *b, uint64_t v)
{
    return gd_buf_printf(b, "%" PRIu64, v);
}

int gd_json_put_f64(struct gd_buf *b, double v)
{
    if (!isfinite(v))
        return gd_buf_puts(b, "null");
    char tmp[32]; /* shortest of %.15g / %.17g that reads back exactly */
    snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof tmp, "%.17g", v);
    return gd_buf_puts(b, tmp);
}
