/*
 * mmce.c - the maximum mean calibration error and its gradient, exactly,
 * in O(N log N).
 *
 * Kumar, Sarawagi & Jain 2018, "Trainable calibration measures for neural
 * networks from kernel mean embeddings" (ICML): with r_i the confidence of
 * the top class, c_i = 1 if that class is the label (else 0), a_i = c_i -
 * r_i and the Laplacian kernel k(r, r') = exp(-|r - r'| / w),
 *
 *     MMCE^2 = sum_{i,j} a_i a_j k(r_i, r_j) / N^2,   MMCE = sqrt(MMCE^2).
 *
 * We return MMCE (the unweighted MMCE_m of the paper, the quantity its
 * training objective adds to the NLL), not its square. The kernel is
 * positive definite, so MMCE^2 >= 0; a rounding below zero is read as 0.
 *
 * Instead of the N x N kernel matrix we sort by r and group equal values.
 * For groups g with value r_g and A_g = sum of a_i in the group,
 *     B_g = sum_{h < g} A_h exp(-(r_g - r_h) / w)   (below)
 *     U_g = sum_{h > g} A_h exp(-(r_h - r_g) / w)   (above)
 * follow from B_g = e^{-(r_g - r_{g-1})/w} (B_{g-1} + A_{g-1}) and the
 * mirror recursion for U. Every factor is exp of a value <= 0, so nothing
 * overflows whatever the width (the factorised exp(r/w) form would
 * overflow for small w). Then, with S = N^2 MMCE^2,
 *     S = sum_g A_g (A_g + B_g + U_g),
 *     dS/dr_i = -2 (A_g + B_g + U_g) - (2 / w) a_i (B_g - U_g),
 * the second term from d|r_i - r_j|/dr_i = sign(r_i - r_j), taken as 0
 * between equal values (the subgradient PyTorch's abs also uses). The
 * derivative of MMCE is dS/dr_i / (2 N^2 MMCE), set to 0 when MMCE is 0.
 */
#include "losses.h"

#include <math.h>
#include <stdlib.h>

typedef struct ranked {
    double r;
    size_t index;
} ranked;

/* Orders by r, then by original index, so the order is total. */
static int compare_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->r < b->r)
        return -1;
    if (a->r > b->r)
        return 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Neumaier's compensated addition: s + x with the lost low part in *comp. */
static void add_compensated(double *s, double *comp, double x)
{
    double t = *s + x;
    if (fabs(*s) >= fabs(x))
        *comp += (*s - t) + x;
    else
        *comp += (x - t) + *s;
    *s = t;
}

calib_status calib_mmce_value(const double *r, const double *c, size_t n,
                              double width, double *value, double *dr,
                              calib_error *err)
{
    calib_status st = CALIB_OK;
    ranked *order = NULL;
    double *group = NULL; /* per group: value r, A, B (below), U (above) */
    size_t n_groups = 0;
    double s = 0.0, comp = 0.0, mmce;
    int overflow = 0;

    if (n == 0 || !(width > 0.0) || !isfinite(width))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "mmce: needs n > 0 and a positive finite width");
    order = calib_malloc(calib_mul_size(n, sizeof *order, &overflow));
    group = calib_malloc(calib_mul_size(n, 4 * sizeof *group, &overflow));
    if (overflow || order == NULL || group == NULL) {
        st = calib_failf(err, CALIB_E_NOMEM, "mmce: out of memory");
        goto done;
    }

    /* sort by confidence and sum a within groups of equal confidence */
    for (size_t i = 0; i < n; i++) {
        order[i].r = r[i];
        order[i].index = i;
    }
    qsort(order, n, sizeof *order, compare_ranked);
    for (size_t i = 0; i < n; i++) {
        size_t j = order[i].index;
        if (i == 0 || order[i].r != order[i - 1].r) {
            double *g = group + 4 * n_groups++;
            g[0] = order[i].r;
            g[1] = g[2] = g[3] = 0.0;
        }
        group[4 * (n_groups - 1) + 1] += c[j] - r[j];
    }

    /* kernel-weighted sums of the groups below and above each group */
    for (size_t g = 1; g < n_groups; g++) {
        const double *lower = group + 4 * (g - 1);
        double f = exp(-(group[4 * g] - lower[0]) / width);
        group[4 * g + 2] = f * (lower[2] + lower[1]);
    }
    for (size_t g = n_groups - 1; g-- > 0;) {
        const double *upper = group + 4 * (g + 1);
        double f = exp(-(upper[0] - group[4 * g]) / width);
        group[4 * g + 3] = f * (upper[3] + upper[1]);
    }

    /* S, then per sample dS/dr */
    for (size_t g = 0; g < n_groups; g++) {
        const double *a = group + 4 * g;
        add_compensated(&s, &comp, a[1] * (a[1] + a[2] + a[3]));
    }
    s += comp;
    mmce = s > 0.0 ? sqrt(s) / (double)n : 0.0;
    if (dr != NULL) {
        double scale = mmce > 0.0
            ? 1.0 / (2.0 * mmce * (double)n * (double)n) : 0.0;
        size_t g = 0;
        for (size_t i = 0; i < n; i++) {
            size_t j = order[i].index;
            const double *a;
            if (i > 0 && order[i].r != order[i - 1].r)
                g++;
            a = group + 4 * g;
            dr[j] = scale * (-2.0 * (a[1] + a[2] + a[3]) -
                             2.0 / width * (c[j] - r[j]) * (a[2] - a[3]));
        }
    }
    *value = mmce;

done:
    calib_free(order);
    calib_free(group);
    return st;
}
