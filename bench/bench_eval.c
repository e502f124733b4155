/*
 * bench_eval.c - times calib's kernels on data already in memory.
 *
 *   bench_eval eval LOGITS LABELS REPS THREADS
 *   bench_eval temperature LOGITS LABELS REPS THREADS
 *   bench_eval isotonic PROBS LABELS REPS THREADS
 *   bench_eval platt SCORES LABELS REPS THREADS
 *
 * Reads the inputs once (not timed), then runs the computation REPS times
 * and prints one line of key=value pairs: the median wall time in seconds
 * (CLOCK_MONOTONIC), the fastest, and the results that the bench compares
 * with the peers (ECE and NLL; the fitted temperature). THREADS 0 means
 * all cores, as in the library. Uses only include/calib.h.
 */
#include "calib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#define MAX_REPS 100

static int fail(const char *what, const calib_error *err)
{
    fprintf(stderr, "bench_eval: %s: %s\n", what, err->message);
    return 1;
}

static int bench_eval(const calib_matrix *x, const int64_t *y, size_t reps,
                      unsigned threads, double *t)
{
    calib_eval_options opt;
    calib_metrics m;
    calib_error err;
    double ece = 0.0, nll = 0.0, classwise = 0.0;

    calib_eval_options_default(&opt);
    opt.threads = threads;
    for (size_t r = 0; r < reps; r++) {
        double t0 = now();
        if (calib_evaluate(x, CALIB_LOGITS, y, &opt, &m, &err) != CALIB_OK)
            return fail("calib_evaluate", &err);
        t[r] = now() - t0;
        ece = m.ece;
        nll = m.nll;
        classwise = m.classwise_ece;
        calib_metrics_free(&m);
    }
    printf("ece=%.17g nll=%.17g classwise_ece=%.17g ", ece, nll, classwise);
    return 0;
}

static int bench_fit(calib_method method, calib_input input,
                     const calib_matrix *x, const int64_t *y, size_t reps,
                     unsigned threads, double *t)
{
    calib_fit_options opt;
    calib_model *model = NULL;
    calib_error err;

    calib_fit_options_default(&opt);
    opt.threads = threads;
    for (size_t r = 0; r < reps; r++) {
        double t0 = now();
        calib_model_free(model);
        model = NULL;
        if (calib_fit(method, x, input, y, &opt, &model, &err) != CALIB_OK)
            return fail("calib_fit", &err);
        t[r] = now() - t0;
    }
    if (method == CALIB_TEMPERATURE)
        printf("temperature=%.17g ", calib_model_temperature(model));
    printf("nll_after=%.17g iterations=%zu status=%s ",
           calib_model_fit_info(model)->nll_after,
           calib_model_fit_info(model)->iterations,
           calib_model_fit_info(model)->status);
    calib_model_free(model);
    return 0;
}

int main(int argc, char **argv)
{
    calib_matrix x = {0, 0, CALIB_FLOAT32, NULL};
    int64_t *y = NULL;
    size_t n = 0, reps;
    unsigned threads;
    calib_error err;
    double t[MAX_REPS];
    int rc = 1;

    if (argc != 6) {
        fprintf(stderr, "usage: bench_eval eval|temperature|isotonic|platt "
                        "X LABELS REPS THREADS\n");
        return 2;
    }
    reps = (size_t)strtoul(argv[4], NULL, 10);
    threads = (unsigned)strtoul(argv[5], NULL, 10);
    if (reps == 0 || reps > MAX_REPS)
        return 2;
    if (calib_read_matrix(argv[2], &x, &err) != CALIB_OK)
        return fail(argv[2], &err);
    if (calib_read_labels(argv[3], &y, &n, &err) != CALIB_OK) {
        calib_matrix_free(&x);
        return fail(argv[3], &err);
    }
    if (strcmp(argv[1], "eval") == 0)
        rc = bench_eval(&x, y, reps, threads, t);
    else if (strcmp(argv[1], "temperature") == 0)
        rc = bench_fit(CALIB_TEMPERATURE, CALIB_LOGITS, &x, y, reps, threads,
                       t);
    else if (strcmp(argv[1], "isotonic") == 0)
        rc = bench_fit(CALIB_ISOTONIC, CALIB_PROBS, &x, y, reps, threads, t);
    else if (strcmp(argv[1], "platt") == 0)
        rc = bench_fit(CALIB_PLATT, CALIB_LOGITS, &x, y, reps, threads, t);
    else
        fprintf(stderr, "bench_eval: unknown task %s\n", argv[1]);
    if (rc == 0) {
        double best = t[0];
        for (size_t r = 1; r < reps; r++)
            best = t[r] < best ? t[r] : best;
        printf("time_s=%.6f best_s=%.6f reps=%zu\n", median(t, reps), best,
               reps);
    }
    calib_matrix_free(&x);
    calib_free(y);
    return rc;
}
