/*
 * binning.c - which of M equal-width bins on [0, 1] a probability lies in.
 *
 * The edges are the correctly rounded doubles k / M, computed as
 * (double)k / (double)M, and a value is placed by comparing it with them,
 * never by truncating p * M alone. Truncation ignores the closed side of a
 * bin (0.3 * 10 = 3 exactly, yet 0.3 belongs to (0.2, 0.3]) and p * M is
 * itself rounded (with M = 22, (15 / 22) * 22 = 14.999999999999998, one
 * bin too low for [15/22, 16/22)). Two rules:
 *   CALIB_BIN_RIGHT: (lo, hi], the first bin [0, 1/M] closed; the
 *     convention of the code published with Guo et al. 2017, "On
 *     Calibration of Modern Neural Networks", and most papers since (and
 *     of scikit-learn 1.2's calibration_curve, a searchsorted on the
 *     inner edges);
 *   CALIB_BIN_LEFT:  [lo, hi), the last bin [1 - 1/M, 1] closed; the rule
 *     of numpy.histogram.
 * Values below 0 (or NaN) go to the first bin and above 1 to the last; the
 * metric code never passes such values, it rejects them first.
 */
#include "binning.h"

/* The k-th edge, correctly rounded; 0 and 1 exactly at the ends. */
static double edge_at(size_t k, size_t n_bins)
{
    return (double)k / (double)n_bins;
}

size_t calib_bin_index(double p, size_t n_bins, calib_bin_rule rule)
{
    size_t b;

    if (n_bins <= 1 || !(p > 0.0))
        return 0;
    if (p >= 1.0)
        return n_bins - 1;

    /* estimate, then walk to the bin the edges say */
    b = (size_t)(p * (double)n_bins);
    if (b >= n_bins)
        b = n_bins - 1;
    if (rule == CALIB_BIN_RIGHT) {
        while (b > 0 && p <= edge_at(b, n_bins))
            b--;
        while (b + 1 < n_bins && p > edge_at(b + 1, n_bins))
            b++;
    } else {
        while (b > 0 && p < edge_at(b, n_bins))
            b--;
        while (b + 1 < n_bins && p >= edge_at(b + 1, n_bins))
            b++;
    }
    return b;
}

calib_status calib_edges_init(calib_edges *e, size_t n_bins,
                              calib_bin_rule rule, calib_error *err)
{
    if (n_bins == 0 || n_bins == SIZE_MAX)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "the number of bins must be at least 1");
    e->edge = calib_calloc(n_bins + 1, sizeof *e->edge);
    if (e->edge == NULL)
        return calib_failf(err, CALIB_E_NOMEM, "no memory for %zu bin edges",
                           n_bins);
    e->n_bins = n_bins;
    e->scale = (double)n_bins;
    e->rule = rule;

    /* sentinels that no p in [0, 1] crosses: see calib_edges_find */
    e->edge[0] = -1.0;
    for (size_t k = 1; k < n_bins; k++)
        e->edge[k] = edge_at(k, n_bins);
    e->edge[n_bins] = 2.0;
    return CALIB_OK;
}

void calib_edges_free(calib_edges *e)
{
    if (e == NULL)
        return;
    calib_free(e->edge);
    e->edge = NULL;
    e->n_bins = 0;
}
