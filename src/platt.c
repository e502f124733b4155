/*
 * platt.c - Platt scaling and beta calibration: small logistic regressions
 * fitted by Newton's method with a backtracking line search.
 *
 * Platt scaling (Platt 1999, "Probabilistic outputs for support vector
 * machines") maps a score s to p = sigmoid(a s + b), fitted by maximum
 * likelihood against the smoothed targets t+ = (N+ + 1) / (N+ + 2) for
 * positives and t- = 1 / (N- + 2) for negatives. The optimiser follows
 * Lin, Lin & Weng 2007 ("A note on Platt's probabilistic outputs for
 * support vector machines"): Newton's method on
 *   F(w) = sum_i [ log(1 + exp(u_i)) - t_i u_i ],  u_i = x_i . w,
 * evaluated in the form that cannot overflow (log(1 + exp(u)) as
 * u + log1p(exp(-u)) for u > 0), a tiny ridge sigma = 1e-12 on the
 * Hessian's diagonal, and an Armijo backtracking line search (sufficient
 * decrease 1e-4, step halved down to 1e-10). Each feature is divided by
 * its largest magnitude before the fit and the coefficients scaled back
 * afterwards, so scores of magnitude 1e5 give the same relative accuracy
 * as scores of magnitude 1. The fit stops when a full step changes every
 * scaled coefficient by at most opt->tolerance relative (floor 1), or when
 * no step decreases F any more (the rounding floor of F).
 *
 * Beta calibration (Kull, Silva Filho & Flach 2017, "Beta calibration: a
 * well-founded and easily implemented improvement on logistic calibration
 * for binary classifiers") is the same regression on the features
 * [ln p, -ln(1 - p), 1] with 0/1 targets: q = sigmoid(a ln p - b ln(1 - p)
 * + c), a, b >= 0. As in the paper, when the full fit gives a < 0 the
 * feature ln p is dropped and the fit repeated (a = 0); likewise for
 * b < 0. Should the remaining coefficient still be negative, it is set to
 * 0 and only c is fitted. p is clipped to [eps, 1 - eps], eps = 2^-52.
 * Beta calibration is unregularised: on separable data the coefficients
 * grow until max_iterations and the status says "max-iterations".
 */
#include "calibrators.h"
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define MAX_FEATURES 3

/* Lin, Lin & Weng's constants: ridge on the Hessian, smallest step, and
 * the sufficient-decrease factor of the Armijo rule. */
#define HESSIAN_RIDGE 1e-12
#define MIN_STEP 1e-10
#define ARMIJO 1e-4

#define DEFAULT_MAX_ITERATIONS 100

/* Relative size of F below which differences of F are rounding noise:
 * a few ulps of each of the n terms' contribution to the sum. */
#define DECREMENT_FLOOR (64.0 * DBL_EPSILON)

/* log(1 + exp(u)) - t u, never overflowing. */
static double point_loss(double u, double t)
{
    double soft = u > 0.0 ? u + log1p(exp(-u)) : log1p(exp(u));
    return soft - t * u;
}

/* F(w) for n rows of d scaled features. */
static double objective(const double *x, size_t n, size_t d,
                        const double *t, const double *w)
{
    double f = 0.0;
    for (size_t i = 0; i < n; i++) {
        double u = 0.0;
        for (size_t j = 0; j < d; j++)
            u += x[i * d + j] * w[j];
        f += point_loss(u, t[i]);
    }
    return f;
}

/* Gradient and Hessian of F at w. */
static void derivatives(const double *x, size_t n, size_t d,
                        const double *t, const double *w, double *g,
                        double *h)
{
    memset(g, 0, d * sizeof *g);
    memset(h, 0, d * d * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        const double *xi = x + i * d;
        double u = 0.0, e, p, pq;

        for (size_t j = 0; j < d; j++)
            u += xi[j] * w[j];
        e = exp(-fabs(u));
        p = u >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        pq = e / ((1.0 + e) * (1.0 + e));
        for (size_t j = 0; j < d; j++) {
            g[j] += (p - t[i]) * xi[j];
            for (size_t l = 0; l <= j; l++)
                h[j * d + l] += pq * xi[j] * xi[l];
        }
    }
    for (size_t j = 0; j < d; j++) {
        for (size_t l = 0; l < j; l++)
            h[l * d + j] = h[j * d + l];
        h[j * d + j] += HESSIAN_RIDGE;
    }
}

/* Solves h s = -g for symmetric positive definite h (d <= 3) by
 * Cholesky; returns -1 if h is not positive definite. */
static int newton_direction(const double *h, const double *g, size_t d,
                            double *s)
{
    double l[MAX_FEATURES * MAX_FEATURES] = {0};
    double v[MAX_FEATURES];

    for (size_t j = 0; j < d; j++) {
        for (size_t c = 0; c <= j; c++) {
            double sum = h[j * d + c];
            for (size_t m = 0; m < c; m++)
                sum -= l[j * d + m] * l[c * d + m];
            if (c == j) {
                if (!(sum > 0.0))
                    return -1;
                l[j * d + j] = sqrt(sum);
            } else {
                l[j * d + c] = sum / l[c * d + c];
            }
        }
    }
    for (size_t j = 0; j < d; j++) {
        double sum = -g[j];
        for (size_t m = 0; m < j; m++)
            sum -= l[j * d + m] * v[m];
        v[j] = sum / l[j * d + j];
    }
    for (size_t j = d; j-- > 0;) {
        double sum = v[j];
        for (size_t m = j + 1; m < d; m++)
            sum -= l[m * d + j] * s[m];
        s[j] = sum / l[j * d + j];
    }
    return 0;
}

/*
 * Minimises F over w (d coefficients, w holds the start and receives the
 * result) for raw features x (n x d, overwritten by their scaled form)
 * and targets t.
 */
static void logistic_newton(double *x, size_t n, size_t d, const double *t,
                            const calib_fit_options *opt, double *w,
                            calib_logistic_result *res)
{
    double scale[MAX_FEATURES], g[MAX_FEATURES];
    double h[MAX_FEATURES * MAX_FEATURES], s[MAX_FEATURES];
    double tol = opt->tolerance > 0.0 ? opt->tolerance : 1e-12;
    size_t max_it = opt->max_iterations > 0 ? opt->max_iterations
                                            : DEFAULT_MAX_ITERATIONS;
    double f;

    /* scale each feature to largest magnitude 1 */
    for (size_t j = 0; j < d; j++) {
        double m = 0.0;
        for (size_t i = 0; i < n; i++)
            if (fabs(x[i * d + j]) > m)
                m = fabs(x[i * d + j]);
        scale[j] = m > 0.0 ? m : 1.0;
        for (size_t i = 0; i < n; i++)
            x[i * d + j] /= scale[j];
        w[j] *= scale[j];
    }

    res->iterations = 0;
    res->converged = 0;
    f = objective(x, n, d, t, w);
    for (size_t it = 1; it <= max_it; it++) {
        double slope = 0.0, step = 1.0, trial[MAX_FEATURES], f_trial = f;
        int accepted = 0, small = 1;

        res->iterations = it;
        derivatives(x, n, d, t, w, g, h);
        if (newton_direction(h, g, d, s) != 0)
            for (size_t j = 0; j < d; j++)   /* fall back to descent */
                s[j] = -g[j];
        for (size_t j = 0; j < d; j++)
            slope += g[j] * s[j];
        if (!(slope < 0.0)) {
            res->converged = 1;     /* no descent direction left */
            break;
        }
        /* Newton decrement -slope = g' H^-1 g ~ twice the gap to the
         * optimum: once it is below the rounding of F, no line search can
         * tell steps apart any more (it would halve at random, step after
         * step); the full Newton step is then the answer, quadratic
         * convergence making its error ~|s|^2 */
        if (-slope <= DECREMENT_FLOOR * fabs(f)) {
            for (size_t j = 0; j < d; j++)
                w[j] += s[j];
            res->converged = 1;
            break;
        }
        while (step >= MIN_STEP) {
            for (size_t j = 0; j < d; j++)
                trial[j] = w[j] + step * s[j];
            f_trial = objective(x, n, d, t, trial);
            if (f_trial <= f + ARMIJO * step * slope) {
                accepted = 1;
                break;
            }
            step *= 0.5;
        }
        if (!accepted) {
            res->converged = 1;     /* F cannot decrease: rounding floor */
            break;
        }
        for (size_t j = 0; j < d; j++) {
            if (fabs(step * s[j]) > tol * fmax(1.0, fabs(trial[j])))
                small = 0;
            w[j] = trial[j];
        }
        f = f_trial;
        if (small && step == 1.0) {
            res->converged = 1;
            break;
        }
    }

    /* the final gradient, per sample, in the caller's coordinates */
    derivatives(x, n, d, t, w, g, h);
    res->gradient = 0.0;
    for (size_t j = 0; j < d; j++) {
        double gj = fabs(g[j]) / scale[j] / (double)n;
        if (gj > res->gradient)
            res->gradient = gj;
        w[j] /= scale[j];
    }
}

calib_status calib_platt_fit(const double *s, const unsigned char *y,
                             size_t n, const calib_fit_options *opt,
                             double *a, double *b,
                             calib_logistic_result *res, calib_error *err)
{
    double *x = NULL, *t = NULL, w[2];
    double n_pos = 0.0, n_neg, t_pos, t_neg;
    int overflow = 0;
    size_t bytes = calib_mul_size(n, 2 * sizeof *x, &overflow);

    if (n == 0)
        return calib_failf(err, CALIB_E_SHAPE, "Platt scaling needs rows");
    if (overflow)
        return calib_failf(err, CALIB_E_TOO_LARGE, "too many rows: %zu", n);
    x = calib_malloc(bytes);
    t = calib_malloc(n * sizeof *t);
    if (x == NULL || t == NULL) {
        calib_free(x);
        calib_free(t);
        return calib_failf(err, CALIB_E_NOMEM, "out of memory (Platt)");
    }

    for (size_t i = 0; i < n; i++)
        n_pos += y[i] ? 1.0 : 0.0;
    n_neg = (double)n - n_pos;
    t_pos = (n_pos + 1.0) / (n_pos + 2.0);
    t_neg = 1.0 / (n_neg + 2.0);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = s[i];
        x[2 * i + 1] = 1.0;
        t[i] = y[i] ? t_pos : t_neg;
    }

    /* Platt's start: slope 0, intercept at the smoothed prior */
    w[0] = 0.0;
    w[1] = log((n_pos + 1.0) / (n_neg + 1.0));
    logistic_newton(x, n, 2, t, opt, w, res);

    calib_free(x);
    calib_free(t);
    *a = w[0];
    *b = w[1];
    return CALIB_OK;
}

void calib_beta_features(double s, double *ln_p, double *neg_ln_1mp)
{
    /* the log-odds of eps and 1 - eps */
    const double s_max = log1p(-CALIB_PROB_EPS) - log(CALIB_PROB_EPS);

    if (s > s_max)
        s = s_max;
    else if (s < -s_max)
        s = -s_max;
    *ln_p = -calib_log1pexp(-s);
    *neg_ln_1mp = calib_log1pexp(s);
}

/* Fits the beta features selected by use[0..1] plus the intercept;
 * coef receives a, b (0 if unused), c. */
static void beta_subset(const double *feat, const double *t, size_t n,
                        const int use[2], const calib_fit_options *opt,
                        double *x, double coef[3],
                        calib_logistic_result *res)
{
    double w[MAX_FEATURES] = {0.0, 0.0, 0.0};
    size_t d = (size_t)use[0] + (size_t)use[1] + 1;

    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        if (use[0])
            x[i * d + j++] = feat[2 * i];
        if (use[1])
            x[i * d + j++] = feat[2 * i + 1];
        x[i * d + j] = 1.0;
    }
    logistic_newton(x, n, d, t, opt, w, res);

    coef[0] = coef[1] = 0.0;
    {
        size_t j = 0;
        if (use[0])
            coef[0] = w[j++];
        if (use[1])
            coef[1] = w[j++];
        coef[2] = w[j];
    }
}

calib_status calib_beta_fit(const double *s, const unsigned char *y,
                            size_t n, const calib_fit_options *opt,
                            double *a, double *b, double *c,
                            calib_logistic_result *res, calib_error *err)
{
    double *feat = NULL, *x = NULL, *t = NULL, coef[3];
    int overflow = 0, use[2] = {1, 1};
    size_t bytes = calib_mul_size(n, 3 * sizeof *x, &overflow);
    calib_logistic_result r;
    size_t iterations = 0;

    if (n == 0)
        return calib_failf(err, CALIB_E_SHAPE, "beta calibration needs rows");
    if (overflow)
        return calib_failf(err, CALIB_E_TOO_LARGE, "too many rows: %zu", n);
    feat = calib_malloc(n * 2 * sizeof *feat);
    x = calib_malloc(bytes);
    t = calib_malloc(n * sizeof *t);
    if (feat == NULL || x == NULL || t == NULL) {
        calib_free(feat);
        calib_free(x);
        calib_free(t);
        return calib_failf(err, CALIB_E_NOMEM, "out of memory (beta)");
    }
    for (size_t i = 0; i < n; i++) {
        calib_beta_features(s[i], &feat[2 * i], &feat[2 * i + 1]);
        t[i] = y[i] ? 1.0 : 0.0;
    }

    /* full fit, then drop a feature whose coefficient is negative */
    beta_subset(feat, t, n, use, opt, x, coef, &r);
    iterations += r.iterations;
    if (coef[0] < 0.0 || coef[1] < 0.0) {
        if (coef[0] < 0.0)
            use[0] = 0;
        else
            use[1] = 0;
        beta_subset(feat, t, n, use, opt, x, coef, &r);
        iterations += r.iterations;
        if (coef[0] < 0.0 || coef[1] < 0.0) {
            use[0] = use[1] = 0;
            beta_subset(feat, t, n, use, opt, x, coef, &r);
            iterations += r.iterations;
        }
    }
    calib_free(feat);
    calib_free(x);
    calib_free(t);

    r.iterations = iterations;
    *res = r;
    *a = coef[0];
    *b = coef[1];
    *c = coef[2];
    return CALIB_OK;
}
