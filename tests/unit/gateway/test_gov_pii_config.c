#include "gateway/gov_pii_config.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <string.h>

/* Parses the `pii:` value of yaml; returns the parser's result and the formatted errors. */
static int parse(const char *yaml, struct gd_gov_pii_cfg *c, struct gd_buf *errs)
{
    struct gd_config_diag d;
    gd_config_diag_init(&d, "t.yaml");
    struct gd_yaml_doc *doc = NULL;
    cr_assert_eq(gd_yaml_parse(yaml, strlen(yaml), NULL, &d, &doc), 0);
    const struct gd_yaml_node *root = gd_yaml_doc_root(doc);
    const struct gd_yaml_node *pii = NULL;
    for (size_t i = 0; i < root->n; i++)
        if (strcmp(root->pairs[i].key->str, "pii") == 0)
            pii = root->pairs[i].value;
    cr_assert(pii);
    int rc = gd_gov_pii_config_parse(&d, pii, c);
    gd_config_diag_format_all(&d, errs);
    gd_config_diag_free(&d);
    gd_yaml_doc_free(doc);
    return rc;
}

Test(gov_pii_config, defaults_categories_overrides)
{
    struct gd_gov_pii_cfg c;
    struct gd_buf e;
    gd_buf_init(&e, 1 << 16);
    cr_assert_eq(parse("pii: {}\n", &c, &e), 0, "%s", e.data);
    cr_assert_eq(gd_gov_pii_cats(&c, GD_PII_ACT_MASK), GD_PII_ALL);
    cr_assert(!c.restore && !c.responses);
    cr_assert_eq(parse("pii:\n  action: redact\n  categories: [email, credit_card, secret]\n"
                       "  overrides: {credit_card: block, secret: log}\n  responses: true\n",
                       &c, &e),
                 0, "%s", e.data);
    cr_assert_eq(gd_gov_pii_cats(&c, GD_PII_ACT_REDACT), 1u << GD_PII_EMAIL);
    cr_assert_eq(gd_gov_pii_cats(&c, GD_PII_ACT_BLOCK), 1u << GD_PII_CREDIT_CARD);
    cr_assert_eq(gd_gov_pii_cats(&c, GD_PII_ACT_LOG), 1u << GD_PII_SECRET);
    cr_assert(c.responses);
    cr_assert_str_eq(gd_pii_action_name(GD_PII_ACT_BLOCK), "block");
    gd_buf_free(&e);
}

Test(gov_pii_config, errors_with_positions)
{
    struct gd_gov_pii_cfg c;
    struct gd_buf e;
    gd_buf_init(&e, 1 << 16);
    cr_assert_eq(parse("pii:\n  action: hide\n  categories: [email, passport]\n"
                       "  overrides: {ssn: drop}\n  restor: true\n",
                       &c, &e),
                 GD_EINVAL);
    cr_assert(strstr(e.data, "t.yaml:2:"), "%s", e.data);   /* action */
    cr_assert(strstr(e.data, "t.yaml:3:23"), "%s", e.data); /* passport */
    cr_assert(strstr(e.data, "unknown PII category"), "%s", e.data);
    cr_assert(strstr(e.data, "t.yaml:4:20"), "%s", e.data); /* drop */
    cr_assert(strstr(e.data, "restor"), "%s", e.data);
    gd_buf_reset(&e);
    cr_assert_eq(parse("pii: {action: redact, restore: true}\n", &c, &e), GD_EINVAL);
    cr_assert(strstr(e.data, "needs at least one category with mask"), "%s", e.data);
    gd_buf_free(&e);
}
