/* cmd_loss.c - placeholder until the command is written; replace whole. */
#include "cli.h"

int cmd_loss(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("'loss' is not built yet");
    return EXIT_INTERNAL;
}

void cmd_loss_help(FILE *out)
{
    fprintf(out, "calib loss: not built yet\n");
}
