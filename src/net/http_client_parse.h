/* Strict parser of HTTP/1.1 response heads, for girder's own upstream client
 * (http_client.h). Pure function over a caller buffer: no allocation, no I/O, so the unit
 * of code the fuzzer drives (tests/fuzz/http/fuzz_http_response.c) is what the client runs.
 *
 * Policy (same strictness as the request parser, RFC 9112): lines end in CRLF only (a bare
 * LF or CR, or a NUL, anywhere in the head is an error); status line "HTTP/1.0" or
 * "HTTP/1.1", one SP, three digits 100..599, then SP and a reason without control bytes
 * (the SP and reason may be absent); header names are tokens with no whitespace before
 * the colon; values may hold control bytes other than NUL, CR and LF (RFC 9110 §5.5 lets
 * a recipient keep them: users of a value check it); obs-fold is an error; Content-Length is
 * one header of 1..19 digits (no lists, no duplicates); Transfer-Encoding must be exactly
 * "chunked" (other codings are not decoded: an error); both together is an error (a
 * response-splitting / smuggling shape). Caps: head bytes and header count.
 *
 * Body framing follows RFC 9112 §6.3 for an answer to a POST: 1xx, 204 and 304 carry none;
 * chunked; Content-Length; otherwise the body runs until the connection closes. The
 * connection may be reused after the body when the framing is not close-delimited and
 * neither side said close (HTTP/1.0 needs "Connection: keep-alive").
 *
 * Threading: reentrant. */
#ifndef GD_NET_HTTP_CLIENT_PARSE_H
#define GD_NET_HTTP_CLIENT_PARSE_H

#include "net/http_parser.h"

#include <stddef.h>
#include <stdint.h>

enum gd_hc_framing {
    GD_HC_BODY_NONE = 0, /* 1xx, 204, 304 */
    GD_HC_BODY_LENGTH,
    GD_HC_BODY_CHUNKED,
    GD_HC_BODY_CLOSE, /* until the upstream closes the connection */
};

struct gd_hc_head {
    int status;
    int minor_version; /* 0 or 1 */
    struct gd_slice reason;
    size_t n_headers;
    enum gd_hc_framing framing;
    uint64_t content_length; /* GD_HC_BODY_LENGTH only */
    int keep_alive;          /* the connection may carry another request after this body */
    const char *error;       /* static reason on error */
};

/* Parses one response head from buf[0..len). *scan is the caller's resume offset (0 for a
 * new head; pass the same variable on every call for that head) so that a head arriving
 * in pieces is not searched again from its start.
 * Returns the head length (> 0, incl. the final CRLF CRLF) when complete, 0 when more bytes
 * are needed, GD_ELIMIT when the head is longer than max_bytes or has more than max_headers
 * fields, or GD_EPARSE for a malformed head (h->error says why). hdrs receives up to
 * max_headers headers (slices into buf). */
long gd_hc_parse_head(const char *buf, size_t len, size_t max_bytes, struct gd_http_header *hdrs,
                      size_t max_headers, struct gd_hc_head *h, size_t *scan);

#endif
