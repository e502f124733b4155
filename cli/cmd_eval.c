/*
 * cmd_eval.c - `calib eval`: every calibration metric of a prediction set,
 * as an aligned table for people, JSON or one CSV line for programs.
 *
 * Predictions are logits (--logits) or probabilities (--probs) from .npy,
 * .npz:KEY or CSV/TSV (chosen by the extension; "-" is standard input),
 * with labels from --labels or, for CSV, a column of the same file; or
 * top-label records (--toplabel). The library computes; this file parses,
 * reads, reports and maps failures to exit statuses. Errors about a row
 * of the input name the file that holds it (the library says which input
 * in calib_error.field).
 *
 * A plain .npy of predictions streams, STREAM_BYTES at a time: each chunk
 * is mapped from the file in place (calib_npy_stream_map: no copy, no
 * buffer; a file that shrinks meanwhile raises SIGBUS, reported as a
 * truncated file), or where that is not possible read into two buffers in
 * turn (a thread reads the next chunk while the current one is computed).
 * Each chunk is added to a calib_accumulator with its absolute first row,
 * so a file larger than memory is evaluated in a bounded space (the
 * labels, 8 bytes per row, and the equal-mass pairs, 16 bytes per row,
 * stay in memory). The accumulator's sums are exact, so
 * chunking changes no bit of the output. Other inputs are read whole. On
 * a terminal, work that lasts more than a second shows a progress line on
 * stderr, erased at the end.
 */
#include "cli.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bytes of predictions per chunk when streaming a .npy (one mapped, or
 * two buffers read in turn). */
#define STREAM_BYTES ((size_t)16 << 20)

/* Seconds before the progress line appears, and between its updates. */
#define PROGRESS_AFTER 1.0
#define PROGRESS_EVERY 0.1

enum { FORMAT_TABLE, FORMAT_JSON, FORMAT_CSV };

typedef struct eval_args {
    const char *logits;
    const char *probs;
    const char *toplabel;
    const char *labels;
    size_t classes;          /* --classes, top-label input; 0 unknown */
    int format;
    calib_csv_options csv;
    calib_eval_options eval;
} eval_args;

void cmd_eval_help(FILE *out)
{
    fprintf(out,
        "usage: calib eval --logits F --labels F [options]\n"
        "       calib eval --probs F --labels F [options]\n"
        "       calib eval --logits F.csv | --probs F.csv [options]\n"
        "       calib eval --toplabel F.csv [--classes K] [options]\n"
        "\n"
        "Measures calibration: accuracy, NLL, Brier, KL to label-smoothed\n"
        "targets, ECE, MCE, RMSCE, equal-mass ECE (ace), classwise ECE and\n"
        "the reliability table. Formulas and sources: docs/metrics.md.\n"
        "\n"
        "inputs (logits or probabilities is always said, never guessed):\n"
        "  --logits F      raw scores, N x K; one column = a binary task\n"
        "                  (positive-class logit)\n"
        "  --probs F       probabilities, rows summing to 1 within 1e-4;\n"
        "                  one column = positive-class probability\n"
        "  --toplabel F    CSV with true_label,pred_label,confidence; NLL,\n"
        "                  Brier, KL and classwise ECE are then absent\n"
        "  --labels F      integer labels in [0, K) (.npy or .npz:KEY);\n"
        "                  not used with CSV predictions\n"
        "  F is .npy, .npz:KEY, or CSV/TSV (.csv, .tsv, '-' = stdin) whose\n"
        "  label column is given by:\n"
        "  --label-col C   1-based column number or header name (1)\n"
        "  --delimiter C   one character or 'tab' (detected)\n"
        "  --header, --no-header   line 1 is (not) a header (detected)\n"
        "  --classes K     number of classes of --toplabel input\n"
        "\n"
        "metrics:\n"
        "  --bins M        number of bins (15)\n"
        "  --scheme S      width (default): equal-width bins for ece, mce,\n"
        "                  rmsce and the table; mass: equal-mass bins\n"
        "                  (ace is always equal-mass, classwise always\n"
        "                  equal-width)\n"
        "  --bin-rule R    right (default): (lo, hi], first bin [0, 1/M],\n"
        "                  as Guo et al. 2017; left: [lo, hi), last bin\n"
        "                  closed, as NumPy / scikit-learn\n"
        "  --smoothing EPS targets q = (1-EPS) onehot + EPS/K for KL (0.1)\n"
        "  --eps CLIP      clip probabilities to [CLIP, 1] for NLL and KL;\n"
        "                  by default nothing is clipped and p_y = 0 gives\n"
        "                  NLL = inf, with the count of such rows\n"
        "  --renormalize   probabilities: divide each row by its sum\n"
        "  --sum-tolerance X  |row sum - 1| allowed for probabilities (1e-4)\n"
        "  --top-label     binary input: ECE of the top label, max(p, 1-p)\n"
        "                  against correctness (default: p against y)\n"
        "  --threads N     threads (default: all cores); the result is the\n"
        "                  same bits for any N\n"
        "\n"
        "output:\n"
        "  --format F      table (default, for people), json (17 significant\n"
        "                  digits, absent metrics null, infinity 1e999) or\n"
        "                  csv (a header line and one line of the scalar\n"
        "                  metrics; absent metrics empty)\n"
        "\n"
        "Exit statuses: 0 success, 2 usage, 3 an input cannot be read, 4 an\n"
        "input is malformed or unsupported, 5 invalid data (NaN or\n"
        "infinite values, labels out of range, row counts that differ, zero\n"
        "rows or classes, probabilities not summing to 1), 6 out of memory.\n"
        "See docs/cli.md.\n");
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

static int parse_choice(const char *flag, const char *v, const char *a,
                        const char *b, int *out)
{
    if (strcmp(v, a) == 0) {
        *out = 0;
        return 0;
    }
    if (strcmp(v, b) == 0) {
        *out = 1;
        return 0;
    }
    cli_error("%s is '%s' or '%s', got '%s'", flag, a, b, v);
    return -1;
}

static int parse_value(eval_args *a, const char *flag, const char *v)
{
    int choice = 0;
    size_t size = 0;

    if (strcmp(flag, "--bins") == 0)
        return cli_parse_size(flag, v, &a->eval.n_bins);
    if (strcmp(flag, "--classes") == 0)
        return cli_parse_size(flag, v, &a->classes);
    if (strcmp(flag, "--smoothing") == 0) {
        if (cli_parse_double(flag, v, &a->eval.smoothing) != 0)
            return -1;
        if (a->eval.smoothing < 0.0 || a->eval.smoothing > 1.0) {
            cli_error("--smoothing needs a value in [0, 1], got '%s'", v);
            return -1;
        }
        return 0;
    }
    if (strcmp(flag, "--eps") == 0) {
        if (cli_parse_double(flag, v, &a->eval.clip_eps) != 0)
            return -1;
        if (a->eval.clip_eps <= 0.0 || a->eval.clip_eps >= 1.0) {
            cli_error("--eps needs a value in (0, 1), got '%s'", v);
            return -1;
        }
        return 0;
    }
    if (strcmp(flag, "--sum-tolerance") == 0) {
        if (cli_parse_double(flag, v, &a->eval.sum_tolerance) != 0)
            return -1;
        if (a->eval.sum_tolerance < 0.0 || a->eval.sum_tolerance >= 1.0) {
            cli_error("--sum-tolerance needs a value in [0, 1), got '%s'",
                      v);
            return -1;
        }
        return 0;
    }
    if (strcmp(flag, "--threads") == 0) {
        if (cli_parse_size(flag, v, &size) != 0)
            return -1;
        if (size > 4096) {
            cli_error("--threads: at most 4096, got '%s'", v);
            return -1;
        }
        a->eval.threads = (unsigned)size;
        return 0;
    }
    if (strcmp(flag, "--scheme") == 0) {
        if (parse_choice(flag, v, "width", "mass", &choice) != 0)
            return -1;
        a->eval.scheme = choice ? CALIB_SCHEME_MASS : CALIB_SCHEME_WIDTH;
        return 0;
    }
    if (strcmp(flag, "--bin-rule") == 0) {
        if (parse_choice(flag, v, "right", "left", &choice) != 0)
            return -1;
        a->eval.bin_rule = choice ? CALIB_BIN_LEFT : CALIB_BIN_RIGHT;
        return 0;
    }
    if (strcmp(flag, "--format") == 0) {
        if (strcmp(v, "table") == 0)
            a->format = FORMAT_TABLE;
        else if (strcmp(v, "json") == 0)
            a->format = FORMAT_JSON;
        else if (strcmp(v, "csv") == 0)
            a->format = FORMAT_CSV;
        else {
            cli_error("--format is 'table', 'json' or 'csv', got '%s'", v);
            return -1;
        }
        return 0;
    }
    return 1;  /* not a flag with a value of ours */
}

static int parse_args(int argc, char **argv, eval_args *a)
{
    static const char *const valued[] = {
        "--logits", "--probs", "--toplabel", "--labels", "--bins",
        "--classes", "--smoothing", "--eps", "--sum-tolerance", "--threads",
        "--scheme", "--bin-rule", "--format"};
    int classes_given = 0;

    memset(a, 0, sizeof *a);
    calib_csv_options_default(&a->csv);
    calib_eval_options_default(&a->eval);

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = NULL, *flag = NULL;
        int missing = 0, csv = cli_csv_option(argc, argv, &i, &a->csv, 0);

        if (csv < 0)
            return -1;
        if (csv > 0)
            continue;
        for (size_t f = 0; f < sizeof valued / sizeof *valued; f++) {
            v = flag_value(argc, argv, &i, valued[f], &missing);
            if (missing)
                return -1;
            if (v != NULL) {
                flag = valued[f];
                break;
            }
        }
        if (flag == NULL) {
            if (strcmp(arg, "--top-label") == 0)
                a->eval.top_label = 1;
            else if (strcmp(arg, "--renormalize") == 0)
                a->eval.renormalize = 1;
            else {
                cli_error("eval: unknown argument '%s'; try 'calib help "
                          "eval'", arg);
                return -1;
            }
            continue;
        }
        if (v[0] == '\0') {
            cli_error("%s needs a value", flag);
            return -1;
        }
        if (strcmp(flag, "--logits") == 0)
            a->logits = v;
        else if (strcmp(flag, "--probs") == 0)
            a->probs = v;
        else if (strcmp(flag, "--toplabel") == 0)
            a->toplabel = v;
        else if (strcmp(flag, "--labels") == 0)
            a->labels = v;
        else if (parse_value(a, flag, v) != 0)
            return -1;
        if (strcmp(flag, "--classes") == 0)
            classes_given = 1;
    }

    if ((a->logits != NULL) + (a->probs != NULL) + (a->toplabel != NULL)
        != 1) {
        cli_error("eval: give exactly one of --logits, --probs, --toplabel");
        return -1;
    }
    if (a->toplabel != NULL && a->labels != NULL) {
        cli_error("eval: %s holds its labels; drop --labels", a->toplabel);
        return -1;
    }
    if (a->toplabel == NULL && classes_given) {
        cli_error("eval: --classes is for --toplabel input; the classes of "
                  "a prediction matrix are its columns");
        return -1;
    }
    return 0;
}

/* Prints a library failure; prefixes the file when the library could not
 * know it (a bad row found while computing). */
static int fail_in(const calib_error *err, const char *preds_file,
                   const char *labels_file)
{
    const char *file = preds_file;

    if (err->file[0] != '\0' || err->message[0] == '\0')
        return cli_fail(err, 0);
    if (strcmp(err->field, "labels") == 0 && labels_file != NULL)
        file = labels_file;
    cli_error("%s: %s", file, err->message);
    return cli_exit_status(err->status, 0);
}

/* ------------------------------------------------------------------------
 * Streaming a .npy
 * ------------------------------------------------------------------------ */

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A progress line on stderr, only on a terminal and only once the work
 * has lasted PROGRESS_AFTER seconds. */
typedef struct progress {
    int on;
    int shown;
    double start;
    double last;
} progress;

static void progress_init(progress *p)
{
    p->on = isatty(STDERR_FILENO);
    p->shown = 0;
    p->start = p->on ? seconds_now() : 0.0;
    p->last = p->start;
}

static void progress_update(progress *p, size_t done, size_t total)
{
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    double now, frac;
    size_t fill;

    if (!p->on || total == 0)
        return;
    now = seconds_now();
    if (now - p->start < PROGRESS_AFTER || now - p->last < PROGRESS_EVERY)
        return;
    p->last = now;
    p->shown = 1;
    frac = (double)done / (double)total;
    fill = (size_t)(frac * WIDTH);
    for (size_t i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\rcalib eval: [%s] %3.0f%% %zu / %zu rows", bar,
            100.0 * frac, done, total);
    fflush(stderr);
}

static void progress_end(progress *p)
{
    if (p->shown) {
        fprintf(stderr, "\r%*s\r", 72, "");
        fflush(stderr);
    }
}

/* One read of the next chunk, possibly on its own thread. */
typedef struct chunk_read {
    calib_npy_stream *s;
    void *buf;
    size_t max_rows;
    size_t got;
    calib_status status;
    calib_error err;
} chunk_read;

static void *chunk_read_main(void *arg)
{
    chunk_read *r = arg;

    calib_error_clear(&r->err);
    r->got = 0;
    r->status = calib_npy_stream_read(r->s, r->buf, r->max_rows, &r->got,
                                      &r->err);
    return NULL;
}

/*
 * Evaluates a .npy of predictions chunk by chunk. Returns 0 with *m
 * filled, an exit status after a message, or -1 when the file does not
 * stream (Fortran order, .npz, a pipe): then nothing was printed and the
 * caller reads it whole.
 */
static int stream_npy(const eval_args *a, const char *path,
                      calib_input input, calib_metrics *m)
{
    calib_npy_stream *s = NULL;
    calib_accumulator *acc = NULL;
    calib_dtype dtype;
    calib_error err;
    progress prog;
    size_t rows = 0, cols = 0, n = 0, done = 0, chunk_rows, item;
    int64_t *labels = NULL;
    void *buf[2] = {NULL, NULL};
    chunk_read cur, next;
    calib_npy_view view;
    calib_status map_st;
    int rc = 0, which = 0;

    calib_error_clear(&err);
    /* a plain .npy file; "ARCHIVE.npz:KEY.npy" names an archive member */
    if (strlen(path) < 4 || strcmp(path + strlen(path) - 4, ".npy") != 0 ||
        strstr(path, ".npz:") != NULL)
        return -1;
    if (calib_npy_stream_open(path, &s, &rows, &cols, &dtype, &err)
        != CALIB_OK) {
        if (err.status == CALIB_E_UNSUPPORTED && err.field[0] == '\0')
            return -1;
        if (strcmp(err.field, "fortran_order") == 0)
            return -1;
        return cli_fail(&err, 0);
    }
    if (a->labels == NULL) {
        cli_error("eval: --labels is required with %s", path);
        rc = EXIT_USAGE;
        goto done;
    }
    if (calib_read_labels(a->labels, &labels, &n, &err) != CALIB_OK) {
        rc = cli_fail(&err, 0);
        goto done;
    }
    if (n != rows) {
        cli_error("%s: %zu labels, but %s has %zu rows", a->labels, n, path,
                  rows);
        rc = cli_exit_status(CALIB_E_SHAPE, 0);
        goto done;
    }
    if (rows == 0 || cols == 0) {
        cli_error("%s: predictions are %zu x %zu; need at least one row and "
                  "one class", path, rows, cols);
        rc = cli_exit_status(CALIB_E_SHAPE, 0);
        goto done;
    }
    item = dtype == CALIB_FLOAT32 ? 4 : 8;
    chunk_rows = STREAM_BYTES / (cols * item);
    if (chunk_rows == 0)
        chunk_rows = 1;
    if (chunk_rows > rows)
        chunk_rows = rows;
    if (calib_accumulator_alloc(cols, input, &a->eval, &acc, &err)
        != CALIB_OK) {
        rc = cli_fail(&err, 0);
        goto done;
    }
    progress_init(&prog);

    /* the rows in place, mapped from the file (no copy), when the system
     * maps it; a SIGBUS from a file that shrinks meanwhile is reported */
    map_st = calib_npy_stream_map(s, chunk_rows, &view, &err);
    if (map_st == CALIB_OK) {
        cli_watch_mapped_file(path);
        while (rc == 0 && view.n_rows > 0) {
            if (calib_accumulator_add(acc, view.rows, dtype, labels + done,
                                      view.n_rows, done, &err) != CALIB_OK)
                rc = fail_in(&err, path, a->labels);
            done += view.n_rows;
            calib_npy_view_release(&view);
            progress_update(&prog, done, rows);
            if (rc == 0 &&
                calib_npy_stream_map(s, chunk_rows, &view, &err) != CALIB_OK)
                rc = cli_fail(&err, 0);
        }
        calib_npy_view_release(&view);
        cli_unwatch_mapped_file();
        goto finish;
    }
    if (map_st != CALIB_E_UNSUPPORTED) {
        rc = cli_fail(&err, 0);
        goto finish;
    }

    buf[0] = calib_malloc(chunk_rows * cols * item);
    buf[1] = chunk_rows < rows ? calib_malloc(chunk_rows * cols * item)
                               : NULL;
    if (buf[0] == NULL || (chunk_rows < rows && buf[1] == NULL)) {
        cli_error("eval: out of memory for a chunk of %zu rows", chunk_rows);
        rc = cli_exit_status(CALIB_E_NOMEM, 0);
        goto finish;
    }

    /* read chunk c + 1 on a thread while chunk c is computed; without a
     * thread, the read simply happens after the computation */
    cur.s = next.s = s;
    cur.max_rows = next.max_rows = chunk_rows;
    cur.buf = buf[0];
    chunk_read_main(&cur);
    while (cur.status == CALIB_OK && cur.got > 0) {
        pthread_t tid;
        int threaded = 0;
        calib_status add_st;

        which ^= 1;
        next.buf = buf[which];
        next.got = 0;
        if (done + cur.got < rows)
            threaded = pthread_create(&tid, NULL, chunk_read_main,
                                      &next) == 0;
        add_st = calib_accumulator_add(acc, cur.buf, dtype, labels + done,
                                       cur.got, done, &err);
        if (threaded)
            pthread_join(tid, NULL);
        if (add_st != CALIB_OK) {
            rc = fail_in(&err, path, a->labels);
            break;
        }
        done += cur.got;
        progress_update(&prog, done, rows);
        if (!threaded && done < rows)
            chunk_read_main(&next);
        else if (!threaded) {
            next.got = 0;
            next.status = CALIB_OK;
        }
        cur = next;
    }
    if (rc == 0 && cur.status != CALIB_OK)
        rc = cli_fail(&cur.err, 0);
finish:
    progress_end(&prog);
    if (rc == 0 && calib_accumulator_finish(acc, m, &err) != CALIB_OK)
        rc = fail_in(&err, path, a->labels);

done:
    calib_accumulator_free(acc);
    calib_npy_stream_close(s);
    calib_free(buf[0]);
    calib_free(buf[1]);
    calib_free(labels);
    return rc;
}

/* ------------------------------------------------------------------------
 * Reports
 * ------------------------------------------------------------------------ */

typedef struct report {
    const calib_metrics *m;
    const char *input;       /* "logits", "probs", "toplabel" */
    const char *preds_file;
    const char *labels_file; /* NULL when inside preds_file */
} report;

static void print_json(FILE *out, const report *r)
{
    cli_metrics_source src;

    src.input = r->input;
    src.preds_file = r->preds_file;
    src.labels_file = r->labels_file;
    cli_print_metrics_json(out, r->m, &src, 0);
    fputc('\n', out);
}

/* CSV: absent metrics are empty fields, infinity is "inf". */
static void csv_number(FILE *out, double x, int last)
{
    if (!isnan(x))
        cli_print_double(out, x, 0);
    fputc(last ? '\n' : ',', out);
}

static void print_csv(FILE *out, const calib_metrics *m)
{
    fputs("n,classes,accuracy,nll,brier,ece,mce,rmsce,ace,classwise_ece,"
          "kl_smoothed,mean_confidence,nll_infinite_rows,clipped_rows\n",
          out);
    fprintf(out, "%zu,", m->n);
    if (m->classes > 0)
        fprintf(out, "%zu", m->classes);
    fputc(',', out);
    csv_number(out, m->accuracy, 0);
    csv_number(out, m->nll, 0);
    csv_number(out, m->brier, 0);
    csv_number(out, m->ece, 0);
    csv_number(out, m->mce, 0);
    csv_number(out, m->rmsce, 0);
    csv_number(out, m->ace, 0);
    csv_number(out, m->classwise_ece, 0);
    csv_number(out, m->kl_smoothed, 0);
    csv_number(out, m->mean_confidence, 0);
    fprintf(out, "%llu,%llu\n", (unsigned long long)m->nll_infinite_rows,
            (unsigned long long)m->clipped_rows);
}

/* One line of the table: name, value with 6 decimals, or a note. */
static void table_metric(FILE *out, const char *name, double x,
                         const char *absent)
{
    fprintf(out, "  %-16s ", name);
    if (isnan(x))
        fprintf(out, "-  (%s)\n", absent);
    else if (isinf(x))
        fprintf(out, "inf\n");
    else
        fprintf(out, "%.6f\n", x);
}

static void print_table(FILE *out, const report *r)
{
    const calib_metrics *m = r->m;
    const calib_eval_options *o = &m->options;
    const char *absent = "needs whole probability vectors";
    int right = o->bin_rule == CALIB_BIN_RIGHT;

    fprintf(out, "calib eval: %s %s", r->input, r->preds_file);
    if (r->labels_file != NULL)
        fprintf(out, ", labels %s", r->labels_file);
    fprintf(out, "\n  N = %zu, ", m->n);
    if (m->classes > 0)
        fprintf(out, "K = %zu", m->classes);
    else
        fputs("K unknown", out);
    if (m->binary)
        fputs(" (binary: one positive-class column)", out);
    fputs("\n\n", out);

    table_metric(out, "accuracy", m->accuracy, absent);
    table_metric(out, "mean confidence", m->mean_confidence, absent);
    table_metric(out, "nll", m->nll, absent);
    table_metric(out, "brier", m->brier, absent);
    table_metric(out, "kl_smoothed", m->kl_smoothed, absent);
    table_metric(out, "ece", m->ece, absent);
    table_metric(out, "mce", m->mce, absent);
    table_metric(out, "rmsce", m->rmsce, absent);
    table_metric(out, "ace", m->ace, absent);
    table_metric(out, "classwise_ece", m->classwise_ece, absent);
    if (m->nll_infinite_rows > 0)
        fprintf(out, "  note: %llu row(s) give the true class probability "
                "0, so NLL is inf;\n        --eps CLIP clips "
                "probabilities to [CLIP, 1]\n",
                (unsigned long long)m->nll_infinite_rows);
    if (o->clip_eps > 0.0)
        fprintf(out, "  note: %llu row(s) clipped to [%g, 1] for NLL and KL\n",
                (unsigned long long)m->clipped_rows, o->clip_eps);

    fputs("\nconventions:\n", out);
    fprintf(out, "  ece, mce, rmsce  %s, %zu %s bins",
            m->binary && !m->top_label
                ? "positive class (p against y)"
                : "top label (max p against correctness)",
            o->n_bins,
            o->scheme == CALIB_SCHEME_MASS ? "equal-mass" : "equal-width");
    if (o->scheme == CALIB_SCHEME_WIDTH)
        fprintf(out, ", %s",
                right ? "right-closed (lo, hi], first [0, 1/M]"
                      : "left-closed [lo, hi), last [1 - 1/M, 1]");
    fputs("\n", out);
    fprintf(out, "  ace              equal-mass bins (%zu asked), ties "
            "share a bin\n", o->n_bins);
    if (m->has_full_probs) {
        fprintf(out, "  classwise_ece    mean over all classes, %zu "
                "equal-width bins, %s\n", o->n_bins,
                right ? "right-closed" : "left-closed");
        fprintf(out, "  kl_smoothed      KL(q || p), q = (1 - %g) onehot + %g "
                "/ K\n", o->smoothing, o->smoothing);
        fprintf(out, "  probabilities    %s%s\n",
                o->clip_eps > 0.0 ? "clipped for NLL and KL"
                                  : "not clipped",
                o->renormalize ? ", rows renormalised" : "");
    }
    fprintf(out, "\nreliability (%zu bins):\n", m->n_bins);
    fprintf(out, "  %4s  %-9s %-9s %9s  %10s  %9s  %9s\n", "bin", "lo", "hi",
            "count", "confidence", "accuracy", "gap");
    for (size_t b = 0; b < m->n_bins; b++) {
        const calib_bin *bin = &m->bins[b];
        fprintf(out, "  %4zu  %-9.6f %-9.6f %9llu", b, bin->lo, bin->hi,
                (unsigned long long)bin->count);
        if (bin->count > 0)
            fprintf(out, "  %10.6f  %9.6f  %9.6f\n", bin->confidence,
                    bin->accuracy, fabs(bin->accuracy - bin->confidence));
        else
            fprintf(out, "  %10s  %9s  %9s\n", "-", "-", "-");
    }
}

int cmd_eval(int argc, char **argv)
{
    eval_args a;
    calib_matrix preds = {0, 0, CALIB_FLOAT64, NULL};
    calib_toplabel records = {0, NULL, NULL, NULL};
    calib_metrics m;
    int64_t *labels = NULL;
    int rc = 0, have_metrics = 0;
    calib_error err;
    report r;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cmd_eval_help(stdout);
            return 0;
        }
    if (parse_args(argc, argv, &a) != 0)
        return EXIT_USAGE;
    calib_error_clear(&err);
    memset(&m, 0, sizeof m);
    memset(&r, 0, sizeof r);

    if (a.toplabel != NULL) {
        r.input = "toplabel";
        r.preds_file = a.toplabel;
        if (calib_read_toplabel(a.toplabel, &records, &err) != CALIB_OK) {
            rc = cli_fail(&err, 0);
            goto done;
        }
        if (calib_evaluate_toplabel(&records, a.classes, &a.eval, &m, &err)
            != CALIB_OK) {
            rc = fail_in(&err, a.toplabel, NULL);
            goto done;
        }
    } else {
        calib_input input = a.logits != NULL ? CALIB_LOGITS : CALIB_PROBS;
        r.input = a.logits != NULL ? "logits" : "probs";
        r.preds_file = a.logits != NULL ? a.logits : a.probs;
        r.labels_file = cli_is_csv(r.preds_file) ? NULL : a.labels;
        rc = cli_is_csv(r.preds_file) ? -1
                                  : stream_npy(&a, r.preds_file, input, &m);
        if (rc > 0)
            goto done;
        if (rc < 0) {
            rc = cli_read_inputs("eval", r.preds_file, a.labels, &a.csv,
                                 &preds, &labels);
            if (rc != 0)
                goto done;
            if (calib_evaluate(&preds, input, labels, &a.eval, &m, &err)
                != CALIB_OK) {
                rc = fail_in(&err, r.preds_file, r.labels_file);
                goto done;
            }
        }
    }
    have_metrics = 1;
    m.options.threads = a.eval.threads;
    r.m = &m;

    if (a.format == FORMAT_JSON)
        print_json(stdout, &r);
    else if (a.format == FORMAT_CSV)
        print_csv(stdout, &m);
    else
        print_table(stdout, &r);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("eval: cannot write the report to standard output");
        rc = EXIT_OUTPUT;
    }

done:
    if (have_metrics)
        calib_metrics_free(&m);
    calib_matrix_free(&preds);
    calib_free(labels);
    calib_toplabel_free(&records);
    return rc;
}
