/* Loading a gateway config from YAML text in unit tests (gateway and governance). */
#ifndef GD_TESTS_GW_TEST_CONFIG_H
#define GD_TESTS_GW_TEST_CONFIG_H

#include "core/buf.h"
#include "core/config.h"

/* Loads yaml (file name "t.yaml") with the gateway section; every error into errs. Returns
 * the loader's result. */
int gw_test_load(const char *yaml, struct gd_config **cfg, struct gd_buf *errs);
/* Asserts yaml is refused with want among the errors, and that no "sk-secret" is echoed. */
void gw_test_expect_error(const char *yaml, const char *want);

#endif
