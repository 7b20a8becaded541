/* JWT bearer tokens for gateway governance (`governance.jwt`): HS256 with a shared secret,
 * RS256 and ES256 with PEM public keys; a claim names the caller's tenant.
 *
 * A token is accepted only when: its header's `alg` is exactly the algorithm configured
 * for the key it selects (by `kid`, or the only key of that algorithm), so `alg: none`
 * and algorithm confusion (an HS256 token "signed" with an RSA public key as the secret)
 * fail before any signature check; the signature is then checked with that key (OpenSSL:
 * HMAC-SHA256, RSASSA-PKCS1-v1_5 SHA-256, ECDSA P-256 SHA-256 with a raw r||s signature);
 * `exp` (required unless configured otherwise) and `nbf` hold within the leeway; `iss`
 * and `aud` match when configured (`aud` may be a string or an array).
 *
 * Why not libjwt (1.10) for the signature: it parses the PEM key again on every
 * jwt_decode, measured at ~880 us per RS256/ES256 token with OpenSSL 3's decoders, and it
 * neither checks exp/nbf nor refuses alg=none with a NULL key. Here the key is parsed once
 * at load and a verification costs the public-key operation only.
 *
 * Threading: the config is immutable; gd_gov_jwt_verify is thread-safe. */
#ifndef GD_GATEWAY_GOV_JWT_H
#define GD_GATEWAY_GOV_JWT_H

#include "core/config.h"

#include <stddef.h>
#include <stdint.h>

enum gd_gov_jwt_alg { GD_GOV_JWT_HS256 = 0, GD_GOV_JWT_RS256, GD_GOV_JWT_ES256 };

#define GD_GOV_JWT_MAX_TOKEN 8192

struct evp_pkey_st;

struct gd_gov_jwt_key {
    char *kid; /* NULL: none */
    enum gd_gov_jwt_alg alg;
    unsigned char *material; /* HS256: the secret (SECRET); else NULL */
    size_t len;
    struct evp_pkey_st *pkey; /* RS256/ES256: the public key, parsed once at load */
};

struct gd_gov_jwt_cfg {
    struct gd_gov_jwt_key *keys;
    size_t n_keys;
    char *issuer;   /* NULL: not checked */
    char *audience; /* NULL: not checked */
    char *tenant_claim;
    int64_t leeway_s;
    int require_exp;
};

/* Parses `jwt:` under the governance map g (absent: *out = NULL). 0, GD_EINVAL (errors
 * recorded with positions) or GD_ENOMEM. */
int gd_gov_jwt_config_parse(struct gd_config_diag *d, const struct gd_yaml_node *g,
                            struct gd_gov_jwt_cfg **out);
void gd_gov_jwt_config_free(struct gd_gov_jwt_cfg *c);

/* Whether a bearer credential looks like a JWT (three base64url parts) rather than a
 * virtual key. */
int gd_gov_jwt_looks_like(const char *tok, size_t n);

/* Verifies tok[0..n) at UTC second now. On success returns 0 and copies the tenant claim
 * (NUL-terminated) into tenant; else GD_EINVAL (any failure: the caller answers one 401
 * for all) with a reason for the server log in why (never the token). */
int gd_gov_jwt_verify(const struct gd_gov_jwt_cfg *c, const char *tok, size_t n, int64_t now,
                      char *tenant, size_t tenant_cap, char *why, size_t why_cap);

#endif
