/* A virtual key stored in Redis: the fields of the hash `{prefix}:key:<sha256 hex>`
 * checked as strictly as a `governance.keys` entry and turned into the same
 * struct gd_gov_key_cfg (docs/governance.md "Keys in Redis").
 *
 *   id            required, 1..128 visible ASCII bytes (no quotes, backslashes or braces)
 *   tenant        a configured tenant id
 *   models        comma list of configured aliases (1..256); absent: every alias
 *   rpm, tpm, concurrent   decimal integers in the config's ranges; 0 or absent: no limit
 *   budget_usd    decimal >= 0 (up to 1e12); budget_period daily|weekly|monthly|total
 *                 (default monthly, only with budget_usd)
 *   metadata      "k=v,k=v" (<= 16 entries, key <= 64, value <= 256 bytes)
 *   revoked       "0" or "1": 1 reads as no key at all
 * Any other field refuses the key.
 *
 * Pure and thread-safe (reads the immutable configs). */
#ifndef GD_GATEWAY_GOV_RKEY_H
#define GD_GATEWAY_GOV_RKEY_H

#include "gateway/gov_config.h"

#include <stddef.h>

enum { GD_GOV_RKEY_MAX_VALUE = 8192, GD_GOV_RKEY_MAX_FIELDS = 32 };

struct gd_gov_rkey_field {
    const char *name, *value;
    size_t name_n, value_n;
};

/* Why an entry was refused: the field and a short reason (never the key; the values
 * quoted are the entry's own, which hold no secret). */
struct gd_gov_rkey_err {
    char id[GD_GOV_MAX_ID + 1]; /* the entry's id when it had a valid one, else "" */
    char field[32];
    char why[160];
};

/* Parses the n fields f into out (zeroed first; on success the caller frees it with
 * gd_gov_rkey_cfg_free). Returns 0, 1 when the entry is revoked (out freed), GD_EINVAL
 * with err filled (out freed), or GD_ENOMEM. */
int gd_gov_rkey_parse(const struct gd_gov_config *c, const struct gd_gw_config *gc,
                      const struct gd_gov_rkey_field *f, size_t n, struct gd_gov_key_cfg *out,
                      struct gd_gov_rkey_err *err);
void gd_gov_rkey_cfg_free(struct gd_gov_key_cfg *k);

#endif
