/* Strict, incremental, zero-copy HTTP/1.1 request parser (RFC 9112) and in-place chunked
 * body decoder. Pure functions over caller buffers: no allocation, no I/O, so the unit
 * tests and the fuzzer drive exactly what the server runs.
 *
 * Policy (docs/server.md has the full list): lines end in CRLF only (a bare LF or a bare CR
 * anywhere in the head is a 400); up to 8 empty lines before a request line are skipped
 * (RFC 9112 §2.2); exactly one SP between request-line parts; method is a token; the target
 * is visible ASCII (no SP, CTL, NUL or bytes >= 0x80) in origin form ("/..."), asterisk form
 * for OPTIONS, or absolute form; versions other than HTTP/1.0 and HTTP/1.1 get 505; header
 * names are tokens with no whitespace before the colon; values hold no CTL except HTAB;
 * obs-fold is a 400; HTTP/1.1 needs exactly one Host; Content-Length must be one header of
 * digits only (no lists, no duplicates); Transfer-Encoding must be exactly "chunked"
 * (a 501 for other codings, 400 when chunked is not final or repeated, or in HTTP/1.0);
 * Content-Length together with Transfer-Encoding is a 400. Caps: target bytes -> 414,
 * head bytes or header count -> 431, body bytes -> 413.
 *
 * Threading: all functions are reentrant. */
#ifndef GD_NET_HTTP_PARSER_H
#define GD_NET_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

/* A view into someone else's buffer (not NUL-terminated). */
struct gd_slice {
    const char *p;
    size_t n;
};

struct gd_http_header {
    struct gd_slice name;
    struct gd_slice value; /* OWS trimmed */
};

/* Size caps for one request; 0 in any field means "use the default" (GD_HTTP_DEFAULT_*). */
struct gd_http_limits {
    size_t max_header_bytes; /* request line + header section, incl. CRLFs */
    size_t max_headers;      /* header field lines */
    size_t max_target_bytes; /* request-target */
    size_t max_body_bytes;   /* decoded body */
};
#define GD_HTTP_DEFAULT_MAX_HEADER_BYTES 16384
#define GD_HTTP_DEFAULT_MAX_HEADERS 100
#define GD_HTTP_DEFAULT_MAX_TARGET_BYTES 8192
#define GD_HTTP_DEFAULT_MAX_BODY_BYTES (8u << 20)
/* Fills zero fields of *l with the defaults. */
void gd_http_limits_fill_defaults(struct gd_http_limits *l);

enum gd_http_body_kind { GD_HTTP_BODY_NONE = 0, GD_HTTP_BODY_LENGTH, GD_HTTP_BODY_CHUNKED };

enum gd_http_head_flags {
    GD_HTTP_F_CONN_CLOSE = 1,      /* Connection: close */
    GD_HTTP_F_CONN_KEEPALIVE = 2,  /* Connection: keep-alive */
    GD_HTTP_F_EXPECT_CONTINUE = 4, /* Expect: 100-continue */
    GD_HTTP_F_EXPECT_OTHER = 8,    /* Expect with anything else (server answers 417) */
};

/* A parsed request head. Every slice points into the buffer given to the parser. */
struct gd_http_head {
    struct gd_slice method;
    struct gd_slice target; /* as sent */
    struct gd_slice path;   /* target without query (for absolute form: the path part) */
    struct gd_slice query;  /* after '?', without it; n == 0 when absent */
    int minor_version;      /* 0 or 1 */
    size_t n_headers;
    enum gd_http_body_kind body_kind;
    uint64_t content_length; /* GD_HTTP_BODY_LENGTH only */
    unsigned flags;          /* enum gd_http_head_flags */
    struct gd_slice host, request_id, traceparent;
    /* On error: the HTTP status to answer (400, 414, 431, 501, 505) and a static reason. */
    int error_status;
    const char *error;
    /* scanner state, private to the parser */
    size_t priv_head_start, priv_line_start;
    int priv_have_line, priv_empty;
};

/* Parses one request head from buf[0..len).
 * *scan is the caller's resume offset: set it to 0 for a new request and pass the same
 * variable and the same *h on every call for that request (h is reset when *scan is 0), so
 * each byte is scanned once however the head arrives. buf may move between calls (only
 * offsets are kept until the head is complete).
 * Returns the head length (> 0, bytes consumed incl. the final CRLF) when complete, 0 when
 * more bytes are needed, or a negative GD_E* error with h->error_status/h->error set.
 * hdrs receives up to lim->max_headers headers (the array must hold that many).
 * Errors are reported as early as possible (a NUL or bare LF fails before the head ends). */
long gd_http_parse_head(const char *buf, size_t len, const struct gd_http_limits *lim,
                        struct gd_http_head *h, struct gd_http_header *hdrs, size_t *scan);

/* Case-insensitive header lookup: the first header called name, or NULL. */
const struct gd_http_header *gd_http_find_header(const struct gd_http_header *hdrs, size_t n,
                                                 const char *name);

/* Chunked transfer-coding decoder (RFC 9112 §7.1): chunk extensions are parsed per the
 * grammar and ignored, trailer fields are validated and discarded. Sizes are checked for
 * overflow and against max_body. */
struct gd_http_chunked {
    int state;
    uint64_t remaining; /* bytes left in the current chunk's data */
    uint64_t total;     /* decoded so far */
    uint64_t max_body;
    size_t trailer_bytes;
    size_t max_trailer_bytes;
    int error_status; /* 400 or 413 on error */
    const char *error;
};
void gd_http_chunked_init(struct gd_http_chunked *c, uint64_t max_body, size_t max_trailer_bytes);
/* Decodes src[0..len) into dst (dst <= src allowed: decoding in place inside one buffer).
 * *written = decoded bytes stored at dst, *consumed = input bytes used (an incomplete line
 * is left unconsumed: pass it again with more bytes appended). Returns 1 when the last
 * chunk and trailers are complete (*consumed ends just after them), 0 when more input is
 * needed, or a negative GD_E* error with c->error_status/c->error set. */
int gd_http_chunked_decode(struct gd_http_chunked *c, char *dst, const char *src, size_t len,
                           size_t *written, size_t *consumed);

/* W3C Trace Context traceparent (version 00 layout; higher versions accepted by prefix). */
struct gd_traceparent {
    int valid;
    uint8_t version;
    uint8_t flags;
    char trace_id[33];  /* 32 lowercase hex + NUL */
    char parent_id[17]; /* 16 lowercase hex + NUL */
};
/* Returns 0 and fills *tp, or GD_EINVAL (tp->valid = 0) for a malformed value. */
int gd_traceparent_parse(const char *s, size_t n, struct gd_traceparent *tp);

/* True when s is acceptable as an incoming X-Request-Id: 1..128 bytes of
 * [A-Za-z0-9._:-] (anything else is replaced by a generated id). */
int gd_http_request_id_ok(const char *s, size_t n);

#endif
