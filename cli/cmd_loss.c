/*
 * cmd_loss.c - `calib loss`: a training loss of logits and labels, and
 * optionally its gradient with respect to the logits as a .npy file.
 *
 * The loss is the library's calib_loss (mean over the rows); the gradient
 * is that of the mean, float64 N x K. Options not used by the chosen loss
 * are accepted and reported but change nothing.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

typedef struct loss_args {
    const char *logits;
    const char *labels;
    const char *grad;
    const char *loss_name;
    int json;
    calib_loss_options opt;
} loss_args;

void cmd_loss_help(FILE *out)
{
    fprintf(out,
        "usage: calib loss --logits FILE --labels FILE [--loss NAME]\n"
        "                  [--lambda L] [--smoothing EPS] [--gamma G]\n"
        "                  [--mmce-width W] [--soft-ece-bins M]\n"
        "                  [--soft-ece-temperature T] [--grad OUT.npy]\n"
        "                  [--format table|json]\n"
        "\n"
        "Prints the mean training loss of logits (N x K, .npy or .npz:KEY)\n"
        "against labels, and with --grad writes its gradient with respect\n"
        "to the logits (float64 N x K, of the mean).\n"
        "\n"
        "  --loss NAME    ce (default), smoothed, kl, joint, focal,\n"
        "                 focal-adaptive, mmce, soft-ece\n"
        "  --smoothing    eps of the targets q = (1-eps) onehot + eps/K; 0.1\n"
        "  --lambda       weight of KL(q || p) in joint = CE + lambda KL; 0.1\n"
        "  --gamma        focal exponent (focal-adaptive: when p_y >= 0.5); 3\n"
        "  --mmce-width   Laplacian kernel width of MMCE; 0.4\n"
        "  --soft-ece-bins, --soft-ece-temperature   soft bins; 15, 0.01\n"
        "  --grad FILE    write the gradient as .npy\n"
        "  --format       table (default) or json (key \"loss\")\n"
        "\n"
        "Formulas and sources: docs/losses.md.\n");
}

static int parse(int argc, char **argv, loss_args *a)
{
    memset(a, 0, sizeof *a);
    a->loss_name = "ce";
    calib_loss_options_default(&a->opt);

    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cmd_loss_help(stdout);
            return 1;
        }
#define STRING_FLAG(name, field)                                           \
        if ((v = cli_flag_value(argc, argv, &i, name)) != NULL) {          \
            if (v[0] == '\0')                                              \
                return -1;                                                 \
            a->field = v;                                                  \
            continue;                                                      \
        }
#define DOUBLE_FLAG(name, field)                                           \
        if ((v = cli_flag_value(argc, argv, &i, name)) != NULL) {          \
            if (v[0] == '\0' ||                                            \
                cli_parse_double(name, v, &a->opt.field) != 0)             \
                return -1;                                                 \
            continue;                                                      \
        }
        STRING_FLAG("--logits", logits)
        STRING_FLAG("--labels", labels)
        STRING_FLAG("--grad", grad)
        STRING_FLAG("--loss", loss_name)
        DOUBLE_FLAG("--lambda", lambda)
        DOUBLE_FLAG("--smoothing", smoothing)
        DOUBLE_FLAG("--gamma", gamma)
        DOUBLE_FLAG("--mmce-width", mmce_width)
        DOUBLE_FLAG("--soft-ece-temperature", soft_ece_temperature)
#undef STRING_FLAG
#undef DOUBLE_FLAG
        if ((v = cli_flag_value(argc, argv, &i, "--soft-ece-bins")) != NULL) {
            if (v[0] == '\0' || cli_parse_size("--soft-ece-bins", v,
                               &a->opt.soft_ece_bins) != 0)
                return -1;
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--format")) != NULL) {
            if (strcmp(v, "json") == 0) {
                a->json = 1;
            } else if (strcmp(v, "table") == 0) {
                a->json = 0;
            } else {
                cli_error("--format must be table or json, got '%s'", v);
                return -1;
            }
            continue;
        }
        cli_error("loss: unknown argument '%s'; try 'calib help loss'",
                  argv[i]);
        return -1;
    }
    if (a->logits == NULL || a->labels == NULL) {
        cli_error("loss: --logits and --labels are required");
        return -1;
    }
    return 0;
}

static void print_json(FILE *out, const loss_args *a, calib_loss_kind kind,
                       double value, size_t n, size_t k)
{
    const calib_loss_options *o = &a->opt;

    fputs("{\"loss\": ", out);
    cli_print_double(out, value, 1);
    fprintf(out, ", \"kind\": \"%s\", \"n\": %zu, \"classes\": %zu,\n",
            calib_loss_name(kind), n, k);
    fputs(" \"options\": {\"smoothing\": ", out);
    cli_print_double(out, o->smoothing, 1);
    fputs(", \"lambda\": ", out);
    cli_print_double(out, o->lambda, 1);
    fputs(", \"gamma\": ", out);
    cli_print_double(out, o->gamma, 1);
    fputs(", \"mmce_width\": ", out);
    cli_print_double(out, o->mmce_width, 1);
    fprintf(out, ", \"soft_ece_bins\": %zu", o->soft_ece_bins);
    fputs(", \"soft_ece_temperature\": ", out);
    cli_print_double(out, o->soft_ece_temperature, 1);
    fputs("}", out);
    if (a->grad != NULL) {
        /* the path as given; escape the two characters JSON requires */
        fputs(",\n \"grad\": \"", out);
        for (const char *c = a->grad; *c != '\0'; c++) {
            if (*c == '"' || *c == '\\')
                fputc('\\', out);
            if ((unsigned char)*c < 0x20)
                fprintf(out, "\\u%04x", (unsigned)(unsigned char)*c);
            else
                fputc(*c, out);
        }
        fputs("\"", out);
    }
    fputs("}\n", out);
}

static void print_table(FILE *out, const loss_args *a, calib_loss_kind kind,
                        double value, size_t n, size_t k)
{
    const calib_loss_options *o = &a->opt;

    fprintf(out, "%-22s %s\n", "loss", calib_loss_name(kind));
    fprintf(out, "%-22s ", "value");
    cli_print_double(out, value, 0);
    fprintf(out, "\n%-22s %zu\n%-22s %zu\n", "n", n, "classes", k);
    switch (kind) {
    case CALIB_LOSS_SMOOTHED_CE:
    case CALIB_LOSS_KL:
        fprintf(out, "%-22s %.17g\n", "smoothing", o->smoothing);
        break;
    case CALIB_LOSS_JOINT:
        fprintf(out, "%-22s %.17g\n", "smoothing", o->smoothing);
        fprintf(out, "%-22s %.17g\n", "lambda", o->lambda);
        break;
    case CALIB_LOSS_FOCAL:
    case CALIB_LOSS_FOCAL_ADAPTIVE:
        fprintf(out, "%-22s %.17g\n", "gamma", o->gamma);
        break;
    case CALIB_LOSS_MMCE:
        fprintf(out, "%-22s %.17g\n", "mmce_width", o->mmce_width);
        break;
    case CALIB_LOSS_SOFT_ECE:
        fprintf(out, "%-22s %zu\n", "soft_ece_bins", o->soft_ece_bins);
        fprintf(out, "%-22s %.17g\n", "soft_ece_temperature",
                o->soft_ece_temperature);
        break;
    case CALIB_LOSS_CE:
        break;
    }
    if (a->grad != NULL)
        fprintf(out, "%-22s %s\n", "gradient written to", a->grad);
}

int cmd_loss(int argc, char **argv)
{
    loss_args a;
    calib_loss_kind kind;
    calib_matrix logits = {0};
    calib_error err;
    int64_t *labels = NULL;
    double *grad = NULL, value = 0.0;
    size_t n_labels = 0;
    int rc, overflow_rows;

    /* parse and validate */
    rc = parse(argc, argv, &a);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    if (calib_loss_from_name(a.loss_name, &kind) != 0) {
        cli_error("--loss must be one of ce, smoothed, kl, joint, focal, "
                  "focal-adaptive, mmce, soft-ece; got '%s'", a.loss_name);
        return EXIT_USAGE;
    }

    /* read */
    calib_error_clear(&err);
    if (calib_read_matrix(a.logits, &logits, &err) != CALIB_OK)
        return cli_fail(&err, 0);
    if (calib_read_labels(a.labels, &labels, &n_labels, &err) != CALIB_OK) {
        rc = cli_fail(&err, 0);
        goto done;
    }
    if (n_labels != logits.rows) {
        cli_error("%s has %zu rows but %s has %zu labels", a.logits,
                  logits.rows, a.labels, n_labels);
        rc = EXIT_DATA;
        goto done;
    }
    if (logits.cols < 2) {
        cli_error("%s: loss needs K >= 2 columns of logits, got %zu",
                  a.logits, logits.cols);
        rc = EXIT_DATA;
        goto done;
    }

    /* compute */
    overflow_rows = logits.cols != 0 &&
                    logits.rows > SIZE_MAX / sizeof *grad / logits.cols;
    if (a.grad != NULL) {
        grad = overflow_rows ? NULL
                             : calib_malloc(logits.rows * logits.cols *
                                            sizeof *grad);
        if (grad == NULL) {
            cli_error("out of memory for a %zu x %zu gradient", logits.rows,
                      logits.cols);
            rc = EXIT_NOMEM;
            goto done;
        }
    }
    if (calib_loss(kind, logits.data, logits.dtype, logits.rows,
                   logits.cols, labels, &a.opt, &value, grad, &err) !=
        CALIB_OK) {
        /* the library names the row; we add the file it came from */
        if (err.row >= 0) {
            cli_error("%s: %s", strstr(err.message, "label") != NULL
                                    ? a.labels : a.logits, err.message);
            rc = cli_exit_status(err.status, 0);
        } else {
            rc = cli_fail(&err, 0);
        }
        goto done;
    }
    if (grad != NULL &&
        calib_write_npy_f64(a.grad, grad, logits.rows, logits.cols, &err) !=
            CALIB_OK) {
        rc = cli_fail(&err, 1);
        goto done;
    }

    /* report */
    if (a.json)
        print_json(stdout, &a, kind, value, logits.rows, logits.cols);
    else
        print_table(stdout, &a, kind, value, logits.rows, logits.cols);
    rc = fflush(stdout) == 0 ? 0 : EXIT_OUTPUT;

done:
    calib_free(grad);
    calib_free(labels);
    calib_matrix_free(&logits);
    return rc;
}
