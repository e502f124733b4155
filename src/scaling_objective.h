/* scaling_objective.h - the objective that calib_scaling_fit minimises,
 * exposed for tests (gradient checks) and diagnostics; internal.
 *
 * For the parameters `params` (layout of scaling.h) it computes
 *   objective = mean_i -log softmax(W x_i + b)_{y_i} + R(W, b)
 * with R the method's regulariser (docs/scaling.md), the mean NLL alone
 * in *nll, and, when grad is not NULL, the gradient of the objective
 * (calib_scaling_param_count values). Any of objective, nll and grad may
 * be NULL. opt must not be NULL; opt->threads chooses the threads, which
 * never change the result. Returns CALIB_E_ARGUMENT, CALIB_E_SHAPE,
 * CALIB_E_NOT_APPLICABLE (k < 2), CALIB_E_VALUE (a non-finite x or a
 * label outside [0, k), with its row), CALIB_E_TOO_LARGE or
 * CALIB_E_NOMEM; outputs are written only on success.
 */
#ifndef CALIB_SCALING_OBJECTIVE_H
#define CALIB_SCALING_OBJECTIVE_H

#include "calib.h"

calib_status calib_scaling_objective(calib_method method,
                                     const double *params, const double *x,
                                     size_t n, size_t k,
                                     const int64_t *labels,
                                     const calib_fit_options *opt,
                                     double *objective, double *nll,
                                     double *grad, calib_error *err);

#endif /* CALIB_SCALING_OBJECTIVE_H */
