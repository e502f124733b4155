/*
 * cmd_run.c - `calib run`, the main job: fit every calibrator on a
 * validation split, evaluate each on a test split with every metric of
 * `calib eval`, print one comparison table, and write each model, a
 * summary.json and optionally an HTML report.
 *
 * Platt and beta calibration are binary methods: on K > 2 classes they
 * are skipped with the reason (calib_fit would run them one-vs-rest, but
 * a comparison of one-vs-rest sigmoids against multiclass maps is not
 * what they were designed for); isotonic regression and histogram binning
 * run one-vs-rest with renormalised rows. A method whose fit says
 * CALIB_E_NOT_APPLICABLE is skipped with the library's reason. Every
 * output file is written atomically (temporary file, then rename).
 */
#include "fit_common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct run_args {
    const char *val_preds;
    const char *val_labels;
    const char *test_preds;
    const char *test_labels;
    calib_input val_input;
    calib_input test_input;
    const char *methods;
    const char *out_dir;
    const char *report;
    const char *report_extra;
    char *extra;                 /* its text, read before any fitting */
    const char *title;
    int json;
    calib_fit_options opt;
    calib_csv_options csv;       /* for whichever of the splits is CSV */
} run_args;

typedef struct run_entry {
    calib_method method;
    calib_model *model;
    calib_metrics test;
    int has_test;
    char model_file[64];
    char parameters[64];
    char skipped[512];
} run_entry;

void cmd_run_help(FILE *out)
{
    fprintf(out,
        "usage: calib run --val-logits F --val-labels F --test-logits F\n"
        "                 --test-labels F [--methods LIST|all] [--out DIR]\n"
        "                 [--report FILE.html] [--format table|json]\n"
        "                 [options]\n"
        "       calib run --val-logits F.csv --test-logits F.csv\n"
        "                 [--label-col C] [options]\n"
        "\n"
        "Fits each calibrator on the validation split, evaluates it on the\n"
        "test split, and prints one table: the uncalibrated model and each\n"
        "method, with accuracy, NLL, Brier, ECE, MCE, ACE (equal-mass ECE)\n"
        "and classwise ECE. Writes DIR/METHOD.json for each fitted model\n"
        "and DIR/summary.json.\n"
        "\n"
        "  --val-logits F, --val-probs F     validation predictions\n"
        "  --val-labels F                    validation labels\n"
        "  --test-logits F, --test-probs F   test predictions\n"
        "  --test-labels F                   test labels\n"
        "  Each split is .npy, .npz:KEY, or a CSV/TSV (.csv, .tsv) that\n"
        "  holds its labels in a column, with no --val-labels or\n"
        "  --test-labels then; the CSV options apply to both splits:\n"
        "  --label-col C   label column, 1-based number or header name (1)\n"
        "  --delimiter C   one character or 'tab' (detected)\n"
        "  --header, --no-header   line 1 is (not) a header (detected)\n"
        "  --methods LIST  comma-separated: temperature, vector, matrix,\n"
        "                  dirichlet, platt, beta, isotonic, histogram; or\n"
        "                  all (the default)\n"
        "  --out DIR       where models and summary.json go; calib-out\n"
        "  --report F      also write an HTML report\n"
        "  --report-extra F  an HTML fragment added to the report as its own\n"
        "                  section (e.g. out/tradeoff/tradeoff.html)\n"
        "  --title TEXT    the report's title; \"calib run\"\n"
        "  --format table|json  print the table (default) or summary.json\n");
    cli_fit_options_help(out);
    fprintf(out,
        "\n"
        "platt and beta are binary methods: with K > 2 classes they are\n"
        "skipped, with the reason in the table and summary.json.\n");
}

static int parse(int argc, char **argv, run_args *a)
{
    memset(a, 0, sizeof *a);
    calib_fit_options_default(&a->opt);
    calib_csv_options_default(&a->csv);
    a->methods = "all";
    a->out_dir = "calib-out";

    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cmd_run_help(stdout);
            return 1;
        }
        r = cli_csv_option(argc, argv, &i, &a->csv, 0);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
#define PREDS_FLAG(name, field, inputf, kind)                              \
        if ((v = cli_flag_value(argc, argv, &i, name)) != NULL) {          \
            if (a->field != NULL) {                                        \
                cli_error("run: %s given twice (logits or probs?)", name); \
                return -1;                                                 \
            }                                                              \
            a->field = v;                                                  \
            a->inputf = kind;                                              \
            if (v[0] == '\0')                                              \
                return -1;                                                 \
            continue;                                                      \
        }
#define STRING_FLAG(name, field)                                           \
        if ((v = cli_flag_value(argc, argv, &i, name)) != NULL) {          \
            if (v[0] == '\0')                                              \
                return -1;                                                 \
            a->field = v;                                                  \
            continue;                                                      \
        }
        PREDS_FLAG("--val-logits", val_preds, val_input, CALIB_LOGITS)
        PREDS_FLAG("--val-probs", val_preds, val_input, CALIB_PROBS)
        PREDS_FLAG("--test-logits", test_preds, test_input, CALIB_LOGITS)
        PREDS_FLAG("--test-probs", test_preds, test_input, CALIB_PROBS)
        STRING_FLAG("--val-labels", val_labels)
        STRING_FLAG("--test-labels", test_labels)
        STRING_FLAG("--methods", methods)
        STRING_FLAG("--out", out_dir)
        STRING_FLAG("--report", report)
        STRING_FLAG("--report-extra", report_extra)
        STRING_FLAG("--title", title)
#undef PREDS_FLAG
#undef STRING_FLAG
        if ((v = cli_flag_value(argc, argv, &i, "--format")) != NULL) {
            if (v[0] == '\0')
                return -1;
            if (strcmp(v, "json") != 0 && strcmp(v, "table") != 0) {
                cli_error("--format must be table or json, got '%s'", v);
                return -1;
            }
            a->json = strcmp(v, "json") == 0;
            continue;
        }
        r = cli_fit_option(argc, argv, &i, &a->opt);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        cli_error("run: unknown argument '%s'; try 'calib help run'",
                  argv[i]);
        return -1;
    }
    if (a->val_preds == NULL || a->test_preds == NULL ||
        (a->val_labels == NULL && !cli_is_csv(a->val_preds)) ||
        (a->test_labels == NULL && !cli_is_csv(a->test_preds))) {
        cli_error("run: --val-logits (or --val-probs), --val-labels, "
                  "--test-logits (or --test-probs) and --test-labels are "
                  "required (no labels for a CSV split); try 'calib help "
                  "run'");
        return -1;
    }
    if (a->val_labels != NULL && cli_is_csv(a->val_preds)) {
        cli_error("run: %s holds its labels (--label-col); drop "
                  "--val-labels", a->val_preds);
        return -1;
    }
    if (a->test_labels != NULL && cli_is_csv(a->test_preds)) {
        cli_error("run: %s holds its labels (--label-col); drop "
                  "--test-labels", a->test_preds);
        return -1;
    }
    if (strcmp(a->val_preds, "-") == 0 && strcmp(a->test_preds, "-") == 0) {
        cli_error("run: the validation and test splits cannot both be "
                  "standard input");
        return -1;
    }
    if (a->val_input != a->test_input) {
        cli_error("run: give validation and test predictions of the same "
                  "kind (both logits or both probs)");
        return -1;
    }
    return 0;
}

/* Parses the method list into entries; returns the count or 0 after an
 * error. */
static size_t parse_methods(const char *list, run_entry *entries)
{
    size_t count = 0;
    const char *p = list;

    if (strcmp(list, "all") == 0) {
        for (unsigned m = 0; m < CALIB_METHOD_COUNT; m++)
            entries[count++].method = (calib_method)m;
        return count;
    }
    while (*p != '\0') {
        char name[32];
        size_t len = strcspn(p, ",");
        calib_method m;

        if (len == 0 || len >= sizeof name) {
            cli_error("--methods: bad list '%s'", list);
            return 0;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        if (calib_method_from_name(name, &m) != 0) {
            cli_error("--methods: unknown method '%s' (temperature, vector,"
                      " matrix, dirichlet, platt, beta, isotonic, "
                      "histogram, or all)", name);
            return 0;
        }
        for (size_t j = 0; j < count; j++)
            if (entries[j].method == m) {
                cli_error("--methods: '%s' listed twice", name);
                return 0;
            }
        if (count == CALIB_METHOD_COUNT)
            return 0;
        entries[count++].method = m;
        p += len;
        if (*p == ',')
            p++;
    }
    if (count == 0)
        cli_error("--methods: empty list");
    return count;
}

/* DIR/NAME into buf; -1 if it does not fit. */
static int join_path(char *buf, size_t size, const char *dir,
                     const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size) {
        cli_error("output path too long: %s/%s", dir, name);
        return -1;
    }
    return 0;
}

static void print_summary(FILE *out, const run_args *a, size_t classes,
                          size_t val_rows, size_t test_rows,
                          const calib_metrics *base,
                          const run_entry *entries, size_t count)
{
    /* calibrated rows are measured on the calibrated probabilities */
    cli_metrics_source src, calibrated = {"probs", NULL, NULL};

    calibrated.labels_file = a->test_labels;
    fputs("{\n  \"format\": \"calib-run\",\n  \"version\": 1,\n", out);
    fprintf(out, "  \"library_version\": \"%s\",\n", calib_version());
    fputs("  \"inputs\": {\"val\": ", out);
    cli_json_string(out, a->val_preds);
    /* null: the labels are a column of the CSV of predictions */
    fputs(", \"val_labels\": ", out);
    if (a->val_labels != NULL)
        cli_json_string(out, a->val_labels);
    else
        fputs("null", out);
    fputs(", \"test\": ", out);
    cli_json_string(out, a->test_preds);
    fputs(", \"test_labels\": ", out);
    if (a->test_labels != NULL)
        cli_json_string(out, a->test_labels);
    else
        fputs("null", out);
    fprintf(out, ", \"input\": \"%s\", \"classes\": %zu, \"val_rows\": %zu,"
            " \"test_rows\": %zu},\n",
            a->val_input == CALIB_PROBS ? "probs" : "logits", classes,
            val_rows, test_rows);
    src.input = a->test_input == CALIB_PROBS ? "probs" : "logits";
    src.preds_file = a->test_preds;
    src.labels_file = a->test_labels;
    fputs("  \"uncalibrated\": {\"test\": ", out);
    cli_print_metrics_json(out, base, &src, 2);
    fputs("},\n  \"methods\": [", out);
    for (size_t e = 0; e < count; e++) {
        const run_entry *en = &entries[e];
        fprintf(out, "%s\n    {\"method\": \"%s\", ", e == 0 ? "" : ",",
                calib_method_name(en->method));
        if (en->skipped[0] != '\0') {
            fputs("\"skipped\": ", out);
            cli_json_string(out, en->skipped);
            fputs(", \"model\": null, \"test\": null, \"fit\": null}", out);
            continue;
        }
        fputs("\"skipped\": null, \"model\": ", out);
        cli_json_string(out, en->model_file);
        fputs(",\n     \"fit\": ", out);
        cli_print_fit_json(out, calib_model_fit_info(en->model),
                           calib_model_temperature(en->model));
        fputs(",\n     \"test\": ", out);
        cli_print_metrics_json(out, &en->test, &calibrated, 5);
        fputc('}', out);
    }
    fputs("\n  ]\n}\n", out);
}

static void print_row(const char *name, const calib_metrics *m,
                      const char *fit)
{
    printf("%-13s %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f%s%s\n", name,
           m->accuracy, m->nll, m->brier, m->ece, m->mce, m->ace,
           m->classwise_ece, fit[0] != '\0' ? "  " : "", fit);
}

static void print_table(const calib_metrics *base, const run_entry *entries,
                        size_t count)
{
    printf("%-13s %8s %8s %8s %8s %8s %8s %8s  %s\n", "method", "accuracy",
           "NLL", "Brier", "ECE", "MCE", "ACE", "cw-ECE", "fit");
    print_row("uncalibrated", base, "");
    for (size_t e = 0; e < count; e++) {
        const run_entry *en = &entries[e];
        char fit[160];
        if (en->skipped[0] != '\0') {
            printf("%-13s skipped: %s\n", calib_method_name(en->method),
                   en->skipped);
            continue;
        }
        snprintf(fit, sizeof fit, "%s%s%s",
                 calib_model_fit_info(en->model)->status,
                 en->parameters[0] != '\0' ? ", " : "", en->parameters);
        print_row(calib_method_name(en->method), &en->test, fit);
    }
}

/* Fits, applies and evaluates one method; a method that does not apply
 * gets its reason in entry->skipped. Returns 0 or an exit status. */
static int run_method(const run_args *a, run_entry *en,
                      const calib_matrix *val, const int64_t *val_y,
                      const calib_matrix *test, const int64_t *test_y,
                      const calib_eval_options *eopt)
{
    size_t k = val->cols == 1 ? 2 : val->cols;
    calib_error err;
    double *probs = NULL;
    calib_matrix out;
    char path[4096];
    int rc = 0;

    if ((en->method == CALIB_PLATT || en->method == CALIB_BETA) && k > 2) {
        snprintf(en->skipped, sizeof en->skipped,
                 "binary method, the input has K = %zu classes (isotonic "
                 "and histogram run one-vs-rest)", k);
        return 0;
    }
    if (calib_fit(en->method, val, a->val_input, val_y, &a->opt, &en->model,
                  &err) != CALIB_OK) {
        if (err.status == CALIB_E_NOT_APPLICABLE) {
            snprintf(en->skipped, sizeof en->skipped, "%s", err.message);
            return 0;
        }
        cli_error("%s: %s: %s", a->val_preds,
                  calib_method_name(en->method), err.message);
        return cli_exit_status(err.status, 0);
    }
    if (en->method == CALIB_TEMPERATURE)
        snprintf(en->parameters, sizeof en->parameters, "T = %.6g",
                 calib_model_temperature(en->model));

    probs = calib_calloc(test->rows, k * sizeof *probs);
    if (probs == NULL) {
        cli_error("out of memory (%zu x %zu probabilities)", test->rows, k);
        return EXIT_NOMEM;
    }
    if (calib_model_apply(en->model, test, a->test_input, probs, &err) !=
        CALIB_OK) {
        cli_error("%s: %s: %s", a->test_preds,
                  calib_method_name(en->method), err.message);
        rc = cli_exit_status(err.status, 0);
        goto out;
    }
    /* binary input stays binary: evaluate p = column 1, like the input */
    out.rows = test->rows;
    out.cols = k;
    out.dtype = CALIB_FLOAT64;
    out.data = probs;
    if (test->cols == 1) {
        for (size_t i = 0; i < test->rows; i++)
            probs[i] = probs[2 * i + 1];
        out.cols = 1;
    }
    if (calib_evaluate(&out, CALIB_PROBS, test_y, eopt, &en->test, &err) !=
        CALIB_OK) {
        cli_error("%s after %s: %s", a->test_preds,
                  calib_method_name(en->method), err.message);
        rc = cli_exit_status(err.status, 0);
        goto out;
    }
    en->has_test = 1;

    snprintf(en->model_file, sizeof en->model_file, "%s.json",
             calib_method_name(en->method));
    if (join_path(path, sizeof path, a->out_dir, en->model_file) != 0) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (calib_model_save(en->model, path, &err) != CALIB_OK)
        rc = cli_fail(&err, 1);

out:
    calib_free(probs);
    return rc;
}

static int write_summary(const run_args *a, const char *text, size_t len)
{
    char path[4096];
    calib_error err;

    if (join_path(path, sizeof path, a->out_dir, "summary.json") != 0)
        return EXIT_USAGE;
    if (calib_write_file(path, text, len, &err) != CALIB_OK)
        return cli_fail(&err, 1);
    return 0;
}

/* The fragment of --report-extra, whole, NUL-terminated; NULL and a
 * message on failure. At most 4 MiB: it is a section, not a page. */
static char *read_fragment(const char *path)
{
    enum { LIMIT = 4 << 20 };
    FILE *f = fopen(path, "rb");
    char *text;
    size_t len;

    if (f == NULL) {
        cli_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    text = malloc(LIMIT + 1);
    if (text == NULL) {
        fclose(f);
        cli_error("%s: out of memory", path);
        return NULL;
    }
    len = fread(text, 1, LIMIT + 1, f);
    if (ferror(f) || len > LIMIT) {
        cli_error("%s: %s", path, ferror(f) ? "read error"
                                             : "larger than 4 MiB");
        fclose(f);
        free(text);
        return NULL;
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

static int write_report(const run_args *a, const calib_eval_options *eopt,
                        const calib_metrics *base, const run_entry *entries,
                        size_t count)
{
    cli_report_entry rows[CALIB_METHOD_COUNT + 1];
    cli_report rep;
    calib_error err;
    int rc = 0;

    memset(rows, 0, sizeof rows);
    rows[0].name = "uncalibrated";
    rows[0].test = base;
    for (size_t e = 0; e < count; e++) {
        const run_entry *en = &entries[e];
        cli_report_entry *r = &rows[e + 1];
        r->name = calib_method_name(en->method);
        if (en->skipped[0] != '\0') {
            r->skipped = en->skipped;
            continue;
        }
        r->test = &en->test;
        r->fit = calib_model_fit_info(en->model);
        r->model_file = en->model_file;
        r->parameters = en->parameters[0] != '\0' ? en->parameters : NULL;
    }
    memset(&rep, 0, sizeof rep);
    rep.title = a->title != NULL ? a->title : "calib run";
    rep.extra_html = a->extra;
    rep.val_preds = a->val_preds;
    rep.val_labels = a->val_labels;
    rep.test_preds = a->test_preds;
    rep.test_labels = a->test_labels;
    rep.input = a->val_input;
    rep.options = eopt;
    rep.entries = rows;
    rep.n_entries = count + 1;
    if (cli_write_report(a->report, &rep, &err) != CALIB_OK)
        rc = cli_fail(&err, 1);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_args a;
    run_entry entries[CALIB_METHOD_COUNT];
    size_t count, val_k, test_k;
    calib_matrix val = {0, 0, CALIB_FLOAT64, NULL};
    calib_matrix test = {0, 0, CALIB_FLOAT64, NULL};
    int64_t *val_y = NULL, *test_y = NULL;
    calib_eval_options eopt;
    calib_metrics base;
    int has_base = 0, rc;
    calib_error err;
    char *text = NULL;
    size_t text_len = 0;
    FILE *mem;

    memset(entries, 0, sizeof entries);
    memset(&base, 0, sizeof base);
    rc = parse(argc, argv, &a);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    count = parse_methods(a.methods, entries);
    if (count == 0)
        return EXIT_USAGE;
    if (a.report_extra != NULL) {
        if (a.report == NULL) {
            cli_error("run: --report-extra needs --report");
            return EXIT_USAGE;
        }
        if ((a.extra = read_fragment(a.report_extra)) == NULL)
            return EXIT_INPUT_IO;
    }
    cli_install_signal_handlers();

    /* inputs */
    rc = cli_read_inputs("run", a.val_preds, a.val_labels, &a.csv, &val,
                         &val_y);
    if (rc == 0)
        rc = cli_read_inputs("run", a.test_preds, a.test_labels, &a.csv,
                             &test, &test_y);
    if (rc != 0)
        goto out;
    val_k = val.cols == 1 ? 2 : val.cols;
    test_k = test.cols == 1 ? 2 : test.cols;
    if (val.cols != test.cols) {
        cli_error("run: %s has K = %zu classes, %s has K = %zu",
                  a.val_preds, val_k, a.test_preds, test_k);
        rc = EXIT_DATA;
        goto out;
    }
    if (mkdir(a.out_dir, 0777) != 0 && errno != EEXIST) {
        cli_error("%s: cannot create the directory: %s", a.out_dir,
                  strerror(errno));
        rc = EXIT_OUTPUT;
        goto out;
    }

    /* the uncalibrated test predictions */
    calib_eval_options_default(&eopt);
    eopt.n_bins = a.opt.n_bins;
    eopt.bin_rule = a.opt.bin_rule;
    eopt.threads = a.opt.threads;
    if (calib_evaluate(&test, a.test_input, test_y, &eopt, &base, &err) !=
        CALIB_OK) {
        rc = cli_fail(&err, 0);
        goto out;
    }
    has_base = 1;

    for (size_t e = 0; e < count; e++) {
        rc = run_method(&a, &entries[e], &val, val_y, &test, test_y, &eopt);
        if (rc != 0)
            goto out;
    }

    /* summary.json, built in memory and written atomically */
    mem = open_memstream(&text, &text_len);
    if (mem == NULL) {
        cli_error("out of memory (summary)");
        rc = EXIT_NOMEM;
        goto out;
    }
    print_summary(mem, &a, val_k, val.rows, test.rows, &base, entries,
                  count);
    if (fclose(mem) != 0) {
        cli_error("out of memory (summary)");
        rc = EXIT_NOMEM;
        goto out;
    }
    rc = write_summary(&a, text, text_len);
    if (rc == 0 && a.report != NULL)
        rc = write_report(&a, &eopt, &base, entries, count);
    if (rc != 0)
        goto out;

    if (a.json) {
        fwrite(text, 1, text_len, stdout);
    } else {
        size_t fitted = 0;
        for (size_t e = 0; e < count; e++)
            fitted += entries[e].skipped[0] == '\0';
        print_table(&base, entries, count);
        printf("\nwrote %zu model file%s and summary.json in %s%s%s\n",
               fitted, fitted == 1 ? "" : "s", a.out_dir,
               a.report != NULL ? "; the report in " : "",
               a.report != NULL ? a.report : "");
    }

out:
    free(text);
    free(a.extra);
    for (size_t e = 0; e < count; e++) {
        calib_model_free(entries[e].model);
        if (entries[e].has_test)
            calib_metrics_free(&entries[e].test);
    }
    if (has_base)
        calib_metrics_free(&base);
    calib_matrix_free(&val);
    calib_matrix_free(&test);
    calib_free(val_y);
    calib_free(test_y);
    return rc;
}
