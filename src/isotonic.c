/*
 * isotonic.c - isotonic regression by pool adjacent violators.
 *
 * Fits the non-decreasing step function m minimising
 * sum_i (y_i - m(x_i))^2 (Zadrozny & Elkan 2002, "Transforming classifier
 * scores into accurate multiclass probability estimates"; the algorithm
 * is the pool-adjacent-violators of Ayer et al. 1955). The pairs are
 * sorted by x (O(N log N)), samples with equal x are pooled first into one
 * point weighted by their count with their mean label (as scikit-learn
 * does), then one left-to-right pass merges adjacent blocks while the
 * left block's mean is >= the right one's (O(N) amortised). Block means
 * are compared by cross-multiplying the integer sums, which is exact below
 * 2^26 samples per block.
 *
 * The fitted function is kept as knots: the first and the last distinct x
 * of each block with the block's mean. Prediction interpolates linearly
 * between knots and clips outside them, which gives the same function as
 * scikit-learn's IsotonicRegression(out_of_bounds="clip") and computes
 * each value as np.interp does: y_j + slope * (x - x_j).
 */
#include "calibrators.h"
#include "internal.h"

#include <stdlib.h>

typedef struct pair {
    double x;
    double y;
} pair;

typedef struct block {
    double sum_y;     /* sum of labels */
    double weight;    /* number of samples */
    size_t first;     /* first and last distinct x of the block */
    size_t last;
} block;

static int compare_pairs(const void *a, const void *b)
{
    const pair *p = a, *q = b;
    if (p->x < q->x)
        return -1;
    if (p->x > q->x)
        return 1;
    return (p->y > q->y) - (p->y < q->y);
}

calib_status calib_isotonic_fit(const double *x, const unsigned char *y,
                                size_t n, double **knot_x, double **knot_y,
                                size_t *n_knots, calib_error *err)
{
    pair *pairs = NULL;
    block *blocks = NULL;
    double *ux = NULL, *kx = NULL, *ky = NULL;
    size_t n_unique = 0, top = 0, count = 0;
    calib_status status = CALIB_OK;

    if (n == 0)
        return calib_failf(err, CALIB_E_SHAPE,
                           "isotonic regression needs rows");
    pairs = calib_calloc(n, sizeof *pairs);
    blocks = calib_calloc(n, sizeof *blocks);
    ux = calib_calloc(n, sizeof *ux);
    if (pairs == NULL || blocks == NULL || ux == NULL) {
        status = calib_failf(err, CALIB_E_NOMEM,
                             "out of memory (isotonic regression)");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        pairs[i].x = x[i];
        pairs[i].y = y[i] ? 1.0 : 0.0;
    }
    qsort(pairs, n, sizeof *pairs, compare_pairs);

    /* pool ties, then merge violators as each pooled point arrives */
    for (size_t i = 0; i < n;) {
        block cur = {0.0, 0.0, n_unique, n_unique};
        size_t j = i;

        while (j < n && pairs[j].x == pairs[i].x) {
            cur.sum_y += pairs[j].y;
            cur.weight += 1.0;
            j++;
        }
        ux[n_unique++] = pairs[i].x;
        i = j;
        while (top > 0 && blocks[top - 1].sum_y * cur.weight >=
                              cur.sum_y * blocks[top - 1].weight) {
            block *prev = &blocks[--top];
            cur.sum_y += prev->sum_y;
            cur.weight += prev->weight;
            cur.first = prev->first;
        }
        blocks[top++] = cur;
    }

    /* the ends of each block become knots */
    kx = calib_calloc(2 * top, sizeof *kx);
    ky = calib_calloc(2 * top, sizeof *ky);
    if (kx == NULL || ky == NULL) {
        calib_free(kx);
        calib_free(ky);
        status = calib_failf(err, CALIB_E_NOMEM,
                             "out of memory (isotonic regression)");
        goto out;
    }
    for (size_t b = 0; b < top; b++) {
        double mean = blocks[b].sum_y / blocks[b].weight;
        kx[count] = ux[blocks[b].first];
        ky[count++] = mean;
        if (blocks[b].last != blocks[b].first) {
            kx[count] = ux[blocks[b].last];
            ky[count++] = mean;
        }
    }
    *knot_x = kx;
    *knot_y = ky;
    *n_knots = count;

out:
    calib_free(pairs);
    calib_free(blocks);
    calib_free(ux);
    return status;
}

double calib_isotonic_predict(const double *knot_x, const double *knot_y,
                              size_t n_knots, double x)
{
    size_t lo = 0, hi = n_knots - 1;

    if (x <= knot_x[0])
        return knot_y[0];
    if (x >= knot_x[hi])
        return knot_y[hi];

    /* knot_x[lo] <= x < knot_x[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (knot_x[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    if (x == knot_x[lo])
        return knot_y[lo];
    return knot_y[lo] + (knot_y[hi] - knot_y[lo]) /
                            (knot_x[hi] - knot_x[lo]) * (x - knot_x[lo]);
}
