/*
 * cmd_apply.c - `calib apply`: apply a saved calibrator to predictions
 * and write the calibrated probabilities as .npy (float64 N x K) or CSV.
 *
 * A model file that cannot be read (missing) exits 3; one that is
 * malformed, of an unknown version or method, or whose K differs from the
 * input's exits 7 (docs/cli.md).
 *
 * CSV predictions are read as `calib fit` reads them, label column (1 by
 * default) included, so that the file a model was fitted on and files
 * like it are applied without more options; the labels are checked and
 * left out. A file of predictions alone takes --no-label-col. Reading
 * column 1 of such a file as labels fails on its first non-integer value
 * or on the model's K, and those messages say so.
 */
#include "fit_common.h"

#include <stdlib.h>
#include <string.h>

void cmd_apply_help(FILE *out)
{
    fprintf(out,
        "usage: calib apply MODEL.json (--logits F | --probs F) -o OUT\n"
        "                   [--label-col C | --no-label-col] [CSV options]\n"
        "\n"
        "Applies a model written by `calib fit` (or `calib run`) to\n"
        "predictions (.npy, .npz:KEY or CSV/TSV) and writes the calibrated\n"
        "probabilities, N x K float64: OUT.npy, or OUT.csv (17 significant\n"
        "digits). Binary input (one column) gives two columns [1 - p, p].\n"
        "\n"
        "  --logits F     raw scores\n"
        "  --probs F      probabilities\n"
        "  -o, --output F OUT.npy or OUT.csv\n"
        "\n"
        "A CSV is read as calib fit reads it: its label column (1 unless\n"
        "--label-col says otherwise) is checked and left out. A CSV of\n"
        "predictions alone needs --no-label-col.\n"
        "\n"
        "  --label-col C  the label column: 1-based number or header name\n"
        "  --no-label-col every column is a prediction\n"
        "  --delimiter C  one character or 'tab' (detected)\n"
        "  --header, --no-header   line 1 is (not) a header (detected)\n");
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cmd_apply(int argc, char **argv)
{
    const char *model_path = NULL, *preds_path = NULL, *output = NULL;
    calib_input input = CALIB_LOGITS;
    calib_matrix preds = {0, 0, CALIB_FLOAT64, NULL};
    calib_csv_options csv;
    calib_model *model = NULL;
    double *probs = NULL;
    calib_error err;
    size_t k;
    int rc = 0, label_col;

    calib_csv_options_default(&csv);
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cmd_apply_help(stdout);
            return 0;
        }
        if ((rc = cli_csv_option(argc, argv, &i, &csv, 1)) != 0) {
            if (rc < 0)
                return EXIT_USAGE;
            rc = 0;
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--logits")) != NULL ||
            (v = cli_flag_value(argc, argv, &i, "--probs")) != NULL) {
            if (preds_path != NULL) {
                cli_error("apply: give one of --logits and --probs");
                return EXIT_USAGE;
            }
            /* which flag it was: the value follows it or is inside it */
            input = strncmp(v == argv[i] ? argv[i - 1] : argv[i],
                            "--probs", 7) == 0 ? CALIB_PROBS : CALIB_LOGITS;
            preds_path = v;
        } else if ((v = cli_flag_value(argc, argv, &i, "--output")) !=
                       NULL ||
                   (v = cli_flag_value(argc, argv, &i, "-o")) != NULL) {
            output = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_error("apply: unknown argument '%s'; try 'calib help apply'",
                      argv[i]);
            return EXIT_USAGE;
        } else if (model_path == NULL) {
            v = model_path = argv[i];
        } else {
            cli_error("apply: more than one model file ('%s')", argv[i]);
            return EXIT_USAGE;
        }
        if (v[0] == '\0')
            return EXIT_USAGE;
    }
    if (model_path == NULL || preds_path == NULL || output == NULL) {
        cli_error("apply: MODEL.json, --logits or --probs, and -o are "
                  "required; try 'calib help apply'");
        return EXIT_USAGE;
    }
    if (!ends_with(output, ".npy") && !ends_with(output, ".csv")) {
        cli_error("apply: the output must end in .npy or .csv, got '%s'",
                  output);
        return EXIT_USAGE;
    }
    cli_install_signal_handlers();

    if (calib_model_load(model_path, &model, &err) != CALIB_OK) {
        cli_error("%s", err.message);
        return err.status == CALIB_E_IO ? EXIT_INPUT_IO
               : err.status == CALIB_E_NOMEM ? EXIT_NOMEM : EXIT_FIT;
    }
    label_col = cli_is_csv(preds_path) &&
                (csv.label_column != 0 || csv.label_name != NULL);
    rc = cli_read_preds(preds_path, &csv, &preds, NULL);
    if (rc != 0)
        goto out;

    k = preds.cols == 1 ? 2 : preds.cols;
    probs = calib_calloc(preds.rows, k * sizeof *probs);
    if (probs == NULL) {
        cli_error("out of memory (%zu x %zu probabilities)", preds.rows, k);
        rc = EXIT_NOMEM;
        goto out;
    }
    if (calib_model_apply(model, &preds, input, probs, &err) != CALIB_OK) {
        /* one column fewer than the model's K: the label column was
         * perhaps a prediction */
        if (label_col && err.status == CALIB_E_SHAPE &&
            calib_model_classes(model) ==
                (preds.cols == 1 ? 2 : preds.cols) + 1) {
            char col[32];
            snprintf(col, sizeof col, "%ld", csv.label_column);
            cli_error("%s: %s (model %s); column %s%s%s was read as the "
                      "labels: a CSV of predictions alone needs "
                      "--no-label-col", preds_path, err.message, model_path,
                      csv.label_name != NULL ? "'" : "",
                      csv.label_name != NULL ? csv.label_name : col,
                      csv.label_name != NULL ? "'" : "");
        } else {
            cli_error("%s: %s (model %s)", preds_path, err.message,
                      model_path);
        }
        rc = err.status == CALIB_E_SHAPE ||
                     err.status == CALIB_E_NOT_APPLICABLE
                 ? EXIT_FIT : cli_exit_status(err.status, 0);
        goto out;
    }
    if ((ends_with(output, ".csv")
             ? calib_write_csv_f64(output, probs, preds.rows, k, &err)
             : calib_write_npy_f64(output, probs, preds.rows, k, &err)) !=
        CALIB_OK) {
        rc = cli_fail(&err, 1);
        goto out;
    }

out:
    calib_free(probs);
    calib_matrix_free(&preds);
    calib_model_free(model);
    return rc;
}
