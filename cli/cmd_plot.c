/*
 * cmd_plot.c - `calib plot`: a reliability diagram of predictions as SVG.
 *
 * Reads the same inputs as `calib eval` (logits, probabilities or
 * top-label records, from .npy/.npz or CSV), evaluates them with the same
 * binning options, and writes calib_svg_reliability's picture atomically.
 * With --model, the saved calibrator is applied to the same predictions
 * and the calibrated probabilities are evaluated as probabilities: the
 * picture then has two panels, before and after. For a binary input (one
 * score column) the calibrated [1 - p, p] rows are reduced to p again so
 * that both panels measure the same thing.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

typedef struct plot_args {
    const char *logits;
    const char *probs;
    const char *toplabel;
    const char *labels;
    const char *model;
    const char *output;
    const char *title;
    size_t classes;           /* of --toplabel records; 0: unknown */
    calib_csv_options csv;
    calib_eval_options eval;
} plot_args;

void cmd_plot_help(FILE *out)
{
    fprintf(out,
        "usage: calib plot (--logits F | --probs F | --toplabel F)\n"
        "                  [--labels F] -o OUT.svg [options]\n"
        "\n"
        "Draws a reliability diagram as a standalone SVG: the accuracy of\n"
        "each confidence bin as bars against the diagonal, the gap to the\n"
        "diagonal hatched, the number of samples per bin beneath, and ECE,\n"
        "MCE and N in a legend.\n"
        "\n"
        "inputs (as in calib eval):\n"
        "  --logits F        raw scores: .npy, .npz:KEY or CSV (labels in\n"
        "                    the CSV); one column means a binary task\n"
        "  --probs F         probabilities, rows summing to 1\n"
        "  --toplabel F      CSV with true_label,pred_label,confidence\n"
        "  --labels F        labels (.npy or .npz:KEY) for .npy/.npz input\n"
        "  --delimiter C     CSV delimiter: a character or 'tab'\n"
        "  --header, --no-header   CSV has (not) a header line\n"
        "  --label-col C     CSV label column: 1-based number or name\n"
        "\n"
        "binning:\n"
        "  --bins N          number of bins (15)\n"
        "  --bin-rule R      right: (lo, hi] (default); left: [lo, hi)\n"
        "  --scheme S        width: equal width (default); mass: equal mass\n"
        "  --top-label       binary input: top label, max(p, 1 - p)\n"
        "  --renormalize     probabilities: divide each row by its sum\n"
        "  --sum-tolerance X probabilities: |row sum - 1| allowed (1e-4)\n"
        "  --eps CLIP        clip probabilities to [CLIP, 1]\n"
        "  --classes K       number of classes of --toplabel input\n"
        "  --smoothing EPS   accepted as in calib eval; no effect here\n"
        "  --threads N       threads (default: all cores)\n"
        "\n"
        "output:\n"
        "  -o, --output F    the SVG file, written atomically; '-' for\n"
        "                    standard output\n"
        "  --title T         the panel title (default: the input's name)\n"
        "  --model M         also draw the predictions after the saved\n"
        "                    calibrator M, side by side\n"
        "\n"
        "Exit statuses as in docs/cli.md: 2 usage, 3 unreadable input,\n"
        "4 malformed input, 5 invalid data, 7 the model does not load or\n"
        "apply, 8 the output cannot be written.\n");
}

/* cli_flag_value, with a missing value reported through *missing. */
static const char *flag_value(int argc, char **argv, int *i,
                              const char *flag, int *missing)
{
    const char *v = cli_flag_value(argc, argv, i, flag);

    /* "" means cli_flag_value has already said what is missing */
    if (v != NULL && v[0] == '\0')
        *missing = 1;
    return v != NULL && *missing ? NULL : v;
}

static int parse_args(int argc, char **argv, plot_args *a)
{
    memset(a, 0, sizeof *a);
    calib_csv_options_default(&a->csv);
    calib_eval_options_default(&a->eval);

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        int bad = 0, csv = cli_csv_option(argc, argv, &i, &a->csv, 0);
        size_t size;

        if (csv < 0)
            return -1;
        if (csv > 0)
            continue;

#define VALUE(flag) ((v = flag_value(argc, argv, &i, flag, &bad)) != NULL)
        if (VALUE("--logits")) {
            a->logits = v;
        } else if (VALUE("--probs")) {
            a->probs = v;
        } else if (VALUE("--toplabel")) {
            a->toplabel = v;
        } else if (VALUE("--labels")) {
            a->labels = v;
        } else if (VALUE("--model")) {
            a->model = v;
        } else if (VALUE("--output") || VALUE("-o")) {
            a->output = v;
        } else if (VALUE("--title")) {
            a->title = v;
        } else if (VALUE("--bins")) {
            if (cli_parse_size("--bins", v, &a->eval.n_bins) != 0)
                return -1;
        } else if (VALUE("--bin-rule")) {
            if (strcmp(v, "right") == 0) {
                a->eval.bin_rule = CALIB_BIN_RIGHT;
            } else if (strcmp(v, "left") == 0) {
                a->eval.bin_rule = CALIB_BIN_LEFT;
            } else {
                cli_error("--bin-rule is 'right' or 'left', got '%s'", v);
                return -1;
            }
        } else if (VALUE("--scheme")) {
            if (strcmp(v, "width") == 0) {
                a->eval.scheme = CALIB_SCHEME_WIDTH;
            } else if (strcmp(v, "mass") == 0) {
                a->eval.scheme = CALIB_SCHEME_MASS;
            } else {
                cli_error("--scheme is 'width' or 'mass', got '%s'", v);
                return -1;
            }
        } else if (VALUE("--threads")) {
            if (cli_parse_size("--threads", v, &size) != 0)
                return -1;
            if (size > 4096) {
                cli_error("--threads: at most 4096, got '%s'", v);
                return -1;
            }
            a->eval.threads = (unsigned)size;
        } else if (VALUE("--sum-tolerance")) {
            if (cli_parse_double("--sum-tolerance", v,
                                 &a->eval.sum_tolerance) != 0)
                return -1;
            if (a->eval.sum_tolerance < 0.0) {
                cli_error("--sum-tolerance must not be negative");
                return -1;
            }
        } else if (VALUE("--eps")) {
            if (cli_parse_double("--eps", v, &a->eval.clip_eps) != 0)
                return -1;
            if (a->eval.clip_eps < 0.0 || a->eval.clip_eps >= 1.0) {
                cli_error("--eps needs a value in [0, 1), got '%s'", v);
                return -1;
            }
        } else if (VALUE("--smoothing")) {
            /* no effect on the picture; accepted so that an eval command
             * line can be reused as it is */
            if (cli_parse_double("--smoothing", v, &a->eval.smoothing) != 0)
                return -1;
            if (a->eval.smoothing < 0.0 || a->eval.smoothing > 1.0) {
                cli_error("--smoothing needs a value in [0, 1], got '%s'",
                          v);
                return -1;
            }
        } else if (VALUE("--classes")) {
            if (cli_parse_size("--classes", v, &a->classes) != 0)
                return -1;
        } else if (bad) {
            return -1;
        } else if (strcmp(arg, "--top-label") == 0) {
            a->eval.top_label = 1;
        } else if (strcmp(arg, "--renormalize") == 0) {
            a->eval.renormalize = 1;
        } else {
            cli_error("plot: unknown argument '%s'; try 'calib help plot'",
                      arg);
            return -1;
        }
#undef VALUE
        if (bad)
            return -1;
    }

    if ((a->logits != NULL) + (a->probs != NULL) + (a->toplabel != NULL)
        != 1) {
        cli_error("plot: give exactly one of --logits, --probs, --toplabel");
        return -1;
    }
    if (a->output == NULL) {
        cli_error("plot: -o OUT.svg is required");
        return -1;
    }
    if (a->toplabel != NULL && a->model != NULL) {
        cli_error("plot: --model needs whole predictions, not --toplabel "
                  "records");
        return -1;
    }
    if (a->toplabel != NULL && a->labels != NULL) {
        cli_error("plot: --toplabel files hold their labels; drop --labels");
        return -1;
    }
    return 0;
}

/* Model failures other than I/O and memory are "cannot be loaded or
 * applied" (docs/cli.md, status 7). */
static int model_fail(const calib_error *err)
{
    cli_error("%s", err->message[0] != '\0' ? err->message
                                            : calib_strerror(err->status));
    if (err->status == CALIB_E_IO)
        return EXIT_INPUT_IO;
    if (err->status == CALIB_E_NOMEM)
        return EXIT_NOMEM;
    return EXIT_FIT;
}

/* Applies the model and evaluates the calibrated probabilities. */
static int evaluate_after(const plot_args *a, const calib_matrix *preds,
                          calib_input input, const int64_t *labels,
                          calib_metrics *after, char **after_title)
{
    calib_model *model = NULL;
    calib_error err;
    calib_matrix calibrated;
    double *probs = NULL;
    size_t k = preds->cols == 1 ? 2 : preds->cols, bytes;
    int overflow, rc = 0;
    const char *name;

    calib_error_clear(&err);
    if (calib_model_load(a->model, &model, &err) != CALIB_OK)
        return model_fail(&err);

    overflow = preds->rows != 0 && k > SIZE_MAX / sizeof(double) / preds->rows;
    bytes = overflow ? 0 : preds->rows * k * sizeof(double);
    probs = overflow ? NULL : calib_malloc(bytes);
    if (probs == NULL) {
        cli_error("plot: out of memory for %zu x %zu probabilities",
                  preds->rows, k);
        rc = EXIT_NOMEM;
        goto done;
    }
    if (calib_model_apply(model, preds, input, probs, &err) != CALIB_OK) {
        rc = model_fail(&err);
        goto done;
    }

    /* binary: back to one column of p, as the input was */
    if (preds->cols == 1)
        for (size_t i = 0; i < preds->rows; i++)
            probs[i] = probs[2 * i + 1];
    calibrated.rows = preds->rows;
    calibrated.cols = preds->cols;
    calibrated.dtype = CALIB_FLOAT64;
    calibrated.data = probs;
    if (calib_evaluate(&calibrated, CALIB_PROBS, labels, &a->eval, after,
                       &err) != CALIB_OK) {
        rc = cli_fail(&err, 0);
        goto done;
    }

    /* "after temperature (model.json)", or "TITLE, after temperature" */
    name = calib_method_name(calib_model_method(model));
    bytes = strlen(name) + strlen(a->model) + 16 +
            (a->title != NULL ? strlen(a->title) : 0);
    *after_title = calib_malloc(bytes);
    if (*after_title == NULL) {
        calib_metrics_free(after);
        cli_error("plot: out of memory");
        rc = EXIT_NOMEM;
        goto done;
    }
    if (a->title != NULL)
        snprintf(*after_title, bytes, "%s, after %s", a->title, name);
    else
        snprintf(*after_title, bytes, "after %s (%s)", name, a->model);

done:
    calib_free(probs);
    calib_model_free(model);
    return rc;
}

int cmd_plot(int argc, char **argv)
{
    plot_args a;
    calib_matrix preds = {0, 0, CALIB_FLOAT64, NULL};
    calib_toplabel records = {0, NULL, NULL, NULL};
    calib_metrics before, after;
    int64_t *labels = NULL;
    char *svg = NULL, *after_title = NULL;
    int have_before = 0, have_after = 0, rc = 0;
    calib_error err;
    calib_input input = CALIB_LOGITS;
    const char *path;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cmd_plot_help(stdout);
            return 0;
        }
    if (parse_args(argc, argv, &a) != 0)
        return EXIT_USAGE;
    calib_error_clear(&err);
    memset(&before, 0, sizeof before);
    memset(&after, 0, sizeof after);

    /* read and evaluate the predictions as given */
    if (a.toplabel != NULL) {
        path = a.toplabel;
        if (calib_read_toplabel(path, &records, &err) != CALIB_OK) {
            rc = cli_fail(&err, 0);
            goto done;
        }
        if (calib_evaluate_toplabel(&records, a.classes, &a.eval, &before,
                                    &err)
            != CALIB_OK) {
            rc = cli_fail(&err, 0);
            goto done;
        }
    } else {
        path = a.logits != NULL ? a.logits : a.probs;
        input = a.logits != NULL ? CALIB_LOGITS : CALIB_PROBS;
        rc = cli_read_inputs("plot", path, a.labels, &a.csv, &preds,
                             &labels);
        if (rc != 0)
            goto done;
        if (calib_evaluate(&preds, input, labels, &a.eval, &before, &err)
            != CALIB_OK) {
            rc = cli_fail(&err, 0);
            goto done;
        }
    }
    have_before = 1;

    if (a.model != NULL) {
        rc = evaluate_after(&a, &preds, input, labels, &after, &after_title);
        if (rc != 0)
            goto done;
        have_after = 1;
    }

    /* draw and write */
    if (calib_svg_reliability(&before, a.title != NULL ? a.title : path,
                              have_after ? &after : NULL, after_title, &svg,
                              &err) != CALIB_OK) {
        rc = cli_fail(&err, 0);
        goto done;
    }
    if (strcmp(a.output, "-") == 0) {
        if (fputs(svg, stdout) == EOF || fflush(stdout) != 0) {
            cli_error("plot: cannot write to standard output");
            rc = EXIT_OUTPUT;
        }
    } else if (calib_write_file(a.output, svg, strlen(svg), &err)
               != CALIB_OK) {
        rc = cli_fail(&err, 1);
    }

done:
    calib_free(svg);
    calib_free(after_title);
    if (have_after)
        calib_metrics_free(&after);
    if (have_before)
        calib_metrics_free(&before);
    calib_free(labels);
    calib_matrix_free(&preds);
    if (records.true_label != NULL || records.confidence != NULL)
        calib_toplabel_free(&records);
    return rc;
}
