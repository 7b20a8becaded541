#include "cli/cli.h"

#include <stdio.h>

int gd_cmd_version(int argc, char **argv)
{
    if (gd_cli_wants_help(argc, argv)) {
        printf("usage: girder version\n\nPrints girder's version.\n");
        return 0;
    }
    printf("girder %s\n", GD_VERSION_STRING);
    return 0;
}
