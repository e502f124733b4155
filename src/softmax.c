/*
 * softmax.c - softmax, log-softmax, the logistic function and softplus,
 * in double precision and safe for logits of any finite size.
 *
 * softmax(z)_k = exp(z_k - m) / sum_j exp(z_j - m) with m = max_j z_j, so
 * every exponent is <= 0 and the largest term is exactly 1: no overflow,
 * and the sum is in [1, K]. log_softmax(z)_k = (z_k - m) - log(sum_j
 * exp(z_j - m)) never takes the log of a rounded probability, so it stays
 * exact for probabilities far below DBL_MIN (logits 1e4 apart).
 */
#include "internal.h"

#include <math.h>

static double row_max(const double *z, size_t k)
{
    double m = z[0];
    for (size_t j = 1; j < k; j++)
        if (z[j] > m)
            m = z[j];
    return m;
}

void calib_softmax(const double *logits, size_t n, size_t k, double *probs)
{
    for (size_t i = 0; i < n; i++) {
        const double *z = logits + i * k;
        double *p = probs + i * k;
        double m = row_max(z, k), sum = 0.0;

        for (size_t j = 0; j < k; j++) {
            p[j] = exp(z[j] - m);
            sum += p[j];
        }
        for (size_t j = 0; j < k; j++)
            p[j] /= sum;
    }
}

void calib_log_softmax(const double *logits, size_t n, size_t k,
                       double *out)
{
    for (size_t i = 0; i < n; i++) {
        const double *z = logits + i * k;
        double *o = out + i * k;
        double m = row_max(z, k), sum = 0.0, log_sum;

        for (size_t j = 0; j < k; j++)
            sum += exp(z[j] - m);
        log_sum = log(sum);
        /* (z - m) first: adding log_sum to a large m would round it away */
        for (size_t j = 0; j < k; j++)
            o[j] = (z[j] - m) - log_sum;
    }
}

double calib_sigmoid(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

double calib_log1pexp(double x)
{
    /* log(1 + e^x) = x + log(1 + e^-x) for x > 0: no overflow */
    if (x > 0.0)
        return x + log1p(exp(-x));
    return log1p(exp(x));
}
