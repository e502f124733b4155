/*
 * histogram.c - histogram binning: each probability is replaced by the
 * fraction of positives among the validation samples of its bin.
 *
 * Zadrozny & Elkan 2001 ("Obtaining calibrated probability estimates from
 * decision trees and naive Bayesian classifiers"). Bins on [0, 1]:
 * - equal width: edges k / M (the correctly rounded doubles, the same
 *   edges as calib_bin_index), the bin found with the rule of the metrics:
 *   right-closed (lo, hi] with p = 0 in the first bin, or left-closed
 *   [lo, hi) with p = 1 in the last;
 * - equal mass: the sorted fit values are cut into M runs of floor(N / M)
 *   or one more samples; the interior edge between two runs is the
 *   midpoint of the last value of one and the first of the next, the outer
 *   edges 0 and 1. Samples are then assigned by the same rule as above, so
 *   ties never straddle an edge (a bin may end up empty when values tie).
 * A bin's value is the mean 0/1 label of its samples. An empty bin has no
 * evidence either way, so it maps to its own midpoint (lo + hi) / 2: the
 * calibrated value stays inside the bin the input fell in, rather than
 * jumping to the global positive rate, which for one-vs-rest on confident
 * classifiers lies far from the empty mid-range bins.
 */
#include "calibrators.h"
#include "internal.h"

#include <stdlib.h>

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

size_t calib_histogram_bin(const double *edges, size_t n_bins,
                           calib_bin_rule rule, double p)
{
    size_t lo = 0, hi = n_bins;

    if (rule == CALIB_BIN_RIGHT) {
        /* smallest b with p <= edges[b + 1] */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (p <= edges[mid + 1])
                hi = mid;
            else
                lo = mid + 1;
        }
        return lo < n_bins ? lo : n_bins - 1;
    }
    /* largest b with edges[b] <= p, at most n_bins - 1 */
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (mid < n_bins && edges[mid] <= p)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

calib_status calib_histogram_fit(const double *p, const unsigned char *y,
                                 size_t n, size_t n_bins,
                                 calib_bin_scheme scheme,
                                 calib_bin_rule rule, double **edges,
                                 double **values, calib_error *err)
{
    double *e = NULL, *v = NULL, *count = NULL, *sorted = NULL;
    calib_status status = CALIB_OK;

    if (n == 0 || n_bins == 0)
        return calib_failf(err, CALIB_E_SHAPE,
                           "histogram binning needs rows and bins");
    if (n_bins > ((size_t)1 << 24))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "histogram binning: %zu bins is too many",
                           n_bins);
    e = calib_calloc(n_bins + 1, sizeof *e);
    v = calib_calloc(n_bins, sizeof *v);
    count = calib_calloc(n_bins, sizeof *count);
    if (e == NULL || v == NULL || count == NULL)
        goto nomem;

    /* the edges */
    if (scheme == CALIB_SCHEME_MASS) {
        sorted = calib_calloc(n, sizeof *sorted);
        if (sorted == NULL)
            goto nomem;
        for (size_t i = 0; i < n; i++)
            sorted[i] = p[i];
        qsort(sorted, n, sizeof *sorted, compare_doubles);
        for (size_t b = 1; b < n_bins; b++) {
            size_t cut = (size_t)((double)b * (double)n / (double)n_bins);
            if (cut == 0)
                e[b] = 0.0;
            else if (cut >= n)
                e[b] = 1.0;
            else
                e[b] = 0.5 * (sorted[cut - 1] + sorted[cut]);
        }
        e[0] = 0.0;
        e[n_bins] = 1.0;
    } else {
        for (size_t b = 0; b <= n_bins; b++)
            e[b] = (double)b / (double)n_bins;
    }

    /* mean label per bin; empty bins take their midpoint */
    for (size_t i = 0; i < n; i++) {
        size_t b = calib_histogram_bin(e, n_bins, rule, p[i]);
        count[b] += 1.0;
        v[b] += y[i] ? 1.0 : 0.0;
    }
    for (size_t b = 0; b < n_bins; b++)
        v[b] = count[b] > 0.0 ? v[b] / count[b] : 0.5 * (e[b] + e[b + 1]);

    calib_free(count);
    calib_free(sorted);
    *edges = e;
    *values = v;
    return status;

nomem:
    calib_free(e);
    calib_free(v);
    calib_free(count);
    calib_free(sorted);
    return calib_failf(err, CALIB_E_NOMEM,
                       "out of memory (histogram binning)");
}
