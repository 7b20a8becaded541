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

/* `girder logs` (src/cli/cmd_logs.c, helper F) and its archive subcommands
 * (src/cli/cmd_logs_archive.c, helper G; argv[0] is the subcommand name). */
int gd_cmd_logs(int argc, char **argv);
int gd_cmd_logs_compress(int argc, char **argv);
int gd_cmd_logs_decompress(int argc, char **argv);
int gd_cmd_logs_grep(int argc, char **argv);
int gd_cmd_logs_schema(int argc, char **argv);

#endif
