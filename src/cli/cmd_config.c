/* `girder config check FILE` and `girder config default`, plus the one table of extension
 * config sections known to the binary: `girder serve` loads its config through
 * gd_cli_config_load too, so a file that passes `config check` is exactly one that serve
 * accepts. */
#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "gateway/gw_config.h"
#include "girder/error.h"
#include "obs/remote_write.h"
#include "obs/trace.h"
#include "serve/ms_config.h"

#include <stdio.h>
#include <string.h>

/* Modules with their own top-level config keys add their struct gd_config_section here
 * (declared in their public header), before the NULL. */
const struct gd_config_section *const gd_cli_config_sections[] = {
    &gd_gw_config_section,    /* providers:, models: (src/gateway) */
    &gd_ms_config_section,    /* serving: (src/serve) */
    &gd_trace_config_section, /* tracing: (src/obs) */
    &gd_rw_config_section,    /* metrics.remote_write (src/obs) */
    NULL,
};
const unsigned long gd_cli_config_sections_n =
    sizeof gd_cli_config_sections / sizeof gd_cli_config_sections[0] - 1;

int gd_cli_config_load(const char *path, struct gd_config_diag *diag, struct gd_config **out)
{
    struct gd_config_options opts;
    memset(&opts, 0, sizeof opts);
    opts.sections = gd_cli_config_sections;
    opts.n_sections = gd_cli_config_sections_n;
    if (!path)
        return gd_config_load_default(&opts, diag, out);
    return gd_config_load_file(path, &opts, diag, out);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: girder config check FILE\n"
                 "       girder config default\n\n"
                 "check    validate FILE (YAML, with ${ENV} substitution). Prints `ok` and a\n"
                 "         summary and exits 0, or prints every error as\n"
                 "         FILE:LINE:COL: key 'x': message and exits 1. Values taken from the\n"
                 "         environment are never printed.\n"
                 "default  print the configuration compiled into girder (what `girder serve`\n"
                 "         uses without --config).\n\n"
                 "Every key is documented in docs/configuration.md.\n");
}

static int config_check(const char *path)
{
    struct gd_config_diag diag;
    struct gd_config *cfg = NULL;
    struct gd_buf out;
    gd_config_diag_init(&diag, path);
    gd_buf_init(&out, 1 << 20);
    int rc = gd_cli_config_load(path, &diag, &cfg);
    int status = 1;
    if (rc == 0) {
        if (gd_buf_puts(&out, "ok\n") == 0 && gd_config_summary(cfg, &out) == 0) {
            fwrite(out.data, 1, out.len, stdout);
            status = 0;
        } else {
            fprintf(stderr, "girder config check: out of memory\n");
        }
    } else {
        if (diag.n == 0)
            gd_config_diag_add(&diag, NULL, NULL, "%s", gd_strerror(rc));
        gd_config_diag_format_all(&diag, &out);
        fwrite(out.data ? out.data : "", 1, out.len, stderr);
    }
    gd_config_unref(cfg);
    gd_buf_free(&out);
    gd_config_diag_free(&diag);
    return status;
}

int gd_cmd_config(int argc, char **argv)
{
    if (gd_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return config_check(argv[2]);
    if (argc == 2 && strcmp(argv[1], "default") == 0) {
        size_t len;
        const char *yaml = gd_config_default_yaml(&len);
        return fwrite(yaml, 1, len, stdout) == len ? 0 : 1;
    }
    usage(stderr);
    return 2;
}
