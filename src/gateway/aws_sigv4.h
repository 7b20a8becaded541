/* AWS Signature Version 4 (header form) for requests girder sends to AWS services (the
 * bedrock provider type, gw_adapter_bedrock.c). Follows AWS's "Create a signed AWS API
 * request": canonical request (method, canonical URI, canonical query, canonical headers,
 * signed headers, hex SHA-256 of the payload), string to sign with the credential scope
 * date/region/service/aws4_request, the derived key HMAC chain from "AWS4" + secret, and
 * the Authorization header value.
 *
 * The canonical URI is the path as sent on the wire, URI-encoded again (every byte but
 * unreserved ones and '/': a '%' of the wire path becomes %25), as AWS requires of every
 * service but S3: a Bedrock model id with ':' goes out as %3A and is signed as %253A.
 * Signed headers: host, x-amz-date, x-amz-security-token (when a session token is given),
 * x-amz-content-sha256 (when asked for), content-type (when given).
 *
 * Pure functions, no allocation but the output buffers; thread-safe. */
#ifndef GD_GATEWAY_AWS_SIGV4_H
#define GD_GATEWAY_AWS_SIGV4_H

#include "core/buf.h"

#include <stddef.h>
#include <time.h>

struct gd_aws_creds {
    const char *access_key_id;     /* borrowed */
    const char *secret_access_key; /* borrowed */
    const char *session_token;     /* borrowed; NULL or "": long-term keys */
};

struct gd_aws_sig_req {
    const char *method;       /* "POST" */
    const char *host;         /* the Host header's value: host[:port] */
    const char *path;         /* wire path, percent-encoded as sent ("" means "/") */
    const char *query;        /* raw query without '?', NULL or "": none */
    const char *content_type; /* signed when not NULL */
    const void *payload;
    size_t payload_len;
    const char *amz_date;    /* YYYYMMDDTHHMMSSZ (16 bytes) */
    const char *region;      /* e.g. us-east-1 */
    const char *service;     /* e.g. bedrock */
    int sign_content_sha256; /* 1: x-amz-content-sha256 is sent and signed */
};

enum { GD_AWS_MAX_FIELD = 4096 }; /* cap on path, query, host, token lengths */

/* The x-amz-date form of t (UTC) into out[17]. */
void gd_aws_amz_date(time_t t, char out[17]);

/* Lowercase hex SHA-256 of p[0..n) into out[65]. */
void gd_aws_sha256_hex(const void *p, size_t n, char out[65]);

/* The canonical request of r (for tests and debugging) appended to out. 0, GD_EINVAL (a
 * field missing, too long or holding control bytes) or GD_ENOMEM/GD_ELIMIT. */
int gd_aws_sigv4_canonical(const struct gd_aws_sig_req *r, struct gd_buf *out);

/* The Authorization header value of r signed with c, appended to auth:
 *   AWS4-HMAC-SHA256 Credential=<id>/<date>/<region>/<service>/aws4_request,
 *   SignedHeaders=<names>, Signature=<hex>
 * payload_hex (may be NULL) receives the payload's hex SHA-256 (x-amz-content-sha256).
 * 0, GD_EINVAL or GD_ENOMEM/GD_ELIMIT; auth keeps nothing of a failed call. Intermediate
 * keys are wiped before returning. */
int gd_aws_sigv4_sign(const struct gd_aws_sig_req *r, const struct gd_aws_creds *c,
                      struct gd_buf *auth, char payload_hex[65]);

#endif
