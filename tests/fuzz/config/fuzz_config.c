/* libFuzzer driver: arbitrary bytes through the whole YAML → config loader (libyaml events,
 * tree building, ${ENV} substitution, schema checks, diagnostics formatting, summary), with
 * the tracing: section (obs/trace_config.c) as an extension section. The
 * environment is a fixed fake so runs are reproducible: names starting with S are set. */
#include "core/config.h"
#include "obs/trace.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const char *fake_env(void *ud, const char *name)
{
    (void)ud;
    return name[0] == 'S' ? "secret-value-127.0.0.1:1" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gd_config_options opts;
    memset(&opts, 0, sizeof opts);
    static const struct gd_config_section *const sections[] = {&gd_trace_config_section};
    opts.sections = sections;
    opts.n_sections = 1;
    opts.yaml.getenv = fake_env;
    opts.yaml.limits.max_nodes = 5000; /* keep each run fast */
    struct gd_config_diag diag;
    gd_config_diag_init(&diag, "fuzz.yaml");
    struct gd_config *cfg = NULL;
    struct gd_buf out;
    gd_buf_init(&out, 1 << 20);
    if (gd_config_load_mem((const char *)data, size, "fuzz.yaml", &opts, &diag, &cfg) == 0)
        gd_config_summary(cfg, &out);
    else
        gd_config_diag_format_all(&diag, &out);
    /* Secrets must never reach messages or summaries (unless the input spelled them out). */
    if (out.data && strstr(out.data, "secret-value") && !memmem(data, size, "secret-value", 12))
        __builtin_trap();
    gd_buf_free(&out);
    gd_config_unref(cfg);
    gd_config_diag_free(&diag);
    return 0;
}
