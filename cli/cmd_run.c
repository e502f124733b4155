/* cmd_run.c - placeholder until the command is written; replace whole. */
#include "cli.h"

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("'run' is not built yet");
    return EXIT_INTERNAL;
}

void cmd_run_help(FILE *out)
{
    fprintf(out, "calib run: not built yet\n");
}
