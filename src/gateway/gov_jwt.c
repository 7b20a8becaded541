/* JWT verification (see gov_jwt.h). The header and payload are decoded and read with
 * cJSON (capped sizes); the signature is checked with OpenSSL against the one key the
 * header's kid/alg selected, after the alg was matched against that key's own. */
#include "gateway/gov_jwt.h"
#include "core/alloc.h"
#include "core/file.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

static const char *const jwt_keys[] = {"keys",     "issuer",      "audience", "tenant_claim",
                                       "leeway_s", "require_exp", NULL};
static const char *const key_keys[] = {"kid", "alg", "secret", "public_key_file", NULL};
static const char *const algs[] = {"HS256", "RS256", "ES256", NULL};
enum { MAX_JWT_KEYS = 64, MIN_SECRET = 32, MAX_PART = 4096 };

void gd_gov_jwt_config_free(struct gd_gov_jwt_cfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_keys; i++) {
        if (c->keys[i].material)
            memset(c->keys[i].material, 0, c->keys[i].len);
        gd_free(c->keys[i].material);
        gd_free(c->keys[i].kid);
        EVP_PKEY_free(c->keys[i].pkey);
    }
    gd_free(c->keys);
    gd_free(c->issuer);
    gd_free(c->audience);
    gd_free(c->tenant_claim);
    gd_free(c);
}

/* The PEM must hold a public key of the algorithm's type: RSA >= 2048 bits, EC P-256.
 * On success *out owns it. */
static int check_pem(const unsigned char *pem, size_t n, enum gd_gov_jwt_alg alg, EVP_PKEY **out,
                     char *why, size_t wn)
{
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    int rc = GD_EINVAL;
    char group[64] = "";
    size_t gl = 0;
    if (!k)
        snprintf(why, wn, "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
    else if (alg == GD_GOV_JWT_RS256 && EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)
        snprintf(why, wn, "RS256 needs an RSA public key");
    else if (alg == GD_GOV_JWT_RS256 && EVP_PKEY_get_bits(k) < 2048)
        snprintf(why, wn, "RSA keys must have at least 2048 bits");
    else if (alg == GD_GOV_JWT_ES256 &&
             (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
              !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                              &gl) ||
              strcmp(group, "prime256v1") != 0))
        snprintf(why, wn, "ES256 needs an EC P-256 public key");
    else
        rc = 0;
    if (rc == 0)
        *out = k;
    else
        EVP_PKEY_free(k);
    BIO_free(b);
    return rc;
}

static int parse_key(struct gd_config_diag *d, const struct gd_yaml_node *n,
                     struct gd_gov_jwt_key *k)
{
    int alg = 0;
    const char *kid = NULL, *secret = NULL, *file = NULL;
    if (gd_config_expect_kind(d, n, GD_YAML_MAP) != 0)
        return GD_EINVAL;
    int rc = gd_config_check_keys(d, n, key_keys);
    rc |= gd_config_get_string(d, n, "kid", 256, &kid, NULL);
    rc |= gd_config_get_enum(d, n, "alg", algs, &alg);
    rc |= gd_config_get_string(d, n, "secret", 4096, &secret, NULL);
    rc |= gd_config_get_string(d, n, "public_key_file", 4096, &file, NULL);
    if (rc)
        return GD_EINVAL;
    if (!gd_yaml_map_get(n, "alg")) {
        gd_config_diag_add(d, n, NULL, "a JWT key needs 'alg' (HS256, RS256 or ES256)");
        return GD_EINVAL;
    }
    k->alg = (enum gd_gov_jwt_alg)alg;
    if (kid && *kid && !(k->kid = gd_strdup(kid)))
        return GD_ENOMEM;
    if (k->alg == GD_GOV_JWT_HS256) {
        if (!secret || file || strlen(secret) < MIN_SECRET) {
            gd_config_diag_add(d, n, NULL,
                               "HS256 needs 'secret' of at least %d bytes (and no "
                               "public_key_file); put it in the environment: ${JWT_SECRET}",
                               MIN_SECRET);
            return GD_EINVAL;
        }
        k->len = strlen(secret);
        k->material = (unsigned char *)gd_strdup(secret);
        return k->material ? 0 : GD_ENOMEM;
    }
    if (!file || secret) {
        gd_config_diag_add(d, n, NULL, "%s needs 'public_key_file' (and no secret)", algs[alg]);
        return GD_EINVAL;
    }
    char why[160];
    char *pem = NULL;
    size_t len = 0;
    rc = gd_file_read(file, 1u << 16, &pem, &len, why, sizeof why);
    if (rc == 0)
        rc = check_pem((const unsigned char *)pem, len, k->alg, &k->pkey, why, sizeof why);
    gd_free(pem);
    if (rc != 0) {
        gd_config_diag_add(d, gd_yaml_map_get(n, "public_key_file"), NULL, "%s: %s", file, why);
        return rc == GD_ENOMEM ? rc : GD_EINVAL;
    }
    return 0;
}

static int opt_string(struct gd_config_diag *d, const struct gd_yaml_node *m, const char *key,
                      char **out)
{
    const char *s = NULL;
    if (gd_config_get_string(d, m, key, 1024, &s, NULL) != 0)
        return GD_EINVAL;
    if (s && *s && !(*out = gd_strdup(s)))
        return GD_ENOMEM;
    return 0;
}

static int parse_keys(struct gd_config_diag *d, const struct gd_yaml_node *m,
                      struct gd_gov_jwt_cfg *c)
{
    const struct gd_yaml_node *seq = NULL;
    if (gd_config_get_seq(d, m, "keys", &seq) != 0)
        return GD_EINVAL;
    if (!seq || seq->n == 0 || seq->n > MAX_JWT_KEYS) {
        gd_config_diag_add(d, seq ? seq : m, NULL, "'keys': list 1 to %d JWT keys", MAX_JWT_KEYS);
        return GD_EINVAL;
    }
    if (!(c->keys = gd_calloc(seq->n, sizeof *c->keys)))
        return GD_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < seq->n; i++) {
        int krc = parse_key(d, seq->items[i], &c->keys[i]);
        c->n_keys = i + 1;
        if (krc == GD_ENOMEM)
            return krc;
        rc |= krc;
        for (size_t j = 0; krc == 0 && c->keys[i].kid && j < i; j++)
            if (c->keys[j].kid && strcmp(c->keys[j].kid, c->keys[i].kid) == 0) {
                gd_config_diag_add(d, gd_yaml_map_get(seq->items[i], "kid"), NULL,
                                   "duplicate kid '%s'", c->keys[i].kid);
                rc = GD_EINVAL;
            }
    }
    return rc ? GD_EINVAL : 0;
}

int gd_gov_jwt_config_parse(struct gd_config_diag *d, const struct gd_yaml_node *g,
                            struct gd_gov_jwt_cfg **out)
{
    const struct gd_yaml_node *m = NULL;
    *out = NULL;
    int rc = gd_config_get_map(d, g, "jwt", &m);
    if (rc || !m)
        return rc;
    struct gd_gov_jwt_cfg *c = gd_calloc(1, sizeof *c);
    if (!c)
        return GD_ENOMEM;
    bool req_exp = true;
    c->leeway_s = 30;
    rc = gd_config_check_keys(d, m, jwt_keys);
    rc |= gd_config_get_int(d, m, "leeway_s", 0, 600, &c->leeway_s);
    rc |= gd_config_get_bool(d, m, "require_exp", &req_exp);
    c->require_exp = req_exp;
    int src = opt_string(d, m, "issuer", &c->issuer);
    src = src ? src : opt_string(d, m, "audience", &c->audience);
    src = src ? src : opt_string(d, m, "tenant_claim", &c->tenant_claim);
    int krc = src == GD_ENOMEM ? src : parse_keys(d, m, c);
    if (src == 0 && krc != GD_ENOMEM && !c->tenant_claim) {
        gd_config_diag_add(d, m, NULL,
                           "'tenant_claim' is required: the claim naming the caller's tenant");
        rc = GD_EINVAL;
    }
    if (src == GD_ENOMEM || krc == GD_ENOMEM || rc || src || krc) {
        gd_gov_jwt_config_free(c);
        return src == GD_ENOMEM || krc == GD_ENOMEM ? GD_ENOMEM : GD_EINVAL;
    }
    *out = c;
    return 0;
}

static int b64url_val(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '-' ? 62 : ch == '_' ? 63 : -1;
}

/* base64url without padding into dst (NUL-terminated); length or -1. */
static int b64url_decode(const char *s, size_t n, char *dst, size_t cap)
{
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_val(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (k + 1 >= cap)
                return -1;
            dst[k++] = (char)(acc >> bits & 0xff);
        }
    }
    dst[k] = '\0';
    return (int)k;
}

int gd_gov_jwt_looks_like(const char *tok, size_t n)
{
    size_t dots = 0;
    if (n < 10 || n > GD_GOV_JWT_MAX_TOKEN || memcmp(tok, "eyJ", 3) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '.')
            dots++;
        else if (b64url_val(tok[i]) < 0)
            return 0;
    }
    return dots == 2;
}

/* Decodes part [p, p+n) as a JSON object. */
static cJSON *decode_part(const char *p, size_t n)
{
    char buf[MAX_PART];
    if (n > sizeof buf / 4 * 3 + 4)
        return NULL;
    int len = b64url_decode(p, n, buf, sizeof buf);
    if (len <= 0)
        return NULL;
    cJSON *j = cJSON_ParseWithLength(buf, (size_t)len);
    if (j && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static const struct gd_gov_jwt_key *pick_key(const struct gd_gov_jwt_cfg *c, const cJSON *hdr,
                                             char *why, size_t wn)
{
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(hdr, "kid");
    if (!cJSON_IsString(alg)) {
        snprintf(why, wn, "no alg in the header");
        return NULL;
    }
    if (cJSON_GetObjectItemCaseSensitive(hdr, "crit")) {
        snprintf(why, wn, "critical header extensions are not supported");
        return NULL;
    }
    int a = -1;
    for (int i = 0; algs[i]; i++)
        if (strcmp(alg->valuestring, algs[i]) == 0)
            a = i;
    if (a < 0) {
        snprintf(why, wn, "algorithm not accepted"); /* none, HS384, PS256, ... */
        return NULL;
    }
    const struct gd_gov_jwt_key *found = NULL;
    size_t n_alg = 0;
    for (size_t i = 0; i < c->n_keys; i++) {
        const struct gd_gov_jwt_key *k = &c->keys[i];
        if (cJSON_IsString(kid) && k->kid && strcmp(k->kid, kid->valuestring) == 0)
            found = k;
        if (!cJSON_IsString(kid) && (int)k->alg == a) {
            found = k;
            n_alg++;
        }
    }
    if (!found || n_alg > 1) {
        snprintf(why, wn, n_alg > 1 ? "no kid and several keys of that alg" : "unknown kid");
        return NULL;
    }
    if ((int)found->alg != a) { /* algorithm confusion: HS256 "signed" with an RSA key */
        snprintf(why, wn, "alg does not match the key's algorithm");
        return NULL;
    }
    return found;
}

static int check_time(const cJSON *p, const char *name, int required, int64_t now, int64_t leeway,
                      int is_exp, char *why, size_t wn)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, name);
    if (!v) {
        if (required)
            snprintf(why, wn, "no %s claim", name);
        return required ? GD_EINVAL : 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e11) {
        snprintf(why, wn, "%s is not a NumericDate", name);
        return GD_EINVAL;
    }
    double t = v->valuedouble;
    if (is_exp ? (double)now >= t + (double)leeway : (double)now + (double)leeway < t) {
        snprintf(why, wn, is_exp ? "expired" : "not valid yet (nbf)");
        return GD_EINVAL;
    }
    return 0;
}

static int aud_matches(const cJSON *aud, const char *want)
{
    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, want) == 0;
    if (!cJSON_IsArray(aud))
        return 0;
    const cJSON *it;
    cJSON_ArrayForEach(it,
                       aud) if (cJSON_IsString(it) && strcmp(it->valuestring, want) == 0) return 1;
    return 0;
}

static int check_claims(const struct gd_gov_jwt_cfg *c, const cJSON *p, int64_t now, char *tenant,
                        size_t tcap, char *why, size_t wn)
{
    if (check_time(p, "exp", c->require_exp, now, c->leeway_s, 1, why, wn) ||
        check_time(p, "nbf", 0, now, c->leeway_s, 0, why, wn))
        return GD_EINVAL;
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(p, "iss");
    if (c->issuer && !(cJSON_IsString(iss) && strcmp(iss->valuestring, c->issuer) == 0)) {
        snprintf(why, wn, "wrong issuer");
        return GD_EINVAL;
    }
    if (c->audience && !aud_matches(cJSON_GetObjectItemCaseSensitive(p, "aud"), c->audience)) {
        snprintf(why, wn, "wrong audience");
        return GD_EINVAL;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, c->tenant_claim);
    if (!cJSON_IsString(t) || !*t->valuestring || strlen(t->valuestring) >= tcap) {
        snprintf(why, wn, "no tenant claim '%s'", c->tenant_claim);
        return GD_EINVAL;
    }
    memcpy(tenant, t->valuestring, strlen(t->valuestring) + 1);
    return 0;
}

/* ES256 signatures are r || s (32 bytes each); OpenSSL verifies DER. Returns the DER
 * length in der (>= 80 bytes) or -1. */
static int es256_der(const unsigned char *sig, size_t n, unsigned char *der)
{
    if (n != 64)
        return -1;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    int len = -1;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        unsigned char *p = der;
        len = i2d_ECDSA_SIG(es, &p);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return len;
}

/* Checks sig over the signing input si[0..sn) with key k. 1 valid, 0 not. */
static int signature_ok(const struct gd_gov_jwt_key *k, const char *si, size_t sn,
                        const unsigned char *sig, size_t sig_n)
{
    if (k->alg == GD_GOV_JWT_HS256) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int ml = 0;
        if (!HMAC(EVP_sha256(), k->material, (int)k->len, (const unsigned char *)si, sn, mac, &ml))
            return 0;
        return ml == sig_n && CRYPTO_memcmp(mac, sig, ml) == 0;
    }
    unsigned char der[80];
    int dl = (int)sig_n;
    if (k->alg == GD_GOV_JWT_ES256 && (dl = es256_der(sig, sig_n, der)) < 0)
        return 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
             EVP_DigestVerify(ctx, k->alg == GD_GOV_JWT_ES256 ? der : sig, (size_t)dl,
                              (const unsigned char *)si, sn) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int gd_gov_jwt_verify(const struct gd_gov_jwt_cfg *c, const char *tok, size_t n, int64_t now,
                      char *tenant, size_t tenant_cap, char *why, size_t why_cap)
{
    unsigned char sig[600];
    const char *d1 = n <= GD_GOV_JWT_MAX_TOKEN ? memchr(tok, '.', n) : NULL;
    const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(tok + n - d1 - 1)) : NULL;
    if (!d2) {
        snprintf(why, why_cap, "not a JWS compact token");
        return GD_EINVAL;
    }
    cJSON *hdr = decode_part(tok, (size_t)(d1 - tok));
    cJSON *pay = hdr ? decode_part(d1 + 1, (size_t)(d2 - d1 - 1)) : NULL;
    const struct gd_gov_jwt_key *k = pay ? pick_key(c, hdr, why, why_cap) : NULL;
    int rc = GD_EINVAL;
    if (!pay)
        snprintf(why, why_cap, "undecodable header or payload");
    if (k) {
        int sl = b64url_decode(d2 + 1, (size_t)(tok + n - d2 - 1), (char *)sig, sizeof sig);
        if (sl <= 0 || !signature_ok(k, tok, (size_t)(d2 - tok), sig, (size_t)sl))
            snprintf(why, why_cap, "bad signature");
        else
            rc = check_claims(c, pay, now, tenant, tenant_cap, why, why_cap);
    }
    cJSON_Delete(hdr);
    cJSON_Delete(pay);
    return rc;
}
