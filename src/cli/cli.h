/* girder's command-line entry points. Each command parses its own argv (argv[0] is
 * the command name) and returns the process exit status. */
#ifndef GD_CLI_CLI_H
#define GD_CLI_CLI_H

struct gd_cli_command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
};

/* True when argv holds -h or --help. */
int gd_cli_wants_help(int argc, char **argv);

int gd_cmd_version(int argc, char **argv);
int gd_cmd_serve(int argc, char **argv); /* src/cli/cmd_serve.c (helper A) */
int gd_cmd_run(int argc, char **argv);
/* src/cli/cmd_run_profile.c: `girder run --profile`'s tables (per op type, top nodes). */
#include "girder/engine.h"
void gd_run_print_profile(const gd_engine_model *m, const gd_engine_session *s, int runs);
int gd_cmd_keys(int argc, char **argv); /* src/cli/cmd_keys.c: gateway virtual keys */

/* `girder config` (src/cli/cmd_config.c, helper B). The extension config sections known to
 * the binary live in one table there (gd_cli_config_sections, n entries); `girder serve` and
 * `girder config check` both load configs through gd_cli_config_load so they accept exactly
 * the same schema. path NULL loads the embedded default. Returns 0 or a negative GD_E* with
 * the errors in diag (see core/config.h). */
struct gd_config;
struct gd_config_diag;
struct gd_config_section;
extern const struct gd_config_section *const gd_cli_config_sections[];
extern const unsigned long gd_cli_config_sections_n;
int gd_cli_config_load(const char *path, struct gd_config_diag *diag, struct gd_config **out);
int gd_cmd_config(int argc, char **argv);

/* `girder logs` (src/cli/cmd_logs.c, helper F) and its archive subcommands
 * (src/cli/cmd_logs_archive.c, helper G; argv[0] is the subcommand name). */
int gd_cmd_logs(int argc, char **argv);
int gd_cmd_logs_compress(int argc, char **argv);
int gd_cmd_logs_decompress(int argc, char **argv);
int gd_cmd_logs_grep(int argc, char **argv);
int gd_cmd_logs_schema(int argc, char **argv);

#endif
