/* Strict HTTP/1.1 request parsing (RFC 9112). See http_parser.h for the policy.
 *
 * The head is handled in two passes: an incremental scan that only finds the end of the
 * head (and fails early on NUL, bare CR, bare LF and the size caps), then, once the head
 * is complete, one full pass that validates the grammar and fills slices. Slices are
 * therefore only created over a buffer that is complete, and the scan never looks at a
 * byte twice however the head trickles in. */
#include "net/http_parser.h"
#include "girder/error.h"

#include <string.h>

enum { MAX_LEADING_EMPTY_LINES = 8, REQUEST_LINE_SLACK = 64 };

/* tchar per RFC 9110 §5.6.2 */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static int is_vchar_or_obs(unsigned char c)
{
    return (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int slice_ieq(struct gd_slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s.p[i]) != lit[i])
            return 0;
    return 1;
}

void gd_http_limits_fill_defaults(struct gd_http_limits *l)
{
    if (!l->max_header_bytes)
        l->max_header_bytes = GD_HTTP_DEFAULT_MAX_HEADER_BYTES;
    if (!l->max_headers)
        l->max_headers = GD_HTTP_DEFAULT_MAX_HEADERS;
    if (!l->max_target_bytes)
        l->max_target_bytes = GD_HTTP_DEFAULT_MAX_TARGET_BYTES;
    if (!l->max_body_bytes)
        l->max_body_bytes = GD_HTTP_DEFAULT_MAX_BODY_BYTES;
}

static long fail(struct gd_http_head *h, int status, const char *why)
{
    h->error_status = status;
    h->error = why;
    return GD_EPARSE;
}

/* ---- pass 2: the grammar ---- */

static long parse_target(struct gd_http_head *h, const struct gd_http_limits *lim)
{
    struct gd_slice t = h->target;
    if (t.n > lim->max_target_bytes)
        return fail(h, 414, "request target too long");
    for (size_t i = 0; i < t.n; i++)
        if (t.p[i] == '#')
            return fail(h, 400, "fragment in request target");
    const char *p = t.p;
    size_t n = t.n;
    if (n == 1 && p[0] == '*') {
        if (h->method.n != 7 || memcmp(h->method.p, "OPTIONS", 7) != 0)
            return fail(h, 400, "asterisk-form target outside OPTIONS");
        h->path = t;
        return 0;
    }
    if (p[0] != '/') {
        size_t skip = 0;
        if (n >= 7 && slice_ieq((struct gd_slice){p, 7}, "http://"))
            skip = 7;
        else if (n >= 8 && slice_ieq((struct gd_slice){p, 8}, "https://"))
            skip = 8;
        else
            return fail(h, 400, "request target is not origin or absolute form");
        const char *slash = memchr(p + skip, '/', n - skip);
        const char *q = memchr(p + skip, '?', n - skip);
        if (slash == p + skip || (q && (!slash || q < slash)))
            return fail(h, 400, "absolute-form target without a path");
        if (!slash) {
            h->path = (struct gd_slice){"/", 1};
            return 0;
        }
        n -= (size_t)(slash - p);
        p = slash;
    }
    const char *q = memchr(p, '?', n);
    if (q) {
        h->path = (struct gd_slice){p, (size_t)(q - p)};
        h->query = (struct gd_slice){q + 1, n - (size_t)(q - p) - 1};
    } else {
        h->path = (struct gd_slice){p, n};
    }
    return 0;
}

/* request-line = method SP request-target SP HTTP-version; line excludes CRLF */
static long parse_request_line(struct gd_http_head *h, const char *p, size_t n,
                               const struct gd_http_limits *lim)
{
    size_t i = 0;
    while (i < n && tchar[(unsigned char)p[i]])
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return fail(h, 400, "invalid method");
    h->method = (struct gd_slice){p, i};
    size_t t0 = ++i;
    while (i < n && p[i] >= 0x21 && p[i] <= 0x7e)
        i++;
    if (i == t0 || i >= n || p[i] != ' ') {
        if (i - t0 > lim->max_target_bytes)
            return fail(h, 414, "request target too long");
        return fail(h, 400, "invalid request target");
    }
    h->target = (struct gd_slice){p + t0, i - t0};
    i++;
    if (n - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 || p[i + 5] < '0' || p[i + 5] > '9' ||
        p[i + 6] != '.' || p[i + 7] < '0' || p[i + 7] > '9')
        return fail(h, 400, "invalid HTTP version");
    if (p[i + 5] != '1' || (p[i + 7] != '0' && p[i + 7] != '1'))
        return fail(h, 505, "HTTP version not supported");
    h->minor_version = p[i + 7] - '0';
    return parse_target(h, lim);
}

static long parse_content_length(struct gd_http_head *h, struct gd_slice v)
{
    if (h->body_kind == GD_HTTP_BODY_LENGTH)
        return fail(h, 400, "duplicate Content-Length");
    if (v.n == 0)
        return fail(h, 400, "empty Content-Length");
    uint64_t x = 0;
    for (size_t i = 0; i < v.n; i++) {
        unsigned d = (unsigned char)v.p[i] - '0';
        if (d > 9)
            return fail(h, 400, "non-numeric Content-Length");
        if (x > (UINT64_MAX - d) / 10)
            return fail(h, 400, "Content-Length overflow");
        x = x * 10 + d;
    }
    h->body_kind = GD_HTTP_BODY_LENGTH;
    h->content_length = x;
    return 0;
}

/* Transfer-Encoding: only a single "chunked" is understood. */
static long parse_transfer_encoding(struct gd_http_head *h, struct gd_slice v, int *seen)
{
    if (*seen)
        return fail(h, 400, "duplicate Transfer-Encoding");
    *seen = 1;
    int n_chunked = 0, n_items = 0, last_chunked = 0;
    size_t i = 0;
    while (i <= v.n) {
        size_t s = i;
        while (i < v.n && v.p[i] != ',')
            i++;
        struct gd_slice item = {v.p + s, i - s};
        while (item.n && (item.p[0] == ' ' || item.p[0] == '\t'))
            item.p++, item.n--;
        while (item.n && (item.p[item.n - 1] == ' ' || item.p[item.n - 1] == '\t'))
            item.n--;
        if (item.n == 0)
            return fail(h, 400, "empty transfer coding");
        n_items++;
        last_chunked = slice_ieq(item, "chunked");
        n_chunked += last_chunked;
        i++;
    }
    if (n_chunked > 1 || (n_chunked == 1 && !last_chunked))
        return fail(h, 400, "chunked is not the final transfer coding");
    if (n_items != 1 || !last_chunked)
        return fail(h, 501, "unsupported transfer coding");
    return 0;
}

static void parse_connection(struct gd_http_head *h, struct gd_slice v)
{
    size_t i = 0;
    while (i < v.n) {
        while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
            i++;
        size_t s = i;
        while (i < v.n && v.p[i] != ',' && v.p[i] != ' ' && v.p[i] != '\t')
            i++;
        struct gd_slice tok = {v.p + s, i - s};
        if (slice_ieq(tok, "close"))
            h->flags |= GD_HTTP_F_CONN_CLOSE;
        else if (slice_ieq(tok, "keep-alive"))
            h->flags |= GD_HTTP_F_CONN_KEEPALIVE;
    }
}

/* field-line = field-name ":" OWS field-value OWS; line excludes CRLF. */
static long parse_field_line(struct gd_http_head *h, const char *p, size_t n,
                             struct gd_http_header *out)
{
    if (n && (p[0] == ' ' || p[0] == '\t'))
        return fail(h, 400, "obsolete line folding");
    size_t i = 0;
    while (i < n && tchar[(unsigned char)p[i]])
        i++;
    if (i == 0 || i >= n || p[i] != ':')
        return fail(h, 400,
                    i < n && (p[i] == ' ' || p[i] == '\t')
                        ? "whitespace between header name and colon"
                        : "invalid header name");
    out->name = (struct gd_slice){p, i};
    i++;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t e = n;
    while (e > i && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    for (size_t k = i; k < e; k++) {
        unsigned char c = (unsigned char)p[k];
        if (!is_vchar_or_obs(c) && c != ' ' && c != '\t')
            return fail(h, 400, "invalid character in header value");
    }
    out->value = (struct gd_slice){p + i, e - i};
    return 0;
}

static long note_header(struct gd_http_head *h, const struct gd_http_header *f, int *te_seen)
{
    struct gd_slice name = f->name;
    long rc = 0;
    switch (lower((unsigned char)name.p[0])) {
    case 'c':
        if (slice_ieq(name, "content-length"))
            rc = parse_content_length(h, f->value);
        else if (slice_ieq(name, "connection"))
            parse_connection(h, f->value);
        break;
    case 't':
        if (slice_ieq(name, "transfer-encoding"))
            rc = parse_transfer_encoding(h, f->value, te_seen);
        else if (slice_ieq(name, "traceparent") && !h->traceparent.p)
            h->traceparent = f->value;
        break;
    case 'h':
        if (slice_ieq(name, "host")) {
            if (h->host.p)
                return fail(h, 400, "duplicate Host");
            h->host = f->value;
        }
        break;
    case 'e':
        if (slice_ieq(name, "expect"))
            h->flags |= slice_ieq(f->value, "100-continue") ? GD_HTTP_F_EXPECT_CONTINUE
                                                            : GD_HTTP_F_EXPECT_OTHER;
        break;
    case 'x':
        if (slice_ieq(name, "x-request-id") && !h->request_id.p)
            h->request_id = f->value;
        break;
    default:
        break;
    }
    return rc;
}

static long check_framing(struct gd_http_head *h, int te_seen, const struct gd_http_limits *lim)
{
    if (te_seen) {
        if (h->body_kind == GD_HTTP_BODY_LENGTH)
            return fail(h, 400, "both Content-Length and Transfer-Encoding");
        if (h->minor_version == 0)
            return fail(h, 400, "Transfer-Encoding in HTTP/1.0");
        h->body_kind = GD_HTTP_BODY_CHUNKED;
    }
    if (h->minor_version == 1 && !h->host.p)
        return fail(h, 400, "missing Host");
    if (h->body_kind == GD_HTTP_BODY_LENGTH && h->content_length == 0)
        h->body_kind = GD_HTTP_BODY_NONE;
    if (h->body_kind == GD_HTTP_BODY_LENGTH && h->content_length > lim->max_body_bytes)
        return fail(h, 413, "request body too large");
    return 0;
}

/* Full pass over a complete head [p, p+n) (request line .. last field line CRLF). */
static long parse_complete(const char *p, size_t n, const struct gd_http_limits *lim,
                           struct gd_http_head *h, struct gd_http_header *hdrs)
{
    const char *end = p + n;
    const char *eol = memchr(p, '\n', n);
    long rc = parse_request_line(h, p, (size_t)(eol - 1 - p), lim);
    if (rc)
        return rc;
    int te_seen = 0;
    for (const char *line = eol + 1; line < end; line = eol + 1) {
        eol = memchr(line, '\n', (size_t)(end - line));
        if (h->n_headers == lim->max_headers)
            return fail(h, 431, "too many header fields");
        struct gd_http_header *f = &hdrs[h->n_headers];
        if ((rc = parse_field_line(h, line, (size_t)(eol - 1 - line), f)) != 0 ||
            (rc = note_header(h, f, &te_seen)) != 0)
            return rc;
        h->n_headers++;
    }
    return check_framing(h, te_seen, lim);
}

/* ---- pass 1: find the end of the head ---- */

/* First buffer offset the head may not reach: max_header_bytes from its start, or, while
 * the request line is not complete, the (smaller) request-line allowance. Checking caps per
 * byte position makes the reported error independent of how the input was split. */
static size_t scan_stop(const struct gd_http_head *h, const struct gd_http_limits *lim)
{
    size_t cap = lim->max_header_bytes;
    if (!h->priv_have_line) {
        size_t rl = lim->max_target_bytes + REQUEST_LINE_SLACK;
        if (rl < 2 * REQUEST_LINE_SLACK)
            rl = 2 * REQUEST_LINE_SLACK;
        if (rl < cap)
            cap = rl;
    }
    return h->priv_head_start + cap;
}

static long cap_error(const char *buf, struct gd_http_head *h, const struct gd_http_limits *lim)
{
    size_t used = scan_stop(h, lim) - h->priv_head_start;
    if (h->priv_have_line || used == lim->max_header_bytes)
        return fail(h, 431, "request header section too large");
    /* still inside the request line: the target is what is long (or it is garbage) */
    const char *sp = memchr(buf + h->priv_head_start, ' ', used);
    return fail(h, sp ? 414 : 400, sp ? "request target too long" : "invalid method");
}

long gd_http_parse_head(const char *buf, size_t len, const struct gd_http_limits *lim,
                        struct gd_http_head *h, struct gd_http_header *hdrs, size_t *scan)
{
    size_t pos = *scan;
    if (pos == 0)
        memset(h, 0, sizeof *h);
    size_t stop = scan_stop(h, lim);
    for (; pos < len; pos++) {
        if (pos >= stop)
            return cap_error(buf, h, lim);
        unsigned char c = (unsigned char)buf[pos];
        if (c > '\r')
            continue;
        if (c == 0)
            return fail(h, 400, "NUL byte in request head");
        if (c == '\r') {
            if (pos + 1 == len)
                break; /* look at it again once the next byte is here */
            if (buf[pos + 1] != '\n')
                return fail(h, 400, "bare CR in request head");
            continue;
        }
        if (c != '\n')
            continue;
        if (pos == 0 || buf[pos - 1] != '\r')
            return fail(h, 400, "bare LF in request head");
        size_t line_len = pos - 1 - h->priv_line_start;
        if (line_len == 0 && !h->priv_have_line) {
            if (++h->priv_empty > MAX_LEADING_EMPTY_LINES)
                return fail(h, 400, "too many empty lines before the request line");
            h->priv_head_start = h->priv_line_start = pos + 1;
            stop = scan_stop(h, lim);
            continue;
        }
        if (line_len == 0) {
            *scan = pos + 1;
            size_t start = h->priv_head_start;
            long rc = parse_complete(buf + start, pos - 1 - start, lim, h, hdrs);
            return rc ? rc : (long)(pos + 1);
        }
        h->priv_have_line = 1;
        h->priv_line_start = pos + 1;
        stop = scan_stop(h, lim);
    }
    *scan = pos;
    return 0;
}

const struct gd_http_header *gd_http_find_header(const struct gd_http_header *hdrs, size_t n,
                                                 const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (hdrs[i].name.n != nl)
            continue;
        size_t k = 0;
        while (k < nl && lower((unsigned char)hdrs[i].name.p[k]) == lower((unsigned char)name[k]))
            k++;
        if (k == nl)
            return &hdrs[i];
    }
    return NULL;
}
