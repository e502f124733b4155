/*
 * losses.c - training losses on logits and their analytic gradients.
 *
 * For a batch of N rows of K logits z with labels y, p = softmax(z) and
 * l = log_softmax(z) (max subtracted, log1p form: exact for logits of
 * any size and for p -> 1), each
 * loss is a mean over the rows and its gradient is d(mean)/dz, so every
 * row's gradient carries the factor 1/N. With the smoothed targets
 * q = (1 - eps) onehot(y) + eps / K (Szegedy et al. 2016):
 *   ce        -l_y                                  grad p - onehot
 *   smoothed  -sum_j q_j l_j                        grad p - q
 *   kl        sum_j q_j (log q_j - l_j), 0 log 0 = 0  grad p - q
 *   joint     ce + lambda kl              grad (1 + lambda) p - onehot - lambda q
 *   focal     -(1 - p_y)^g l_y   (Lin et al. 2017)
 *             grad (u^g (g p_y l_y / u - 1)) (onehot - p),  u = 1 - p_y
 *   focal-adaptive  focal with g = 5 if p_y < 0.2, 3 if p_y < 0.5, else the
 *             option (Mukhoti et al. 2020); the choice of g is held fixed in
 *             the gradient, as the paper does.
 *   mmce      MMCE of the top-class confidences (mmce.c; Kumar et al. 2018)
 *   soft-ece  soft-binned ECE, p = 2 (soft_ece.c; Karandikar et al. 2021)
 * Precision: u = 1 - p_y is computed as -expm1(l_y), so it keeps its
 * relative accuracy as p_y -> 1, and the entry of the gradient at the
 * label uses u instead of p_y - 1. In the focal gradient u^(g-1) l_y,
 * which blows up for g < 1, is evaluated as u^g (l_y / u) with
 * l_y / u -> -1 as u -> 0, so every term stays finite.
 * MMCE and soft-ECE depend on the logits through r = max_j p_j (the top
 * class, the first on ties); dr/dz_j = r (onehot_top - p_j). Correctness
 * is piecewise constant and contributes nothing. Losses are summed over
 * rows with compensation so that tiny per-row values (focal near p_y = 1)
 * are not lost.
 */
#include "losses.h"

#include <math.h>
#include <string.h>

static const char *const loss_names[] = {
    "ce", "smoothed", "kl", "joint", "focal", "focal-adaptive", "mmce",
    "soft-ece"};

#define N_LOSSES (sizeof loss_names / sizeof loss_names[0])

void calib_loss_options_default(calib_loss_options *opt)
{
    if (opt == NULL)
        return;
    opt->smoothing = 0.1;
    opt->lambda = 0.1;
    opt->gamma = 3.0;
    opt->mmce_width = 0.4;
    opt->soft_ece_bins = 15;
    opt->soft_ece_temperature = 0.01;
}

int calib_loss_from_name(const char *name, calib_loss_kind *out)
{
    if (name == NULL || out == NULL)
        return -1;
    for (size_t i = 0; i < N_LOSSES; i++) {
        if (strcmp(name, loss_names[i]) == 0) {
            *out = (calib_loss_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *calib_loss_name(calib_loss_kind kind)
{
    if ((size_t)kind >= N_LOSSES)
        return "unknown";
    return loss_names[kind];
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

/*
 * log_softmax of one row, exact for logits of any size and for p -> 1:
 * l_j = (z_j - m) - log1p(sum_{j != top} exp(z_j - m)). z_j - m is exact
 * when the logits are close (Sterbenz) and subtracting the small log1p
 * term afterwards keeps l_top's relative accuracy, where the form
 * z_j - (m + log(sum)) would round m + log(sum) to the ulp of m (1.8e-12
 * at m = 1e4) and log(sum) would lose every term below 1e-16.
 * Returns the index of the first largest logit.
 */
static size_t log_softmax_row(const double *z, size_t k, double *l)
{
    size_t top = 0;
    double rest = 0.0, lse;

    for (size_t j = 1; j < k; j++)
        if (z[j] > z[top])
            top = j;
    for (size_t j = 0; j < k; j++)
        if (j != top)
            rest += exp(z[j] - z[top]);
    lse = log1p(rest);
    for (size_t j = 0; j < k; j++)
        l[j] = (z[j] - z[top]) - lse;
    return top;
}

/* Row i of the logits as doubles. */
static void load_row(const void *logits, calib_dtype dtype, size_t i,
                     size_t k, double *z)
{
    if (dtype == CALIB_FLOAT32) {
        const float *f = (const float *)logits + i * k;
        for (size_t j = 0; j < k; j++)
            z[j] = (double)f[j];
    } else {
        const double *d = (const double *)logits + i * k;
        memcpy(z, d, k * sizeof *z);
    }
}

static calib_status check_options(const calib_loss_options *o,
                                  calib_error *err)
{
    if (!(o->smoothing >= 0.0 && o->smoothing <= 1.0))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "smoothing must lie in [0, 1], got %g",
                           o->smoothing);
    if (!(o->lambda >= 0.0) || !isfinite(o->lambda))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "lambda must be finite and >= 0, got %g",
                           o->lambda);
    if (!(o->gamma >= 0.0) || !isfinite(o->gamma))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "gamma must be finite and >= 0, got %g", o->gamma);
    if (!(o->mmce_width > 0.0) || !isfinite(o->mmce_width))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "mmce width must be finite and > 0, got %g",
                           o->mmce_width);
    if (o->soft_ece_bins == 0)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "soft-ece needs at least one bin");
    if (!(o->soft_ece_temperature > 0.0) ||
        !isfinite(o->soft_ece_temperature))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "soft-ece temperature must be finite and > 0, "
                           "got %g", o->soft_ece_temperature);
    return CALIB_OK;
}

/* Rejects non-finite logits and labels outside [0, k), naming the row. */
static calib_status check_inputs(const void *logits, calib_dtype dtype,
                                 size_t n, size_t k, const int64_t *labels,
                                 double *z, calib_error *err)
{
    for (size_t i = 0; i < n; i++) {
        load_row(logits, dtype, i, k, z);
        for (size_t j = 0; j < k; j++)
            if (!isfinite(z[j]))
                return calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1,
                                  -1, "logit %zu is not finite", j);
        if (labels[i] < 0 || (uint64_t)labels[i] >= (uint64_t)k)
            return calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1, -1,
                              "label %lld is outside [0, %zu)",
                              (long long)labels[i], k);
    }
    return CALIB_OK;
}

/* The gamma of the adaptive focal loss for a label probability p_y. */
static double adaptive_gamma(double p_y, double gamma)
{
    if (p_y < 0.2)
        return 5.0;
    if (p_y < 0.5)
        return 3.0;
    return gamma;
}

/*
 * One row of a per-sample loss: returns the row's loss and, if g is not
 * NULL, writes scale * d(loss)/dz into g. l is the row's log-softmax.
 */
static double row_loss(calib_loss_kind kind, const double *l, size_t k,
                       size_t y, const calib_loss_options *o, double scale,
                       double *g)
{
    double eps = o->smoothing, lambda = o->lambda;
    double q_other = eps / (double)k;
    double q_label = 1.0 - eps + q_other;
    /* 1 - q_label, exactly eps (K - 1) / K */
    double q_rest = eps * (double)(k - 1) / (double)k;
    double l_y = l[y], u = -expm1(l_y), loss = 0.0, comp = 0.0;
    double gamma, factor;

    switch (kind) {
    case CALIB_LOSS_CE:
        if (g != NULL) {
            for (size_t j = 0; j < k; j++)
                g[j] = scale * exp(l[j]);
            g[y] = -scale * u;
        }
        return -l_y;

    case CALIB_LOSS_SMOOTHED_CE:
    case CALIB_LOSS_KL:
    case CALIB_LOSS_JOINT:
        for (size_t j = 0; j < k; j++) {
            double q = j == y ? q_label : q_other, term;
            if (q == 0.0)
                continue;
            if (kind == CALIB_LOSS_SMOOTHED_CE)
                term = -q * l[j];
            else
                term = q * ((j == y ? log1p(-q_rest) : log(q)) - l[j]);
            add_compensated(&loss, &comp, term);
        }
        loss += comp;
        if (kind == CALIB_LOSS_JOINT)
            loss = -l_y + lambda * loss;
        if (g != NULL) {
            double w = kind == CALIB_LOSS_JOINT ? 1.0 + lambda : 1.0;
            double wq = kind == CALIB_LOSS_JOINT ? lambda : 1.0;
            for (size_t j = 0; j < k; j++)
                g[j] = scale * (w * exp(l[j]) - wq * q_other);
            /* w p_y - onehot_y - wq q_y with p_y = 1 - u */
            if (kind == CALIB_LOSS_JOINT)
                g[y] = scale * (lambda * q_rest - w * u);
            else
                g[y] = scale * (q_rest - u);
        }
        return loss;

    case CALIB_LOSS_FOCAL:
    case CALIB_LOSS_FOCAL_ADAPTIVE:
        gamma = kind == CALIB_LOSS_FOCAL ? o->gamma
                                          : adaptive_gamma(exp(l_y), o->gamma);
        loss = -pow(u, gamma) * l_y;
        if (g != NULL) {
            /* l_y / u -> -1 as u -> 0 (l_y = log(1 - u)) */
            double ratio = u > 0.0 ? l_y / u : -1.0;
            factor = pow(u, gamma) * (gamma * exp(l_y) * ratio - 1.0);
            for (size_t j = 0; j < k; j++)
                g[j] = -scale * factor * exp(l[j]);
            g[y] = scale * factor * u;
        }
        return loss;

    case CALIB_LOSS_MMCE:
    case CALIB_LOSS_SOFT_ECE:
        break;
    }
    return 0.0;
}

/* MMCE or soft-ECE: confidences and correctness, the batch objective, then
 * the chain rule through r = p_top. */
static calib_status batch_loss(calib_loss_kind kind, const void *logits,
                               calib_dtype dtype, size_t n, size_t k,
                               const int64_t *labels,
                               const calib_loss_options *o, double *z,
                               double *l, double *loss, double *grad,
                               calib_error *err)
{
    calib_status st;
    double *work, *r, *c, *dr;
    int overflow = 0;

    work = calib_calloc(calib_mul_size(n, 3, &overflow), sizeof *work);
    if (overflow || work == NULL)
        return calib_failf(err, CALIB_E_NOMEM, "%s: out of memory",
                           calib_loss_name(kind));
    r = work;
    c = work + n;
    dr = work + 2 * n;

    for (size_t i = 0; i < n; i++) {
        size_t top;
        load_row(logits, dtype, i, k, z);
        top = log_softmax_row(z, k, l);
        r[i] = exp(l[top]);
        c[i] = (int64_t)top == labels[i] ? 1.0 : 0.0;
    }

    if (kind == CALIB_LOSS_MMCE)
        st = calib_mmce_value(r, c, n, o->mmce_width, loss,
                              grad != NULL ? dr : NULL, err);
    else
        st = calib_soft_ece_value(r, c, n, o->soft_ece_bins,
                                  o->soft_ece_temperature, loss,
                                  grad != NULL ? dr : NULL, err);

    if (st == CALIB_OK && grad != NULL) {
        for (size_t i = 0; i < n; i++) {
            double *g = grad + i * k, w = dr[i] * r[i];
            size_t top;
            load_row(logits, dtype, i, k, z);
            top = log_softmax_row(z, k, l);
            for (size_t j = 0; j < k; j++)
                g[j] = -w * exp(l[j]);
            /* r (1 - p_top) with 1 - p_top = -expm1(l_top) */
            g[top] = -w * expm1(l[top]);
        }
    }
    calib_free(work);
    return st;
}

calib_status calib_loss(calib_loss_kind kind, const void *logits,
                        calib_dtype dtype, size_t n, size_t k,
                        const int64_t *labels,
                        const calib_loss_options *opt, double *loss,
                        double *grad, calib_error *err)
{
    calib_loss_options o;
    calib_status st;
    double *row, *z, *l, sum = 0.0, comp = 0.0, value = 0.0;
    int overflow = 0;

    /* arguments */
    if ((size_t)kind >= N_LOSSES)
        return calib_failf(err, CALIB_E_ARGUMENT, "unknown loss %d",
                           (int)kind);
    if (logits == NULL || labels == NULL || loss == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "loss: logits, labels and loss must not be NULL");
    if (dtype != CALIB_FLOAT32 && dtype != CALIB_FLOAT64)
        return calib_failf(err, CALIB_E_UNSUPPORTED,
                           "loss: logits must be float32 or float64");
    if (n == 0 || k < 2)
        return calib_failf(err, CALIB_E_SHAPE,
                           "loss: needs at least 1 row and 2 classes, got "
                           "%zu x %zu", n, k);
    if (opt != NULL)
        o = *opt;
    else
        calib_loss_options_default(&o);
    st = check_options(&o, err);
    if (st != CALIB_OK)
        return st;

    row = calib_calloc(calib_mul_size(k, 2, &overflow), sizeof *row);
    if (overflow || row == NULL)
        return calib_failf(err, CALIB_E_NOMEM, "loss: out of memory");
    z = row;
    l = row + k;
    st = check_inputs(logits, dtype, n, k, labels, z, err);
    if (st != CALIB_OK)
        goto done;

    /* the loss and its gradient */
    if (kind == CALIB_LOSS_MMCE || kind == CALIB_LOSS_SOFT_ECE) {
        st = batch_loss(kind, logits, dtype, n, k, labels, &o, z, l, &value,
                        grad, err);
        if (st == CALIB_OK)
            *loss = value;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        load_row(logits, dtype, i, k, z);
        (void)log_softmax_row(z, k, l);
        add_compensated(&sum, &comp,
                        row_loss(kind, l, k, (size_t)labels[i], &o,
                                 1.0 / (double)n,
                                 grad != NULL ? grad + i * k : NULL));
    }
    *loss = (sum + comp) / (double)n;

done:
    calib_free(row);
    return st;
}
