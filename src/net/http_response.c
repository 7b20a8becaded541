/* The handler-facing exchange API: request accessors, response headers, plain responses,
 * JSON errors and streaming with backpressure. Bytes go to the connection through the
 * hooks in http_conn.c; this file owns the response state machine
 * (none -> streaming -> done, or none -> done). */
#include "core/json_write.h"
#include "girder/error.h"
#include "net/http_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const struct gd_slice *gd_http_request_header(const struct gd_http_request *r, const char *name)
{
    const struct gd_http_header *h = gd_http_find_header(r->headers, r->n_headers, name);
    return h ? &h->value : NULL;
}

struct gd_slice gd_http_query_param(const struct gd_http_request *r, const char *name)
{
    size_t nl = strlen(name);
    if (!r->query.p) /* no query string (NULL + 0 is undefined) */
        return (struct gd_slice){NULL, 0};
    const char *p = r->query.p, *end = r->query.p + r->query.n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *ke = eq ? eq : e;
        if ((size_t)(ke - p) == nl && memcmp(p, name, nl) == 0)
            return eq ? (struct gd_slice){eq + 1, (size_t)(e - eq - 1)} : (struct gd_slice){e, 0};
        p = e + 1;
    }
    return (struct gd_slice){NULL, 0};
}

const struct gd_http_request *gd_http_exchange_request(const struct gd_http_exchange *x)
{
    return &x->req;
}

struct gd_loop *gd_http_exchange_loop(const struct gd_http_exchange *x)
{
    return x->loop;
}

struct gd_arena *gd_http_exchange_arena(struct gd_http_exchange *x)
{
    return &x->arena;
}

void gd_http_exchange_set_user(struct gd_http_exchange *x, void *user)
{
    x->user = user;
}

void *gd_http_exchange_user(const struct gd_http_exchange *x)
{
    return x->user;
}

void *gd_http_exchange_route_ud(const struct gd_http_exchange *x)
{
    return x->route_ud;
}

struct gd_trace_ctx *gd_http_exchange_trace(struct gd_http_exchange *x)
{
    return &x->trace_ctx;
}

int gd_http_can_pass(const struct gd_http_exchange *x)
{
    return x->next_handler != NULL;
}

int gd_http_pass(struct gd_http_exchange *x)
{
    gd_http_handler_fn h = x->next_handler;
    if (!h)
        return GD_ENOENT;
    x->next_handler = NULL;
    x->handler = h;
    x->route_ud = x->next_ud;
    h(x, x->route_ud);
    return 0;
}

void *gd_http_exchange_site_owner(const struct gd_http_exchange *x)
{
    return x->site->owner;
}

const struct gd_http_router *gd_http_exchange_router(const struct gd_http_exchange *x)
{
    return x->site->router;
}

int gd_http_set_route_label(struct gd_http_exchange *x, const char *label)
{
    char *copy = gd_arena_strndup(&x->arena, label, strlen(label));
    if (!copy)
        return GD_ENOMEM;
    x->route_label = copy;
    return 0;
}

static int add_field(struct gd_http_exchange *x, const char *key, const char *str, int64_t v)
{
    if (x->n_fields == GD_HTTP_MAX_LOG_FIELDS)
        return GD_ELIMIT;
    if (!x->fields) /* a pending request holds none: they come with its answer */
        x->fields = gd_arena_alloc(&x->arena, GD_HTTP_MAX_LOG_FIELDS * sizeof *x->fields);
    if (!x->fields)
        return GD_ENOMEM;
    struct gd_http_log_field *f = &x->fields[x->n_fields];
    f->key = gd_arena_strndup(&x->arena, key, strlen(key));
    f->str = str ? gd_arena_strndup(&x->arena, str, strlen(str)) : NULL;
    f->i64 = v;
    if (!f->key || (str && !f->str))
        return GD_ENOMEM;
    x->n_fields++;
    return 0;
}

int gd_http_log_field_str(struct gd_http_exchange *x, const char *key, const char *value)
{
    return add_field(x, key, value ? value : "", 0);
}

int gd_http_log_field_i64(struct gd_http_exchange *x, const char *key, int64_t value)
{
    return add_field(x, key, NULL, value);
}

/* RFC 9110 tchar, as a table: headers are set on every proxied response (the gateway's
 * rate-limit headers), so this runs a few times per request. */
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

/* Length of s when it is a token, else 0. */
static size_t token_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (tchar[*p])
        p++;
    return *p ? 0 : (size_t)(p - (const unsigned char *)s);
}

/* Length of s when it is an RFC 9110 field-value (visible bytes, obs-text, SP, HTAB; no
 * other control byte), else (size_t)-1. */
static size_t field_value_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return (size_t)-1;
    return (size_t)(p - (const unsigned char *)s);
}

/* Headers the server writes itself; compared only against names of the same length. */
static int reserved_header(const char *name, size_t n)
{
    static const char *const names[] = {"date",       "server",       "content-length",
                                        "connection", "x-request-id", "transfer-encoding",
                                        "keep-alive", "content-type"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0)
            return 1;
    return 0;
}

int gd_http_set_header(struct gd_http_exchange *x, const char *name, const char *value)
{
    if (x->resp != RESP_NONE)
        return GD_ESTATE;
    size_t nl = token_len(name), vl = field_value_len(value);
    if (!nl || vl == (size_t)-1 || reserved_header(name, nl))
        return GD_EINVAL;
    int rc = gd_buf_reserve(&x->headers, nl + vl + 4); /* per request: no printf */
    if (rc == 0) {
        char *p = x->headers.data + x->headers.len;
        memcpy(p, name, nl);
        memcpy(p + nl, ": ", 2);
        memcpy(p + nl + 2, value, vl);
        memcpy(p + nl + 2 + vl, "\r\n", 2);
        x->headers.len += nl + vl + 4;
        x->headers.data[x->headers.len] = '\0';
    }
    return rc == GD_ELIMIT ? GD_ENOMEM : rc;
}

static int no_body_status(int status)
{
    return status == 204 || status == 304;
}

int gd_http_respond(struct gd_http_exchange *x, int status, const char *content_type,
                    const void *body, size_t len)
{
    if (x->resp != RESP_NONE)
        return GD_ESTATE;
    if (status < 200 || status > 599)
        return GD_EINVAL;
    x->resp = RESP_DONE;
    x->status = status;
    int rc = gd__http_conn_write_head(x, status, no_body_status(status) ? NULL : content_type,
                                      no_body_status(status) ? -1 : (int64_t)len, 0);
    if (!rc && !x->is_head && !no_body_status(status) && len)
        rc = gd__http_conn_queue(x, body, len);
    if (!rc)
        rc = gd__http_conn_flush(x);
    gd__http_conn_finish(x);
    return rc;
}

int gd_http_json_error_body(struct gd_buf *b, const char *type, const char *code,
                            const char *message)
{
    int first = 1, rc = gd_buf_puts(b, "{\"error\":{");
    rc = rc ? rc : gd_json_put_key(b, "message", &first);
    rc = rc ? rc : gd_json_put_str(b, message, strlen(message));
    rc = rc ? rc : gd_json_put_key(b, "type", &first);
    rc = rc ? rc : gd_json_put_str(b, type, strlen(type));
    rc = rc ? rc : gd_json_put_key(b, "code", &first);
    rc = rc ? rc : (code ? gd_json_put_str(b, code, strlen(code)) : gd_buf_puts(b, "null"));
    return rc ? rc : gd_buf_puts(b, "}}\n");
}

int gd_http_respond_json_error(struct gd_http_exchange *x, int status, const char *type,
                               const char *code, const char *message)
{
    if (x->resp != RESP_NONE)
        return GD_ESTATE;
    struct gd_buf b;
    gd_buf_init(&b, 65536);
    int rc = gd_http_json_error_body(&b, type, code, message);
    rc = rc ? gd_http_respond(x, 500, "application/json", "{}\n", 3)
            : gd_http_respond(x, status, "application/json", b.data, b.len);
    gd_buf_free(&b);
    return rc;
}

static int chunked_response(const struct gd_http_exchange *x)
{
    return x->req.minor_version == 1;
}

int gd_http_stream_begin(struct gd_http_exchange *x, int status, const char *content_type)
{
    if (x->resp != RESP_NONE)
        return GD_ESTATE;
    if (status < 200 || status > 599 || no_body_status(status))
        return GD_EINVAL;
    x->status = status;
    x->resp = RESP_STREAMING;
    int rc = gd__http_conn_write_head(x, status, content_type, -1, chunked_response(x));
    return rc ? rc : gd__http_conn_flush(x);
}

int gd_http_stream_write(struct gd_http_exchange *x, const void *data, size_t len)
{
    if (x->resp != RESP_STREAMING)
        return GD_ESTATE;
    if (x->closed || !x->c)
        return GD_ECLOSED;
    if (len == 0 || x->is_head)
        return 0;
    int rc = 0;
    if (chunked_response(x)) {
        char line[24]; /* chunk size in hex + CRLF, formatted by hand: once per write */
        size_t n = sizeof line;
        line[--n] = '\n';
        line[--n] = '\r';
        for (size_t v = len; v; v >>= 4)
            line[--n] = "0123456789abcdef"[v & 15];
        rc = gd__http_conn_queue(x, line + n, sizeof line - n);
        rc = rc ? rc : gd__http_conn_queue(x, data, len);
        rc = rc ? rc : gd__http_conn_queue(x, "\r\n", 2);
    } else {
        rc = gd__http_conn_queue(x, data, len);
    }
    rc = rc ? rc : gd__http_conn_flush(x);
    if (rc)
        return GD_ECLOSED;
    if (gd__http_conn_pending(x) > gd__http_conn_high_water(x)) {
        x->want_drain = 1;
        return GD_EAGAIN;
    }
    return 0;
}

void gd_http_stream_on_drain(struct gd_http_exchange *x,
                             void (*cb)(struct gd_http_exchange *x, void *ud), void *ud)
{
    x->on_drain = cb;
    x->on_drain_ud = ud;
}

int gd_http_stream_end(struct gd_http_exchange *x)
{
    if (x->resp != RESP_STREAMING)
        return GD_ESTATE;
    x->resp = RESP_DONE;
    int rc = 0;
    if (x->closed || !x->c)
        rc = GD_ECLOSED;
    else if (chunked_response(x) && !x->is_head)
        rc = gd__http_conn_queue(x, "0\r\n\r\n", 5);
    if (!rc)
        rc = gd__http_conn_flush(x);
    gd__http_conn_finish(x);
    return rc;
}

void gd_http_on_close(struct gd_http_exchange *x, void (*cb)(struct gd_http_exchange *x, void *ud),
                      void *ud)
{
    x->on_close = cb;
    x->on_close_ud = ud;
}
