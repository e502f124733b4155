/*
 * fit_common.h - option parsing and input reading shared by `calib fit`,
 * `calib apply` and `calib run` (cli/fit_common.c).
 */
#ifndef CALIB_CLI_FIT_COMMON_H
#define CALIB_CLI_FIT_COMMON_H

#include "cli.h"

/*
 * Parses one of the fitting options at argv[*i]: --bins, --scheme,
 * --bin-rule, --l2, --dirichlet-lambda, --dirichlet-mu, --tolerance,
 * --max-iterations, --threads. Returns 1 if it was one (and valid), 0 if
 * argv[*i] is something else, -1 after printing a usage error.
 */
int cli_fit_option(int argc, char **argv, int *i, calib_fit_options *opt);

/* Help text of those options. */
void cli_fit_options_help(FILE *out);

/*
 * Reads the predictions of `calib apply`: .npy, .npz:KEY, or a CSV read
 * with `csv`, whose label column (when it has one) is checked and left
 * out; *labels gets it, or NULL (labels may be NULL to drop it). Prints
 * the error and returns the exit status, or 0; a label error ends with
 * a pointer to --no-label-col.
 */
int cli_read_preds(const char *spec, const calib_csv_options *csv,
                   calib_matrix *m, int64_t **labels);

/* Prints a calib_fit_info as a JSON object, one line. */
void cli_print_fit_json(FILE *out, const calib_fit_info *fi,
                        double temperature);

#endif /* CALIB_CLI_FIT_COMMON_H */
