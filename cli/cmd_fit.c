/* cmd_fit.c - placeholder until the command is written; replace whole. */
#include "cli.h"

int cmd_fit(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("'fit' is not built yet");
    return EXIT_INTERNAL;
}

void cmd_fit_help(FILE *out)
{
    fprintf(out, "calib fit: not built yet\n");
}
