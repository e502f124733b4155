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
 * Platt's two coefficients have a path of their own, for speed on many
 * scores: one pass per Newton step computes the gradient and the Hessian
 * together, with calib_vexp over blocks of 256 scores and no logarithm
 * (the labels enter only through the sums of the targets, fixed before
 * the first step); a full step is accepted when F's slope along it is
 * still <= 0 at its end (F is convex, so F decreased), and F itself is
 * evaluated only when a step overshoots (Armijo as above). The scores
 * are scaled by a power of two (exact) instead of their largest
 * magnitude. With 65536 scores or more, the start is Platt's refined by
 * Newton on every 64th score, which leaves two or three full steps to the
 * rounding floor; 10^6 scores take about six passes in all. The sums have
 * a fixed order (8 lanes, then in sequence): the same bits on every CPU.
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

/* ------------------------------------------------------------------------
 * Platt scaling: two coefficients, a pass per Newton step
 * ------------------------------------------------------------------------ */

/* Scores per block of the derivative pass: the block's exps are taken by
 * calib_vexp at once, and fixed trip counts let gcc -O2 vectorise. */
#define PLATT_CHUNK 256
/* Independent partial sums per quantity: the lanes of the vector loop,
 * added in a fixed order, so the bits do not depend on the CPU. */
#define PLATT_LANES 8
/* The start is fitted on every PLATT_STRIDE-th score when there are at
 * least PLATT_SUBSAMPLE_MIN of them: Newton on 1/64 of the data lands
 * within about 1% of the full optimum, from where two or three full
 * steps reach the rounding floor (quadratic convergence). */
#define PLATT_STRIDE 64
#define PLATT_SUBSAMPLE_MIN 65536
/* The start's tolerance: no need to go beyond the subsample's own
 * statistical error. */
#define PLATT_START_TOLERANCE 1e-8

/* Platt's problem: scores s (used as x = s * inv_scale, inv_scale a power
 * of two that brings the largest magnitude into [0.5, 1): exact, and
 * scores of magnitude 1e5 behave as those of magnitude 1), labels y,
 * smoothed targets, and the target sums sum t_i and sum t_i x_i, which do
 * not change from one step to the next. */
typedef struct platt_data {
    const double *s;
    const unsigned char *y;
    size_t n;
    double inv_scale;
    double t_pos;
    double t_neg;
    double sum_t;
    double sum_tx;
} platt_data;

/* One pass over d->s and d->y: the largest |s|, and the number of
 * positives and the sums of s over positives and negatives. Branch-free:
 * the labels are unpredictable. */
static void platt_stats(const platt_data *d, double *largest, double *n_pos,
                        double *sum_pos, double *sum_neg)
{
    double m[PLATT_LANES] = {0.0}, c[PLATT_LANES] = {0.0};
    double sp[PLATT_LANES] = {0.0}, sn[PLATT_LANES] = {0.0};
    size_t i = 0;

    for (; i + PLATT_LANES <= d->n; i += PLATT_LANES)
        for (size_t l = 0; l < PLATT_LANES; l++) {
            double s = d->s[i + l], pos = (double)(d->y[i + l] != 0);
            m[l] = fmax(m[l], fabs(s));
            c[l] += pos;
            sp[l] += pos * s;
            sn[l] += (1.0 - pos) * s;
        }
    for (; i < d->n; i++) {
        double s = d->s[i], pos = (double)(d->y[i] != 0);
        m[0] = fmax(m[0], fabs(s));
        c[0] += pos;
        sp[0] += pos * s;
        sn[0] += (1.0 - pos) * s;
    }
    *largest = *n_pos = *sum_pos = *sum_neg = 0.0;
    for (size_t l = 0; l < PLATT_LANES; l++) {
        *largest = fmax(*largest, m[l]);
        *n_pos += c[l];
        *sum_pos += sp[l];
        *sum_neg += sn[l];
    }
}

/* Sets d's target sums from the sums of s over positives and negatives
 * (d->inv_scale, t_pos and t_neg set). Scaling by a power of two commutes
 * with the sums' rounding. */
static void platt_target_sums(platt_data *d, double n_pos, double sum_pos,
                              double sum_neg)
{
    d->sum_t = d->t_pos * n_pos + d->t_neg * ((double)d->n - n_pos);
    d->sum_tx = (d->t_pos * sum_pos + d->t_neg * sum_neg) * d->inv_scale;
}

/* Gradient g = (dF/da, dF/db) and Hessian h = (h_aa, h_ab, h_bb) of F at
 * (a, b): with p_i = sigmoid(u_i), u_i = a x_i + b, g = (sum p_i x_i -
 * sum t_i x_i, sum p_i - sum t_i) and the weights p_i (1 - p_i) =
 * e r^2, e = exp(-|u_i|), r = 1 / (1 + e), which neither overflow nor
 * cancel. p_i = 1/2 + sign(u_i) (1/2 - e r) is exact to half an ulp of
 * 1, all a sum of terms of size 1 needs. One pass, no logarithm, no
 * branch: the labels enter only through the target sums. */
CALIB_TARGET_CLONES
static void platt_derivatives(const platt_data *d, double a, double b,
                              double g[2], double h[3])
{
    double acc[5][PLATT_LANES];
    double sum[5] = {0.0, 0.0, 0.0, 0.0, 0.0};
    const double inv_scale = d->inv_scale;
    const double *s = d->s;
    size_t i = 0;

    memset(acc, 0, sizeof acc);
    for (; i + PLATT_CHUNK <= d->n; i += PLATT_CHUNK) {
        double x[PLATT_CHUNK], e[PLATT_CHUNK];

        for (size_t c = 0; c < PLATT_CHUNK; c += PLATT_LANES)
            for (size_t l = 0; l < PLATT_LANES; l++)
                x[c + l] = s[i + c + l] * inv_scale;
        for (size_t j = 0; j < PLATT_CHUNK; j++)
            e[j] = -fabs(a * x[j] + b);
        calib_vexp(e, e, PLATT_CHUNK);
        for (size_t c = 0; c < PLATT_CHUNK; c += PLATT_LANES) {
            for (size_t l = 0; l < PLATT_LANES; l++) {
                size_t j = c + l;
                double r = 1.0 / (1.0 + e[j]), er = e[j] * r;
                double p = 0.5 + copysign(0.5 - er, a * x[j] + b);
                double pq = er * r;
                acc[0][l] += p * x[j];
                acc[1][l] += p;
                acc[2][l] += pq * x[j] * x[j];
                acc[3][l] += pq * x[j];
                acc[4][l] += pq;
            }
        }
    }
    for (; i < d->n; i++) {
        double x = s[i] * inv_scale, u = a * x + b;
        double e = calib_exp_scalar(-fabs(u)), r = 1.0 / (1.0 + e);
        double er = e * r, p = 0.5 + copysign(0.5 - er, u), pq = er * r;
        sum[0] += p * x;
        sum[1] += p;
        sum[2] += pq * x * x;
        sum[3] += pq * x;
        sum[4] += pq;
    }
    for (size_t q = 0; q < 5; q++)
        for (size_t l = 0; l < PLATT_LANES; l++)
            sum[q] += acc[q][l];
    g[0] = sum[0] - d->sum_tx;
    g[1] = sum[1] - d->sum_t;
    h[0] = sum[2] + HESSIAN_RIDGE;
    h[1] = sum[3];
    h[2] = sum[4] + HESSIAN_RIDGE;
}

/* F(a, b) in the overflow-safe form; only the rare line-search steps
 * need it. */
static double platt_objective(const platt_data *d, double a, double b)
{
    double f = 0.0;

    for (size_t i = 0; i < d->n; i++)
        f += point_loss(a * (d->s[i] * d->inv_scale) + b,
                        d->y[i] ? d->t_pos : d->t_neg);
    return f;
}

/* The Newton direction for the 2 x 2 system h s = -g (h positive
 * definite: Cholesky through newton_direction), or steepest descent. */
static void platt_direction(const double g[2], const double h[3],
                            double s[2])
{
    double hm[4];

    hm[0] = h[0];
    hm[1] = hm[2] = h[1];
    hm[3] = h[2];
    if (newton_direction(hm, g, 2, s) != 0) {
        s[0] = -g[0];
        s[1] = -g[1];
    }
}

/*
 * Newton's method on F from w (receives the result), with the exact
 * derivatives of every accepted point taken in one pass. A full step is
 * accepted when F's slope along it is still <= 0 at its end: F is convex,
 * so F decreased. Otherwise an Armijo backtracking on F decides. Stops
 * when a step changes no coefficient by more than tol relative (floor 1),
 * when the Newton decrement is below F's rounding (f_scale: an upper
 * bound of F), or when F cannot decrease. g receives the gradient at the
 * returned w. Returns the number of steps.
 */
static size_t platt_newton(const platt_data *d, double w[2], double f_scale,
                           double tol, size_t max_it, int *converged,
                           double g[2])
{
    double h[3], s[2];
    size_t it;

    *converged = 0;
    platt_derivatives(d, w[0], w[1], g, h);
    for (it = 1; it <= max_it; it++) {
        double slope, trial[2], gt[2], ht[3], step = 1.0;

        platt_direction(g, h, s);
        slope = g[0] * s[0] + g[1] * s[1];
        if (!(slope < 0.0)) {
            *converged = 1;     /* no descent direction left */
            break;
        }
        /* a step within tol, or a Newton decrement below the rounding of
         * F: the full step is the answer (its error ~|s|^2, as the
         * convergence is quadratic), and no line search could tell */
        if ((fabs(s[0]) <= tol * fmax(1.0, fabs(w[0])) &&
             fabs(s[1]) <= tol * fmax(1.0, fabs(w[1]))) ||
            -slope <= DECREMENT_FLOOR * f_scale) {
            w[0] += s[0];
            w[1] += s[1];
            platt_derivatives(d, w[0], w[1], g, h);
            *converged = 1;
            break;
        }
        trial[0] = w[0] + s[0];
        trial[1] = w[1] + s[1];
        platt_derivatives(d, trial[0], trial[1], gt, ht);
        if (!(gt[0] * s[0] + gt[1] * s[1] <= 0.0)) {
            double f = platt_objective(d, w[0], w[1]);
            int accepted = 0;

            while (step >= MIN_STEP) {
                trial[0] = w[0] + step * s[0];
                trial[1] = w[1] + step * s[1];
                if (platt_objective(d, trial[0], trial[1]) <=
                    f + ARMIJO * step * slope) {
                    accepted = 1;
                    break;
                }
                step *= 0.5;
            }
            if (!accepted) {
                *converged = 1;  /* F cannot decrease: rounding floor */
                break;
            }
            if (step != 1.0)
                platt_derivatives(d, trial[0], trial[1], gt, ht);
        }
        w[0] = trial[0];
        w[1] = trial[1];
        memcpy(g, gt, sizeof gt);
        memcpy(h, ht, sizeof ht);
    }
    return it > max_it ? max_it : it;
}

/* F at a = 0: every u_i is b. */
static double platt_objective_at_b(double n_pos, double n_neg, double t_pos,
                                   double t_neg, double b)
{
    return n_pos * point_loss(b, t_pos) + n_neg * point_loss(b, t_neg);
}

calib_status calib_platt_fit(const double *s, const unsigned char *y,
                             size_t n, const calib_fit_options *opt,
                             double *a, double *b,
                             calib_logistic_result *res, calib_error *err)
{
    double tol = opt->tolerance > 0.0 ? opt->tolerance : 1e-12;
    size_t max_it = opt->max_iterations > 0 ? opt->max_iterations
                                            : DEFAULT_MAX_ITERATIONS;
    double n_pos, n_neg, largest, sum_pos, sum_neg, b0, w[2], g[2];
    platt_data d;
    int exponent, converged;

    if (n == 0)
        return calib_failf(err, CALIB_E_SHAPE, "Platt scaling needs rows");

    d.s = s;
    d.y = y;
    d.n = n;
    platt_stats(&d, &largest, &n_pos, &sum_pos, &sum_neg);
    n_neg = (double)n - n_pos;
    frexp(largest, &exponent);
    d.inv_scale = largest > 0.0 ? ldexp(1.0, -exponent) : 1.0;
    d.t_pos = (n_pos + 1.0) / (n_pos + 2.0);
    d.t_neg = 1.0 / (n_neg + 2.0);
    platt_target_sums(&d, n_pos, sum_pos, sum_neg);

    /* Platt's start: slope 0, intercept at the smoothed prior; refined
     * on a subsample when there is much data */
    b0 = log((n_pos + 1.0) / (n_neg + 1.0));
    w[0] = 0.0;
    w[1] = b0;
    if (n >= PLATT_SUBSAMPLE_MIN) {
        platt_data sub = d;
        double *ss, sub_pos, sub_largest, start[2] = {0.0, b0};
        unsigned char *sy;

        sub.n = n / PLATT_STRIDE;
        ss = calib_malloc(sub.n * sizeof *ss);
        sy = calib_malloc(sub.n);
        /* without memory for the subsample, Platt's start does */
        if (ss != NULL && sy != NULL) {
            for (size_t k = 0; k < sub.n; k++) {
                ss[k] = s[k * PLATT_STRIDE];
                sy[k] = y[k * PLATT_STRIDE];
            }
            sub.s = ss;
            sub.y = sy;
            platt_stats(&sub, &sub_largest, &sub_pos, &sum_pos, &sum_neg);
            platt_target_sums(&sub, sub_pos, sum_pos, sum_neg);
            platt_newton(&sub, start,
                         platt_objective_at_b(sub_pos,
                                              (double)sub.n - sub_pos,
                                              d.t_pos, d.t_neg, b0),
                         PLATT_START_TOLERANCE, max_it, &converged, g);
            if (converged && isfinite(start[0]) && isfinite(start[1])) {
                w[0] = start[0];
                w[1] = start[1];
            }
        }
        calib_free(ss);
        calib_free(sy);
    }

    res->iterations = platt_newton(
        &d, w, platt_objective_at_b(n_pos, n_neg, d.t_pos, d.t_neg, b0),
        tol, max_it, &converged, g);

    /* the gradient per sample, in the scale the fit used (as for beta) */
    res->converged = converged;
    res->gradient = fmax(fabs(g[0]) * d.inv_scale, fabs(g[1])) / (double)n;
    *a = w[0] * d.inv_scale;
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
