/* The `pii:` map of governance (global, and later per tenant and per alias): which
 * categories the detector (pii.h) looks for and what happens to each. See docs/governance.md.
 *   pii:
 *     action: mask          # off | log | mask | redact | block (default mask)
 *     categories: [email, credit_card]   # default: every category
 *     overrides: {credit_card: block, secret: log}
 *     restore: true         # mask only: put values back into responses (default false)
 *     responses: false      # also scan upstream responses (default false) */
#ifndef GD_GATEWAY_GOV_PII_CONFIG_H
#define GD_GATEWAY_GOV_PII_CONFIG_H

#include "core/config.h"
#include "gateway/pii.h"

#include <stdbool.h>
#include <stdint.h>

enum gd_pii_action {
    GD_PII_ACT_OFF,
    GD_PII_ACT_LOG,
    GD_PII_ACT_MASK,
    GD_PII_ACT_REDACT,
    GD_PII_ACT_BLOCK,
};

struct gd_gov_pii_cfg {
    uint8_t action[GD_PII_NCAT]; /* enum gd_pii_action per category */
    bool restore;
    bool responses;
};

/* "off", "log", ... or NULL for an out-of-range value. */
const char *gd_pii_action_name(enum gd_pii_action a);

/* Parses the `pii:` map node (not NULL) into *out (no allocation; out is overwritten).
 * Records every problem in d with its line:col. Returns 0 or GD_EINVAL. */
int gd_gov_pii_config_parse(struct gd_config_diag *d, const struct gd_yaml_node *n,
                            struct gd_gov_pii_cfg *out);

/* Categories whose action is a (bit 1 << cat). */
uint32_t gd_gov_pii_cats(const struct gd_gov_pii_cfg *c, enum gd_pii_action a);

#endif
