/*
 * cmd_fit.c - `calib fit`: fit one post-hoc calibrator on a validation
 * split and save it as a JSON model file.
 *
 * Prints the temperature (temperature scaling) or a one-line summary of
 * the fit; with --format json, the fit diagnostics as JSON. The model is
 * written atomically (temporary file, then rename).
 */
#include "fit_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct fit_args {
    const char *method;
    const char *preds;
    calib_input input;
    const char *labels;
    const char *output;
    int json;
    calib_fit_options opt;
    calib_csv_options csv;
} fit_args;

void cmd_fit_help(FILE *out)
{
    fprintf(out,
        "usage: calib fit --method M (--logits F | --probs F) --labels F\n"
        "                 -o MODEL.json [options]\n"
        "       calib fit --method M (--logits F.csv | --probs F.csv)\n"
        "                 [--label-col C] -o MODEL.json [options]\n"
        "\n"
        "Fits a calibration map on validation predictions (.npy or\n"
        ".npz:KEY, N x K, or N for binary scores) and labels, and saves it\n"
        "as a JSON model file for `calib apply`. A CSV/TSV (.csv, .tsv,\n"
        "'-' = stdin) holds the labels in one column, as for calib eval.\n"
        "\n"
        "  --method M     temperature, vector, matrix, dirichlet, platt,\n"
        "                 beta, isotonic, histogram\n"
        "  --logits F     raw scores (softmax, or sigmoid for one column)\n"
        "  --probs F      probabilities (rows sum to 1)\n"
        "  --labels F     integer class labels in [0, K), .npy or .npz:KEY;\n"
        "                 not with CSV predictions (a column there)\n"
        "  --label-col C  CSV: label column, 1-based number or header\n"
        "                 name (1)\n"
        "  --delimiter C  CSV: one character or 'tab' (detected)\n"
        "  --header, --no-header   CSV: line 1 is (not) a header (detected)\n"
        "  -o, --output F the model file to write\n"
        "  --format table|json   what to print; table by default\n");
    cli_fit_options_help(out);
    fprintf(out,
        "\n"
        "Binary methods (platt, beta, isotonic, histogram) fit one map per\n"
        "class (one-vs-rest) when K > 2. Formulas: docs/calibrators.md.\n");
}

static int parse(int argc, char **argv, fit_args *a)
{
    memset(a, 0, sizeof *a);
    calib_fit_options_default(&a->opt);
    calib_csv_options_default(&a->csv);
    a->input = CALIB_LOGITS;

    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cmd_fit_help(stdout);
            return 1;
        }
        if ((r = cli_csv_option(argc, argv, &i, &a->csv, 0)) != 0) {
            if (r < 0)
                return -1;
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--method")) != NULL ||
            (v = cli_flag_value(argc, argv, &i, "-m")) != NULL) {
            a->method = v;
        } else if ((v = cli_flag_value(argc, argv, &i, "--logits")) !=
                   NULL) {
            if (a->preds != NULL)
                goto twice;
            a->preds = v;
            a->input = CALIB_LOGITS;
        } else if ((v = cli_flag_value(argc, argv, &i, "--probs")) != NULL) {
            if (a->preds != NULL)
                goto twice;
            a->preds = v;
            a->input = CALIB_PROBS;
        } else if ((v = cli_flag_value(argc, argv, &i, "--labels")) !=
                   NULL) {
            a->labels = v;
        } else if ((v = cli_flag_value(argc, argv, &i, "--output")) !=
                       NULL ||
                   (v = cli_flag_value(argc, argv, &i, "-o")) != NULL) {
            a->output = v;
        } else if ((v = cli_flag_value(argc, argv, &i, "--format")) !=
                   NULL) {
            if (v[0] == '\0')
                return -1;
            if (strcmp(v, "json") != 0 && strcmp(v, "table") != 0) {
                cli_error("--format must be table or json, got '%s'", v);
                return -1;
            }
            a->json = strcmp(v, "json") == 0;
        } else if ((r = cli_fit_option(argc, argv, &i, &a->opt)) != 0) {
            if (r < 0)
                return -1;
            continue;
        } else {
            cli_error("fit: unknown argument '%s'; try 'calib help fit'",
                      argv[i]);
            return -1;
        }
        if (v[0] == '\0')
            return -1;
    }
    if (a->method == NULL || a->preds == NULL || a->output == NULL ||
        (a->labels == NULL && !cli_is_csv(a->preds))) {
        cli_error("fit: --method, --logits or --probs, --labels (unless "
                  "the predictions are CSV) and -o are required; try "
                  "'calib help fit'");
        return -1;
    }
    return 0;

twice:
    cli_error("fit: give one of --logits and --probs");
    return -1;
}

int cmd_fit(int argc, char **argv)
{
    fit_args a;
    calib_method method;
    calib_matrix preds = {0, 0, CALIB_FLOAT64, NULL};
    int64_t *labels = NULL;
    calib_model *model = NULL;
    calib_error err;
    const calib_fit_info *fi;
    int rc = parse(argc, argv, &a);

    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    if (calib_method_from_name(a.method, &method) != 0) {
        cli_error("fit: unknown method '%s' (temperature, vector, matrix, "
                  "dirichlet, platt, beta, isotonic, histogram)", a.method);
        return EXIT_USAGE;
    }
    cli_install_signal_handlers();

    rc = cli_read_inputs("fit", a.preds, a.labels, &a.csv, &preds, &labels);
    if (rc != 0)
        goto out;

    if (calib_fit(method, &preds, a.input, labels, &a.opt, &model, &err) !=
        CALIB_OK) {
        cli_error("%s: %s", a.preds, err.message);
        rc = err.status == CALIB_E_NOT_APPLICABLE ? EXIT_FIT
                                                  : cli_exit_status(
                                                        err.status, 0);
        goto out;
    }
    if (calib_model_save(model, a.output, &err) != CALIB_OK) {
        rc = cli_fail(&err, 1);
        goto out;
    }

    fi = calib_model_fit_info(model);
    if (a.json) {
        printf("{\"method\": \"%s\", \"model\": \"", a.method);
        for (const char *c = a.output; *c != '\0'; c++)
            if (*c == '"' || *c == '\\')
                printf("\\%c", *c);
            else if ((unsigned char)*c >= 0x20)
                putchar(*c);
        printf("\", \"classes\": %zu, \"fit\": ",
               calib_model_classes(model));
        cli_print_fit_json(stdout, fi, calib_model_temperature(model));
        printf("}\n");
    } else if (method == CALIB_TEMPERATURE) {
        printf("T = ");
        cli_print_double(stdout, calib_model_temperature(model), 0);
        printf("\n%s, %zu iterations, NLL %.6g -> %.6g, gradient %.3g\n",
               fi->status, fi->iterations, fi->nll_before, fi->nll_after,
               fi->gradient);
    } else {
        printf("%s: %s, %zu iterations, NLL %.6g -> %.6g on %zu rows\n",
               a.method, fi->status, fi->iterations, fi->nll_before,
               fi->nll_after, fi->n);
    }
    if (!a.json)
        printf("wrote %s\n", a.output);

out:
    calib_model_free(model);
    calib_matrix_free(&preds);
    calib_free(labels);
    return rc;
}
