/* Hot-path JSON scanning for OpenAI request and response bodies.
 *
 * The gateway never builds a JSON tree for a proxied request: it tokenises the raw body
 * once with jsmn (zero-copy, offsets into the caller's bytes), walks only the top-level
 * object, and records where the handful of fields it routes on live. Rewriting the model
 * is a splice: bytes before the old value, the new value, bytes after it — everything
 * else the client sent reaches the upstream byte for byte.
 *
 * All functions are pure and thread-safe; none keeps a pointer to the input. */
#ifndef GD_GATEWAY_JSON_SCAN_H
#define GD_GATEWAY_JSON_SCAN_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Byte range in the scanned body; off < 0 when the field is absent. */
struct gd_gw_span {
    int32_t off;
    int32_t len;
};

/* Bodies larger than this are refused (jsmn offsets are ints). */
#define GD_GW_JSON_MAX_BYTES (64u << 20)
/* At most this many tokens per body (a cap on the scratch memory a body can claim). */
#define GD_GW_JSON_MAX_TOKENS (4u << 20)

struct gd_gw_req_fields {
    struct gd_gw_span model;     /* inside the quotes, still JSON-escaped */
    struct gd_gw_span model_tok; /* the whole string token, quotes included */
    struct gd_gw_span user;      /* inside the quotes, still escaped; off<0 if absent */
    int model_is_string;         /* 0 when "model" exists but is not a string */
    int stream;                  /* "stream": true */
    int include_usage;           /* "stream_options": {"include_usage": true} */
};

/* Scans the top-level object of a request body. Returns 0, GD_EPARSE (not one JSON
 * object, or a duplicate "model" key — refused so girder and the upstream cannot disagree
 * on which one counts), GD_ELIMIT (size/token caps) or GD_ENOMEM. */
int gd_gw_scan_request(const char *body, size_t len, struct gd_gw_req_fields *out);

/* Appends body with the "model" string token replaced by new_model (JSON-escaped as
 * needed). f must come from gd_gw_scan_request on the same body with model_tok.off >= 0.
 * Returns 0, GD_EINVAL, GD_ELIMIT or GD_ENOMEM (out keeps what was appended). */
int gd_gw_splice_model(const char *body, size_t len, const struct gd_gw_req_fields *f,
                       const char *new_model, size_t new_len, struct gd_buf *out);

/* Decodes a JSON string's escaped contents (no quotes) into dst as UTF-8, NUL-terminated.
 * Returns the decoded length, or GD_EPARSE (bad escape) / GD_ELIMIT (dst too small). */
int gd_gw_json_unescape(const char *src, size_t n, char *dst, size_t cap);

struct gd_gw_usage {
    int64_t prompt_tokens;     /* -1 when absent */
    int64_t completion_tokens; /* -1 when absent */
    int64_t total_tokens;      /* -1 when absent */
};

/* Reads the top-level "usage" object of a response body or SSE chunk. Returns 1 when a
 * usage object was found (u filled), 0 when there is none (u set to -1s), or GD_EPARSE /
 * GD_ELIMIT / GD_ENOMEM. */
int gd_gw_scan_usage(const char *json, size_t len, struct gd_gw_usage *u);

#endif
