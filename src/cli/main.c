/* girder: dispatches `girder <command> ...` to the command's own main. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const struct gd_cli_command commands[] = {
    {"serve", "run the HTTP server (`serve --help`)", gd_cmd_serve},
    {"version", "print the version and exit", gd_cmd_version},
    {"config", "validate a config file (`config check FILE`)", gd_cmd_config},
    {"logs", "log template mining, compression and search", gd_cmd_logs},
    {"run", "run an ONNX model on .npy/.pb inputs (`run MODEL --info`)", gd_cmd_run},
    {"keys", "virtual keys for the gateway (`keys new`, `keys hash`)", gd_cmd_keys},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *out)
{
    fprintf(out, "girder — the AI serving layer\n\nusage: girder <command> [options]\n\n"
                 "commands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`girder <command> --help` describes a command's options.\n");
}

int gd_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return gd_cmd_version(1, argv + 1);
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "girder: unknown command '%s' (try `girder --help`)\n", argv[1]);
    return 2;
}
