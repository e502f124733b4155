/* cmd_eval.c - placeholder until the command is written; replace whole. */
#include "cli.h"

int cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("'eval' is not built yet");
    return EXIT_INTERNAL;
}

void cmd_eval_help(FILE *out)
{
    fprintf(out, "calib eval: not built yet\n");
}
