/*
 * main.c - the calib command: dispatch to sub-commands.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const cli_command commands[] = {
    {"eval", "measure calibration: NLL, Brier, ECE and its variants",
     cmd_eval, cmd_eval_help},
    {"fit", "fit a post-hoc calibrator on a validation split",
     cmd_fit, cmd_fit_help},
    {"apply", "apply a saved calibrator to new predictions",
     cmd_apply, cmd_apply_help},
    {"run", "fit every calibrator on val, compare them on test",
     cmd_run, cmd_run_help},
    {"loss", "training losses and their gradients",
     cmd_loss, cmd_loss_help},
    {"plot", "draw a reliability diagram as SVG",
     cmd_plot, cmd_plot_help},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "usage: calib COMMAND [OPTIONS]\n"
            "       calib help COMMAND\n"
            "       calib --version\n"
            "\n"
            "Measures and fixes the calibration of classifiers.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-7s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nSee docs/cli.md for every flag and exit status.\n");
}

static const cli_command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const cli_command *cmd;

    if (argc < 2) {
        cli_error("no command given; try 'calib --help'");
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("calib %s\n", calib_version());
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        cmd = find(argv[2]);
        if (cmd == NULL) {
            cli_error("unknown command '%s'; try 'calib --help'", argv[2]);
            return EXIT_USAGE;
        }
        cmd->help(stdout);
        return 0;
    }
    cmd = find(argv[1]);
    if (cmd == NULL) {
        cli_error("unknown command '%s'; try 'calib --help'", argv[1]);
        return EXIT_USAGE;
    }
    cli_install_signal_handlers();
    return cmd->run(argc - 1, argv + 1);
}
