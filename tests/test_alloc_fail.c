/*
 * test_alloc_fail.c - every public function that allocates copes with any
 * of its allocations failing.
 *
 * A counting allocator (counting_alloc.h) makes the n-th allocation fail,
 * for n = 1, 2, 3, ... until a call runs with no failure injected. Each
 * time the function must return CALIB_E_NOMEM with a message (or
 * CALIB_OK, if it could do without that allocation), free all it
 * allocated (mallocs minus frees is zero afterwards), and leave its
 * outputs exactly as the caller set them (they are pre-filled with a
 * sentinel and compared), for files: the earlier file byte for byte, and
 * no temporary file left in the directory.
 *
 * One static function per group of the API; main() runs them all. zlib's
 * own allocations (inflate state) and jansson's come through the library's
 * allocator only if the library routes them there; a group counts what
 * reaches calib_malloc.
 */
#include "calib.h"
#include "check.h"
#include "counting_alloc.h"
#include "robust_files.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Beyond this many allocations a single call is not being tested but
 * run forever: stop and say so. */
/* Groups whose functions are written by other hands, enabled as they
 * land. */
#define HAVE_CSV_READER 1
#define HAVE_METRICS 1
#define HAVE_MODELS 1

#define MAX_SWEEP 200000

#define SENTINEL 0xa5

static char dir[256];

/* Paths of the fixtures written by make_fixtures(). */
static char npy_f8[300], npy_f4_fortran[300], npy_labels[300];
static char npz_stored[300], npz_deflated[300];
static char csv_path[300], toplabel_path[300], out_path[300];

/* The input of the in-memory groups: 6 rows, 3 classes. */
#define N 6
#define K 3
static double logits[N * K] = {
    2.385, -0.5, 0.125,  -1.25, 0.75, 3.5,   0.0, 0.0, 0.0,
    1.5, 1.5, -2.0,      -3.0, 2.25, 0.5,    0.3, -0.7, 1.1};
static const int64_t labels[N] = {0, 2, 1, 0, 1, 2};
static double probs[N * K];
static double binary[N] = {0.9, 0.2, 0.55, 0.7, 0.05, 0.4};
static const int64_t binary_labels[N] = {1, 0, 1, 1, 0, 0};

/* ---- the sweep ---- */

typedef calib_status (*case_fn)(const void *arg, calib_error *err);

static int untouched(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != SENTINEL)
            return 0;
    return 1;
}

/* The messages of the last sweep's failures, one per line, for checks
 * that a given allocation (zlib's) was reached. */
static char sweep_messages[8192];

static void note_message(const char *m)
{
    size_t used = strlen(sweep_messages);
    if (strstr(sweep_messages, m) == NULL &&
        used + strlen(m) + 2 < sizeof sweep_messages) {
        strcat(sweep_messages, m);
        strcat(sweep_messages, "\n");
    }
}

/* Calls fn with the n-th allocation failing, for every n it reaches. */
static void sweep(const char *name, case_fn fn, const void *arg)
{
    uint64_t n;
    int bad = 0;

    sweep_messages[0] = '\0';
    for (n = 1; n <= MAX_SWEEP; n++) {
        calib_error err;
        calib_status st;

        calib_error_clear(&err);
        ca_reset(n);
        st = fn(arg, &err);
        if (ca.live != 0) {
            printf("FAIL %s: allocation %llu failed: %lld blocks leaked\n",
                   name, (unsigned long long)n, (long long)ca.live);
            bad = 1;
        }
        if (ca.failed == 0) {
            if (st != CALIB_OK) {
                printf("FAIL %s: no failure injected, status %d: %s\n",
                       name, (int)st, err.message);
                bad = 1;
            }
            break;
        }
        if (st != CALIB_OK)
            note_message(err.message);
        if (st != CALIB_OK && (st != CALIB_E_NOMEM ||
                               err.status != CALIB_E_NOMEM ||
                               err.message[0] == '\0')) {
            printf("FAIL %s: allocation %llu failed: status %d, '%s'\n",
                   name, (unsigned long long)n, (int)st, err.message);
            bad = 1;
        }
        if (bad)
            break;
    }
    check_count++;
    if (n > MAX_SWEEP) {
        printf("FAIL %s: more than %d allocations\n", name, MAX_SWEEP);
        bad = 1;
    }
    if (bad)
        check_failures++;
    else
        printf("ok   %-44s %llu allocations, each failed once\n", name,
               (unsigned long long)(n - 1));
}

/* An output was written by a failing call: counted as a failed check. */
#define KEEP(cond, name)                                                     \
    do {                                                                     \
        check_count++;                                                       \
        if (!(cond)) {                                                       \
            check_failures++;                                                \
            printf("FAIL %s:%d: %s: output changed by a failing call\n",     \
                   __FILE__, __LINE__, name);                                \
        }                                                                    \
    } while (0)

/* ---- fixtures ---- */

static void make_fixtures(void)
{
    float f4[N * K];
    int64_t lab[N];
    size_t x_n = 0, y_n = 0;
    unsigned char *x, *y = NULL;
    rf_member m[2];
    char header[160];

    snprintf(npy_f8, sizeof npy_f8, "%s/x.npy", dir);
    snprintf(npy_f4_fortran, sizeof npy_f4_fortran, "%s/xf.npy", dir);
    snprintf(npy_labels, sizeof npy_labels, "%s/y.npy", dir);
    snprintf(npz_stored, sizeof npz_stored, "%s/s.npz", dir);
    snprintf(npz_deflated, sizeof npz_deflated, "%s/d.npz", dir);
    snprintf(csv_path, sizeof csv_path, "%s/p.csv", dir);
    snprintf(toplabel_path, sizeof toplabel_path, "%s/t.csv", dir);
    snprintf(out_path, sizeof out_path, "%s/out.bin", dir);

    /* host byte order is written as '<': the tests run little-endian */
    x = rf_npy_f64(logits, N, K, &x_n);
    CHECK(x != NULL);
    if (x == NULL)
        return;
    {
        FILE *f = fopen(npy_f8, "wb");
        CHECK(f != NULL && fwrite(x, 1, x_n, f) == x_n);
        if (f != NULL)
            fclose(f);
    }
    for (size_t j = 0; j < K; j++)
        for (size_t i = 0; i < N; i++)
            f4[j * N + i] = (float)logits[i * K + j];
    snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': "
             "True, 'shape': (%d, %d), }", N, K);
    CHECK(rf_write_npy(npy_f4_fortran, 2, header, f4, sizeof f4) == 0);
    for (size_t i = 0; i < N; i++)
        lab[i] = labels[i];
    snprintf(header, sizeof header, "{'descr': '<i8', 'fortran_order': "
             "False, 'shape': (%d,), }", N);
    CHECK(rf_write_npy(npy_labels, 1, header, lab, sizeof lab) == 0);
    {
        FILE *f = fopen(npy_labels, "rb");
        if (f != NULL) {
            y = malloc(4096);
            y_n = y != NULL ? fread(y, 1, 4096, f) : 0;
            fclose(f);
        }
    }
    memset(m, 0, sizeof m);
    m[0].name = "x.npy";
    m[0].data = x;
    m[0].size = x_n;
    m[1].name = "y.npy";
    m[1].data = y;
    m[1].size = y_n;
    CHECK(rf_write_zip(npz_stored, m, 2) == 0);
    m[0].deflate = m[1].deflate = 1;
    CHECK(rf_write_zip(npz_deflated, m, 2) == 0);
    free(x);
    free(y);

    CHECK(rf_write_text(csv_path,
                        "label,a,b,c\n0,2.385,-0.5,0.125\n2,-1.25,0.75,3.5\n"
                        "1,0,0,0\n0,1.5,1.5,-2\n1,-3,2.25,0.5\n"
                        "2,0.3,-0.7,1.1\n") == 0);
    CHECK(rf_write_text(toplabel_path,
                        "true_label,pred_label,confidence\n3,3,0.91\n"
                        "1,7,0.42\n0,0,1\n5,2,0.3\n") == 0);
    calib_softmax(logits, N, K, probs);
}

/* ---- readers ---- */

static calib_status case_read_matrix(const void *arg, calib_error *err)
{
    calib_matrix m;
    calib_status st;

    memset(&m, SENTINEL, sizeof m);
    st = calib_read_matrix(arg, &m, err);
    if (st == CALIB_OK)
        calib_matrix_free(&m);
    else
        KEEP(untouched(&m, sizeof m), (const char *)arg);
    return st;
}

static calib_status case_read_labels(const void *arg, calib_error *err)
{
    int64_t *l;
    size_t n;
    calib_status st;

    memset(&l, SENTINEL, sizeof l);
    memset(&n, SENTINEL, sizeof n);
    st = calib_read_labels(arg, &l, &n, err);
    if (st == CALIB_OK)
        calib_free(l);
    else
        KEEP(untouched(&l, sizeof l) && untouched(&n, sizeof n),
             (const char *)arg);
    return st;
}

static calib_status case_stream(const void *arg, calib_error *err)
{
    calib_npy_stream *s;
    size_t rows, cols, got;
    calib_dtype dtype;
    double chunk[4 * K];
    calib_status st;

    memset(&s, SENTINEL, sizeof s);
    st = calib_npy_stream_open(arg, &s, &rows, &cols, &dtype, err);
    if (st != CALIB_OK) {
        KEEP(untouched(&s, sizeof s), "stream");
        return st;
    }
    do
        st = calib_npy_stream_read(s, chunk, 4, &got, err);
    while (st == CALIB_OK && got > 0);
    calib_npy_stream_close(s);
    return st;
}

static void group_readers(void)
{
    static char spec[8][320];

    sweep("calib_read_matrix .npy float64", case_read_matrix, npy_f8);
    sweep("calib_read_matrix .npy float32 Fortran", case_read_matrix,
          npy_f4_fortran);
    snprintf(spec[0], sizeof spec[0], "%s:x", npz_stored);
    sweep("calib_read_matrix .npz stored", case_read_matrix, spec[0]);
    snprintf(spec[1], sizeof spec[1], "%s:x.npy", npz_deflated);
    sweep("calib_read_matrix .npz deflated", case_read_matrix, spec[1]);
    /* zlib's state comes from calib_malloc too, so its failure is seen */
    CHECK(strstr(sweep_messages, "zlib") != NULL);
    sweep("calib_read_labels .npy", case_read_labels, npy_labels);
    snprintf(spec[2], sizeof spec[2], "%s:y", npz_stored);
    sweep("calib_read_labels .npz stored", case_read_labels, spec[2]);
    snprintf(spec[3], sizeof spec[3], "%s:y", npz_deflated);
    sweep("calib_read_labels .npz deflated", case_read_labels, spec[3]);
    sweep("calib_npy_stream open/read/close", case_stream, npy_f8);
}

#if HAVE_CSV_READER
static calib_status case_read_csv(const void *arg, calib_error *err)
{
    calib_csv_options opt;
    calib_matrix m;
    int64_t *l;
    calib_status st;

    (void)arg;
    calib_csv_options_default(&opt);
    memset(&m, SENTINEL, sizeof m);
    memset(&l, SENTINEL, sizeof l);
    st = calib_read_csv(csv_path, &opt, &m, &l, err);
    if (st == CALIB_OK) {
        calib_matrix_free(&m);
        calib_free(l);
    } else {
        KEEP(untouched(&m, sizeof m) && untouched(&l, sizeof l), "csv");
    }
    return st;
}

static calib_status case_read_toplabel(const void *arg, calib_error *err)
{
    calib_toplabel t;
    calib_status st;

    (void)arg;
    memset(&t, SENTINEL, sizeof t);
    st = calib_read_toplabel(toplabel_path, &t, err);
    if (st == CALIB_OK)
        calib_toplabel_free(&t);
    else
        KEEP(untouched(&t, sizeof t), "toplabel");
    return st;
}

static void group_csv(void)
{
    sweep("calib_read_csv", case_read_csv, NULL);
    sweep("calib_read_toplabel", case_read_toplabel, NULL);
}
#endif

/* ---- writers: the earlier file survives, no temporary file is left ---- */

static const char earlier[] = "the earlier output, to be kept\n";

static int file_is(const char *p, const char *text)
{
    char buf[256];
    FILE *f = fopen(p, "rb");
    size_t n;
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return n == strlen(text) && memcmp(buf, text, n) == 0;
}

/* No ".out.bin.XXXXXX" left in the directory. */
static int no_temporary(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int clean = 1;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, ".out.bin.", 9) == 0)
            clean = 0;
    closedir(d);
    return clean;
}

static calib_status case_write(const void *arg, calib_error *err)
{
    int which = *(const int *)arg;
    calib_status st = CALIB_E_ARGUMENT;

    CHECK(rf_write_text(out_path, earlier) == 0);
    switch (which) {
    case 0: st = calib_write_file(out_path, logits, sizeof logits, err);
        break;
    case 1: st = calib_write_npy_f64(out_path, logits, N, K, err); break;
    case 2: st = calib_write_npy_i64(out_path, labels, N, err); break;
    case 3: st = calib_write_csv_f64(out_path, logits, N, K, err); break;
    }
    if (st != CALIB_OK)
        KEEP(file_is(out_path, earlier), "earlier file");
    KEEP(no_temporary(), "temporary file left");
    return st;
}

static void group_writers(void)
{
    static const int which[4] = {0, 1, 2, 3};
    sweep("calib_write_file", case_write, &which[0]);
    sweep("calib_write_npy_f64", case_write, &which[1]);
    sweep("calib_write_npy_i64", case_write, &which[2]);
    sweep("calib_write_csv_f64", case_write, &which[3]);
}

/* ---- losses ---- */

static calib_status case_loss(const void *arg, calib_error *err)
{
    calib_loss_kind kind = *(const calib_loss_kind *)arg;
    calib_loss_options opt;
    double loss, grad[N * K];
    calib_status st;

    calib_loss_options_default(&opt);
    memset(&loss, SENTINEL, sizeof loss);
    memset(grad, SENTINEL, sizeof grad);
    st = calib_loss(kind, logits, CALIB_FLOAT64, N, K, labels, &opt, &loss,
                    grad, err);
    if (st != CALIB_OK)
        KEEP(untouched(&loss, sizeof loss) && untouched(grad, sizeof grad),
             calib_loss_name(kind));
    return st;
}

static void group_losses(void)
{
    static calib_loss_kind kinds[8];
    char name[64];

    for (int i = 0; i < 8; i++) {
        kinds[i] = (calib_loss_kind)i;
        snprintf(name, sizeof name, "calib_loss %s", calib_loss_name(kinds[i]));
        sweep(name, case_loss, &kinds[i]);
    }
}

/* ---- reliability diagrams ---- */

static calib_bin svg_bins[4] = {
    {0.0, 0.25, 1, 0.2, 0.0}, {0.25, 0.5, 0, 0.0, 0.0},
    {0.5, 0.75, 3, 0.6, 0.6667}, {0.75, 1.0, 2, 0.9, 1.0}};

static void svg_metrics(calib_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->n = 6;
    m->classes = 3;
    m->has_full_probs = 1;
    m->accuracy = 0.6667;
    m->ece = 0.0833;
    m->mce = 0.2;
    m->nll = 0.8;
    m->brier = 0.4;
    m->options.n_bins = 4;
    m->options.bin_rule = CALIB_BIN_RIGHT;
    m->options.scheme = CALIB_SCHEME_WIDTH;
    m->options.smoothing = 0.1;
    m->options.sum_tolerance = 1e-4;
    m->n_bins = 4;
    m->bins = svg_bins;
}

static calib_status case_svg(const void *arg, calib_error *err)
{
    calib_metrics m;
    char *svg;
    calib_status st;

    svg_metrics(&m);
    memset(&svg, SENTINEL, sizeof svg);
    st = calib_svg_reliability(&m, "before", arg != NULL ? &m : NULL,
                               "after", &svg, err);
    if (st == CALIB_OK)
        calib_free(svg);
    else
        KEEP(untouched(&svg, sizeof svg), "svg");
    return st;
}

static void group_svg(void)
{
    sweep("calib_svg_reliability", case_svg, NULL);
    sweep("calib_svg_reliability, two panels", case_svg, "two");
}


/* ---- metrics ---- */

typedef struct eval_case {
    const calib_matrix *preds;
    calib_input input;
    const int64_t *labels;
    calib_bin_scheme scheme;
    unsigned threads;
} eval_case;

static calib_status case_evaluate(const void *arg, calib_error *err)
{
    const eval_case *c = arg;
    calib_eval_options opt;
    calib_metrics m;
    calib_status st;

    calib_eval_options_default(&opt);
    opt.scheme = c->scheme;
    opt.threads = c->threads;
    memset(&m, SENTINEL, sizeof m);
    st = calib_evaluate(c->preds, c->input, c->labels, &opt, &m, err);
    if (st == CALIB_OK)
        calib_metrics_free(&m);
    else
        KEEP(untouched(&m, sizeof m), "metrics");
    return st;
}

static calib_status case_to_probs(const void *arg, calib_error *err)
{
    const eval_case *c = arg;
    calib_eval_options opt;
    double *p;
    calib_status st;

    calib_eval_options_default(&opt);
    memset(&p, SENTINEL, sizeof p);
    st = calib_to_probs(c->preds, c->input, &opt, &p, err);
    if (st == CALIB_OK)
        calib_free(p);
    else
        KEEP(untouched(&p, sizeof p), "probs");
    return st;
}

static calib_toplabel toplabel_records(void)
{
    static int64_t t[N] = {3, 1, 0, 5, 2, 2}, p[N] = {3, 7, 0, 2, 2, 1};
    static double c[N] = {0.91, 0.42, 1.0, 0.3, 0.6, 0.55};
    calib_toplabel r = {N, t, p, c};
    return r;
}

static calib_status case_evaluate_toplabel(const void *arg,
                                           calib_error *err)
{
    calib_toplabel t = toplabel_records();
    calib_eval_options opt;
    calib_metrics m;
    calib_status st;

    calib_eval_options_default(&opt);
    opt.scheme = *(const calib_bin_scheme *)arg;
    memset(&m, SENTINEL, sizeof m);
    st = calib_evaluate_toplabel(&t, 8, &opt, &m, err);
    if (st == CALIB_OK)
        calib_metrics_free(&m);
    else
        KEEP(untouched(&m, sizeof m), "toplabel metrics");
    return st;
}

/* alloc, add two chunks to two accumulators, merge, finish; and the same
 * for top-label records. Every step's outputs are checked. */
static calib_status case_accumulator(const void *arg, calib_error *err)
{
    int toplabel = arg != NULL;
    size_t classes = toplabel ? 8 : K;   /* the records' labels are < 8 */
    calib_eval_options opt;
    calib_accumulator *a, *b = NULL;
    calib_metrics m;
    calib_status st;

    calib_eval_options_default(&opt);
    opt.scheme = CALIB_SCHEME_MASS;
    memset(&a, SENTINEL, sizeof a);
    st = calib_accumulator_alloc(classes, CALIB_LOGITS, &opt, &a, err);
    if (st != CALIB_OK) {
        KEEP(untouched(&a, sizeof a), "accumulator");
        return st;
    }
    memset(&b, SENTINEL, sizeof b);
    st = calib_accumulator_alloc(classes, CALIB_LOGITS, &opt, &b, err);
    if (st != CALIB_OK) {
        KEEP(untouched(&b, sizeof b), "accumulator");
        b = NULL;
    }
    if (st == CALIB_OK && toplabel) {
        calib_toplabel t = toplabel_records();
        t.n = 3;
        st = calib_accumulator_add_toplabel(a, &t, err);
        t.true_label += 3;
        t.pred_label += 3;
        t.confidence += 3;
        if (st == CALIB_OK)
            st = calib_accumulator_add_toplabel(b, &t, err);
    } else if (st == CALIB_OK) {
        st = calib_accumulator_add(a, logits, CALIB_FLOAT64, labels, 3, 0,
                                   err);
        if (st == CALIB_OK)
            st = calib_accumulator_add(b, logits + 3 * K, CALIB_FLOAT64,
                                       labels + 3, 3, 3, err);
    }
    if (st == CALIB_OK)
        st = calib_accumulator_merge(a, b, err);
    if (st == CALIB_OK) {
        memset(&m, SENTINEL, sizeof m);
        st = calib_accumulator_finish(a, &m, err);
        if (st == CALIB_OK)
            calib_metrics_free(&m);
        else
            KEEP(untouched(&m, sizeof m), "finished metrics");
    }
    calib_accumulator_free(b);
    calib_accumulator_free(a);
    return st;
}

static void group_metrics(void)
{
    static const calib_matrix lm = {N, K, CALIB_FLOAT64, logits};
    static calib_matrix pm = {N, K, CALIB_FLOAT64, probs};
    static const calib_matrix bm = {N, 1, CALIB_FLOAT64, binary};
    static const calib_bin_scheme width = CALIB_SCHEME_WIDTH;
    static const calib_bin_scheme mass = CALIB_SCHEME_MASS;
    static eval_case c[6];

    c[0] = (eval_case){&lm, CALIB_LOGITS, labels, CALIB_SCHEME_WIDTH, 1};
    c[1] = (eval_case){&lm, CALIB_LOGITS, labels, CALIB_SCHEME_MASS, 1};
    c[2] = (eval_case){&lm, CALIB_LOGITS, labels, CALIB_SCHEME_WIDTH, 2};
    c[3] = (eval_case){&pm, CALIB_PROBS, labels, CALIB_SCHEME_WIDTH, 1};
    c[4] = (eval_case){&bm, CALIB_PROBS, binary_labels, CALIB_SCHEME_MASS,
                       1};
    c[5] = (eval_case){&bm, CALIB_LOGITS, binary_labels, CALIB_SCHEME_WIDTH,
                       1};
    sweep("calib_evaluate logits", case_evaluate, &c[0]);
    sweep("calib_evaluate logits, equal-mass", case_evaluate, &c[1]);
    sweep("calib_evaluate logits, 2 threads", case_evaluate, &c[2]);
    sweep("calib_evaluate probs", case_evaluate, &c[3]);
    sweep("calib_evaluate binary probs, equal-mass", case_evaluate, &c[4]);
    sweep("calib_evaluate binary logits", case_evaluate, &c[5]);
    sweep("calib_to_probs logits", case_to_probs, &c[0]);
    sweep("calib_to_probs probs", case_to_probs, &c[3]);
    sweep("calib_to_probs binary", case_to_probs, &c[5]);
    sweep("calib_evaluate_toplabel", case_evaluate_toplabel, &width);
    sweep("calib_evaluate_toplabel, equal-mass", case_evaluate_toplabel,
          &mass);
    sweep("calib_accumulator alloc/add/merge/finish", case_accumulator,
          NULL);
    sweep("calib_accumulator, top-label records", case_accumulator, "t");
}

/* ---- calibrators and model files ---- */

static calib_model *fitted[CALIB_METHOD_COUNT];

static calib_status case_fit(const void *arg, calib_error *err)
{
    calib_method method = *(const calib_method *)arg;
    calib_matrix m = {N, K, CALIB_FLOAT64, logits};
    calib_fit_options opt;
    calib_model *model;
    calib_status st;

    calib_fit_options_default(&opt);
    opt.threads = 1;
    opt.n_bins = 4;
    memset(&model, SENTINEL, sizeof model);
    st = calib_fit(method, &m, CALIB_LOGITS, labels, &opt, &model, err);
    if (st == CALIB_OK)
        calib_model_free(model);
    else
        KEEP(untouched(&model, sizeof model), calib_method_name(method));
    return st;
}

static calib_status case_model_json(const void *arg, calib_error *err)
{
    const calib_model *model = arg;
    char *json;
    calib_model *again;
    calib_status st;

    memset(&json, SENTINEL, sizeof json);
    st = calib_model_to_json(model, &json, err);
    if (st != CALIB_OK) {
        KEEP(untouched(&json, sizeof json), "json");
        return st;
    }
    memset(&again, SENTINEL, sizeof again);
    st = calib_model_from_json(json, strlen(json), "m.json", &again, err);
    if (st == CALIB_OK)
        calib_model_free(again);
    else
        KEEP(untouched(&again, sizeof again), "model");
    calib_free(json);
    return st;
}

static calib_status case_model_file(const void *arg, calib_error *err)
{
    const calib_model *model = arg;
    calib_model *again;
    calib_status st;

    CHECK(rf_write_text(out_path, earlier) == 0);
    st = calib_model_save(model, out_path, err);
    if (st != CALIB_OK) {
        KEEP(file_is(out_path, earlier), "earlier model file");
        KEEP(no_temporary(), "temporary file left");
        return st;
    }
    KEEP(no_temporary(), "temporary file left");
    memset(&again, SENTINEL, sizeof again);
    st = calib_model_load(out_path, &again, err);
    if (st == CALIB_OK)
        calib_model_free(again);
    else
        KEEP(untouched(&again, sizeof again), "loaded model");
    return st;
}

static calib_status case_model_apply(const void *arg, calib_error *err)
{
    const calib_model *model = arg;
    calib_matrix m = {N, K, CALIB_FLOAT64, logits};
    double out[N * K];
    calib_status st;

    memset(out, SENTINEL, sizeof out);
    st = calib_model_apply(model, &m, CALIB_LOGITS, out, err);
    if (st != CALIB_OK)
        KEEP(untouched(out, sizeof out), "applied probs");
    return st;
}

static void group_models(void)
{
    static calib_method methods[CALIB_METHOD_COUNT];
    calib_matrix m = {N, K, CALIB_FLOAT64, logits};
    calib_fit_options opt;
    char name[96];

    calib_fit_options_default(&opt);
    opt.threads = 1;
    opt.n_bins = 4;
    for (int i = 0; i < CALIB_METHOD_COUNT; i++) {
        const char *mn;
        calib_error err;

        methods[i] = (calib_method)i;
        mn = calib_method_name(methods[i]);
        snprintf(name, sizeof name, "calib_fit %s", mn);
        sweep(name, case_fit, &methods[i]);

        ca_reset(0);
        fitted[i] = NULL;
        CHECK_STATUS(calib_fit(methods[i], &m, CALIB_LOGITS, labels, &opt,
                               &fitted[i], &err), CALIB_OK);
        if (fitted[i] == NULL)
            continue;
        snprintf(name, sizeof name, "calib_model_to/from_json %s", mn);
        sweep(name, case_model_json, fitted[i]);
        snprintf(name, sizeof name, "calib_model_save/load %s", mn);
        sweep(name, case_model_file, fitted[i]);
        snprintf(name, sizeof name, "calib_model_apply %s", mn);
        sweep(name, case_model_apply, fitted[i]);
        calib_model_free(fitted[i]);
    }
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof dir, "%s/calib-allocfail-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    make_fixtures();
    ca_install();

    group_readers();
    group_writers();
    group_losses();
    group_svg();
#if HAVE_CSV_READER
    group_csv();
#endif
#if HAVE_METRICS
    group_metrics();
#endif
#if HAVE_MODELS
    group_models();
#endif

    calib_set_allocator(NULL);
    {
        const char *files[] = {npy_f8, npy_f4_fortran, npy_labels, npz_stored,
                               npz_deflated, csv_path, toplabel_path,
                               out_path};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
            unlink(files[i]);
    }
    rmdir(dir);
    return check_done("test_alloc_fail");
}
