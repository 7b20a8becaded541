#include "gw_test_config.h"
#include "gateway/gw_config.h"

#include <criterion/criterion.h>
#include <string.h>

static const struct gd_config_section *const sections[] = {&gd_gw_config_section};
static const struct gd_config_options opts = {sections, 1, {{0}, NULL, NULL}};

int gw_test_load(const char *yaml, struct gd_config **cfg, struct gd_buf *errs)
{
    struct gd_config_diag d;
    gd_config_diag_init(&d, "t.yaml");
    int rc = gd_config_load_mem(yaml, strlen(yaml), "t.yaml", &opts, &d, cfg);
    gd_config_diag_format_all(&d, errs);
    gd_config_diag_free(&d);
    return rc;
}

void gw_test_expect_error(const char *yaml, const char *want)
{
    struct gd_config *cfg = NULL;
    struct gd_buf errs;
    gd_buf_init(&errs, 1 << 16);
    cr_assert_neq(gw_test_load(yaml, &cfg, &errs), 0, "accepted: %s", yaml);
    cr_assert_not_null(errs.data);
    cr_assert_not_null(strstr(errs.data, want), "want '%s' in:\n%s", want, errs.data);
    cr_assert_null(strstr(errs.data, "sk-secret"), "a key in: %s", errs.data);
    gd_buf_free(&errs);
}
