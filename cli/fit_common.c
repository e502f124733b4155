/*
 * fit_common.c - what `calib fit`, `calib apply` and `calib run` share:
 * the fitting options, reading the predictions of apply, and the JSON
 * objects of metrics and fit diagnostics.
 *
 * The metrics object carries the keys of `calib eval --format json` so
 * that the "test" entries of summary.json read like an eval report.
 */
#include "fit_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_fit_option(int argc, char **argv, int *i, calib_fit_options *opt)
{
    const char *v;

    if ((v = cli_flag_value(argc, argv, i, "--bins")) != NULL)
        return v[0] != '\0' && cli_parse_size("--bins", v, &opt->n_bins) == 0
                   ? 1 : -1;
    if ((v = cli_flag_value(argc, argv, i, "--max-iterations")) != NULL)
        return v[0] != '\0' &&
                       cli_parse_size("--max-iterations", v,
                                      &opt->max_iterations) == 0
                   ? 1 : -1;
    if ((v = cli_flag_value(argc, argv, i, "--threads")) != NULL) {
        size_t t;
        if (v[0] == '\0' || cli_parse_size("--threads", v, &t) != 0)
            return -1;
        if (t > 4096) {
            cli_error("--threads: at most 4096, got %zu", t);
            return -1;
        }
        opt->threads = (unsigned)t;
        return 1;
    }
    if ((v = cli_flag_value(argc, argv, i, "--scheme")) != NULL) {
        if (v[0] == '\0')
            return -1;
        if (strcmp(v, "width") == 0)
            opt->scheme = CALIB_SCHEME_WIDTH;
        else if (strcmp(v, "mass") == 0)
            opt->scheme = CALIB_SCHEME_MASS;
        else {
            cli_error("--scheme must be width or mass, got '%s'", v);
            return -1;
        }
        return 1;
    }
    if ((v = cli_flag_value(argc, argv, i, "--bin-rule")) != NULL) {
        if (v[0] == '\0')
            return -1;
        if (strcmp(v, "right") == 0)
            opt->bin_rule = CALIB_BIN_RIGHT;
        else if (strcmp(v, "left") == 0)
            opt->bin_rule = CALIB_BIN_LEFT;
        else {
            cli_error("--bin-rule must be right or left, got '%s'", v);
            return -1;
        }
        return 1;
    }
#define NONNEG_DOUBLE(name, field)                                         \
    if ((v = cli_flag_value(argc, argv, i, name)) != NULL) {               \
        if (v[0] == '\0' || cli_parse_double(name, v, &opt->field) != 0)  \
            return -1;                                                     \
        if (opt->field < 0.0) {                                            \
            cli_error("%s must be >= 0, got '%s'", name, v);               \
            return -1;                                                     \
        }                                                                  \
        return 1;                                                          \
    }
    NONNEG_DOUBLE("--l2", l2)
    NONNEG_DOUBLE("--dirichlet-lambda", dirichlet_lambda)
    NONNEG_DOUBLE("--dirichlet-mu", dirichlet_mu)
    NONNEG_DOUBLE("--tolerance", tolerance)
#undef NONNEG_DOUBLE
    return 0;
}

void cli_fit_options_help(FILE *out)
{
    fprintf(out,
        "  --bins M              bins of histogram binning (and, in calib\n"
        "                        run, of the metrics); 15\n"
        "  --scheme width|mass   histogram binning: equal width (default)\n"
        "                        or equal mass\n"
        "  --bin-rule right|left bins (lo, hi] (default) or [lo, hi)\n"
        "  --l2 X                vector/matrix scaling: L2 weight; 1e-4\n"
        "  --dirichlet-lambda X  Dirichlet: off-diagonal weight; 1e-3\n"
        "  --dirichlet-mu X      Dirichlet: intercept weight; 1e-3\n"
        "  --tolerance X         relative tolerance; 1e-12\n"
        "  --max-iterations N    0 or absent: the method's default\n"
        "  --threads N           threads (results do not depend on it);\n"
        "                        all cores by default\n");
}

int cli_read_preds(const char *spec, const calib_csv_options *csv,
                   calib_matrix *m, int64_t **labels)
{
    calib_error err;
    int64_t *dropped = NULL;

    calib_error_clear(&err);
    if (labels != NULL)
        *labels = NULL;
    if (cli_is_csv(spec)) {
        int no_label = csv->label_column == 0 && csv->label_name == NULL;
        if (calib_read_csv(spec, csv, m,
                           no_label ? NULL : labels != NULL ? labels
                                                            : &dropped,
                           &err) == CALIB_OK) {
            calib_free(dropped);
            return 0;
        }
        /* every label error says "label": the first column of a file of
         * predictions alone, read as labels, fails with one of them */
        if (!no_label && strstr(err.message, "label") != NULL) {
            cli_error("%s; a CSV of predictions alone needs "
                      "--no-label-col", err.message);
            return cli_exit_status(err.status, 0);
        }
        return cli_fail(&err, 0);
    }
    if (calib_read_matrix(spec, m, &err) != CALIB_OK)
        return cli_fail(&err, 0);
    return 0;
}

void cli_print_fit_json(FILE *out, const calib_fit_info *fi,
                        double temperature)
{
    fprintf(out, "{\"n\": %zu, \"nll_before\": ", fi->n);
    cli_print_double(out, fi->nll_before, 1);
    fputs(", \"nll_after\": ", out);
    cli_print_double(out, fi->nll_after, 1);
    fprintf(out, ", \"iterations\": %zu, \"gradient\": ", fi->iterations);
    cli_print_double(out, fi->gradient, 1);
    fprintf(out, ", \"status\": \"%s\"", fi->status);
    if (!isnan(temperature)) {
        fputs(", \"temperature\": ", out);
        cli_print_double(out, temperature, 1);
    }
    fputc('}', out);
}
