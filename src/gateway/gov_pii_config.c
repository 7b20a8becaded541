/* The `pii:` map of governance (see gov_pii_config.h). */
#include "gateway/gov_pii_config.h"

#include "girder/error.h"

#include <string.h>

static const char *const pii_keys[] = {"action",  "categories", "overrides",
                                       "restore", "responses",  NULL};
static const char *const actions[] = {"off", "log", "mask", "redact", "block", NULL};

const char *gd_pii_action_name(enum gd_pii_action a)
{
    return (unsigned)a <= GD_PII_ACT_BLOCK ? actions[a] : NULL;
}

uint32_t gd_gov_pii_cats(const struct gd_gov_pii_cfg *c, enum gd_pii_action a)
{
    uint32_t m = 0;
    for (int i = 0; i < GD_PII_NCAT; i++)
        if (c->action[i] == a)
            m |= UINT32_C(1) << i;
    return m;
}

static int parse_cat(struct gd_config_diag *d, const struct gd_yaml_node *k, enum gd_pii_cat *c)
{
    if (k->kind == GD_YAML_SCALAR && gd_pii_cat_parse(k->str, k->len, c) == 0)
        return 0;
    gd_config_diag_add(d, k, NULL,
                       "unknown PII category (email, phone, credit_card, iban, ssn, ipv4, ipv6, "
                       "aws_key, github_token, gitlab_token, slack_token, google_api_key, "
                       "stripe_key, openai_key, anthropic_key, private_key, jwt, secret)");
    return GD_EINVAL;
}

static int parse_categories(struct gd_config_diag *d, const struct gd_yaml_node *n,
                            struct gd_gov_pii_cfg *out, enum gd_pii_action act)
{
    const struct gd_yaml_node *seq = NULL;
    int rc = gd_config_get_seq(d, n, "categories", &seq);
    if (rc != 0 || !seq)
        return rc;
    memset(out->action, GD_PII_ACT_OFF, sizeof out->action);
    for (size_t i = 0; i < seq->n; i++) {
        enum gd_pii_cat c;
        if (parse_cat(d, seq->items[i], &c) != 0)
            rc = GD_EINVAL;
        else
            out->action[c] = (uint8_t)act;
    }
    return rc;
}

static int parse_overrides(struct gd_config_diag *d, const struct gd_yaml_node *n,
                           struct gd_gov_pii_cfg *out)
{
    const struct gd_yaml_node *m = NULL;
    int rc = gd_config_get_map(d, n, "overrides", &m);
    if (rc != 0 || !m)
        return rc;
    for (size_t i = 0; i < m->n; i++) {
        enum gd_pii_cat c;
        const struct gd_yaml_node *v = m->pairs[i].value;
        if (parse_cat(d, m->pairs[i].key, &c) != 0) {
            rc = GD_EINVAL;
            continue;
        }
        int a = -1;
        for (int k = 0; v && v->kind == GD_YAML_SCALAR && actions[k]; k++)
            if (strcmp(v->str, actions[k]) == 0)
                a = k;
        if (a < 0) {
            gd_config_diag_add(d, v ? v : m->pairs[i].key, NULL,
                               "expected one of off, log, mask, redact, block");
            rc = GD_EINVAL;
            continue;
        }
        out->action[c] = (uint8_t)a;
    }
    return rc;
}

int gd_gov_pii_config_parse(struct gd_config_diag *d, const struct gd_yaml_node *n,
                            struct gd_gov_pii_cfg *out)
{
    memset(out, 0, sizeof *out);
    if (gd_config_expect_kind(d, n, GD_YAML_MAP) != 0)
        return GD_EINVAL;
    int rc = gd_config_check_keys(d, n, pii_keys);
    int act = GD_PII_ACT_MASK;
    if (gd_config_get_enum(d, n, "action", actions, &act) != 0)
        rc = GD_EINVAL;
    memset(out->action, act, sizeof out->action);
    if (parse_categories(d, n, out, (enum gd_pii_action)act) != 0)
        rc = GD_EINVAL;
    if (parse_overrides(d, n, out) != 0)
        rc = GD_EINVAL;
    if (gd_config_get_bool(d, n, "restore", &out->restore) != 0 ||
        gd_config_get_bool(d, n, "responses", &out->responses) != 0)
        rc = GD_EINVAL;
    if (rc == 0 && out->restore && !gd_gov_pii_cats(out, GD_PII_ACT_MASK)) {
        gd_config_diag_add(d, n, NULL, "restore: true needs at least one category with mask");
        rc = GD_EINVAL;
    }
    return rc;
}
