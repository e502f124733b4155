/* cmd_apply.c - placeholder until the command is written; replace whole. */
#include "cli.h"

int cmd_apply(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("'apply' is not built yet");
    return EXIT_INTERNAL;
}

void cmd_apply_help(FILE *out)
{
    fprintf(out, "calib apply: not built yet\n");
}
