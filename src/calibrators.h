/*
 * calibrators.h - the fitting and mapping routines behind calib_fit and
 * calib_model_apply (internal): temperature scaling, Platt and beta
 * calibration, isotonic regression and histogram binning.
 *
 * The binary maps work on one column at a time: Platt and beta on the
 * log-odds s = log(p / (1 - p)) of the positive class, isotonic regression
 * and histogram binning on its probability p. model.c turns K-class input
 * into those columns (one-vs-rest) and renormalises the rows afterwards.
 */
#ifndef CALIB_CALIBRATORS_H
#define CALIB_CALIBRATORS_H

#include "calib.h"

#include <float.h>

/* Probabilities are clipped to [eps, 1 - eps] before their log-odds are
 * taken (Platt and beta on probability input; beta always): the same
 * epsilon as the reference implementation of beta calibration (Kull et
 * al. 2017), the float64 machine epsilon. |log-odds| <= 36.04. */
#define CALIB_PROB_EPS DBL_EPSILON

/* Probabilities below this are treated as this when their logarithm is
 * needed as a logit (temperature, vector and matrix scaling, Dirichlet on
 * probability input): log(DBL_MIN) = -708.4 keeps exp() finite and every
 * product with a positive factor finite. */
#define CALIB_PROB_FLOOR DBL_MIN

/* Bounds of the temperature: the fit ends at one of them with status
 * "temperature-to-zero" or "temperature-to-infinity" when the optimum
 * lies beyond (documented in docs/calibrators.md). */
#define CALIB_TEMPERATURE_MIN 1e-4
#define CALIB_TEMPERATURE_MAX 1e4

/* ---- temperature.c ---- */

/* Mean NLL of softmax(beta * z) and, when not NULL, its first and second
 * derivatives in beta; z is n x k. Deterministic for any thread count. */
void calib_temperature_nll(const double *z, size_t n, size_t k,
                           const int64_t *labels, double beta,
                           unsigned threads, double *nll, double *d1,
                           double *d2);

/* Fits T = 1 / beta minimising the mean NLL of softmax(z / T). Fills
 * *temperature and info (all fields); z is n x k logits, labels checked. */
calib_status calib_temperature_fit(const double *z, size_t n, size_t k,
                                   const int64_t *labels,
                                   const calib_fit_options *opt,
                                   double *temperature, calib_fit_info *info,
                                   calib_error *err);

/* The same on logits as they are stored, float32 or float64 (no copy):
 * what calib_fit uses for logit input with K >= 2. */
calib_status calib_temperature_fit_logits(const void *z, calib_dtype dtype,
                                          size_t n, size_t k,
                                          const int64_t *labels,
                                          const calib_fit_options *opt,
                                          double *temperature,
                                          calib_fit_info *info,
                                          calib_error *err);

/* ---- platt.c ---- */

/* Result of a small logistic-regression fit. */
typedef struct calib_logistic_result {
    size_t iterations;
    double gradient;    /* largest |d mean loss / d coefficient| */
    int converged;
} calib_logistic_result;

/*
 * Platt scaling: p = sigmoid(a * s + b) fitted to Platt's smoothed targets
 * (N+ + 1) / (N+ + 2) for positives and 1 / (N- + 2) for negatives.
 * s has n scores, y n labels in {0, 1}.
 */
calib_status calib_platt_fit(const double *s, const unsigned char *y,
                             size_t n, const calib_fit_options *opt,
                             double *a, double *b,
                             calib_logistic_result *res, calib_error *err);

/* The two features of beta calibration for log-odds s: ln p and
 * -ln(1 - p), with s clipped to the log-odds of [eps, 1 - eps]. */
void calib_beta_features(double s, double *ln_p, double *neg_ln_1mp);

/*
 * Beta calibration: q = sigmoid(a ln p - b ln(1 - p) + c) by maximum
 * likelihood, a, b >= 0 as in Kull et al. 2017: a feature whose
 * coefficient comes out negative is dropped and the fit repeated.
 */
calib_status calib_beta_fit(const double *s, const unsigned char *y,
                            size_t n, const calib_fit_options *opt,
                            double *a, double *b, double *c,
                            calib_logistic_result *res, calib_error *err);

/* ---- isotonic.c ---- */

/*
 * Isotonic regression of 0/1 labels y on x (n values) by pool adjacent
 * violators; ties pooled first. On success *knot_x and *knot_y (released
 * with calib_free) hold *n_knots points, x strictly increasing, y
 * non-decreasing: the ends of each fitted block.
 */
calib_status calib_isotonic_fit(const double *x, const unsigned char *y,
                                size_t n, double **knot_x, double **knot_y,
                                size_t *n_knots, calib_error *err);

/* Linear interpolation between knots, clipped outside them (np.interp). */
double calib_isotonic_predict(const double *knot_x, const double *knot_y,
                              size_t n_knots, double x);

/* ---- histogram.c ---- */

/*
 * Histogram binning: n_bins bins on [0, 1], equal width or equal mass
 * (edges between the sorted values of p), each mapped to the mean label
 * of its samples; an empty bin maps to its midpoint. *edges (n_bins + 1)
 * and *values (n_bins) are released with calib_free.
 */
calib_status calib_histogram_fit(const double *p, const unsigned char *y,
                                 size_t n, size_t n_bins,
                                 calib_bin_scheme scheme,
                                 calib_bin_rule rule, double **edges,
                                 double **values, calib_error *err);

/* The bin of p among edges[0..n_bins] under the rule. */
size_t calib_histogram_bin(const double *edges, size_t n_bins,
                           calib_bin_rule rule, double p);

#endif /* CALIB_CALIBRATORS_H */
