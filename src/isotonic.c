/*
 * isotonic.c - isotonic regression by pool adjacent violators.
 *
 * Fits the non-decreasing step function m minimising
 * sum_i (y_i - m(x_i))^2 (Zadrozny & Elkan 2002, "Transforming classifier
 * scores into accurate multiclass probability estimates"; the algorithm
 * is the pool-adjacent-violators of Ayer et al. 1955). Samples with equal
 * x are pooled first into one point weighted by their count with their
 * mean label (as scikit-learn does), then one left-to-right pass merges
 * adjacent blocks while the left block's mean is >= the right one's
 * (O(N) amortised, a stack of blocks).
 *
 * Sorting is the cost. The labels are 0/1, so the positives' x and the
 * negatives' x are sorted separately, keys only, by an LSD radix sort
 * (Knuth, TAOCP vol. 3, 5.2.5) on the IEEE-754 bits mapped to an unsigned
 * integer of the same order (sign bit flipped for x >= 0, all bits for
 * x < 0; -0 is first made +0 so that it ties with 0). Passes whose digit
 * is the same for every key are skipped (the exponent bits of values in
 * (0, 1) often are). One merge of the two sorted runs then yields each
 * distinct x with its counts of positives and of samples, in order, and
 * feeds the stack directly. Block means are compared by cross-multiplying
 * those integer counts: exact in 64-bit integers up to 2^32 samples (above,
 * in double, exact below 2^26 samples per block). Time O(N) for the
 * sort's 8 passes at most, memory 16 bytes per sample plus the stack.
 *
 * The fitted function is kept as knots: the first and the last distinct x
 * of each block with the block's mean. Prediction interpolates linearly
 * between knots and clips outside them, which gives the same function as
 * scikit-learn's IsotonicRegression(out_of_bounds="clip") and computes
 * each value as np.interp does: y_j + slope * (x - x_j). NaN x are not
 * expected (calib_fit rejects them); they would sort after +inf or before
 * -inf by their sign.
 */
#include "calibrators.h"
#include "internal.h"

#include <stdint.h>
#include <string.h>

#define SIGN_BIT (UINT64_C(1) << 63)

typedef struct block {
    uint64_t positives;   /* samples with label 1 */
    uint64_t count;       /* samples */
    double first_x;       /* first and last distinct x of the block */
    double last_x;
} block;

/* The bits of x as an unsigned integer ordered as the doubles are. */
static uint64_t order_key(double x)
{
    uint64_t u;

    x += 0.0;   /* -0 becomes +0: they are equal as doubles */
    memcpy(&u, &x, sizeof u);
    return (u & SIGN_BIT) ? ~u : u | SIGN_BIT;
}

/* The inverse of order_key. */
static double key_value(uint64_t u)
{
    double x;

    u = (u & SIGN_BIT) ? u & ~SIGN_BIT : ~u;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Whether block l's mean is >= block r's: l.pos / l.count >=
 * r.pos / r.count, cross-multiplied. */
static int violates(const block *l, const block *r, int exact)
{
    if (exact)
        return l->positives * r->count >= r->positives * l->count;
    return (double)l->positives * (double)r->count >=
           (double)r->positives * (double)l->count;
}

calib_status calib_isotonic_fit(const double *x, const unsigned char *y,
                                size_t n, double **knot_x, double **knot_y,
                                size_t *n_knots, calib_error *err)
{
    uint64_t *keys = NULL, *tmp = NULL;
    const uint64_t *pos, *neg;
    block *blocks = NULL;
    double *kx = NULL, *ky = NULL;
    size_t n_pos = 0, n_neg, i = 0, j = 0, top = 0, count = 0;
    int exact = n <= UINT32_MAX;
    calib_status status = CALIB_OK;

    if (n == 0)
        return calib_failf(err, CALIB_E_SHAPE,
                           "isotonic regression needs rows");
    keys = calib_malloc(n * sizeof *keys);
    tmp = calib_malloc(n * sizeof *tmp);
    blocks = calib_malloc(n * sizeof *blocks);
    if (keys == NULL || tmp == NULL || blocks == NULL) {
        status = calib_failf(err, CALIB_E_NOMEM,
                             "out of memory (isotonic regression)");
        goto out;
    }

    /* positives' keys at the front, negatives' at the back */
    n_neg = n;
    for (size_t k = 0; k < n; k++) {
        if (y[k])
            keys[n_pos++] = order_key(x[k]);
        else
            keys[--n_neg] = order_key(x[k]);
    }
    n_neg = n - n_pos;
    pos = calib_radix_sort(keys, tmp, n_pos);
    neg = calib_radix_sort(keys + n_pos, tmp + n_pos, n_neg);

    /* merge the two runs: each distinct x with its counts, pooled into
     * the stack of blocks as it arrives */
    while (i < n_pos || j < n_neg) {
        uint64_t key;
        block cur;

        if (j == n_neg || (i < n_pos && pos[i] <= neg[j]))
            key = pos[i];
        else
            key = neg[j];
        cur.positives = 0;
        cur.count = 0;
        while (i < n_pos && pos[i] == key) {
            cur.positives++;
            i++;
        }
        cur.count = cur.positives;
        while (j < n_neg && neg[j] == key) {
            cur.count++;
            j++;
        }
        cur.first_x = cur.last_x = key_value(key);
        while (top > 0 && violates(&blocks[top - 1], &cur, exact)) {
            const block *prev = &blocks[--top];
            cur.positives += prev->positives;
            cur.count += prev->count;
            cur.first_x = prev->first_x;
        }
        blocks[top++] = cur;
    }

    /* the ends of each block become knots */
    kx = calib_malloc(2 * top * sizeof *kx);
    ky = calib_malloc(2 * top * sizeof *ky);
    if (kx == NULL || ky == NULL) {
        calib_free(kx);
        calib_free(ky);
        status = calib_failf(err, CALIB_E_NOMEM,
                             "out of memory (isotonic regression)");
        goto out;
    }
    for (size_t b = 0; b < top; b++) {
        double mean = (double)blocks[b].positives / (double)blocks[b].count;
        kx[count] = blocks[b].first_x;
        ky[count++] = mean;
        if (blocks[b].last_x != blocks[b].first_x) {
            kx[count] = blocks[b].last_x;
            ky[count++] = mean;
        }
    }
    *knot_x = kx;
    *knot_y = ky;
    *n_knots = count;

out:
    calib_free(keys);
    calib_free(tmp);
    calib_free(blocks);
    return status;
}

double calib_isotonic_predict(const double *knot_x, const double *knot_y,
                              size_t n_knots, double x)
{
    size_t lo = 0, len = n_knots, hi;

    if (x <= knot_x[0])
        return knot_y[0];
    if (x >= knot_x[n_knots - 1])
        return knot_y[n_knots - 1];

    /* the last knot_x[lo] <= x, halving without a branch to mispredict:
     * knot_x[0] <= x < knot_x[n_knots - 1] holds here */
    while (len > 1) {
        size_t half = len / 2;
        lo = knot_x[lo + half] <= x ? lo + half : lo;
        len -= half;
    }
    hi = lo + 1;
    if (x == knot_x[lo])
        return knot_y[lo];
    return knot_y[lo] + (knot_y[hi] - knot_y[lo]) /
                            (knot_x[hi] - knot_x[lo]) * (x - knot_x[lo]);
}
