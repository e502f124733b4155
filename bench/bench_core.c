/*
 * bench_core.c - times the binary calibrators' fitting routines alone.
 *
 *   bench_core isotonic PROBS LABELS REPS
 *   bench_core platt SCORES LABELS REPS
 *
 * calib_fit does more than fit: it checks the input, builds the
 * probabilities and log-odds of every sample, and reports the NLL before
 * and after the fit (which applies the fitted map to every sample).
 * scikit-learn's IsotonicRegression.fit and _sigmoid_calibration do only
 * the fit, so this program times calib's fit alone for the like-for-like
 * row: calib_isotonic_fit (sort, pool ties, PAV, knots) and
 * calib_platt_fit (Newton to convergence), from src/calibrators.h. The
 * 0/1 label bytes are made before timing (scikit-learn gets its label
 * array ready-made too). Prints one line of key=value pairs as
 * bench_eval does: the median and best wall time (CLOCK_MONOTONIC), and
 * the results to compare with the peer.
 */
#include "calib.h"
#include "../src/calibrators.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#define MAX_REPS 100

static int fail(const char *what, const calib_error *err)
{
    fprintf(stderr, "bench_core: %s: %s\n", what, err->message);
    return 1;
}

int main(int argc, char **argv)
{
    double med;
    calib_matrix x = {0, 0, CALIB_FLOAT64, NULL};
    int64_t *labels = NULL;
    unsigned char *y = NULL;
    size_t n = 0, reps;
    calib_error err;
    double t[MAX_REPS], best;
    int rc = 1, iso;

    if (argc != 5 || (strcmp(argv[1], "isotonic") != 0 &&
                      strcmp(argv[1], "platt") != 0)) {
        fprintf(stderr, "usage: bench_core isotonic|platt X LABELS REPS\n");
        return 2;
    }
    iso = strcmp(argv[1], "isotonic") == 0;
    reps = (size_t)strtoul(argv[4], NULL, 10);
    if (reps == 0 || reps > MAX_REPS)
        return 2;
    if (calib_read_matrix(argv[2], &x, &err) != CALIB_OK)
        return fail(argv[2], &err);
    if (calib_read_labels(argv[3], &labels, &n, &err) != CALIB_OK) {
        calib_matrix_free(&x);
        return fail(argv[3], &err);
    }
    if (x.dtype != CALIB_FLOAT64 || x.cols != 1 || x.rows != n) {
        fprintf(stderr, "bench_core: want %zu float64 values in %s\n", n,
                argv[2]);
        goto out;
    }
    y = malloc(n ? n : 1);
    if (y == NULL)
        goto out;
    for (size_t i = 0; i < n; i++)
        y[i] = labels[i] == 1;

    for (size_t r = 0; r < reps; r++) {
        double t0 = now();
        if (iso) {
            double *kx = NULL, *ky = NULL;
            size_t nk = 0;
            if (calib_isotonic_fit(x.data, y, n, &kx, &ky, &nk, &err) !=
                CALIB_OK) {
                fail("calib_isotonic_fit", &err);
                goto out;
            }
            t[r] = now() - t0;
            if (r == 0)
                printf("knots=%zu ", nk);
            calib_free(kx);
            calib_free(ky);
        } else {
            calib_fit_options opt;
            calib_logistic_result res;
            double a, b;
            calib_fit_options_default(&opt);
            if (calib_platt_fit(x.data, y, n, &opt, &a, &b, &res, &err) !=
                CALIB_OK) {
                fail("calib_platt_fit", &err);
                goto out;
            }
            t[r] = now() - t0;
            if (r == 0)
                printf("a=%.17g b=%.17g iterations=%zu ", a, b,
                       res.iterations);
        }
    }
    best = t[0];
    for (size_t r = 1; r < reps; r++)
        best = t[r] < best ? t[r] : best;
    med = median(t, reps);  /* sorts t: t[0] is the best */
    printf("time_s=%.6f best_s=%.6f reps=%zu\n",
           med,
           best, reps);
    rc = 0;
out:
    free(y);
    calib_matrix_free(&x);
    calib_free(labels);
    return rc;
}
