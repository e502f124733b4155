/*
 * soft_ece.c - the soft-binned expected calibration error and its
 * gradient with respect to the confidences.
 *
 * Karandikar et al. 2021, "Soft calibration objectives for neural
 * networks" (NeurIPS), Eq. 11 with p = 2: M bins with centres
 * xi_b = (b + 1/2) / M; sample i belongs to bin b with weight
 *     u_b(r_i) = softmax_b( -(r_i - xi_b)^2 / T ),
 * r_i the top-class confidence, c_i its correctness. Soft counts
 * n_b = sum_i u_b(r_i), soft accuracy A_b = sum_i u_b c_i / n_b, soft
 * confidence C_b = sum_i u_b r_i / n_b, and
 *     SB-ECE = ( sum_b (n_b / N) (A_b - C_b)^2 )^(1/2).
 * We return that square root (not its square), as Eq. 11 defines it.
 * With D_b = sum_i u_b(r_i) (c_i - r_i), d_b = D_b / n_b and E = SB-ECE^2
 * = sum_b D_b^2 / (N n_b),
 *     dE/dr_i = (1/N) sum_b [ 2 d_b (u_b' (c_i - r_i) - u_b) - d_b^2 u_b' ],
 *     u_b' = u_b (s_b' - sum_b' u_b' s_b'),  s_b' = -2 (r_i - xi_b) / T,
 * and d SB-ECE / dr_i = dE/dr_i / (2 SB-ECE), 0 when SB-ECE is 0. A bin
 * whose soft count underflows to 0 contributes 0 (|D_b| <= n_b, so
 * D_b^2 / n_b -> 0). The bin weights use the max-subtracted softmax, so
 * any temperature > 0 is safe.
 */
#include "losses.h"

#include <math.h>

/* Soft memberships u[b] of confidence r and the slopes ds[b] of their
 * exponents. */
static void memberships(double r, size_t m, double t, double *u, double *ds)
{
    double top = -HUGE_VAL, sum = 0.0;

    for (size_t b = 0; b < m; b++) {
        double centre = ((double)b + 0.5) / (double)m, d = r - centre;
        u[b] = -d * d / t;
        ds[b] = -2.0 * d / t;
        if (u[b] > top)
            top = u[b];
    }
    for (size_t b = 0; b < m; b++) {
        u[b] = exp(u[b] - top);
        sum += u[b];
    }
    for (size_t b = 0; b < m; b++)
        u[b] /= sum;
}

calib_status calib_soft_ece_value(const double *r, const double *c,
                                  size_t n, size_t n_bins, double t,
                                  double *value, double *dr,
                                  calib_error *err)
{
    double *work, *u, *ds, *count, *gap, e = 0.0, ece;
    int overflow = 0;

    if (n == 0 || n_bins == 0 || !(t > 0.0) || !isfinite(t))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "soft-ece: needs n > 0, bins > 0 and a positive "
                           "finite temperature");
    work = calib_calloc(calib_mul_size(n_bins, 4, &overflow),
                        sizeof *work);
    if (overflow || work == NULL)
        return calib_failf(err, CALIB_E_NOMEM, "soft-ece: out of memory");
    u = work;
    ds = work + n_bins;
    count = work + 2 * n_bins;
    gap = work + 3 * n_bins;

    /* soft counts and soft sums of c - r per bin */
    for (size_t i = 0; i < n; i++) {
        memberships(r[i], n_bins, t, u, ds);
        for (size_t b = 0; b < n_bins; b++) {
            count[b] += u[b];
            gap[b] += u[b] * (c[i] - r[i]);
        }
    }

    /* gap becomes d_b = A_b - C_b; E = sum_b n_b d_b^2 / N */
    for (size_t b = 0; b < n_bins; b++) {
        gap[b] = count[b] > 0.0 ? gap[b] / count[b] : 0.0;
        e += count[b] * gap[b] * gap[b];
    }
    e /= (double)n;
    ece = sqrt(e);

    if (dr != NULL) {
        double scale = ece > 0.0 ? 1.0 / (2.0 * ece * (double)n) : 0.0;
        for (size_t i = 0; i < n; i++) {
            double mean_slope = 0.0, de = 0.0;
            memberships(r[i], n_bins, t, u, ds);
            for (size_t b = 0; b < n_bins; b++)
                mean_slope += u[b] * ds[b];
            for (size_t b = 0; b < n_bins; b++) {
                double du = u[b] * (ds[b] - mean_slope);
                de += 2.0 * gap[b] * (du * (c[i] - r[i]) - u[b]) -
                      gap[b] * gap[b] * du;
            }
            dr[i] = scale * de;
        }
    }
    *value = ece;
    calib_free(work);
    return CALIB_OK;
}
