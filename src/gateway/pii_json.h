/* PII in JSON bodies: rewrites every string value (not object keys) of a JSON document,
 * scanning its decoded content with the detector (pii.h) and writing the replacement back
 * escaped, so the body stays valid JSON. Masking keeps a per-request vault of placeholders
 * (`<EMAIL_1>`; the same value gets the same placeholder) so that a response text can be
 * restored. Not thread-safe per vault; the vault owns copies of the values it holds. */
#ifndef GD_GATEWAY_PII_JSON_H
#define GD_GATEWAY_PII_JSON_H

#include "core/buf.h"
#include "gateway/pii.h"

#include <stddef.h>
#include <stdint.h>

enum gd_pii_mode { GD_PII_MODE_MASK, GD_PII_MODE_REDACT };

#define GD_PII_VAULT_MAX 256         /* distinct masked values per request */
#define GD_PII_VALUE_MAX 16384       /* a longer match is redacted, never restored */
#define GD_PII_STRING_MAX (1u << 20) /* decoded string value cap (bigger: GD_ELIMIT) */

struct gd_pii_vault_ent {
    char *value; /* owned */
    size_t len;
    enum gd_pii_cat cat;
    unsigned num; /* placeholder number within its category */
};

struct gd_pii_vault {
    struct gd_pii_vault_ent ent[GD_PII_VAULT_MAX];
    size_t n;
    unsigned per_cat[GD_PII_NCAT];
};

void gd_pii_vault_init(struct gd_pii_vault *v);
void gd_pii_vault_free(struct gd_pii_vault *v); /* frees the copies; v can be reused */

/* Appends body[0..len) to out with each detected value of a category in cats replaced:
 * MASK by `<CAT_n>` (recorded in vault, which may be NULL only for REDACT), REDACT by
 * `<CAT>`. counts[cat] is incremented per value found (counts may be NULL). Returns 0,
 * GD_EPARSE (unterminated string or bad escape), GD_ELIMIT (a cap: string size, matches,
 * vault, out->max) or GD_ENOMEM; out keeps what was appended. */
int gd_pii_rewrite_json(struct gd_pii_scanner *s, const char *body, size_t len, uint32_t cats,
                        enum gd_pii_mode mode, struct gd_pii_vault *vault, struct gd_buf *out,
                        unsigned counts[GD_PII_NCAT]);

/* Appends text[0..n) to out with every placeholder of vault put back to its value (raw;
 * the caller escapes for its context). Returns 0 or gd_buf's errors. */
int gd_pii_restore(const struct gd_pii_vault *v, const char *text, size_t n, struct gd_buf *out);

#endif
