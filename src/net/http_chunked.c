/* Chunked transfer coding decoder (RFC 9112 §7.1), decoding in place, plus the small
 * validators for request-context headers (traceparent, X-Request-Id).
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *
 * Lines (size lines, trailer fields) are only consumed once complete; a size line longer
 * than 4 KiB is rejected so that waiting for its end cannot cost more than that. */
#include "girder/error.h"
#include "net/http_parser.h"

#include <string.h>

enum { ST_SIZE = 0, ST_DATA, ST_DATA_CRLF, ST_TRAILER, ST_DONE };
enum { MAX_CHUNK_LINE = 4096 };

void gd_http_chunked_init(struct gd_http_chunked *c, uint64_t max_body, size_t max_trailer_bytes)
{
    memset(c, 0, sizeof *c);
    c->max_body = max_body;
    c->max_trailer_bytes = max_trailer_bytes;
}

static int cfail(struct gd_http_chunked *c, int status, const char *why)
{
    c->error_status = status;
    c->error = why;
    return GD_EPARSE;
}

static int is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static size_t skip_bws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i;
}

/* token or quoted-string starting at i; returns the index after it, or 0 on error */
static size_t ext_value(const char *p, size_t i, size_t n)
{
    if (i < n && p[i] == '"') {
        for (i++; i < n; i++) {
            unsigned char ch = (unsigned char)p[i];
            if (ch == '"')
                return i + 1;
            if (ch == '\\') {
                if (++i >= n)
                    return 0;
                ch = (unsigned char)p[i];
                if (ch != '\t' && ch < 0x20)
                    return 0;
                if (ch == 0x7f)
                    return 0;
            } else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                return 0;
            }
        }
        return 0;
    }
    size_t s = i;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    return i > s ? i : 0;
}

/* size line without its CRLF */
static int parse_size_line(struct gd_http_chunked *c, const char *p, size_t n, uint64_t *size)
{
    size_t i = 0;
    uint64_t v = 0;
    for (; i < n; i++) {
        int d = p[i] >= '0' && p[i] <= '9'                     ? p[i] - '0'
                : (p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f' ? (p[i] | 0x20) - 'a' + 10
                                                               : -1;
        if (d < 0)
            break;
        if (v > (UINT64_MAX >> 4))
            return cfail(c, 400, "chunk size overflow");
        v = (v << 4) | (uint64_t)d;
    }
    if (i == 0)
        return cfail(c, 400, "invalid chunk size");
    while (i < n) {
        i = skip_bws(p, i, n);
        if (i >= n || p[i] != ';')
            return cfail(c, 400, "invalid chunk extension");
        i = skip_bws(p, i + 1, n);
        size_t s = i;
        while (i < n && is_tchar((unsigned char)p[i]))
            i++;
        if (i == s)
            return cfail(c, 400, "invalid chunk extension name");
        size_t j = skip_bws(p, i, n);
        if (j < n && p[j] == '=') {
            i = ext_value(p, skip_bws(p, j + 1, n), n);
            if (i == 0)
                return cfail(c, 400, "invalid chunk extension value");
        }
    }
    *size = v;
    return 0;
}

/* trailer field line (without CRLF): validated like a header, then dropped */
static int check_trailer_line(struct gd_http_chunked *c, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ':')
        return cfail(c, 400, "invalid trailer field");
    for (i++; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return cfail(c, 400, "invalid character in trailer field");
    }
    return 0;
}

/* Finds a complete CRLF-terminated line at src[0..len); returns its length without CRLF,
 * -1 when incomplete, or a GD_E* error. */
static long take_line(struct gd_http_chunked *c, const char *src, size_t len, size_t cap)
{
    size_t lim = len < cap + 2 ? len : cap + 2;
    for (size_t i = 0; i < lim; i++) {
        if (src[i] == '\n') {
            if (i == 0 || src[i - 1] != '\r')
                return cfail(c, 400, "bare LF in chunked body");
            return (long)(i - 1);
        }
        if (src[i] == '\r' && i + 1 < len && src[i + 1] != '\n')
            return cfail(c, 400, "bare CR in chunked body");
        if (src[i] == '\0')
            return cfail(c, 400, "NUL in chunked framing");
    }
    if (len >= cap + 2)
        return cfail(c, 400, "chunk line too long");
    return -1;
}

static int step_line(struct gd_http_chunked *c, const char *src, size_t len, size_t *used)
{
    size_t cap = c->state == ST_SIZE ? MAX_CHUNK_LINE : c->max_trailer_bytes;
    long n = take_line(c, src, len, cap);
    if (n < -1)
        return (int)n;
    if (n == -1)
        return 0;
    *used = (size_t)n + 2;
    if (c->state == ST_TRAILER) {
        if (n == 0) {
            c->state = ST_DONE;
            return 1;
        }
        c->trailer_bytes += (size_t)n + 2;
        if (c->trailer_bytes > c->max_trailer_bytes)
            return cfail(c, 400, "trailer section too large");
        return check_trailer_line(c, src, (size_t)n) ? GD_EPARSE : 1;
    }
    uint64_t size;
    if (parse_size_line(c, src, (size_t)n, &size) != 0)
        return GD_EPARSE;
    if (size == 0) {
        c->state = ST_TRAILER;
        return 1;
    }
    if (size > c->max_body - c->total)
        return cfail(c, 413, "request body too large");
    c->remaining = size;
    c->state = ST_DATA;
    return 1;
}

int gd_http_chunked_decode(struct gd_http_chunked *c, char *dst, const char *src, size_t len,
                           size_t *written, size_t *consumed)
{
    size_t in = 0, out = 0;
    int rc = 0;
    while (c->state != ST_DONE && in < len) {
        if (c->state == ST_DATA) {
            size_t n = len - in;
            if (n > c->remaining)
                n = (size_t)c->remaining;
            memmove(dst + out, src + in, n);
            in += n, out += n;
            c->remaining -= n;
            c->total += n;
            if (c->remaining == 0)
                c->state = ST_DATA_CRLF;
            continue;
        }
        if (c->state == ST_DATA_CRLF) {
            if (len - in < 2 && src[in] == '\r')
                break;
            if (src[in] != '\r' || src[in + 1] != '\n') {
                rc = cfail(c, 400, "missing CRLF after chunk data");
                goto done;
            }
            in += 2;
            c->state = ST_SIZE;
            continue;
        }
        size_t used = 0;
        rc = step_line(c, src + in, len - in, &used);
        if (rc <= 0)
            goto done;
        in += used;
    }
    rc = c->state == ST_DONE ? 1 : 0;
done:
    *written = out;
    *consumed = in;
    return rc;
}

/* ---- request context headers ---- */

static int lower_hex(const char *s, size_t n, char *out)
{
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return -1;
        nonzero |= ch != '0';
        if (out)
            out[i] = ch;
    }
    if (out)
        out[n] = '\0';
    return nonzero;
}

static unsigned strtol_hex2(const char *h)
{
    unsigned v = 0;
    for (int i = 0; i < 2; i++)
        v = v * 16 + (unsigned)(h[i] <= '9' ? h[i] - '0' : h[i] - 'a' + 10);
    return v;
}

/* version "-" trace-id "-" parent-id "-" trace-flags, all lowercase hex (W3C Trace Context
 * level 1). Version ff is invalid; a higher version may append "-..." fields. */
int gd_traceparent_parse(const char *s, size_t n, struct gd_traceparent *tp)
{
    char ver[3], flags[3];
    memset(tp, 0, sizeof *tp);
    if (n < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-')
        return GD_EINVAL;
    if (lower_hex(s, 2, ver) < 0 || strcmp(ver, "ff") == 0)
        return GD_EINVAL;
    if (strcmp(ver, "00") == 0 ? n != 55 : (n > 55 && s[55] != '-'))
        return GD_EINVAL;
    if (lower_hex(s + 3, 32, tp->trace_id) != 1 || lower_hex(s + 36, 16, tp->parent_id) != 1 ||
        lower_hex(s + 53, 2, flags) < 0) {
        memset(tp, 0, sizeof *tp);
        return GD_EINVAL;
    }
    tp->version = (uint8_t)strtol_hex2(ver);
    tp->flags = (uint8_t)strtol_hex2(flags);
    tp->valid = 1;
    return 0;
}

int gd_http_request_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-'))
            return 0;
    }
    return 1;
}
