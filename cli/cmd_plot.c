/* cmd_plot.c - placeholder until the command is written; replace whole. */
#include "cli.h"

int cmd_plot(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("'plot' is not built yet");
    return EXIT_INTERNAL;
}

void cmd_plot_help(FILE *out)
{
    fprintf(out, "calib plot: not built yet\n");
}
