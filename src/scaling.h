/* scaling.h - vector, matrix and Dirichlet scaling (internal).
 * x is n x k: logits for vector and matrix scaling, log-probabilities for
 * Dirichlet calibration. p = softmax(W x + b). Parameters, row-major:
 * vector: w[k] then b[k] (2k values); matrix and Dirichlet: W[k*k] then
 * b[k] (k*k + k values). */
#ifndef CALIB_SCALING_H
#define CALIB_SCALING_H

#include "calib.h"

size_t calib_scaling_param_count(calib_method method, size_t k);
calib_status calib_scaling_fit(calib_method method, const double *x,
                               size_t n, size_t k, const int64_t *labels,
                               const calib_fit_options *opt, double *params,
                               calib_fit_info *info, calib_error *err);
void calib_scaling_apply(calib_method method, const double *params,
                         const double *x, size_t n, size_t k, double *probs);

#endif /* CALIB_SCALING_H */
