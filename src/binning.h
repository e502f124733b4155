/*
 * binning.h - equal-width bin lookup for the metric kernels; not public.
 *
 * A table of the M + 1 edges k / M (correctly rounded doubles) with
 * sentinels at both ends, so that the bin of p is found with one
 * multiplication for an estimate and at most one step down or up after
 * comparing p with the true edges. calib_bin_index (binning.c) is the
 * table-free public form of the same rule; tests/test_binning.c checks
 * that both agree with a search over every edge.
 */
#ifndef CALIB_BINNING_H
#define CALIB_BINNING_H

#include "internal.h"

typedef struct calib_edges {
    size_t n_bins;
    double scale;           /* (double)n_bins, for the estimate */
    calib_bin_rule rule;
    double *edge;           /* n_bins + 1 entries; [0] = -1, [M] = 2 */
} calib_edges;

/* Fills e with the edges of n_bins >= 1 equal-width bins. */
calib_status calib_edges_init(calib_edges *e, size_t n_bins,
                              calib_bin_rule rule, calib_error *err);
void calib_edges_free(calib_edges *e);

/*
 * The bin of p, for p in [0, 1] (anything else gives a bin in range but
 * means nothing). The estimate floor(p * M) is off by at most one near an
 * edge, which the two comparisons correct; the sentinels -1 and 2 make
 * them fail at the ends without a branch on the bin number.
 */
static inline size_t calib_edges_find(const calib_edges *e, double p)
{
    size_t m = e->n_bins;
    size_t b = (size_t)(p * e->scale);

    b = b < m ? b : m - 1;
    if (e->rule == CALIB_BIN_RIGHT) {
        b -= (size_t)(p <= e->edge[b]);
        b += (size_t)(p > e->edge[b + 1]);
    } else {
        b -= (size_t)(p < e->edge[b]);
        b += (size_t)(p >= e->edge[b + 1]);
    }
    return b;
}

#endif /* CALIB_BINNING_H */
