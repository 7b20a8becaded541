/* Decoder of AWS's event stream framing (content type application/vnd.amazon.eventstream),
 * the body of Bedrock's ConverseStream answers. Each message is
 *
 *   total length u32 | headers length u32 | prelude CRC32 u32     (big endian; CRC of the 8)
 *   headers: name length u8, name, type u8, value (by type, see below)
 *   payload
 *   message CRC32 u32 (of every byte before it)
 *
 * Header value types: 0 true, 1 false (no value), 2 byte, 3 int16, 4 int32, 5 int64,
 * 8 timestamp (fixed sizes), 6 bytes and 7 string (u16 length + bytes), 9 uuid (16 bytes).
 * Anything else, a length that does not fit, a bad CRC, a message over the size cap or with
 * more than GD_AWS_ES_MAX_HEADERS headers is an error, reported once with a reason.
 *
 * The decoder is incremental: bytes may arrive in any pieces; a message is delivered when
 * its last byte is in (without a copy when one piece holds all of it). One decoder per
 * stream, one thread. */
#ifndef GD_GATEWAY_AWS_EVENTSTREAM_H
#define GD_GATEWAY_AWS_EVENTSTREAM_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

enum {
    GD_AWS_ES_MAX_HEADERS = 32,
    GD_AWS_ES_PRELUDE = 12,
    GD_AWS_ES_MIN_MESSAGE = 16,
};
#define GD_AWS_ES_MAX_MESSAGE (16u << 20) /* default cap on one message's total length */

enum gd_aws_es_type {
    GD_AWS_ES_TRUE = 0,
    GD_AWS_ES_FALSE = 1,
    GD_AWS_ES_BYTE = 2,
    GD_AWS_ES_INT16 = 3,
    GD_AWS_ES_INT32 = 4,
    GD_AWS_ES_INT64 = 5,
    GD_AWS_ES_BYTES = 6,
    GD_AWS_ES_STRING = 7,
    GD_AWS_ES_TIMESTAMP = 8,
    GD_AWS_ES_UUID = 9,
};

/* One header: name and value point into the message's bytes (valid during the callback). */
struct gd_aws_es_header {
    const char *name;
    size_t name_len;
    uint8_t type;
    const char *value; /* raw value bytes (big-endian numbers; string/bytes without length) */
    size_t value_len;
};

struct gd_aws_es_msg {
    struct gd_aws_es_header h[GD_AWS_ES_MAX_HEADERS];
    size_t n_headers;
    const char *payload;
    size_t payload_len;
};

/* Called per complete message; a non-zero return stops the feed and is returned by it. */
typedef int (*gd_aws_es_fn)(void *ud, const struct gd_aws_es_msg *m);

struct gd_aws_es {
    struct gd_buf buf; /* the partial message (owned) */
    uint32_t max_message;
    int failed;      /* an error was found: every later feed returns GD_EPARSE */
    char error[128]; /* why, NUL-terminated ("" while fine) */
};

/* max_message: cap on one message's total length (0: GD_AWS_ES_MAX_MESSAGE). */
void gd_aws_es_init(struct gd_aws_es *d, uint32_t max_message);
void gd_aws_es_free(struct gd_aws_es *d);

/* Decodes one complete message p[0..n) (exactly one) into *m, pointing into p. 0 or
 * GD_EPARSE with why[0..cap) filled. */
int gd_aws_es_parse(const char *p, size_t n, uint32_t max_message, struct gd_aws_es_msg *m,
                    char *why, size_t cap);

/* Feeds the next n bytes of the stream; on_msg gets each message completed by them, in order.
 * 0, GD_EPARSE (d->error says why), GD_ENOMEM, or on_msg's non-zero return. */
int gd_aws_es_feed(struct gd_aws_es *d, const char *p, size_t n, gd_aws_es_fn on_msg, void *ud);

/* At the end of the stream: 0 when no message is left incomplete, else GD_EPARSE. */
int gd_aws_es_finish(struct gd_aws_es *d);

/* The value of string (or bytes) header `name` of m, length in *n; NULL when absent. */
const char *gd_aws_es_header_str(const struct gd_aws_es_msg *m, const char *name, size_t *n);

#endif
