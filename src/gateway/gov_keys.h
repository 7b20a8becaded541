/* Virtual key credentials: where a client puts its key and how it is hashed.
 *
 * A key arrives as `Authorization: Bearer <key>` (what the OpenAI SDKs send) or as
 * `x-api-key: <key>` (Anthropic-style clients); it is hashed with SHA-256 at once and only
 * the digest is compared (constant time) with the configured ones. The key text is never
 * copied, logged or put in a metric.
 *
 * Pure and thread-safe. */
#ifndef GD_GATEWAY_GOV_KEYS_H
#define GD_GATEWAY_GOV_KEYS_H

#include <stddef.h>

#define GD_GOV_MAX_KEY_BYTES 512   /* what `girder keys hash` accepts */
#define GD_GOV_MAX_CREDENTIAL 8192 /* a bearer credential: a key or a JWT (RS256 ~ 600 B) */

/* The credential in an Authorization value (auth, may be NULL) or else an x-api-key value
 * (xkey, may be NULL): 1 with *key and *n pointing into the value, 0 when neither header is
 * there, GD_EINVAL when one is there but malformed (not "Bearer <token>", empty, longer
 * than GD_GOV_MAX_CREDENTIAL, or holding bytes outside visible ASCII). */
int gd_gov_credential(const char *auth, size_t auth_n, const char *xkey, size_t xkey_n,
                      const char **key, size_t *n);

/* SHA-256 of p[0..n) into md (32 bytes). */
void gd_gov_sha256(const void *p, size_t n, unsigned char md[32]);
/* Lower-case hex of a digest, NUL-terminated (65 bytes). */
void gd_gov_hex(const unsigned char md[32], char out[65]);

#endif
